#include "core/train/demo.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/duet/experiment.h"
#include "core/duet/solver.h"
#include "core/eval/grader.h"
#include "core/train/bpe_train.h"
#include "core/train/gguf_export.h"
#include "core/train/rollout.h"

namespace fs = std::filesystem;

namespace duet::train {

DemoOptions demoOptions() {
  DemoOptions o;
  // M 2.83 M parameters, m 0.42 M (6.7x smaller). The first demo's 0.97 M-parameter M reached
  // 26% after its SFT; this one reaches ~80% in 3000 steps (~18 min on 2 cores). m only has to
  // read the last intermediate result of a signal: its first 0.16 M version with 500 steps read a
  // correct signal right only a third of the time, which hid M's progress from the reward.
  o.capable = TrainConfig{6, 192, 6, 6, 512, o.vocabSize, 352, 10000.0f, 1e-5f, false};
  o.light = TrainConfig{3, 96, 3, 3, 256, o.vocabSize, 352, 10000.0f, 1e-5f, false};
  // Two-digit quantities: "k more/fewer" with k up to 19 (carries and borrows), sums of two
  // people's counts, products of a one-digit factor. With addends up to 49 the first demo's M
  // got a third of its additions wrong, so chains of 2-5 steps were mostly wrong.
  o.task.maxValue = 99;
  o.task.maxStart = 60;
  o.task.maxFactor = 5;
  o.task.minAddend = 2;
  o.task.maxAddend = 19;
  o.sftCapable = SftOptions{3000, 16, 2e-3f, 100, 0.1f, 0.01f, o.threads};
  o.sftLight = SftOptions{3000, 32, 2e-3f, 100, 0.1f, 0.01f, o.threads};
  // Stage 2: rollouts at the eval temperature (at 1.0 the sampled digits make almost every answer
  // wrong, so only the length term is left) and a small learning rate (2e-4 erased the first
  // demo's arithmetic within a dozen steps). B = 64 tokens instead of the paper's 1000: the
  // original M writes ~130 tokens here, and lambda rises while the mean length exceeds B. A
  // smaller B lets lambda grow until the penalty outweighs a wrong answer (L differences of ~80
  // tokens at lambda ~0.4 cost 0.5, less than one answer). 100 steps, a checkpoint every 20.
  o.rl.budget = 64.0f;
  o.rl.temperature = 0.6f;
  o.rl.lrCapable = o.rl.lrLight = 5e-5f;
  o.rlSteps = 100;
  o.checkpointEvery = 20;
  return o;
}

namespace {
constexpr const char* kCapableTemplate = "user\n{question}\nassistant\n<think>\n";
constexpr const char* kLightAloneTemplate = "user\n{question}\nassistant\n<think>\n\n</think>";

struct QuickEval {
  double capable = 0, duet = 0, light = 0, meanLen = 0;
};

// Greedy scores on held-out problems: M alone, M -> m (duet), m alone; M's mean output tokens.
QuickEval quickEval(const Transformer<float>& M, const Transformer<float>& m, const TaskCodec& c,
                    const std::vector<Problem>& ps, int maxCapable) {
  QuickEval q;
  GenOptions go;
  go.temperature = 0.0f;
  go.eos = c.eos();
  go.maxNew = maxCapable;
  std::vector<GenJob> jobs;
  for (const Problem& p : ps) jobs.push_back(GenJob{c.encode(capablePrompt(modelQuestion(p))), 1, 0});
  const auto out = generate(M, jobs, go);
  std::vector<GenJob> lj;
  for (size_t i = 0; i < ps.size(); ++i) {
    auto toks = out[i][0].tokens;
    q.meanLen += static_cast<double>(toks.size()) - (out[i][0].ended ? 1 : 0);
    if (out[i][0].ended) toks.pop_back();
    const std::string text = c.decode(toks);
    q.capable += gradeMath(text, std::to_string(ps[i].answer)).correct;
    lj.push_back(GenJob{c.encode(lightPrompt(modelQuestion(ps[i]), extractSignal(text))), 1, 0});
    lj.push_back(GenJob{c.encode(lightPrompt(modelQuestion(ps[i]), "")), 1, 0});
  }
  go.maxNew = 16;
  const auto lo = generate(m, lj, go);
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string gold = std::to_string(ps[i].answer);
    q.duet += gradeMath(c.decode(lo[2 * i][0].tokens), gold).correct;
    q.light += gradeMath(c.decode(lo[2 * i + 1][0].tokens), gold).correct;
  }
  const double n = static_cast<double>(std::max<size_t>(1, ps.size()));
  q.capable /= n, q.duet /= n, q.light /= n, q.meanLen /= n;
  return q;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0, double e = 0,
                double g = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c, d, e, g);
  return buf;
}
}  // namespace

Status runDemo(const DemoOptions& o) {
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  std::error_code ec;
  fs::create_directories(o.outDir, ec);
  const fs::path dir = fs::absolute(o.outDir);
  if (ec || !fs::is_directory(dir))
    return makeError(Errc::kIo, o.outDir + ": cannot create the output directory");
  std::ofstream csv(dir / "train_log.csv", std::ios::trunc);
  if (!csv) return makeError(Errc::kIo, (dir / "train_log.csv").string() + ": cannot write the training log");
  csv << "stage,step,loss,reward,lambda,mean_len,accuracy,accuracy_light,seconds\n";
  const auto tStart = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - tStart).count();
  };

  // Held-out split and vocabulary.
  const std::vector<Problem> test = testSet(o.testSize, o.task);
  {
    std::ofstream t(dir / "test.jsonl", std::ios::trunc);
    for (const Problem& p : test) t << problemJsonl(p) << "\n";
    if (!t) return makeError(Errc::kIo, (dir / "test.jsonl").string() + ": write failed");
  }
  std::vector<std::string> corpus;
  Rng crng{o.seed * 31 + 5};
  for (uint64_t i = 0; i < 2000; ++i) {
    const Problem p = trainProblem(o.seed + 1000, i, o.task);
    corpus.push_back(capablePrompt(modelQuestion(p)) +
                     capableOutput(writeReasoning(p, o.mix, crng), p.answer));
    corpus.push_back(terseReasoning(p) + "\n" + verboseReasoning(p));
  }
  const BpeVocab vocab = trainBpe(corpus, o.vocabSize);
  auto codecR = TaskCodec::create(vocab);
  if (!codecR) return codecR.error();
  const TaskCodec& codec = *codecR;
  log("vocabulary: " + std::to_string(vocab.merges.size()) + " merges, " +
      std::to_string(vocab.tokens.size()) + " tokens; test split " + std::to_string(test.size()) +
      " problems");
  const std::vector<Problem> quick(
      test.begin(), test.begin() + std::min<long>(o.quickEvalSize, static_cast<long>(test.size())));

  // Stage 1.
  Transformer<float> M(o.capable), m(o.light);
  M.init(o.seed * 11 + 1);
  m.init(o.seed * 11 + 2);
  if (!o.initCapable.empty()) DUET_TRY_STATUS(importGguf(M, o.initCapable));
  if (!o.initLight.empty()) DUET_TRY_STATUS(importGguf(m, o.initLight));
  log(fmt("M: %.2f M parameters; m: %.2f M parameters", static_cast<double>(M.params().size()) / 1e6,
          static_cast<double>(m.params().size()) / 1e6));
  auto sftLog = [&](const char* stage, int total, bool evalCapable) {
    return [&, stage, total, evalCapable](const SftProgress& p) {
      csv << stage << "," << p.step << "," << p.loss << ",,,,,," << elapsed() << "\n";
      if (p.step % 25 == 0 || p.step == total)
        log(std::string(stage) + fmt(" step %4.0f/%.0f  loss %.4f  %6.0f tok/s  [%5.0fs]", p.step, total,
                                     p.loss, p.tokensPerSecond, elapsed()));
      if (evalCapable && o.sftEvalEvery > 0 && p.step % o.sftEvalEvery == 0) {
        const std::vector<Problem>& few = quick;
        const QuickEval qe = quickEval(M, m, codec, few, o.rl.maxCapableTokens);
        log(fmt("  M alone (greedy, %.0f held-out) %.3f, M tokens %.1f", static_cast<double>(few.size()),
                qe.capable, qe.meanLen));
      }
    };
  };
  Rng srng{o.seed * 97 + 3};
  runSft(
      M, [&](uint64_t i) { return capableSftExample(codec, trainProblem(o.seed, i, o.task), o.mix, srng); },
      o.sftCapable, sftLog("sft_M", o.sftCapable.steps, true));
  // Written at once so a recipe study can resume from it (--init-capable).
  DUET_TRY_STATUS(exportGguf(M, vocab, "duet-demo-M0", (dir / "M0.gguf").string(), o.fileType));
  Rng lrng{o.seed * 89 + 7};
  runSft(
      m, [&](uint64_t i) { return lightSftExample(codec, trainProblem(o.seed + 7, i, o.task), lrng); },
      o.sftLight, sftLog("sft_m", o.sftLight.steps, false));
  DUET_TRY_STATUS(exportGguf(m, vocab, "duet-demo-m0", (dir / "m0.gguf").string(), o.fileType));
  auto q = quickEval(M, m, codec, quick, o.rl.maxCapableTokens);
  log(fmt("original pair (greedy, %.0f held-out): M alone %.3f, M->m %.3f, m alone %.3f, M tokens %.1f",
          static_cast<double>(quick.size()), q.capable, q.duet, q.light, q.meanLen));

  Experiment e = defaultExperiment();
  e.name = "duet-demo";
  e.manifestPath = (dir / "experiment.json").string();
  e.capable.path = (dir / "M0.gguf").string();
  e.light.path = (dir / "m0.gguf").string();
  e.prompts.capable = kCapableTemplate;
  e.prompts.lightAlone = kLightAloneTemplate;
  e.capableSampling.maxTokens = o.rl.maxCapableTokens;
  e.lightSampling.maxTokens = o.rl.maxLightTokens;
  e.dataset = (dir / "test.jsonl").string();

  // Stage 2.
  DuetRl rl(M, m, codec, o.rl);
  uint64_t next = 0;
  for (int step = 1; step <= o.rlSteps; ++step) {
    std::vector<Problem> batch;
    for (int i = 0; i < o.problemsPerStep; ++i) batch.push_back(trainProblem(o.seed + 99, next++, o.task));
    const RlStats s = rl.step(batch, o.seed * 1000003 + static_cast<uint64_t>(step));
    csv << "duet," << step << "," << s.lossCapable << "," << s.reward << "," << s.lambda << ","
        << s.meanLength << "," << s.accuracyDuet << "," << s.accuracyLight << "," << elapsed() << "\n";
    csv.flush();
    log(fmt("duet step %3.0f  reward %+.3f  lambda %.3f  mean L %5.1f  acc(M->m) %.3f  acc(m) %.3f", step,
            s.reward, s.lambda, s.meanLength, s.accuracyDuet, s.accuracyLight) +
        fmt("  [%4.1fs, %5.0fs]", s.seconds, elapsed()));
    if (step % o.checkpointEvery == 0 || step == o.rlSteps) {
      const std::string sfx = std::to_string(step);
      DUET_TRY_STATUS(
          exportGguf(M, vocab, "duet-demo-M-" + sfx, (dir / ("M-" + sfx + ".gguf")).string(), o.fileType));
      DUET_TRY_STATUS(
          exportGguf(m, vocab, "duet-demo-m-" + sfx, (dir / ("m-" + sfx + ".gguf")).string(), o.fileType));
      Checkpoint ck;
      ck.step = step;
      ck.capable.path = (dir / ("M-" + sfx + ".gguf")).string();
      ck.light.path = (dir / ("m-" + sfx + ".gguf")).string();
      ck.label = "step " + sfx;
      ck.notes = fmt("lambda %.3f, train mean L %.1f", s.lambda, s.meanLength);
      e.checkpoints.push_back(ck);
      DUET_TRY_STATUS(saveExperiment(e, e.manifestPath));
      q = quickEval(M, m, codec, quick, o.rl.maxCapableTokens);
      log(fmt("checkpoint %.0f (greedy): M alone %.3f, M->m %.3f, m alone %.3f, M tokens %.1f", step,
              q.capable, q.duet, q.light, q.meanLen));
    }
  }
  DUET_TRY_STATUS(saveExperiment(e, e.manifestPath));
  log(fmt("done in %.0f s", elapsed()));
  return {};
}

}  // namespace duet::train
