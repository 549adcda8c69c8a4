// Built-in chat templates: ChatML (Qwen; Qwen3's <think> convention), Llama 3, Llama 2 and raw.
// We do not run Jinja: the family is recognised from tokenizer.chat_template (markers such as
// "<|im_start|>", "<|start_header_id|>", "[INST]"), else from the architecture and vocabulary,
// and can be overridden by name. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace duet {

class Tokenizer;
enum class Arch;

enum class ChatTemplate { kRaw, kChatML, kLlama3, kLlama2 };

std::string_view chatTemplateName(ChatTemplate t);
std::optional<ChatTemplate> chatTemplateFromName(std::string_view name);  // raw|chatml|llama3|llama2

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};

struct ChatOptions {
  bool addGenerationPrompt = true;
  // ChatML only: Qwen3 convention. false appends an empty "<think>\n\n</think>\n\n" block to the
  // generation prompt so the model answers without thinking.
  bool enableThinking = true;
};

// Chooses the family from the GGUF template text; falls back on the architecture / vocabulary.
ChatTemplate detectChatTemplate(std::string_view templateSource, const Tokenizer& tok);

// Renders messages as the text the model was trained on. The result contains special-token
// text (e.g. "<|im_start|>"), so encode it with parseSpecial = true. Llama 3 and Llama 2 expect
// BOS, which the caller adds as a token when the tokenizer asks for it.
std::string renderChat(ChatTemplate t, const std::vector<ChatMessage>& messages,
                       const ChatOptions& opts = {});

}  // namespace duet
