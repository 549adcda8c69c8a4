// Test helper: rewrites a GGUF file through GgufWriter with keys replaced or removed and tensors
// dropped or renamed, to make well-formed files with bad model content (missing tensors, wrong
// shapes, inconsistent hyperparameters).
#pragma once

#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/gguf/gguf.h"

namespace duet::testing {

inline gguf::OwnedValue toOwned(const gguf::MetaValue& v) {
  using gguf::ValueType;
  gguf::OwnedValue o;
  o.type = v.type;
  o.u = v.u;
  o.i = v.i;
  o.f = v.f;
  o.b = v.b;
  o.str = std::string(v.str);
  if (v.type == ValueType::kArray) {
    o.elemType = v.elemType;
    if (v.elemType == ValueType::kString) {
      for (auto s : v.strings()) o.items.push_back(gguf::OwnedValue::string(std::string(s)));
    } else if (v.elemType == ValueType::kArray) {
      for (const auto& it : v.items) o.items.push_back(toOwned(it));
    } else {
      const size_t sz = v.elemType == ValueType::kU8 || v.elemType == ValueType::kI8 || v.elemType == ValueType::kBool ? 1
                        : v.elemType == ValueType::kU16 || v.elemType == ValueType::kI16 ? 2
                        : v.elemType == ValueType::kU64 || v.elemType == ValueType::kI64 || v.elemType == ValueType::kF64 ? 8
                                                                                                               : 4;
      for (uint64_t k = 0; k < v.count; ++k) {
        gguf::OwnedValue e;
        e.type = v.elemType;
        const uint8_t* p = v.raw + k * sz;
        switch (v.elemType) {
          case ValueType::kI32: { int32_t x; std::memcpy(&x, p, 4); e.i = x; break; }
          case ValueType::kU32: { uint32_t x; std::memcpy(&x, p, 4); e.u = x; break; }
          case ValueType::kF32: { float x; std::memcpy(&x, p, 4); e.f = x; break; }
          case ValueType::kU8: e.u = *p; break;
          case ValueType::kI8: e.i = static_cast<int8_t>(*p); break;
          case ValueType::kBool: e.b = *p != 0; break;
          default: { uint64_t x = 0; std::memcpy(&x, p, sz); e.u = x; e.i = static_cast<int64_t>(x); break; }
        }
        o.items.push_back(e);
      }
    }
  }
  return o;
}

struct GgufEdit {
  std::map<std::string, std::optional<gguf::OwnedValue>> meta;  // nullopt removes the key
  std::set<std::string> dropTensors;
  std::map<std::string, std::string> renameTensors;
};

inline Status rewriteGguf(const std::string& in, const std::string& out, const GgufEdit& e) {
  auto f = gguf::GgufFile::open(in);
  if (!f) return f.error();
  gguf::GgufWriter w;
  for (const auto& [k, v] : (*f)->metadata()) {
    auto it = e.meta.find(std::string(k));
    if (it == e.meta.end()) w.set(std::string(k), toOwned(v));
  }
  for (const auto& [k, v] : e.meta)
    if (v) w.set(k, *v);
  for (const auto& t : (*f)->tensors()) {
    std::string name(t.name);
    if (e.dropTensors.count(name)) continue;
    if (auto r = e.renameTensors.find(name); r != e.renameTensors.end()) name = r->second;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.nDims);
    w.addTensorBytes(name, t.type, ne, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  }
  return w.writeFile(out);
}

}  // namespace duet::testing
