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
    int capableSteps = -1, lightSteps = -1, rlSteps = -1;
    std::string initCapable, initLight;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("train", "Train a DUET model pair (the built-in demo series)");
  cmd->add_flag("--demo", o->demo, "Train the demo series shipped in resources/demo")->required();
  cmd->add_option("--out,-o", o->out,
                  "Output directory for the GGUF pairs, experiment.json, test.jsonl, train_log.csv");
  cmd->add_option("--seed", o->seed, "Seed of the whole series (1 reproduces the shipped files)");
  cmd->add_option("--threads,-t", o->threads, "Training threads")->check(CLI::Range(1, 64));
  // Overrides for studying the recipe; the defaults reproduce the shipped series.
  cmd->add_option("--capable-steps", o->capableSteps, "Stage-1 SFT steps of M (default: the shipped recipe)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--light-steps", o->lightSteps, "Stage-1 SFT steps of m")->check(CLI::Range(0, 1000000));
  cmd->add_option("--rl-steps", o->rlSteps, "Stage-2 DUET steps")->check(CLI::Range(0, 1000000));
  cmd->add_option("--init-capable", o->initCapable, "Start M from this GGUF (a file this command wrote)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--init-light", o->initLight, "Start m from this GGUF (a file this command wrote)")
      ->check(CLI::ExistingFile);
  cmd->callback([o, &run] {
    run = [o] {
      train::DemoOptions d = train::demoOptions();
      d.outDir = o->out;
      d.seed = o->seed;
      d.threads = d.sftCapable.threads = d.sftLight.threads = d.rl.threads = o->threads;
      if (o->capableSteps >= 0) d.sftCapable.steps = o->capableSteps;
      if (o->lightSteps >= 0) d.sftLight.steps = o->lightSteps;
      if (o->rlSteps >= 0) d.rlSteps = o->rlSteps;
      d.initCapable = o->initCapable;
      d.initLight = o->initLight;
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
