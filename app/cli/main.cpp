// duet: the headless face of the core — model info, tokenization, generation, benchmarks and
// synthetic models. Exit codes: 0 success, 1 runtime error (message on stderr), 2+ usage errors.
#include <CLI/CLI.hpp>

#include "app/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"duet — Duet Workbench command-line tool (native GGUF inference core)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(DUET_VERSION));
  duet::cli::RunFn run;
  duet::cli::registerInfo(app, run);
  duet::cli::registerTokenize(app, run);
  duet::cli::registerGenerate(app, run);
  duet::cli::registerBench(app, run);
  duet::cli::registerSynth(app, run);
  duet::cli::registerGrade(app, run);
  duet::cli::registerSolve(app, run);
  duet::cli::registerEval(app, run);
  duet::cli::registerRuns(app, run);
  duet::cli::registerShow(app, run);
  duet::cli::registerRegrade(app, run);
  duet::cli::registerProbe(app, run);
  duet::cli::registerExport(app, run);
  duet::cli::registerTradeoff(app, run);
  duet::cli::registerTrain(app, run);
  duet::cli::registerServe(app, run);
  duet::cli::installRemote();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return run ? run() : 2;
}
