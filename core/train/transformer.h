// Trainable llama-architecture transformer (Eigen): token embedding, nLayer x {RMSNorm, attention
// with RoPE in llama's adjacent-pair convention (RopeStyle::kNorm), optional GQA, RMSNorm,
// SwiGLU}, final RMSNorm, tied or untied output. Forward and our own backward pass over one
// sequence; the caller accumulates gradients over a batch. The math matches core/model's
// Session for Arch::kLlama, so an exported GGUF reproduces these logits (tested).
//
// Templated on the scalar: float for training, double for the finite-difference gradient tests.
// Parameters live in one flat vector; ParamLayout gives each tensor's offset, so the optimizer
// and the GGUF exporter see one buffer. Matrices are stored [out][in] row-major like GGUF.
// Thread-safety: forwardBackward is const and keeps its activations on the stack, so several
// threads may run it at once on one model (each with its own grad buffer).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace duet::train {

struct TrainConfig {
  int nLayer = 2;
  int nEmbd = 64;
  int nHead = 4;
  int nHeadKv = 4;   // divides nHead (GQA when smaller)
  int nFf = 128;
  int nVocab = 512;
  int nCtx = 256;    // longest sequence trained or generated
  float ropeBase = 10000.0f;
  float rmsEps = 1e-5f;
  bool tiedOutput = false;

  int headDim() const { return nEmbd / nHead; }
  int qDim() const { return nEmbd; }
  int kvDim() const { return nHeadKv * headDim(); }
};

// Offsets (in elements) of every tensor in the flat parameter vector.
struct LayerOffsets {
  size_t attnNorm, wq, wk, wv, wo, ffnNorm, wGate, wUp, wDown;
};
struct ParamLayout {
  size_t tokEmbd = 0;   // [nVocab][nEmbd]
  size_t outNorm = 0;   // [nEmbd]
  size_t output = 0;    // [nVocab][nEmbd] (== tokEmbd when tied)
  std::vector<LayerOffsets> layers;
  size_t total = 0;
};
ParamLayout makeLayout(const TrainConfig& c);

// A named tensor of the layout, with GGUF name and shape (ne[0] = row length), and whether
// weight decay applies (matrices yes, norm gains no).
struct TensorSlot {
  std::string name;
  size_t offset;
  int64_t rows, cols;  // cols = ne[0]; a vector has rows = 1
  bool decay;
};
std::vector<TensorSlot> tensorSlots(const TrainConfig& c, const ParamLayout& l);

template <class S>
class Transformer {
 public:
  explicit Transformer(const TrainConfig& c);
  const TrainConfig& config() const { return m_cfg; }
  const ParamLayout& layout() const { return m_layout; }
  std::vector<S>& params() { return m_w; }
  const std::vector<S>& params() const { return m_w; }

  // Seeded init: matrices N(0, 0.02) (output projections scaled by 1/sqrt(2 nLayer)), gains 1.
  void init(uint64_t seed);

  // Loss = sum_t weights[t] * -log p(tokens[t+1] | tokens[0..t]) for t < T-1 (weights has T-1
  // entries; a weight may be negative for policy gradients). With grad non-null, adds dLoss/dW
  // (grad has params().size() entries). With logits non-null, stores [T][nVocab] logits.
  // tokens.size() must be in [2, nCtx].
  S forwardBackward(std::span<const int32_t> tokens, std::span<const float> weights, std::vector<S>* grad,
                    std::vector<S>* logits = nullptr) const;

 private:
  struct Scratch;
  TrainConfig m_cfg;
  ParamLayout m_layout;
  std::vector<S> m_w;
  std::vector<S> m_rope;  // [nCtx][headDim/2][2] cos, sin
};

extern template class Transformer<float>;
extern template class Transformer<double>;

}  // namespace duet::train
