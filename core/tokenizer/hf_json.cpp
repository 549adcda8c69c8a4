// specFromHfTokenizerJson: a Hugging Face tokenizer.json turned into the fields llama.cpp's convert
// script would write to GGUF. Used by tests (goldens from the HF reference) and by tools that start
// from a Hugging Face checkpoint.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/tokenizer/tokenizer_impl.h"

namespace duet {
namespace {

using nlohmann::json;

Result<json> readJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(Errc::kIo, path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return makeError(Errc::kCorrupt, path + ": not valid JSON");
  return j;
}

// Depth-first search for an object whose "type" is `type` (pre-tokenizer / normalizer trees).
const json* findType(const json& node, std::string_view type) {
  if (node.is_object()) {
    auto it = node.find("type");
    if (it != node.end() && it->is_string() && it->get_ref<const std::string&>() == type) return &node;
    for (const auto& [k, v] : node.items())
      if (const json* hit = findType(v, type)) return hit;
  } else if (node.is_array()) {
    for (const auto& v : node)
      if (const json* hit = findType(v, type)) return hit;
  }
  return nullptr;
}

// tokenizer_config.json writes special tokens as "text" or {"content": "text", ...}.
std::string tokenContent(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return {};
}

Result<PreTokenizer> detectPre(const json& pre, const std::string& path) {
  const json* split = findType(pre, "Split");
  if (split == nullptr) {
    const json* bl = findType(pre, "ByteLevel");
    if (bl != nullptr && bl->value("use_regex", true)) return PreTokenizer::kGpt2;
    return makeError(Errc::kUnsupported, path + ": byte-level pre-tokenizer without a split regex");
  }
  std::string regex;
  if (split->contains("pattern") && (*split)["pattern"].contains("Regex"))
    regex = (*split)["pattern"]["Regex"].get<std::string>();
  if (regex.find(R"(\p{N}{1,3})") != std::string::npos) return PreTokenizer::kLlama3;
  if (regex.find(R"(\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*)") != std::string::npos)
    return PreTokenizer::kQwen2;
  return makeError(Errc::kUnsupported,
                   path + ": pre-tokenizer split regex is not one of GPT-2, Llama 3, Qwen2: " + regex);
}

bool isByteToken(const std::string& s) {
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(s[3])) && std::isxdigit(static_cast<unsigned char>(s[4]));
}

Status readMerges(const json& model, const std::string& path, std::vector<std::string>& out) {
  if (!model.contains("merges") || !model["merges"].is_array())
    return makeError(Errc::kCorrupt, path + ": model.merges is missing");
  out.reserve(model["merges"].size());
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {
      out.push_back(m.get<std::string>());  // "a b" (tokenizers < 0.20)
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return makeError(Errc::kCorrupt, path + ": merge " + std::to_string(out.size()) +
                                           " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return {};
}

// Vocabulary by id: model.vocab plus added_tokens; ids nobody names become unused placeholders.
Status readVocab(const json& j, const std::string& path, TokenizerSpec& spec) {
  const json& vocab = j["model"]["vocab"];
  if (!vocab.is_object()) return makeError(Errc::kCorrupt, path + ": model.vocab is not an object");
  const json empty = json::array();
  const json& added = j.contains("added_tokens") ? j["added_tokens"] : empty;
  int64_t maxId = -1;
  for (const auto& [text, id] : vocab.items()) maxId = std::max<int64_t>(maxId, id.get<int64_t>());
  for (const auto& a : added) maxId = std::max<int64_t>(maxId, a.value("id", int64_t{-1}));
  if (maxId < 0 || maxId > (int64_t{1} << 24))
    return makeError(Errc::kCorrupt, path + ": implausible vocabulary size " + std::to_string(maxId + 1));
  const auto n = static_cast<size_t>(maxId + 1);
  spec.tokens.assign(n, {});
  spec.types.assign(n, static_cast<int32_t>(TokenType::kUnused));
  for (const auto& [text, id] : vocab.items()) {
    const auto i = id.get<int64_t>();
    if (i < 0) return makeError(Errc::kCorrupt, path + ": token \"" + text + "\" has a negative id");
    spec.tokens[i] = text;
    spec.types[i] = static_cast<int32_t>(TokenType::kNormal);
  }
  for (const auto& a : added) {
    const auto i = a.value("id", int64_t{-1});
    if (i < 0) return makeError(Errc::kCorrupt, path + ": an added token has no id");
    spec.tokens[i] = a.value("content", std::string());
    spec.types[i] =
        static_cast<int32_t>(a.value("special", false) ? TokenType::kControl : TokenType::kUserDefined);
  }
  for (size_t i = 0; i < n; ++i)
    if (spec.types[i] == static_cast<int32_t>(TokenType::kUnused))
      spec.tokens[i] = "[PAD" + std::to_string(i) + "]";
  return {};
}

// SPM scores: a token first produced by merge r scores -r; tokens no merge produces (single
// characters, bytes, specials) score below every merge.
void spmScores(TokenizerSpec& spec) {
  std::unordered_map<std::string, int32_t> toId;
  for (size_t i = 0; i < spec.tokens.size(); ++i) toId.emplace(spec.tokens[i], static_cast<int32_t>(i));
  const float floor = -static_cast<float>(spec.merges.size()) - 1.0f;
  spec.scores.assign(spec.tokens.size(), floor);
  for (size_t r = spec.merges.size(); r-- > 0;) {  // reverse, so the first (best) rank wins
    std::string merged = spec.merges[r];
    const size_t sp = merged.find(' ', 1);
    if (sp == std::string::npos) continue;
    merged.erase(sp, 1);
    if (auto it = toId.find(merged); it != toId.end()) spec.scores[it->second] = -static_cast<float>(r);
  }
}

int32_t idOf(const TokenizerSpec& spec, const std::string& text) {
  if (text.empty()) return -1;
  for (size_t i = 0; i < spec.tokens.size(); ++i)
    if (spec.tokens[i] == text) return static_cast<int32_t>(i);
  return -1;
}

}  // namespace

Result<TokenizerSpec> specFromHfTokenizerJson(const std::string& path) {
  auto parsed = readJson(path);
  if (!parsed.ok()) return parsed.error();
  const json& j = *parsed;
  if (!j.contains("model") || !j["model"].is_object() || j["model"].value("type", "") != "BPE")
    return makeError(Errc::kUnsupported, path + ": only BPE models are supported (model.type)");
  const json& model = j["model"];
  const json nullJson;
  const json& preTok = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nullJson;
  const json& norm = j.contains("normalizer") ? j["normalizer"] : nullJson;

  TokenizerSpec spec;
  if (findType(preTok, "ByteLevel") != nullptr) {
    spec.kind = TokenizerKind::kBpe;
    spec.addSpacePrefix = false;
    auto pre = detectPre(preTok, path);
    if (!pre.ok()) return pre.error();
    spec.pre = *pre;
  } else if (model.value("byte_fallback", false) || findType(norm, "Prepend") != nullptr ||
             findType(preTok, "Metaspace") != nullptr) {
    spec.kind = TokenizerKind::kSpm;
    spec.addSpacePrefix = findType(norm, "Prepend") != nullptr || findType(preTok, "Metaspace") != nullptr;
  } else {
    return makeError(Errc::kUnsupported, path + ": neither a byte-level BPE nor a SentencePiece-style BPE");
  }

  DUET_TRY_STATUS(readVocab(j, path, spec));
  DUET_TRY_STATUS(readMerges(model, path, spec.merges));
  if (model.contains("unk_token") && model["unk_token"].is_string())
    spec.unk = idOf(spec, model["unk_token"].get<std::string>());
  if (spec.kind == TokenizerKind::kSpm) {
    for (size_t i = 0; i < spec.tokens.size(); ++i)
      if (isByteToken(spec.tokens[i])) spec.types[i] = static_cast<int32_t>(TokenType::kByte);
    if (spec.unk >= 0) spec.types[spec.unk] = static_cast<int32_t>(TokenType::kUnknown);
    spmScores(spec);
  }

  // Special ids: tokenizer_config.json when present, else the usual names.
  const auto configPath = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  json config = json::object();
  if (std::filesystem::exists(configPath)) {
    auto c = readJson(configPath.string());
    if (!c.ok()) return c.error();
    config = std::move(c.value());
  }
  auto special = [&](const char* key, std::initializer_list<const char*> fallbacks) {
    if (config.contains(key)) {
      if (int32_t id = idOf(spec, tokenContent(config[key])); id >= 0) return id;
    }
    for (const char* f : fallbacks)
      if (int32_t id = idOf(spec, f); id >= 0) return id;
    return int32_t{-1};
  };
  spec.bos = special("bos_token", {"<s>", "<|begin_of_text|>"});
  spec.eos = special("eos_token", {"</s>", "<|end_of_text|>", "<|endoftext|>"});
  spec.pad = special("pad_token", {});
  spec.addBos = config.contains("add_bos_token") && config["add_bos_token"].is_boolean()
                    ? config["add_bos_token"].get<bool>()
                    : spec.kind == TokenizerKind::kSpm;
  return spec;
}

}  // namespace duet
