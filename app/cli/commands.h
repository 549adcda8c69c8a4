// Subcommands of the `duet` tool. Each register* adds a subcommand to the app and sets `run` to
// the function that executes it once parsing succeeded; that returns the process exit code.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace duet::cli {

using RunFn = std::function<int()>;

void registerInfo(CLI::App& app, RunFn& run);
void registerTokenize(CLI::App& app, RunFn& run);
void registerGenerate(CLI::App& app, RunFn& run);
void registerBench(CLI::App& app, RunFn& run);
void registerSynth(CLI::App& app, RunFn& run);
void registerGrade(CLI::App& app, RunFn& run);
void registerSolve(CLI::App& app, RunFn& run);
void registerEval(CLI::App& app, RunFn& run);
void registerRuns(CLI::App& app, RunFn& run);
void registerShow(CLI::App& app, RunFn& run);
void registerRegrade(CLI::App& app, RunFn& run);
void registerProbe(CLI::App& app, RunFn& run);
void registerExport(CLI::App& app, RunFn& run);
void registerTradeoff(CLI::App& app, RunFn& run);
void registerTrain(CLI::App& app, RunFn& run);
void registerServe(CLI::App& app, RunFn& run);  // serve, serve-bench, remote-test
// Lets model slots name remote endpoints (ModelCache's factory) and prints their warnings.
void installRemote();

}  // namespace duet::cli
