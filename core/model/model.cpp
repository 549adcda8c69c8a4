#include "core/model/model.h"

#include <deque>
#include <map>
#include <sstream>

#include "core/gguf/gguf.h"
#include "core/kernels/quant.h"
#include "core/tokenizer/tokenizer.h"

namespace duet {

// ---------------------------------------------------------------------------------------------
// Weight binding: every tensor is looked up by its llama.cpp name and its shape checked against
// the config before any kernel touches it.
namespace {

class Binder {
 public:
  Binder(const gguf::GgufFile& f, std::deque<std::vector<float>>& owned) : m_f(f), m_owned(owned) {}

  Result<kernels::MatrixView> matrix(const std::string& name, int64_t cols, int64_t rows) {
    const auto* t = m_f.findTensor(name);
    if (!t) return missing(name);
    if (t->nDims > 2 || t->ne[0] != cols || t->ne[1] != rows)
      return shapeError(*t, "[" + std::to_string(cols) + ", " + std::to_string(rows) + "]");
    const auto& tr = ggmlTraits(t->type);
    if (!tr.supported || !kernels::canDequantize(t->type))
      return makeError(Errc::kUnsupported, m_f.path() + ": tensor '" + name + "' has type " +
                                               std::string(tr.name) + ", which is not supported");
    kernels::MatrixView m;
    m.type = t->type;
    m.data = t->data;
    m.rows = rows;
    m.cols = cols;
    m.rowBytes = ggmlRowBytes(t->type, cols);
    return m;
  }

  // A 1-D float vector (norm weight or bias). Non-F32 storage is converted once into owned memory.
  Result<const float*> vector(const std::string& name, int64_t n, bool required = true) {
    const auto* t = m_f.findTensor(name);
    if (!t) {
      if (!required) return static_cast<const float*>(nullptr);
      return missing(name);
    }
    if (t->nElements() != n || t->ne[0] != n)
      return shapeError(*t, "[" + std::to_string(n) + "]");
    if (t->type == GgmlType::kF32) return reinterpret_cast<const float*>(t->data);
    if (!kernels::canDequantize(t->type))
      return makeError(Errc::kUnsupported, m_f.path() + ": tensor '" + name + "' has type " +
                                               std::string(ggmlTypeName(t->type)) +
                                               ", which is not supported");
    auto& buf = m_owned.emplace_back(static_cast<size_t>(n));
    kernels::dequantizeRow(t->type, t->data, buf.data(), n);
    return static_cast<const float*>(buf.data());
  }

 private:
  Error missing(const std::string& name) {
    return makeError(Errc::kCorrupt, m_f.path() + ": missing tensor '" + name + "'");
  }
  Error shapeError(const gguf::TensorInfo& t, const std::string& want) {
    return makeError(Errc::kCorrupt, m_f.path() + ": tensor '" + std::string(t.name) +
                                         "' has shape " + t.shapeString() + ", expected " + want +
                                         " from the model's hyperparameters");
  }
  const gguf::GgufFile& m_f;
  std::deque<std::vector<float>>& m_owned;
};

}  // namespace

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  auto file = gguf::GgufFile::open(path);
  if (!file) return file.error();
  return fromFile(std::move(*file));
}

Result<std::unique_ptr<Model>> Model::fromFile(std::unique_ptr<gguf::GgufFile> f) {
  const std::string path = f->path();
  auto cfg = readModelConfig(*f);
  if (!cfg) return cfg.error();
  auto tok = Tokenizer::fromGguf(*f);
  if (!tok) return tok.error();
  const ModelConfig& c = *cfg;
  if ((*tok)->vocabSize() > c.nVocab)
    return makeError(Errc::kCorrupt, path + ": tokenizer has " +
                                         std::to_string((*tok)->vocabSize()) +
                                         " tokens but token_embd.weight has only " +
                                         std::to_string(c.nVocab) + " rows");

  std::unique_ptr<Model> model(new Model());
  model->m_config = c;
  model->m_file = std::move(f);
  model->m_tokenizer = std::move(*tok);

  Binder b(*model->m_file, model->m_ownedVectors);
  ModelWeights& w = model->m_weights;
#define DUET_BIND(dst, expr)          \
  do {                                \
    auto r_ = (expr);                 \
    if (!r_) return r_.error();       \
    dst = *r_;                        \
  } while (0)
  DUET_BIND(w.tokenEmbd, b.matrix("token_embd.weight", c.nEmbd, c.nVocab));
  DUET_BIND(w.outputNorm, b.vector("output_norm.weight", c.nEmbd));
  if (c.tiedOutput) {
    w.output = w.tokenEmbd;
  } else {
    DUET_BIND(w.output, b.matrix("output.weight", c.nEmbd, c.nVocab));
  }
  w.layers.resize(static_cast<size_t>(c.nLayer));
  for (int i = 0; i < c.nLayer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    DUET_BIND(l.attnNorm, b.vector(p + "attn_norm.weight", c.nEmbd));
    DUET_BIND(l.wq, b.matrix(p + "attn_q.weight", c.nEmbd, c.qDim()));
    DUET_BIND(l.wk, b.matrix(p + "attn_k.weight", c.nEmbd, c.kvDim()));
    DUET_BIND(l.wv, b.matrix(p + "attn_v.weight", c.nEmbd, c.kvDim()));
    DUET_BIND(l.wo, b.matrix(p + "attn_output.weight", c.qDim(), c.nEmbd));
    // Biases: required by qwen2, accepted when present in any architecture.
    DUET_BIND(l.bq, b.vector(p + "attn_q.bias", c.qDim(), c.qkvBias));
    DUET_BIND(l.bk, b.vector(p + "attn_k.bias", c.kvDim(), c.qkvBias));
    DUET_BIND(l.bv, b.vector(p + "attn_v.bias", c.kvDim(), c.qkvBias));
    if (c.qkNorm) {
      DUET_BIND(l.qNorm, b.vector(p + "attn_q_norm.weight", c.headDim));
      DUET_BIND(l.kNorm, b.vector(p + "attn_k_norm.weight", c.headDim));
    }
    DUET_BIND(l.ffnNorm, b.vector(p + "ffn_norm.weight", c.nEmbd));
    DUET_BIND(l.wGate, b.matrix(p + "ffn_gate.weight", c.nEmbd, c.nFf));
    DUET_BIND(l.wUp, b.matrix(p + "ffn_up.weight", c.nEmbd, c.nFf));
    DUET_BIND(l.wDown, b.matrix(p + "ffn_down.weight", c.nFf, c.nEmbd));
  }
#undef DUET_BIND
  return model;
}

std::string Model::chatTemplateSource() const {
  auto s = m_file->getString("tokenizer.chat_template");
  return s ? std::string(*s) : std::string();
}

std::string Model::tensorTypeSummary() const {
  std::map<std::string, int> counts;
  for (const auto& t : m_file->tensors()) counts[std::string(ggmlTypeName(t.type))]++;
  std::ostringstream os;
  bool first = true;
  for (const auto& [name, n] : counts) {
    os << (first ? "" : ", ") << n << " " << name;
    first = false;
  }
  return os.str();
}

int64_t Model::parameterCount() const {
  int64_t n = 0;
  for (const auto& t : m_file->tensors()) n += t.nElements();
  return n;
}

}  // namespace duet
