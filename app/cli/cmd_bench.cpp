// duet bench | synth
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/gguf/gguf.h"
#include "core/kernels/matmul.h"
#include "core/model/model.h"
#include "core/model/synth.h"

namespace duet::cli {

namespace {

struct Series {
  std::vector<double> v;
  double mean() const {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / v.size();
  }
  double stddev() const {
    if (v.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / (v.size() - 1));
  }
};

double seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// bench: llama-bench style pp<N> / tg<N> throughput.

void registerBench(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string model, kv = "f16";
    int threads = 0, promptLen = 512, gen = 128, reps = 5, batch = SessionOptions{}.nBatch, depth = 0;
    bool json = false, noAmx = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "Prefill and decode tokens/s (like llama-bench pp512/tg128)");
  cmd->add_option("--model,-m", o->model, "GGUF model file")->required();
  cmd->add_option("--threads,-t", o->threads, "Threads (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--prompt-len", o->promptLen, "Prompt tokens for the prefill test (0 = skip)")->check(CLI::Range(0, 65536));
  cmd->add_option("--gen", o->gen, "Generated tokens for the decode test (0 = skip)")->check(CLI::Range(0, 65536));
  cmd->add_option("--reps", o->reps, "Repetitions")->check(CLI::Range(1, 1000));
  cmd->add_option(
         "--depth,-d", o->depth,
         "Tokens already in the context before each test, not timed (like llama-bench -d): decode at "
         "depth reads the KV cache too, as a long reasoning signal does")
      ->check(CLI::Range(0, 131072));
  cmd->add_option("--batch", o->batch, "Prefill chunk size (0: chosen from the model's shape)")->check(CLI::Range(0, 512));
  cmd->add_option("--kv-type", o->kv, kKvTypeHelp)->check(CLI::IsMember(kKvTypeNames));
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->add_flag("--no-amx", o->noAmx, "Prefill without the AMX tile unit (compare kernels; also DUET_NO_AMX=1)");
  cmd->callback([o, &run] {
    run = [o] {
      if (o->noAmx) kernels::setAmxPrefill(false);
      auto m = Model::load(o->model);
      if (!m) return fail(m.error());
      const Model& model = **m;
      SessionOptions so;
      so.nThreads = o->threads;
      so.nCtx = std::max(1, o->depth + std::max(o->promptLen, o->gen) + 1);
      so.nBatch = o->batch;
      so.kvType = kvTypeOption(o->kv);
      auto created = Session::create(model, so);
      if (!created) return fail(created.error());
      Session& session = **created;
      const int nVocab = model.config().nVocab;
      std::vector<int32_t> prompt(static_cast<size_t>(o->promptLen));
      for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % nVocab);
      std::vector<int32_t> context(static_cast<size_t>(o->depth));
      for (size_t i = 0; i < context.size(); ++i)
        context[i] = static_cast<int32_t>((i * 104729 + 5) % nVocab);
      // Each test starts from an empty cache, or from one holding `depth` tokens (untimed).
      const auto start = [&]() -> Status {
        session.reset();
        return context.empty() ? Status{} : session.eval(context);
      };
      Series pp, tg;
      // One warm-up pass of each test, then the measured repetitions.
      for (int rep = -1; rep < o->reps; ++rep) {
        if (o->promptLen > 0) {
          if (auto st = start(); !st) return fail(st.error());
          auto t0 = std::chrono::steady_clock::now();
          auto st = session.eval(prompt);
          if (!st) return fail(st.error());
          if (rep >= 0) pp.v.push_back(o->promptLen / seconds(t0));
        }
        if (o->gen > 0) {
          if (auto st = start(); !st) return fail(st.error());
          int32_t tok = 1;
          auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < o->gen; ++i) {
            auto st = session.eval(std::span<const int32_t>(&tok, 1));
            if (!st) return fail(st.error());
            tok = static_cast<int32_t>((tok * 31 + 7) % nVocab);
          }
          if (rep >= 0) tg.v.push_back(o->gen / seconds(t0));
        }
      }
      const size_t fileBytes = model.file().fileSize();
      // Decode speed depends on the page size the weights are mapped with (GgufFile::pageStats).
      const gguf::GgufFile::PageStats pages = model.file().pageStats();
      // The decode test reads the cache up to its position: depth + i for token i.
      const double kvPerPos = static_cast<double>(session.kvCacheBytes()) / so.nCtx;
      const double kvPerToken = kvPerPos * (o->depth + (o->gen + 1) / 2.0);
      Json j{{"model", o->model},
             {"architecture", std::string(archName(model.config().arch))},
             {"tensor_types", model.tensorTypeSummary()},
             {"file_bytes", fileBytes},
             {"threads", session.pool().size()},
             {"prefill_kernels", kernels::prefillKernelName()},
             {"batch", session.batchSize()},
             {"pp", o->promptLen},
             {"pp_tokens_per_s", pp.mean()},
             {"pp_stddev", pp.stddev()},
             {"tg", o->gen},
             {"tg_tokens_per_s", tg.mean()},
             {"tg_stddev", tg.stddev()},
             {"depth", o->depth},
             {"decode_weight_gb_per_s", tg.mean() * fileBytes / 1e9},
             {"decode_kv_gb_per_s", tg.mean() * kvPerToken / 1e9},
             {"kv_type", kvTypeName(session.kvType())},
             {"kv_cache_bytes", session.kvCacheBytes()},
             {"rss_bytes", residentBytes()},
             {"peak_rss_bytes", peakResidentBytes()},
             {"weights_resident_bytes", pages.residentBytes},
             {"weights_on_2mib_pages_bytes", pages.hugeBytes}};
      if (o->json) {
        printJsonLine(j);
        return 0;
      }
      std::printf("model: %s (%s, %.1f MiB, %s)\n", o->model.c_str(), archName(model.config().arch).data(),
                  fileBytes / 1048576.0, model.tensorTypeSummary().c_str());
      std::printf("threads: %d, prefill chunk %d, prefill kernels %s\n", session.pool().size(), session.batchSize(),
                  kernels::prefillKernelName());
      const std::string at = o->depth > 0 ? " @ d" + std::to_string(o->depth) : "";
      if (o->promptLen > 0)
        std::printf("%-12s %10.1f ± %.1f tokens/s\n", ("pp" + std::to_string(o->promptLen) + at).c_str(),
                    pp.mean(), pp.stddev());
      if (o->gen > 0) {
        std::printf("%-12s %10.1f ± %.1f tokens/s  (%.1f GB/s of weights",
                    ("tg" + std::to_string(o->gen) + at).c_str(), tg.mean(), tg.stddev(),
                    tg.mean() * fileBytes / 1e9);
        if (o->depth > 0) std::printf(", %.1f GB/s of KV cache", tg.mean() * kvPerToken / 1e9);
        std::printf(")\n");
      }
      std::printf("memory: rss %.1f MiB, peak %.1f MiB, file %.1f MiB, kv cache %.1f MiB (%s)\n",
                  residentBytes() / 1048576.0, peakResidentBytes() / 1048576.0, fileBytes / 1048576.0,
                  session.kvCacheBytes() / 1048576.0, kvTypeName(session.kvType()));
      std::printf("weights: %.1f of %.1f MiB resident on 2 MiB pages\n", pages.hugeBytes / 1048576.0,
                  pages.residentBytes / 1048576.0);
      return 0;
    };
  });
}

// ---------------------------------------------------------------------------------------------
// synth: random-weight models of named real shapes.

void registerSynth(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string preset = "tiny", type = "f32", out;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("synth", "Write a random-weight GGUF model of a named real shape");
  cmd->add_option("--preset", o->preset, "Shape: tiny, llama-6m, qwen2-0.5b, qwen3-0.6b, qwen3-4b, llama3-1b");
  cmd->add_option("--type", o->type,
                  "Weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k, or q4_k_m "
                  "(Q4_K with Q6_K for attn_v/ffn_down, llama.cpp fallbacks on rows not a multiple of 256)");
  cmd->add_option("--seed", o->seed, "Weight seed");
  cmd->add_option("--out,-o", o->out, "Output file")->required();
  cmd->callback([o, &run] {
    run = [o] {
      auto spec = synthPreset(o->preset);
      if (!spec) return fail("--preset: unknown shape '" + o->preset + "'");
      spec->seed = o->seed;
      std::string t = o->type;
      for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (t == "q4_k_m") {
        spec->type = GgmlType::kQ4_K;
        spec->mixQ4KM = true;
      } else {
        auto gt = ggmlTypeFromName(t);
        if (!gt) return fail("--type: unknown type '" + o->type + "'");
        spec->type = *gt;
      }
      auto st = writeSynthModel(*spec, o->out);
      if (!st) return fail(st.error());
      std::printf("wrote %s (%s, %s)\n", o->out.c_str(), o->preset.c_str(), o->type.c_str());
      return 0;
    };
  });
}

}  // namespace duet::cli
