// Training batches: a sequence with per-position loss weights, text encoding for the task, and
// gradient accumulation of a batch over a few threads (each with its own gradient buffer).
// Thread-safety: TaskCodec is immutable after creation; accumulate() runs its own threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/train/bpe_train.h"
#include "core/train/transformer.h"

namespace duet::train {

struct Example {
  std::vector<int32_t> tokens;
  std::vector<float> weights;  // [tokens.size() - 1]: weight of predicting tokens[t + 1]
};

class TaskCodec {
 public:
  static Result<TaskCodec> create(const BpeVocab& v);
  std::vector<int32_t> encode(const std::string& text) const { return m_tok->encode(text, true); }
  std::string decode(const std::vector<int32_t>& ids) const { return m_tok->decode(ids); }
  int32_t eos() const { return m_eos; }
  const Tokenizer& tokenizer() const { return *m_tok; }
  // prompt + completion (+ eos): weight `w` on every completion token (and the eos), 0 before.
  Example example(const std::string& prompt, const std::string& completion, float w = 1.0f) const;

 private:
  std::shared_ptr<const Tokenizer> m_tok;
  int32_t m_eos = -1;
};

// Sums the gradients of all examples into grad (zeroed first); returns the summed loss.
// Sequences longer than the model's context are cut to it.
double accumulate(const Transformer<float>& m, const std::vector<Example>& batch, std::vector<float>& grad,
                  int threads);

}  // namespace duet::train
