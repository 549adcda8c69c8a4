// Export of a trained Transformer<float> and its BPE vocabulary as a llama-architecture GGUF
// (F32 or F16 weights) that core/model loads: the metadata key set of core/model/synth.cpp with the
// trained tokenizer. In-memory form for rollouts through the inference core and for tests.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <memory>
#include <string>

#include "core/gguf/gguf.h"
#include "core/train/bpe_train.h"
#include "core/train/transformer.h"
#include "core/util/result.h"

namespace duet {
class Model;
}

namespace duet::train {

// Matrices are written as matrixType (F32 or F16; the shipped demo uses F16 to halve its size),
// norm gains always as F32.
gguf::GgufWriter ggufWriterFor(const Transformer<float>& m, const BpeVocab& v, const std::string& name,
                               GgmlType matrixType = GgmlType::kF32);
Status exportGguf(const Transformer<float>& m, const BpeVocab& v, const std::string& name,
                  const std::string& path, GgmlType matrixType = GgmlType::kF32);
// Loads F32 or F16 weights of a GGUF written by exportGguf into m (same config): resuming from a
// checkpoint. Errors name the file and the missing or mis-shaped tensor.
Status importGguf(Transformer<float>& m, const std::string& path);
// The same bytes parsed and loaded by the inference core.
Result<std::unique_ptr<Model>> toInferenceModel(const Transformer<float>& m, const BpeVocab& v,
                                                const std::string& name);

}  // namespace duet::train
