// duet train --demo: trains the shipped demo series (tiny M/m pair on the arithmetic word-problem
// task, stage-1 SFT then DUET RL) into --out, reproducibly from --seed. Exit 1 on I/O errors.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/train/demo.h"

namespace duet::cli {

void registerTrain(CLI::App& app, RunFn& run) {
  struct Opts {
    bool demo = false;
    std::string out = "demo";
    uint64_t seed = 1;
    int threads = 2;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("train", "Train a DUET model pair (the built-in demo series)");
  cmd->add_flag("--demo", o->demo, "Train the demo series shipped in resources/demo")->required();
  cmd->add_option("--out,-o", o->out, "Output directory for the GGUF pairs, experiment.json, test.jsonl, train_log.csv");
  cmd->add_option("--seed", o->seed, "Seed of the whole series (1 reproduces the shipped files)");
  cmd->add_option("--threads,-t", o->threads, "Training threads")->check(CLI::Range(1, 64));
  cmd->callback([o, &run] {
    run = [o] {
      train::DemoOptions d = train::demoOptions();
      d.outDir = o->out;
      d.seed = o->seed;
      d.threads = d.sftCapable.threads = d.sftLight.threads = d.rl.threads = o->threads;
      d.log = [](const std::string& s) {
        std::printf("%s\n", s.c_str());
        std::fflush(stdout);
      };
      auto st = train::runDemo(d);
      if (!st) return fail(st.error());
      std::printf("wrote %s/experiment.json\n", o->out.c_str());
      return 0;
    };
  });
}

}  // namespace duet::cli
