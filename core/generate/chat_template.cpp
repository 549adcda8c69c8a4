#include "core/generate/chat_template.h"

#include "core/tokenizer/tokenizer.h"

namespace duet {

std::string_view chatTemplateName(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::kRaw: return "raw";
    case ChatTemplate::kChatML: return "chatml";
    case ChatTemplate::kLlama3: return "llama3";
    case ChatTemplate::kLlama2: return "llama2";
  }
  return "raw";
}

std::optional<ChatTemplate> chatTemplateFromName(std::string_view name) {
  for (auto t : {ChatTemplate::kRaw, ChatTemplate::kChatML, ChatTemplate::kLlama3, ChatTemplate::kLlama2})
    if (chatTemplateName(t) == name) return t;
  return std::nullopt;
}

ChatTemplate detectChatTemplate(std::string_view src, const Tokenizer& tok) {
  if (src.find("<|im_start|>") != std::string_view::npos) return ChatTemplate::kChatML;
  if (src.find("<|start_header_id|>") != std::string_view::npos) return ChatTemplate::kLlama3;
  if (src.find("[INST]") != std::string_view::npos) return ChatTemplate::kLlama2;
  if (!src.empty()) return ChatTemplate::kRaw;  // a template of an unknown family
  if (tok.findToken("<|im_start|>")) return ChatTemplate::kChatML;
  if (tok.findToken("<|start_header_id|>")) return ChatTemplate::kLlama3;
  if (tok.kind() == TokenizerKind::kSpm && tok.findToken("[INST]")) return ChatTemplate::kLlama2;
  return ChatTemplate::kRaw;
}

namespace {

std::string renderChatML(const std::vector<ChatMessage>& msgs, const ChatOptions& o) {
  std::string s;
  for (const auto& m : msgs) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (o.addGenerationPrompt) {
    s += "<|im_start|>assistant\n";
    if (!o.enableThinking) s += "<think>\n\n</think>\n\n";
  }
  return s;
}

std::string renderLlama3(const std::vector<ChatMessage>& msgs, const ChatOptions& o) {
  std::string s;
  for (const auto& m : msgs)
    s += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
  if (o.addGenerationPrompt) s += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return s;
}

// Llama 2: [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] ...
std::string renderLlama2(const std::vector<ChatMessage>& msgs, const ChatOptions&) {
  std::string s, system;
  bool first = true;
  for (const auto& m : msgs) {
    if (m.role == "system") {
      system = m.content;
    } else if (m.role == "user") {
      if (!first) s += "<s>";
      s += "[INST] ";
      if (!system.empty()) {
        s += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
        system.clear();
      }
      s += m.content + " [/INST]";
      first = false;
    } else {
      s += " " + m.content + " </s>";
    }
  }
  return s;
}

}  // namespace

std::string renderChat(ChatTemplate t, const std::vector<ChatMessage>& msgs, const ChatOptions& o) {
  switch (t) {
    case ChatTemplate::kChatML: return renderChatML(msgs, o);
    case ChatTemplate::kLlama3: return renderLlama3(msgs, o);
    case ChatTemplate::kLlama2: return renderLlama2(msgs, o);
    case ChatTemplate::kRaw: break;
  }
  std::string s;
  for (const auto& m : msgs) s += m.content;
  return s;
}

}  // namespace duet
