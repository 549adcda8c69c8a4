// duet info | tokenize | generate
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <sstream>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/generate/chat_template.h"
#include "core/generate/generator.h"
#include "core/gguf/gguf.h"
#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace duet::cli {

namespace {

Json tokenJson(const Tokenizer& tok, int32_t id) {
  return Json{{"id", id}, {"text", tok.tokenBytes(id)}};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// info

void registerInfo(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string model;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("info", "Architecture, sizes, tensor types, tokenizer and chat template of a GGUF model");
  cmd->add_option("--model,-m", o->model, "GGUF model file")->required();
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &run] {
    run = [o] {
      auto m = Model::load(o->model);
      if (!m) return fail(m.error());
      const Model& model = **m;
      const ModelConfig& c = model.config();
      const Tokenizer& tok = model.tokenizer();
      const ChatTemplate tmpl = detectChatTemplate(model.chatTemplateSource(), tok);
      Json j{{"file", o->model},
             {"file_bytes", model.file().fileSize()},
             {"gguf_version", model.file().version()},
             {"architecture", std::string(archName(c.arch))},
             {"name", c.name},
             {"parameters", model.parameterCount()},
             {"n_layer", c.nLayer},
             {"n_embd", c.nEmbd},
             {"n_head", c.nHead},
             {"n_head_kv", c.nHeadKv},
             {"head_dim", c.headDim},
             {"n_ff", c.nFf},
             {"n_vocab", c.nVocab},
             {"n_ctx_train", c.nCtxTrain},
             {"rope_base", c.ropeBase},
             {"rope_style", c.ropeStyle == RopeStyle::kNeox ? "neox" : "norm"},
             {"rms_eps", c.rmsEps},
             {"tied_output", c.tiedOutput},
             {"tensor_types", model.tensorTypeSummary()},
             {"tokenizer", tok.describe()},
             {"bos", tok.bos()},
             {"eos", tok.eos()},
             {"chat_template", std::string(chatTemplateName(tmpl))}};
      if (o->json) {
        printJsonLine(j);
        return 0;
      }
      for (const auto& [k, v] : j.items())
        std::printf("%-14s %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : dumpJson(v).c_str());
      return 0;
    };
  });
}

// ---------------------------------------------------------------------------------------------
// tokenize

void registerTokenize(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string model, file, text;
    bool noSpecial = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("tokenize", "Token ids (no BOS added) of the exact bytes given");
  cmd->add_option("--model,-m", o->model, "GGUF model file")->required();
  auto* fileOpt = cmd->add_option("--file,-f", o->file, "Read the text from this file");
  cmd->add_option("text", o->text, "Text to tokenize")->excludes(fileOpt);
  cmd->add_flag("--no-special", o->noSpecial, "Treat special-token text as plain text");
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, &run] {
    run = [o] {
      std::string text = o->text;
      if (!o->file.empty()) {
        auto t = readTextFile(o->file);
        if (!t) return fail(t.error());
        text = std::move(*t);
      }
      auto m = Model::load(o->model);
      if (!m) return fail(m.error());
      const Tokenizer& tok = (*m)->tokenizer();
      const auto ids = tok.encode(text, !o->noSpecial);
      if (o->json) {
        Json arr = Json::array();
        for (int32_t id : ids) arr.push_back(tokenJson(tok, id));
        printJsonLine(Json{{"n_tokens", ids.size()}, {"ids", ids}, {"tokens", arr}});
      } else {
        for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? ",%d" : "%d", ids[i]);
        std::printf("\n");
      }
      return 0;
    };
  });
}

// ---------------------------------------------------------------------------------------------
// generate

namespace {
std::atomic<bool> g_interrupted{false};
void onSigint(int) { g_interrupted.store(true); }

Result<std::vector<int32_t>> parseTokenList(const std::string& s, int nVocab) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v >= nVocab) throw std::out_of_range("id");
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return makeError(Errc::kInvalidArgument, "--prompt-tokens: '" + item +
                                                   "' is not a token id in [0, " +
                                                   std::to_string(nVocab) + ")");
    }
  }
  return ids;
}
}  // namespace

void registerGenerate(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string model, prompt, promptFile, promptTokens, tmpl, kv = "f16";
    std::vector<std::string> stops;
    bool chat = false, noThink = false, json = false;
    int maxTokens = 256, threads = 0, ctx = 4096, topAlt = 5, draft = kDraftDefault;
    SamplerParams s;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt, streaming");
  cmd->add_option("--model,-m", o->model, "GGUF model file")->required();
  auto* p1 = cmd->add_option("--prompt,-p", o->prompt, "Prompt text");
  auto* p2 = cmd->add_option("--prompt-file", o->promptFile, "Read the prompt from a file");
  auto* p3 = cmd->add_option("--prompt-tokens", o->promptTokens, "Prompt as comma-separated token ids");
  p1->excludes(p2, p3);
  p2->excludes(p3);
  cmd->add_flag("--chat", o->chat, "Wrap the prompt as a user message in the model's chat template");
  cmd->add_option("--template", o->tmpl, "Chat template override: chatml|llama3|llama2|raw");
  cmd->add_flag("--no-think", o->noThink, "ChatML: answer without thinking (Qwen3 convention)");
  cmd->add_option("--max-tokens,-n", o->maxTokens, "Maximum tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temp", o->s.temperature, "Temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", o->s.topK, "Top-k (0 = off)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", o->s.topP, "Top-p (1 = off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", o->s.minP, "Min-p (0 = off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", o->s.seed, "Sampling seed");
  cmd->add_option("--stop", o->stops, "Stop string (repeatable)");
  cmd->add_option("--threads,-t", o->threads, "Threads (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--ctx", o->ctx, "Context length (KV cache)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--kv-type", o->kv, kKvTypeHelp)->check(CLI::IsMember(kKvTypeNames));
  cmd->add_option("--top-alternatives", o->topAlt, "Alternatives per token in --json")->check(CLI::Range(0, 50));
  cmd->add_option("--draft", o->draft, kDraftHelp)->check(CLI::Range(0, 4));
  cmd->add_flag("--json", o->json, "One JSON object per token, then a stats object");
  cmd->callback([o, &run] {
    run = [o] {
      if (o->prompt.empty() && o->promptFile.empty() && o->promptTokens.empty())
        return fail("generate needs --prompt, --prompt-file or --prompt-tokens");
      auto m = Model::load(o->model);
      if (!m) return fail(m.error());
      const Model& model = **m;
      const Tokenizer& tok = model.tokenizer();
      std::vector<int32_t> prompt;
      if (!o->promptTokens.empty()) {
        auto ids = parseTokenList(o->promptTokens, model.config().nVocab);
        if (!ids) return fail(ids.error());
        prompt = std::move(*ids);
      } else {
        std::string text = o->prompt;
        if (!o->promptFile.empty()) {
          auto t = readTextFile(o->promptFile);
          if (!t) return fail(t.error());
          text = std::move(*t);
        }
        ChatTemplate tmpl = detectChatTemplate(model.chatTemplateSource(), tok);
        if (!o->tmpl.empty()) {
          auto t = chatTemplateFromName(o->tmpl);
          if (!t) return fail("--template: unknown template '" + o->tmpl + "' (chatml, llama3, llama2, raw)");
          tmpl = *t;
        }
        if (o->chat) {
          ChatOptions co;
          co.enableThinking = !o->noThink;
          text = renderChat(tmpl, {{"user", text}}, co);
        }
        if (tok.addBos() && tok.bos() >= 0) prompt.push_back(tok.bos());
        auto ids = tok.encode(text, /*parseSpecial=*/o->chat);
        prompt.insert(prompt.end(), ids.begin(), ids.end());
      }
      SessionOptions so;
      so.nThreads = o->threads;
      so.nCtx = o->ctx;
      so.kvType = kvTypeOption(o->kv);
      auto created = Session::create(model, so);
      if (!created) return fail(created.error());
      Session& session = **created;
      GenerateParams gp;
      gp.maxTokens = o->maxTokens;
      gp.sampling = o->s;
      gp.stopStrings = o->stops;
      gp.topAlternatives = o->json ? o->topAlt : 0;
      gp.draftTokens = o->draft;
      std::signal(SIGINT, onSigint);
      auto onToken = [&](const TokenEvent& ev) {
        if (o->json) {
          Json top = Json::array();
          for (const auto& a : ev.top)
            top.push_back({{"id", a.id}, {"text", tok.tokenBytes(a.id)}, {"logprob", a.logprob}});
          printJsonLine({{"type", "token"}, {"index", ev.index}, {"id", ev.id}, {"text", ev.text},
                         {"piece", tok.tokenBytes(ev.id)}, {"logprob", ev.logprob}, {"top", top}});
        } else {
          std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
          std::fflush(stdout);
        }
        return true;
      };
      auto r = generate(session, prompt, gp, onToken, &g_interrupted);
      if (!r) return fail(r.error());
      if (!o->json && r->streamedBytes < r->text.size())  // the tail held back when Ctrl-C stopped it
        std::fwrite(r->text.data() + r->streamedBytes, 1, r->text.size() - r->streamedBytes, stdout);
      const GenerateStats& st = r->stats;
      if (o->json) {
        printJsonLine({{"type", "stats"},
                       {"text", r->text},
                       {"stop_reason", stopReasonName(r->stopReason)},
                       {"prompt_tokens", st.promptTokens},
                       {"generated_tokens", st.generatedTokens},
                       {"ttft_ms", st.ttftMs},
                       {"prefill_ms", st.prefillMs},
                       {"decode_ms", st.decodeMs},
                       {"total_ms", st.totalMs},
                       {"prefill_tokens_per_s", st.prefillTps()},
                       {"decode_tokens_per_s", st.decodeTps()},
                       {"drafted_tokens", st.draftedTokens},
                       {"accepted_drafts", st.acceptedDrafts}});
      } else {
        std::fprintf(stderr,
                     "\n[%d prompt tokens, %d generated, stop: %s; ttft %.1f ms, prefill %.1f tok/s, decode "
                     "%.1f tok/s%s]\n",
                     st.promptTokens, st.generatedTokens, stopReasonName(r->stopReason), st.ttftMs,
                     st.prefillTps(), st.decodeTps(), draftSummary(st).c_str());
      }
      return 0;
    };
  });
}

}  // namespace duet::cli
