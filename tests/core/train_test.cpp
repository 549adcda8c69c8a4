// Issue 4: the demo task generator (determinism, split, solutions), the trained BPE vocabulary
// through the core's tokenizer and GGUF loader, the stage-1 examples, one DUET RL step with the
// lambda rule, and the shipped demo manifest: it loads and every checkpoint solves through the
// DUET Solver.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "core/duet/experiment.h"
#include "core/duet/probe.h"
#include "core/duet/solver.h"
#include "core/eval/dataset.h"
#include "core/eval/grader.h"
#include "core/gguf/gguf.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/batch.h"
#include "core/train/bpe_train.h"
#include "core/train/demo.h"
#include "core/train/duet_rl.h"
#include "core/train/gguf_export.h"
#include "core/train/sft.h"
#include "core/train/task.h"

using namespace duet;
using namespace duet::train;

namespace {
BpeVocab taskVocab() {
  std::vector<std::string> corpus;
  Rng r{3};
  for (uint64_t i = 0; i < 200; ++i) {
    const Problem p = trainProblem(5, i);
    corpus.push_back(capablePrompt(modelQuestion(p)) +
                     capableOutput(writeReasoning(p, StyleMix{}, r), p.answer));
  }
  return trainBpe(corpus, 448);
}
}  // namespace

TEST(Task, GeneratorIsDeterministicAndConsistent) {
  for (uint64_t s = 0; s < 200; ++s) {
    const Problem a = makeProblem(s), b = makeProblem(s);
    EXPECT_EQ(a.question, b.question);
    EXPECT_EQ(a.answer, b.answer);
    ASSERT_GE(a.ops.size(), 2u);
    ASSERT_LE(a.ops.size(), 5u);
    // Recompute the chain from the ops.
    for (size_t i = 0; i < a.ops.size(); ++i) {
      const Op& op = a.ops[i];
      const int src = a.values[static_cast<size_t>(op.src)];
      int v = 0;
      switch (op.kind) {
        case OpKind::kTimes:
          v = src * op.k;
          break;
        case OpKind::kMore:
          v = src + op.k;
          break;
        case OpKind::kFewer:
          v = src - op.k;
          break;
        case OpKind::kSum:
          v = src + a.values[static_cast<size_t>(op.other)];
          break;
      }
      EXPECT_EQ(v, a.values[i + 1]);
      EXPECT_GE(v, 1);
      EXPECT_LE(v, 999);
    }
    EXPECT_EQ(a.answer, a.values.back());
  }
  EXPECT_NE(makeProblem(1).question, makeProblem(2).question);
}

TEST(Task, TestSplitIsFixedAndDisjointFromTraining) {
  const auto t1 = testSet(100), t2 = testSet(100);
  std::set<std::string> testQ;
  for (size_t i = 0; i < t1.size(); ++i) {
    EXPECT_EQ(t1[i].question, t2[i].question);
    EXPECT_TRUE(isTestProblem(t1[i]));
    testQ.insert(t1[i].question);
  }
  EXPECT_EQ(testQ.size(), 100u);
  for (uint64_t i = 0; i < 2000; ++i) {
    const Problem p = trainProblem(1, i);
    EXPECT_FALSE(isTestProblem(p));
    EXPECT_EQ(testQ.count(p.question), 0u);
  }
}

TEST(Task, SolutionsEndInBoxedAnswerAndSignalsKeepResults) {
  const Problem p = makeProblem(42);
  const std::string verbose = verboseReasoning(p), terse = terseReasoning(p);
  EXPECT_LT(terse.size() * 2, verbose.size());
  for (int v : p.values) {
    EXPECT_NE(verbose.find(std::to_string(v)), std::string::npos);
    EXPECT_NE(terse.find(std::to_string(v)), std::string::npos);
  }
  // Both styles spell each step's arithmetic the same way (" A op B = C"), so a terse signal uses
  // the skill M learned on verbose steps (issue 4: "Bob=4*37=148" made twice the errors).
  std::istringstream lines(terse);
  std::string line;
  size_t steps = 0;
  while (std::getline(lines, line)) {
    const size_t eq = line.find(" = ");
    ASSERT_NE(eq, std::string::npos) << line;
    const std::string chunk = line.substr(eq + 2);  // " A op B = C"
    EXPECT_NE(verbose.find(chunk + " " + p.item + "."), std::string::npos) << chunk << "\n" << verbose;
    ++steps;
  }
  EXPECT_EQ(steps, p.ops.size());
  const std::string out = capableOutput(verbose, p.answer);
  // The eval engine's signal is everything before </think>: the reasoning and its newline.
  EXPECT_EQ(extractSignal(out), verbose + "\n");
  EXPECT_EQ(extractSignal("<think>\n" + out), "\n" + verbose + "\n");
  EXPECT_TRUE(gradeMath(out, std::to_string(p.answer)).correct);
  // m's duet prompt is the paper's raw string; its target the boxed answer.
  EXPECT_EQ(lightPrompt("Q", "S"), "user\nQ\nassistant\n<think>\nS\n</think>");
  EXPECT_EQ(fillTemplate("user\n{question}\nassistant\n<think>\n{signal}\n</think>", "Q", "S"),
            lightPrompt("Q", "S"));
  EXPECT_TRUE(gradeMath(lightOutput(p.answer), std::to_string(p.answer)).correct);
  EXPECT_EQ(modelQuestion(p), formatMathQuestion(p.question));
}

TEST(Bpe, TrainedVocabularyRoundTripsThroughGguf) {
  const BpeVocab v = taskVocab();
  ASSERT_EQ(v.tokens.size(), 448u);
  EXPECT_GT(v.merges.size(), 100u);
  for (const auto& mg : v.merges) EXPECT_EQ(mg.find_first_of("0123456789"), std::string::npos) << mg;
  gguf::GgufWriter w;
  w.set("general.architecture", gguf::OwnedValue::string("llama"));
  writeTokenizer(w, v);
  auto f = gguf::GgufFile::fromBytes(w.toBytes());
  ASSERT_TRUE(f) << f.message();
  auto tok = Tokenizer::fromGguf(**f);
  ASSERT_TRUE(tok) << tok.message();
  const Problem p = trainProblem(9, 1);
  const std::string text = capablePrompt(modelQuestion(p)) + capableOutput(verboseReasoning(p), p.answer);
  const auto ids = (*tok)->encode(text, true);
  EXPECT_EQ((*tok)->decode(ids), text);
  EXPECT_LT(ids.size(), text.size() / 2) << "merges should compress the task text";
  EXPECT_EQ(std::count(ids.begin(), ids.end(), v.thinkOpen), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), v.thinkClose), 1);
  EXPECT_TRUE((*tok)->isEog(v.eos));
  const std::string odd = "naïve \x01 tabs\t\tand 12345";
  EXPECT_EQ((*tok)->decode((*tok)->encode(odd)), odd);
}

TEST(Sft, ExamplesWeightOnlyTheCompletion) {
  auto codec = TaskCodec::create(taskVocab());
  ASSERT_TRUE(codec);
  Rng r{1};
  const Problem p = trainProblem(2, 3);
  const Example e = capableSftExample(*codec, p, StyleMix{}, r);
  const size_t nPrompt = codec->encode(capablePrompt(modelQuestion(p))).size();
  ASSERT_EQ(e.weights.size(), e.tokens.size() - 1);
  for (size_t t = 0; t + 1 < nPrompt; ++t) EXPECT_EQ(e.weights[t], 0.0f);
  for (size_t t = nPrompt - 1; t < e.weights.size(); ++t) EXPECT_EQ(e.weights[t], 1.0f);
  EXPECT_EQ(e.tokens.back(), codec->eos());
  int empty = 0, full = 0;
  for (int i = 0; i < 200; ++i) {
    const Example l = lightSftExample(*codec, p, r);
    const std::string text = codec->decode(l.tokens);
    EXPECT_NE(text.find("\n</think>\n\\boxed{" + std::to_string(p.answer) + "}"), std::string::npos);
    if (text.find("<think>\n\n</think>") != std::string::npos) ++empty;
    if (text.find("\n\n</think>") != std::string::npos) ++full;  // extractSignal keeps the newline
  }
  EXPECT_GT(empty, 10);
  EXPECT_GT(full, 40);
}

TEST(DuetRl, GroupAdvantagesAndLambdaRule) {
  const auto a = groupAdvantages({1.0, 0.0, 1.0, 0.0});
  EXPECT_NEAR(a[0], 1.0, 1e-9);
  EXPECT_NEAR(a[1], -1.0, 1e-9);
  for (double x : groupAdvantages({0.5, 0.5, 0.5})) EXPECT_EQ(x, 0.0);

  auto codec = TaskCodec::create(taskVocab());
  ASSERT_TRUE(codec);
  TrainConfig c{1, 16, 2, 1, 32, 448, 352, 10000.0f, 1e-5f, false};
  Transformer<float> M(c), m(c);
  M.init(1);
  m.init(2);
  // Make M stop early at random: embeddings carry a large component 0, the final norm keeps only
  // it, and only the eos row reads it, so eos comes after a few tokens, at random.
  const ParamLayout& lay = M.layout();
  for (int v = 0; v < c.nVocab; ++v) {
    M.params()[lay.tokEmbd + static_cast<size_t>(v * c.nEmbd)] = 5.0f;
    for (int i = 0; i < c.nEmbd; ++i) M.params()[lay.output + static_cast<size_t>(v * c.nEmbd + i)] = 0.0f;
  }
  for (int i = 1; i < c.nEmbd; ++i) M.params()[lay.outNorm + static_cast<size_t>(i)] = 0.0f;
  M.params()[lay.output + static_cast<size_t>(codec->eos() * c.nEmbd)] = 1.0f;
  RlOptions o;
  o.maxCapableTokens = 24;
  o.maxLightTokens = 4;
  o.budget = 1.0f;
  o.threads = 1;
  DuetRl rl(M, m, *codec, o);
  const std::vector<Problem> batch = {trainProblem(1, 0), trainProblem(1, 1)};
  const RlStats s1 = rl.step(batch, 5);
  EXPECT_GT(s1.meanLength, 0.0);
  // lambda = clip01(lambda + 0.01 * (mean L / B - 1)), from 0.
  EXPECT_NEAR(s1.lambda, std::clamp(0.01 * (s1.meanLength / 1.0 - 1.0), 0.0, 1.0), 1e-9);
  ASSERT_GT(s1.lambda, 0.0);
  const std::vector<float> before = M.params();
  const RlStats s2 = rl.step(batch, 6);
  EXPECT_NEAR(s2.lambda, std::clamp(s1.lambda + 0.01 * (s2.meanLength / 1.0 - 1.0), 0.0, 1.0), 1e-9);
  EXPECT_NE(before, M.params()) << "with lambda > 0 the lengths in a group differ, so the penalty moves M";
}

TEST(DemoSeries, ShippedManifestLoadsAndEveryCheckpointSolves) {
  const std::filesystem::path dir =
      std::filesystem::path(DUET_TEST_DATA_DIR) / ".." / ".." / "resources" / "demo";
  if (!std::filesystem::exists(dir / "experiment.json")) GTEST_SKIP() << "resources/demo not present";
  auto e = loadExperiment((dir / "experiment.json").string());
  ASSERT_TRUE(e) << e.message();
  ASSERT_GE(e->checkpoints.size(), 5u);
  auto ds = loadDataset((dir / "test.jsonl").string());
  ASSERT_TRUE(ds) << ds.message();
  ASSERT_GE(ds->items.size(), 200u);
  ModelCache cache(LocalModelOptions{1, 0});
  Solver solver(*e, cache);
  std::vector<SystemSpec> systems = {{SolveMode::kOriginal, -1, 0},
                                     {SolveMode::kLight, -1, 0},
                                     {SolveMode::kTruncate, -1, 40},
                                     {SolveMode::kDuet, -1, 0}};
  for (const auto& ck : e->checkpoints) systems.push_back({SolveMode::kDuet, ck.step, 0});
  for (const SystemSpec& sys : systems) {
    SolveRequest req;
    req.system = sys;
    req.question = ds->items[0].question;
    req.gold = ds->items[0].gold;
    req.seed = 1;
    req.keepTokens = false;
    auto r = solver.solve(req);
    ASSERT_TRUE(r) << systemName(sys) << ": " << r.message();
    EXPECT_FALSE(r->answer.empty()) << systemName(sys);
    if (sys.mode != SolveMode::kLight) {
      EXPECT_GT(r->capableTokens, 0) << systemName(sys);
    }
    if (sys.mode == SolveMode::kOriginal) {
      EXPECT_NE(r->answer.find("</think>"), std::string::npos) << r->answer;
    }
  }
  // The probe scores the gold in m's own format: given a right signal in full, m is sure of the
  // gold; given none, it is not (with Qwen's "\n\n" separator both ends scored about -16).
  const Checkpoint& last = e->checkpoints.back();
  for (size_t i = 0; i < 8; ++i) {
    SolveRequest req;
    req.system = {SolveMode::kDuet, last.step, 0};
    req.question = ds->items[i].question;
    req.gold = ds->items[i].gold;
    req.seed = 1;
    auto r = solver.solve(req);
    ASSERT_TRUE(r) << r.message();
    if (!r->verdict.correct) continue;
    auto cap = cache.get(last.capable);
    auto lig = cache.get(e->lightFor(last));
    ASSERT_TRUE(cap && lig);
    auto pr = probeSignal(**cap, **lig, e->prompts.lightDuet, req.question, r->signal, req.gold,
                          GradeKind::kMath, r->answer, 4);
    ASSERT_TRUE(pr) << pr.message();
    EXPECT_GT(pr->points.back().logprob, -1.0) << "item " << i << ": " << pr->continuation;
    EXPECT_LT(pr->points.front().logprob, pr->points.back().logprob - 3.0) << "item " << i;
    return;
  }
  FAIL() << "no item among the first 8 solved right by the last checkpoint";
}

namespace {
// A miniature of the shipped recipe: every stage runs, in seconds.
DemoOptions miniDemo(const std::filesystem::path& out) {
  DemoOptions o = demoOptions();
  o.outDir = out.string();
  o.testSize = 12;
  o.quickEvalSize = 4;
  o.sftEvalEvery = 0;
  o.capable = TrainConfig{1, 32, 2, 2, 64, o.vocabSize, 352, 10000.0f, 1e-5f, false};
  o.light = TrainConfig{1, 16, 2, 2, 32, o.vocabSize, 352, 10000.0f, 1e-5f, false};
  o.sftCapable.steps = 6;
  o.sftCapable.batch = 4;
  o.sftLight.steps = 4;
  o.sftLight.batch = 4;
  o.rlSteps = 2;
  o.problemsPerStep = 2;
  o.rl.maxCapableTokens = 24;
  o.checkpointEvery = 1;
  o.threads = o.sftCapable.threads = o.sftLight.threads = o.rl.threads = 2;
  return o;
}
std::string fileBytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
}  // namespace

// `duet train --demo` reproduces its series: the same seed writes the same files, byte for byte
// (the shipped series is one such run); the manifest lists every checkpoint; the F16 files the
// demo ships load back into the trainer.
TEST(DemoSeries, SameSeedWritesTheSameSeries) {
  const auto base = std::filesystem::temp_directory_path() / ("duet_demo_" + std::to_string(::getpid()));
  std::filesystem::remove_all(base);
  for (const char* run : {"a", "b"}) ASSERT_TRUE(runDemo(miniDemo(base / run))) << run;
  for (const char* f : {"M0.gguf", "m0.gguf", "M-1.gguf", "m-2.gguf", "test.jsonl"})
    EXPECT_EQ(fileBytes(base / "a" / f), fileBytes(base / "b" / f))
        << f << " differs between two runs of one seed";
  auto e = loadExperiment((base / "a" / "experiment.json").string());
  ASSERT_TRUE(e) << e.message();
  ASSERT_EQ(e->checkpoints.size(), 2u);
  EXPECT_EQ(e->checkpoints[1].step, 2);
  DemoOptions other = miniDemo(base / "c");
  other.seed = 2;
  ASSERT_TRUE(runDemo(other));
  EXPECT_NE(fileBytes(base / "a" / "M0.gguf"), fileBytes(base / "c" / "M0.gguf"));
  // Shipped files are F16: they resume training within F16 rounding.
  Transformer<float> M(miniDemo(base).capable);
  ASSERT_TRUE(importGguf(M, (base / "a" / "M-2.gguf").string()));
  auto f = gguf::GgufFile::open((base / "a" / "M-2.gguf").string());
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ((*f)->findTensor("blk.0.attn_q.weight")->type, GgmlType::kF16);
  EXPECT_EQ((*f)->findTensor("blk.0.attn_norm.weight")->type, GgmlType::kF32);
  std::filesystem::remove_all(base);
}
