// The DUET engine over real tiny GGUF models written by our own writer (no mocks): signal
// extraction, the exact m string, each solve mode, metrics, and an evaluation killed by a real
// signal mid-run, resumed, and checked item by item against an uninterrupted run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/duet/evaluator.h"
#include "core/duet/experiment.h"
#include "core/duet/probe.h"
#include "core/duet/solver.h"
#include "core/duet/text_model.h"
#include "core/eval/dataset.h"
#include "core/model/model.h"
#include "core/model/synth.h"
#include "core/store/store.h"

namespace duet {
namespace {

namespace fs = std::filesystem;

TEST(SignalTest, PaperRules) {
  EXPECT_EQ(extractSignal("<think>\nstep 1\n</think>\n\nThe answer is 4"), "\nstep 1\n");
  EXPECT_EQ(extractSignal("step 1, step 2</think> answer"), "step 1, step 2");
  EXPECT_EQ(extractSignal("<think>cut off mid"), "cut off mid");
  EXPECT_EQ(extractSignal("no tags at all"), "no tags at all");
  EXPECT_EQ(extractSignal("a</think>b</think>"), "a");
  EXPECT_EQ(extractSignal(""), "");
  EXPECT_EQ(extractSignal("x <think>inner</think>"), "inner");
}

TEST(SignalTest, TheExactLightModelString) {
  PromptTemplates p;
  EXPECT_EQ(fillTemplate(p.lightDuet, "What is 2+2?", "2+2=4"),
            "user\nWhat is 2+2?\nassistant\n<think>\n2+2=4\n</think>");
  EXPECT_EQ(fillTemplate("{question}{question}", "q"), "qq");
}

TEST(SignalTest, SystemNamesRoundTrip) {
  for (std::string n : {"duet@0", "duet@120", "duet@original", "original", "light", "truncate@512"}) {
    auto s = parseSystemName(n);
    ASSERT_TRUE(s) << n;
    EXPECT_EQ(systemName(*s), n);
  }
  EXPECT_FALSE(parseSystemName("truncate@0"));
  EXPECT_FALSE(parseSystemName("duet@x"));
  int b = 0;
  EXPECT_EQ(parseModeName("truncate:64", &b), SolveMode::kTruncate);
  EXPECT_EQ(b, 64);
  EXPECT_FALSE(parseModeName("truncate:", &b));
}

TEST(ExperimentTest, ManifestErrorsNameTheProblem) {
  auto bad = parseExperiment("{\"light\": \"m.gguf\"}", "/tmp", "e.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("capable"), std::string::npos);
  auto dup = parseExperiment(
      R"({"capable":"M.gguf","light":"m.gguf","checkpoints":[{"step":1,"capable":"a"},{"step":1,"capable":"b"}]})",
      "/tmp", "e.json");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("twice"), std::string::npos);
  auto ok = parseExperiment(
      R"({"capable":"M.gguf","light":"m.gguf","checkpoints":[{"step":5,"capable":"c5.gguf"},{"step":2,"capable":"c2.gguf"}]})",
      "/base", "e.json");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->capable.path, "/base/M.gguf");
  EXPECT_EQ(ok->checkpoints.front().step, 2);
  EXPECT_EQ(ok->capableSampling.sampler.topK, 20);  // the paper's defaults
  EXPECT_FLOAT_EQ(ok->capableSampling.sampler.temperature, 0.6f);
  EXPECT_EQ(ok->lightSampling.maxTokens, 2048);
  EXPECT_FALSE(parseExperiment("not json", "", "x.json").ok());
}

// A tiny experiment on disk: M0 and two checkpoints (qwen3 with ChatML), m0 (llama), 12 items.
class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_dir = fs::temp_directory_path() / ("duet_engine_test_" + std::to_string(::getpid()));
    fs::create_directories(s_dir);
    auto write = [&](const std::string& name, Arch arch, uint64_t seed) {
      SynthSpec s = *synthPreset("tiny");
      s.arch = arch;
      s.nVocab = 1024;
      s.seed = seed;
      s.weightScale = 3.0f;
      ASSERT_TRUE(writeSynthModel(s, (s_dir / name).string()).ok());
    };
    write("M0.gguf", Arch::kQwen3, 1);
    write("M-10.gguf", Arch::kQwen3, 2);
    write("M-20.gguf", Arch::kQwen3, 3);
    write("m0.gguf", Arch::kLlama, 4);
    std::ofstream(s_dir / "experiment.json") << R"({
      "name": "tiny", "capable": "M0.gguf", "light": "m0.gguf",
      "checkpoints": [{"step": 10, "capable": "M-10.gguf"}, {"step": 20, "capable": "M-20.gguf"}],
      "sampling": {"capable": {"max_tokens": 24}, "light": {"max_tokens": 8}},
      "dataset": "data.jsonl"})";
    std::ofstream d(s_dir / "data.jsonl");
    for (int i = 0; i < 12; ++i)
      d << R"({"problem": "what is )" << i << " plus " << i << R"(?", "answer": ")" << 2 * i << "\"}\n";
    std::ofstream big(s_dir / "big.jsonl");  // long enough that a kill lands mid-run
    for (int i = 0; i < 60; ++i)
      big << R"({"problem": "add )" << i << R"( and 7", "answer": )" << i + 7 << "}\n";
  }
  static void TearDownTestSuite() { fs::remove_all(s_dir); }
  static fs::path s_dir;
};
fs::path EngineTest::s_dir;

TEST_F(EngineTest, EachModeStreamsAndAccounts) {
  auto e = loadExperiment((s_dir / "experiment.json").string());
  ASSERT_TRUE(e.ok()) << e.message();
  ModelCache models;
  Solver solver(*e, models);
  SolveRequest req;
  req.question = formatMathQuestion("what is 1 plus 1?");
  req.gold = "2";
  req.seed = 3;

  std::vector<std::string> order;
  int tokens = 0;
  req.system = {SolveMode::kDuet, 10, 0};
  auto r = solver.solve(req, [&](const SolveEvent& ev) {
    if (ev.kind == SolveEvent::Kind::kStageStart) order.push_back(ev.stage);
    if (ev.kind == SolveEvent::Kind::kToken) ++tokens;
  });
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(order, (std::vector<std::string>{"capable", "light"}));
  ASSERT_EQ(r->stages.size(), 2u);
  EXPECT_EQ(r->stages[0].model, "M-10.gguf");
  EXPECT_EQ(r->stages[1].model, "m0.gguf");
  EXPECT_EQ(tokens, r->capableTokens + r->lightTokens);
  EXPECT_EQ(r->capableTokens, r->stages[0].outputTokens);
  EXPECT_EQ(r->signal, extractSignal(r->stages[0].output));
  EXPECT_EQ(r->stages[1].prompt,
            "user\n" + req.question + "\nassistant\n<think>\n" + r->signal + "\n</think>");
  EXPECT_EQ(r->stages[0].prompt, "<|im_start|>user\n" + req.question + "<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(r->answer, r->stages[1].output);
  EXPECT_FALSE(r->verdict.reason.empty());
  EXPECT_EQ(r->stages[0].tokens.size(), static_cast<size_t>(r->capableTokens));

  req.system = {SolveMode::kOriginal, -1, 0};
  auto orig = solver.solve(req);
  ASSERT_TRUE(orig.ok());
  ASSERT_EQ(orig->stages.size(), 1u);
  EXPECT_EQ(orig->stages[0].model, "M0.gguf");
  EXPECT_EQ(orig->answer, orig->stages[0].output);

  req.system = {SolveMode::kLight, -1, 0};
  auto light = solver.solve(req);
  ASSERT_TRUE(light.ok());
  ASSERT_EQ(light->stages.size(), 1u);
  EXPECT_EQ(light->capableTokens, 0);
  EXPECT_EQ(light->stages[0].stage, "light");

  req.system = {SolveMode::kTruncate, -1, 5};
  auto tr = solver.solve(req);
  ASSERT_TRUE(tr.ok());
  EXPECT_LE(tr->capableTokens, 5);
  // Same seed as "original": the truncated prefix is the original output's first tokens.
  for (size_t i = 0; i < tr->stages[0].tokens.size(); ++i)
    EXPECT_EQ(tr->stages[0].tokens[i].id, orig->stages[0].tokens[i].id) << "token " << i;
  if (tr->capableTokens == 5) {
    EXPECT_EQ(tr->stages[0].stopReason, "truncated");
  }

  req.system = {SolveMode::kDuet, 99, 0};
  auto missing = solver.solve(req);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("99"), std::string::npos);
}

TEST_F(EngineTest, BatchedSolvingEqualsOneByOne) {
  auto e = loadExperiment((s_dir / "experiment.json").string());
  ASSERT_TRUE(e.ok());
  ModelCache models;
  Solver solver(*e, models);
  for (SystemSpec sys : {SystemSpec{SolveMode::kDuet, 20, 0}, SystemSpec{SolveMode::kLight, -1, 0},
                         SystemSpec{SolveMode::kTruncate, -1, 6}}) {
    std::vector<SolveRequest> reqs;
    for (int i = 0; i < 4; ++i) {
      SolveRequest r;
      r.system = sys;
      r.question = formatMathQuestion("what is " + std::to_string(i) + " times 3?");
      r.gold = std::to_string(3 * i);
      r.seed = 100 + i;
      reqs.push_back(r);
    }
    auto batch = solver.solveBatch(reqs);
    ASSERT_TRUE(batch.ok()) << batch.message();
    ASSERT_EQ(batch->size(), 4u);
    for (size_t i = 0; i < reqs.size(); ++i) {
      auto one = solver.solve(reqs[i]);
      ASSERT_TRUE(one.ok());
      EXPECT_EQ((*batch)[i].answer, one->answer) << systemName(sys) << " request " << i;
      EXPECT_EQ((*batch)[i].signal, one->signal);
      EXPECT_EQ((*batch)[i].capableTokens, one->capableTokens);
      EXPECT_EQ((*batch)[i].verdict.correct, one->verdict.correct);
    }
  }
  std::vector<SolveRequest> mixed(2);
  mixed[1].system.mode = SolveMode::kLight;
  EXPECT_FALSE(solver.solveBatch(mixed).ok());
}

// The truncation baselines and duet@original cut from the run's originals are what running M0
// again gives: the same tokens, text, stop reason, signal, m's answer and verdict, one by one and
// in batches, from stored token records or (runs that keep none) from the ids of this process. Cut stages
// carry the original's measured TTFT and decode rate (two measurements never agree to the bit), so the test
// also sees that the cut was taken.
TEST_F(EngineTest, BaselinesCutFromTheOriginalEqualRunningM0Again) {
  auto e = loadExperiment((s_dir / "experiment.json").string());
  ASSERT_TRUE(e.ok()) << e.message();
  auto d = loadDataset((s_dir / "data.jsonl").string());
  ASSERT_TRUE(d.ok()) << d.message();
  ModelCache models;
  auto store = Store::open(":memory:");
  ASSERT_TRUE(store.ok());
  Evaluator ev(**store, models);
  for (auto [batch, keep] :
       {std::pair{1, true}, std::pair{3, true}, std::pair{1, false}, std::pair{2, false}}) {
    EvalOptions cut;
    cut.keepTokens = keep;
    cut.checkpointSteps = {10};
    cut.baselines = {"duet@original", "original"};  // the original runs first all the same
    cut.truncateBudgets = {1, 4, 9, 40};  // 40: past the capable max_tokens of 24
    cut.seed = 3;
    cut.limit = 6;
    cut.batch = batch;
    EvalOptions fresh = cut;
    fresh.baselines = {"duet@original"};
    auto a = ev.start(*e, *d, cut), b = ev.start(*e, *d, fresh);
    ASSERT_TRUE(a.ok() && b.ok());
    auto orig = (*store)->items(*a, "original", true);
    ASSERT_TRUE(orig.ok());
    ASSERT_EQ(orig->size(), 6u);
    int cuts = 0, compared = 0;
    std::vector<std::string> systems = {"duet@original"};
    for (int budget : cut.truncateBudgets) systems.push_back("truncate@" + std::to_string(budget));
    for (const std::string& sys : systems) {
      auto x = (*store)->items(*a, sys, true), y = (*store)->items(*b, sys, true);
      ASSERT_TRUE(x.ok() && y.ok());
      ASSERT_EQ(x->size(), 6u);
      ASSERT_EQ(y->size(), 6u);
      for (size_t i = 0; i < x->size(); ++i) {
        const ItemResult &p = (*x)[i], &q = (*y)[i];
        const std::string what = sys + " item " + std::to_string(i) + " batch " + std::to_string(batch) +
                                 " keep " + std::to_string(keep);
        ASSERT_EQ(p.stages.size(), 2u) << what;
        ASSERT_EQ(q.stages.size(), 2u) << what;
        const StageRecord &pc = p.stages[0], &qc = q.stages[0], &oc = (*orig)[i].stages[0];
        EXPECT_EQ(pc.output, qc.output) << what;
        EXPECT_EQ(pc.stopReason, qc.stopReason) << what;
        EXPECT_EQ(pc.outputTokens, qc.outputTokens) << what;
        ASSERT_EQ(pc.tokens.size(), qc.tokens.size()) << what;
        for (size_t k = 0; k < pc.tokens.size(); ++k) {
          EXPECT_EQ(pc.tokens[k].id, qc.tokens[k].id) << what;
          EXPECT_EQ(pc.tokens[k].logprob, qc.tokens[k].logprob) << what;
          EXPECT_EQ(pc.tokens[k].top.size(), qc.tokens[k].top.size()) << what;
        }
        EXPECT_EQ(p.signal, q.signal) << what;
        EXPECT_EQ(p.signalTokens, q.signalTokens) << what;
        EXPECT_EQ(p.capableTokens, q.capableTokens) << what;
        EXPECT_EQ(p.answer, q.answer) << what;
        EXPECT_EQ(p.verdict.correct, q.verdict.correct) << what;
        EXPECT_EQ(pc.prompt, oc.prompt) << what;
        EXPECT_LE(pc.wallMs, oc.wallMs) << what;
        cuts += pc.ttftMs == oc.ttftMs && pc.tokensPerSecond == oc.tokensPerSecond;
        EXPECT_NE(qc.ttftMs, oc.ttftMs) << what;
        compared += pc.stopReason == "truncated";
      }
    }
    EXPECT_EQ(cuts, 30) << "batch " << batch;
    EXPECT_GE(compared, 12) << "too few items were cut short: the budgets test little";
  }
}

// A batch whose KV caches would exceed batchKvBytes runs in groups that fit, with the results of
// each prompt alone.
TEST_F(EngineTest, BatchRunsInGroupsThatFitItsKvBudget) {
  const std::string path = (s_dir / "M0.gguf").string();
  auto one = LocalModel::load(path);
  ASSERT_TRUE(one.ok()) << one.message();
  GenerateParams gp;
  gp.maxTokens = 16;
  gp.sampling.temperature = 0.8f;
  std::vector<TextModel::BatchItem> items;
  for (int i = 0; i < 5; ++i) {
    TextModel::BatchItem it;
    it.prompt = "question " + std::to_string(i) + ": what is " + std::to_string(i) + " plus 2?";
    it.params = gp;
    it.params.sampling.seed = 40 + static_cast<uint64_t>(i);
    items.push_back(it);
  }
  // Every prompt here is short, so the batch session has 256 positions per sequence.
  const size_t perSeq = 256 * Session::kvBytesPerPosition((*one)->model().config(), KvType::kF16);
  LocalModelOptions lo;
  lo.batchKvBytes = 2 * perSeq + perSeq / 2;
  auto grouped = LocalModel::load(path, lo);
  ASSERT_TRUE(grouped.ok());
  auto r = (*grouped)->completeBatch(items, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ((*grouped)->batchSequences(), 2);
  ASSERT_EQ(r->size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto alone = (*one)->complete(items[i].prompt, items[i].params, {}, nullptr);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*r)[i].tokens, alone->tokens) << "prompt " << i;
  }
  lo.batchKvBytes = 1;  // below one sequence: one at a time, still every result
  auto single = LocalModel::load(path, lo);
  ASSERT_TRUE(single.ok());
  auto s = (*single)->completeBatch(items, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ((*single)->batchSequences(), 1);
  ASSERT_EQ(s->size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ((*s)[i].tokens, (*r)[i].tokens) << "prompt " << i;
}

// Asking for more tokens than memory can hold a KV cache for is an error naming the model and
// the cache, for one prompt and for a batch.
TEST_F(EngineTest, AContextThatCannotFitIsAnError) {
  auto m = LocalModel::load((s_dir / "M0.gguf").string());
  ASSERT_TRUE(m.ok()) << m.message();
  GenerateParams gp;
  gp.maxTokens = 1 << 30;
  auto r = (*m)->complete("what is 2 plus 2?", gp, {}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("M0.gguf"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("KV cache"), std::string::npos) << r.message();
  std::vector<TextModel::BatchItem> items(2);
  for (auto& it : items) {
    it.prompt = "what is 1 plus 1?";
    it.params = gp;
  }
  auto b = (*m)->completeBatch(items, nullptr);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.message().find("KV cache"), std::string::npos) << b.message();
  gp.maxTokens = 4;  // and the model still works
  EXPECT_TRUE((*m)->complete("what is 2 plus 2?", gp, {}, nullptr).ok());
}

TEST_F(EngineTest, ProbeScoresEveryPrefix) {
  auto e = loadExperiment((s_dir / "experiment.json").string());
  ASSERT_TRUE(e.ok());
  ModelCache models;
  auto cap = models.get(e->capable);
  auto lig = models.get(e->light);
  ASSERT_TRUE(cap.ok() && lig.ok());
  auto r = probeSignal(**cap, **lig, e->prompts.lightDuet, "what is 3 plus 3?", "three plus three is six",
                       "6", GradeKind::kMath, "", 50);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(static_cast<int>(r->points.size()), r->signalTokens + 1);
  EXPECT_EQ(r->points.front().k, 0);
  EXPECT_EQ(r->points.back().k, r->signalTokens);
  for (const auto& p : r->points) EXPECT_LT(p.logprob, 0.0);
  // Long signals are sampled at the requested number of points.
  auto few = probeSignal(**cap, **lig, e->prompts.lightDuet, "q", "three plus three is six", "6",
                         GradeKind::kMath, "", 4);
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(few->points.size(), 4u);
}

// The gold is scored in m's own format: its leading whitespace from the transcript's answer.
TEST(ProbeTest, GoldContinuationFollowsTheLightModelsFormat) {
  EXPECT_EQ(goldContinuation(GradeKind::kMath, "77", ""), "\n\n\\boxed{77}");
  EXPECT_EQ(goldContinuation(GradeKind::kMath, "77", "\n\\boxed{76}"), "\n\\boxed{77}");
  EXPECT_EQ(goldContinuation(GradeKind::kMath, "77", "\n\nThe answer is \\boxed{76}"), "\n\n\\boxed{77}");
  EXPECT_EQ(goldContinuation(GradeKind::kMath, "77", "\\boxed{76}"), "\\boxed{77}");
  EXPECT_EQ(goldContinuation(GradeKind::kMultipleChoice, "B", " Answer: C"), " Answer: B");
  EXPECT_EQ(goldContinuation(GradeKind::kExact, "yes", "\nno"), "yes");
}

TEST(MetricsTest, HandComputedAggregates) {
  std::vector<ItemResult> items;
  auto add = [&](const std::string& sys, int idx, bool ok, int cap) {
    ItemResult it;
    it.system = sys;
    it.itemIndex = idx;
    it.verdict.correct = ok;
    it.capableTokens = cap;
    items.push_back(it);
  };
  // original: right on 0,1,2 (of 4), 100 tokens each; duet@5: right on 0,1,3, 40 tokens each.
  for (int i = 0; i < 4; ++i) add("original", i, i < 3, 100);
  for (int i = 0; i < 4; ++i) add("duet@5", i, i != 2, 40);
  auto ms = computeMetrics(items);
  ASSERT_EQ(ms.size(), 2u);
  const SystemMetrics& d = ms[0].system == "duet@5" ? ms[0] : ms[1];
  EXPECT_EQ(d.step, 5);
  EXPECT_DOUBLE_EQ(d.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(d.meanCapableTokens, 40.0);
  EXPECT_DOUBLE_EQ(d.savingVsOriginal, 0.6);
  EXPECT_DOUBLE_EQ(d.ipt, 75.0 / 0.04);
  EXPECT_EQ(d.mcnemarB, 1);  // item 3: duet right, original wrong
  EXPECT_EQ(d.mcnemarC, 1);  // item 2: duet wrong, original right
  EXPECT_DOUBLE_EQ(d.mcnemarP, 1.0);
  EXPECT_LT(d.accuracyLo, 0.75);
  EXPECT_GT(d.accuracyHi, 0.75);
}

// duet eval, killed with SIGKILL once some items are stored, then resumed: the result equals an
// uninterrupted run item by item, with no item lost or duplicated.
TEST_F(EngineTest, EvalKilledMidRunResumesWithNothingLostOrDuplicated) {
  const std::string exp = (s_dir / "experiment.json").string();
  const std::string dbA = (s_dir / "a.sqlite").string(), dbB = (s_dir / "b.sqlite").string();
  const std::string data = (s_dir / "big.jsonl").string();
  const std::string args = " eval --experiment " + exp + " --dataset " + data +
                           " --baselines original,light --seed 9 --no-tokens --db ";
  ASSERT_EQ(std::system((std::string(DUET_CLI_PATH) + args + dbA + " > /dev/null 2>&1").c_str()), 0);

  pid_t pid = fork();
  if (pid == 0) {
    execl(DUET_CLI_PATH, "duet", "eval", "--experiment", exp.c_str(), "--dataset", data.c_str(),
          "--baselines", "original,light", "--seed", "9", "--no-tokens", "--db", dbB.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until a few items are committed, then kill without warning.
  int stored = 0;
  for (int i = 0; i < 1000 && stored < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!fs::exists(dbB)) continue;
    auto s = Store::open(dbB);
    if (!s) continue;
    auto runs = (*s)->runs();
    if (runs && !runs->empty()) {
      auto keys = (*s)->finishedKeys(runs->front().id);
      if (keys) stored = static_cast<int>(keys->size());
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_GE(stored, 5) << "the eval did not store items in time";

  auto sb = Store::open(dbB);
  ASSERT_TRUE(sb.ok());
  auto runsB = (*sb)->runs();
  ASSERT_TRUE(runsB.ok() && runsB->size() == 1);
  const int64_t runB = runsB->front().id;
  auto partial = (*sb)->items(runB);
  ASSERT_TRUE(partial.ok());
  ASSERT_LT(partial->size(), 240u) << "the run finished before it was killed; nothing was tested";
  sb->reset();

  ASSERT_EQ(std::system((std::string(DUET_CLI_PATH) + " eval --resume " + std::to_string(runB) + " --db " +
                         dbB + " > /dev/null 2>&1")
                            .c_str()),
            0);
  auto sa = Store::open(dbA);
  auto sb2 = Store::open(dbB);
  ASSERT_TRUE(sa.ok() && sb2.ok());
  auto a = (*sa)->items((*(*sa)->runs()).front().id);
  auto b = (*sb2)->items(runB);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 240u);  // 60 items x (2 checkpoints + original + light)
  ASSERT_EQ(b->size(), a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    const auto &x = (*a)[i], &y = (*b)[i];
    EXPECT_EQ(x.system, y.system);
    EXPECT_EQ(x.itemIndex, y.itemIndex);
    EXPECT_EQ(x.answer, y.answer) << x.system << " item " << x.itemIndex;
    EXPECT_EQ(x.signal, y.signal);
    EXPECT_EQ(x.capableTokens, y.capableTokens);
    EXPECT_EQ(x.verdict.correct, y.verdict.correct);
  }
  auto info = (*sb2)->run(runB);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->status, "done");
  auto ma = (*sa)->metrics((*(*sa)->runs()).front().id);
  auto mb = (*sb2)->metrics(runB);
  ASSERT_TRUE(ma.ok() && mb.ok());
  ASSERT_EQ(ma->size(), mb->size());
  for (size_t i = 0; i < ma->size(); ++i)
    EXPECT_DOUBLE_EQ((*ma)[i].meanCapableTokens, (*mb)[i].meanCapableTokens);
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

std::string runCli(const std::string& args, int* code = nullptr) {
  std::string cmd = std::string(DUET_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  if (code) *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// A run records a KV cache other than F16 with its models; resuming it with another one (whose
// answers would differ) is refused with a message that names the cache, and with the same one it
// goes on. (The tiny models' head size of 16 keeps F16 under q8_0, so this uses f32.)
TEST_F(EngineTest, ResumeRefusesAnotherKvCache) {
  const std::string db = (s_dir / "kv.sqlite").string();
  const std::string cli = std::string(DUET_CLI_PATH);
  ASSERT_EQ(std::system((cli + " eval --experiment " + (s_dir / "experiment.json").string() + " --dataset " +
                         (s_dir / "data.jsonl").string() +
                         " --checkpoints none --baselines light --limit 2 --kv-type f32 --no-tokens --db " +
                         db + " > /dev/null 2>&1")
                            .c_str()),
            0);
  auto store = Store::open(db);
  ASSERT_TRUE(store.ok());
  auto runs = (*store)->runs();
  ASSERT_TRUE(runs.ok() && runs->size() == 1);
  const int64_t id = runs->front().id;
  auto run = (*store)->run(id);
  ASSERT_TRUE(run.ok());
  const auto manifest = nlohmann::json::parse(run->manifestJson);
  EXPECT_EQ(manifest["models"]["light@original"]["kv_cache"], "f32");
  store->reset();

  const std::string resume = "eval --resume " + std::to_string(id) + " --db " + db;
  int code = 0;
  const std::string out = runCli(resume, &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("kv_cache: \"f32\" then, \"f16\" now"), std::string::npos) << out;
  runCli(resume + " --kv-type f32", &code);
  EXPECT_EQ(code, 0);
}

// Other weights under the same file name: resume refuses them too (a copy of the experiment, so
// the other tests keep their files).
TEST_F(EngineTest, ResumeRefusesChangedWeights) {
  const fs::path dir = s_dir / "changed";
  fs::create_directories(dir);
  for (const char* f : {"experiment.json", "data.jsonl", "M0.gguf", "M-10.gguf", "M-20.gguf", "m0.gguf"})
    fs::copy_file(s_dir / f, dir / f, fs::copy_options::overwrite_existing);
  const std::string db = (dir / "h.sqlite").string(), cli = std::string(DUET_CLI_PATH);
  ASSERT_EQ(std::system((cli + " eval --experiment " + (dir / "experiment.json").string() +
                         " --checkpoints none --baselines light --limit 2 --no-tokens --db " + db + " > /dev/null 2>&1")
                            .c_str()),
            0);
  SynthSpec other = *synthPreset("tiny");
  other.arch = Arch::kLlama;
  other.nVocab = 1024;
  other.seed = 99;
  other.weightScale = 3.0f;
  ASSERT_TRUE(writeSynthModel(other, (dir / "m0.gguf").string()).ok());
  int code = 0;
  const std::string out = runCli("eval --resume 1 --db " + db, &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("model light@original changed (sampled_fnv1a64"), std::string::npos) << out;
}

// The CLI flow of a study: eval with baselines at matched budgets, then tradeoff, show, regrade,
// probe, export and solve, all against the same store.
TEST_F(EngineTest, CliEvalTradeoffShowRegradeProbeExportSolve) {
  const std::string exp = (s_dir / "experiment.json").string();
  const std::string db = " --db " + (s_dir / "flow.sqlite").string();
  int code = -1;
  std::string out = runCli(
      "eval --json --experiment " + exp + " --limit 4 --baselines original,light,truncate" + db, &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out);
  const int64_t run = j["run"];
  std::set<std::string> systems;
  for (const auto& m : j["metrics"]) systems.insert(m["system"]);
  EXPECT_TRUE(systems.count("duet@10") && systems.count("duet@20") && systems.count("original") &&
              systems.count("light"));
  int truncs = 0;
  for (const auto& s : systems) truncs += s.rfind("truncate@", 0) == 0;
  EXPECT_GE(truncs, 1) << "matched-budget truncation ran";

  out = runCli("tradeoff " + std::to_string(run) + " --csv" + db, &code);
  ASSERT_EQ(code, 0);
  EXPECT_EQ(
      out.substr(0, out.find('\n')),
      "series,label,step,n,accuracy,accuracy_lo,accuracy_hi,mean_M_tokens,mean_M_tokens_lo,mean_M_tokens_hi");
  EXPECT_NE(out.find("\ncheckpoint,duet@10,10,4,"), std::string::npos) << out;
  EXPECT_NE(out.find("\noriginal,original,-1,4,"), std::string::npos) << out;

  out = runCli("show --json " + std::to_string(run) + db, &code);
  ASSERT_EQ(code, 0);
  auto shown = nlohmann::json::parse(out);
  ASSERT_GT(shown["items"].size(), 0u);
  int64_t duetRow = 0;
  for (const auto& it : shown["items"])
    if (it["system"] == "duet@20") duetRow = it["row_id"];
  ASSERT_GT(duetRow, 0);

  out = runCli("regrade " + std::to_string(run) + db, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("0 verdicts changed"), std::string::npos) << out;

  out = runCli("probe --json --points 3 " + std::to_string(run) + " " + std::to_string(duetRow) + db, &code);
  ASSERT_EQ(code, 0) << out;
  auto probe = nlohmann::json::parse(out);
  EXPECT_LE(probe["points"].size(), 3u);
  EXPECT_GE(probe["points"].size(), 1u);

  const std::string html = (s_dir / "r.html").string();
  runCli("export " + std::to_string(run) + " --format html --out " + html + db, &code);
  ASSERT_EQ(code, 0);
  std::ifstream hin(html);
  std::string page((std::istreambuf_iterator<char>(hin)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("Content-Security-Policy"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  out = runCli("export " + std::to_string(run) + " --format jsonl" + db, &code);
  ASSERT_EQ(code, 0);
  EXPECT_EQ(static_cast<size_t>(std::count(out.begin(), out.end(), '\n')), shown["items"].size());

  out = runCli("solve --json --experiment " + exp + " --checkpoint 10 --dataset " +
                   (s_dir / "data.jsonl").string() + " --item 2",
               &code);
  ASSERT_EQ(code, 0) << out;
  auto last = nlohmann::json::parse(out.substr(out.rfind("\n{") + 1));
  EXPECT_EQ(last["type"], "result");
  EXPECT_EQ(last["system"], "duet@10");
  EXPECT_EQ(last["gold"], "4");

  out = runCli("grade --json --kind math --gold 1/2 'so \\boxed{0.5}'", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(nlohmann::json::parse(out)["correct"].get<bool>());

  out = runCli("show 999999" + db, &code);
  EXPECT_EQ(code, 1);
  out = runCli("eval --experiment /nonexistent.json" + db, &code);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("/nonexistent.json"), std::string::npos);
}

}  // namespace
}  // namespace duet
