#include "core/train/gguf_export.h"

#include <cstring>

#include "core/kernels/quant.h"
#include "core/model/model.h"

namespace duet::train {

gguf::GgufWriter ggufWriterFor(const Transformer<float>& m, const BpeVocab& v, const std::string& name,
                               GgmlType matrixType) {
  using gguf::OwnedValue;
  const TrainConfig& c = m.config();
  gguf::GgufWriter w;
  const std::string a = "llama";
  auto u32 = [](int x) { return OwnedValue::u32(static_cast<uint32_t>(x)); };
  w.set("general.architecture", OwnedValue::string(a));
  w.set("general.name", OwnedValue::string(name));
  w.set(a + ".block_count", u32(c.nLayer));
  w.set(a + ".context_length", u32(c.nCtx));
  w.set(a + ".embedding_length", u32(c.nEmbd));
  w.set(a + ".feed_forward_length", u32(c.nFf));
  w.set(a + ".attention.head_count", u32(c.nHead));
  w.set(a + ".attention.head_count_kv", u32(c.nHeadKv));
  w.set(a + ".attention.layer_norm_rms_epsilon", OwnedValue::f32(c.rmsEps));
  w.set(a + ".rope.freq_base", OwnedValue::f32(c.ropeBase));
  writeTokenizer(w, v);
  const std::vector<float>& p = m.params();
  for (const TensorSlot& s : tensorSlots(c, m.layout())) {
    std::vector<float> vals(p.begin() + static_cast<long>(s.offset),
                            p.begin() + static_cast<long>(s.offset + static_cast<size_t>(s.rows * s.cols)));
    std::vector<int64_t> ne =
        s.rows == 1 ? std::vector<int64_t>{s.cols} : std::vector<int64_t>{s.cols, s.rows};
    w.addTensorF32(s.name, s.rows == 1 ? GgmlType::kF32 : matrixType, std::move(ne), std::move(vals));
  }
  return w;
}

Status exportGguf(const Transformer<float>& m, const BpeVocab& v, const std::string& name,
                  const std::string& path, GgmlType matrixType) {
  return ggufWriterFor(m, v, name, matrixType).writeFile(path);
}

Status importGguf(Transformer<float>& m, const std::string& path) {
  auto f = gguf::GgufFile::open(path);
  if (!f) return f.error();
  for (const TensorSlot& s : tensorSlots(m.config(), m.layout())) {
    const gguf::TensorInfo* t = (*f)->findTensor(s.name);
    const size_t n = static_cast<size_t>(s.rows * s.cols);
    if (!t || static_cast<size_t>(t->nElements()) != n)
      return makeError(Errc::kInvalidArgument,
                       path + ": tensor " + s.name + " is missing or of another shape");
    if (t->type != GgmlType::kF32 && t->type != GgmlType::kF16)
      return makeError(Errc::kInvalidArgument, path + ": tensor " + s.name + " is " +
                                                   std::string(ggmlTypeName(t->type)) +
                                                   ", expected F32 or F16");
    kernels::dequantizeRow(t->type, t->data, m.params().data() + s.offset, static_cast<int64_t>(n));
  }
  return {};
}

Result<std::unique_ptr<Model>> toInferenceModel(const Transformer<float>& m, const BpeVocab& v,
                                                const std::string& name) {
  auto file = gguf::GgufFile::fromBytes(ggufWriterFor(m, v, name).toBytes(), name);
  if (!file) return file.error();
  return Model::fromFile(std::move(*file));
}

}  // namespace duet::train
