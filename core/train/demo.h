// The shipped demo series, end to end and reproducible from a seed: trains the BPE vocabulary on
// task text, stage 1 (SFT of M and m: the "original" pair M0/m0), stage 2 (DUET RL with
// checkpoints every N steps), and writes into outDir:
//   M0.gguf, m0.gguf, M-<step>.gguf, m-<step>.gguf, experiment.json (core/duet/experiment.h
//   format), test.jsonl (the held-out split, {"problem", "answer"}), train_log.csv
//   (stage,step,loss,reward,lambda,mean_len,accuracy,accuracy_light,seconds).
// Progress lines go to the log callback. Errors: unwritable outDir or files (kIo).
// Thread-safety: one run at a time per outDir; uses opts.threads threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/kernels/ggml_type.h"
#include "core/train/duet_rl.h"
#include "core/train/sft.h"
#include "core/train/task.h"
#include "core/train/transformer.h"
#include "core/util/result.h"

namespace duet::train {

struct DemoOptions {
  std::string outDir = "demo";
  uint64_t seed = 1;
  int threads = 2;
  int testSize = 300;
  int vocabSize = 448;
  TaskOptions task;
  StyleMix mix;         // stage-1 solution styles
  TrainConfig capable;  // M
  TrainConfig light;    // m
  SftOptions sftCapable;
  SftOptions sftLight;
  RlOptions rl;
  int rlSteps = 60;
  int problemsPerStep = 8;
  int checkpointEvery = 10;
  int sftEvalEvery = 500;              // M-alone greedy accuracy on 32 held-out problems during stage 1
  int quickEvalSize = 64;              // held-out problems scored greedily after each stage (progress only)
  GgmlType fileType = GgmlType::kF16;  // matrices of the written GGUFs (F16 keeps the demo small)
  std::string initCapable, initLight;  // optional GGUFs (exportGguf) to start stage 1 from
  std::function<void(const std::string&)> log;
};

// The configuration of the shipped series (`duet train --demo`).
DemoOptions demoOptions();

Status runDemo(const DemoOptions& o);

}  // namespace duet::train
