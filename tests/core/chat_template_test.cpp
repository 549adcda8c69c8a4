#include <gtest/gtest.h>

#include "core/generate/chat_template.h"

namespace duet {
namespace {

TEST(ChatTemplateTest, ChatMLWithAndWithoutThinking) {
  std::vector<ChatMessage> m = {{"system", "Be brief."}, {"user", "1+1?"}};
  EXPECT_EQ(renderChat(ChatTemplate::kChatML, m),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n");
  ChatOptions o;
  o.enableThinking = false;
  EXPECT_EQ(renderChat(ChatTemplate::kChatML, {{"user", "hi"}}, o),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(ChatTemplateTest, Llama3AndLlama2AndRaw) {
  EXPECT_EQ(renderChat(ChatTemplate::kLlama3, {{"user", "hi"}}),
            "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(renderChat(ChatTemplate::kLlama2, {{"system", "S"}, {"user", "U"}}), "[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]");
  EXPECT_EQ(renderChat(ChatTemplate::kLlama2, {{"user", "a"}, {"assistant", "b"}, {"user", "c"}}),
            "[INST] a [/INST] b </s><s>[INST] c [/INST]");
  EXPECT_EQ(renderChat(ChatTemplate::kRaw, {{"user", "plain"}}), "plain");
}

TEST(ChatTemplateTest, NamesRoundTrip) {
  for (auto t : {ChatTemplate::kRaw, ChatTemplate::kChatML, ChatTemplate::kLlama3, ChatTemplate::kLlama2})
    EXPECT_EQ(chatTemplateFromName(chatTemplateName(t)), t);
  EXPECT_FALSE(chatTemplateFromName("jinja").has_value());
}

}  // namespace
}  // namespace duet
