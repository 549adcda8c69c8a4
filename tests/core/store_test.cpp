// Store: round trips of every record field, resume keys, duplicate rejection, regrading, metrics,
// run search/ordering, cascading delete, persistence, WAL, migrations, and the failure paths a
// user meets (full disk, locked database) with nothing committed lost.
#include "core/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace duet {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "duet_store_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override { fs::remove_all(m_dir); }

  std::string dbPath(const std::string& name = "history.sqlite") const { return (m_dir / name).string(); }

  std::unique_ptr<Store> openOk(const std::string& path, int busyMs = Store::kDefaultBusyTimeoutMs) {
    auto s = Store::open(path, busyMs);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.message());
    return s.ok() ? std::move(*s) : nullptr;
  }

  fs::path m_dir;
};

RunInfo sampleRun(const std::string& name = "gsm8k duet sweep") {
  RunInfo r;
  r.name = name;
  r.status = "running";
  r.experimentName = "exp 'quoted'; DROP TABLE runs; --";
  r.experimentPath = "/home/u/exps/ünïcödé/exp.json";
  r.datasetName = "math500";
  r.datasetPath = "/data/math500.jsonl";
  r.manifestJson =
      R"({"models":{"capable":{"path":"M.gguf","sha256":"ab"}},"seed":42,"prompt":"Say \"hi\"\n"})";
  r.itemCount = 500;
  r.repeats = 3;
  r.systems = {"duet@100", "original", "light", "truncate@64"};
  return r;
}

StageRecord sampleStage(const std::string& stage, int salt) {
  StageRecord s;
  s.stage = stage;
  s.model = "/models/" + stage + ".gguf";
  s.prompt = "<|im_start|>user\nWhat is 2+2? 日本語 «ok» '; DROP TABLE items; --\n<|im_end|>";
  s.output =
      "Let me think… \"quotes\" and 'single' and \\backslash \\boxed{4} 🙂 " + std::to_string(salt);
  s.promptTokens = 31 + salt;
  s.outputTokens = 3;
  s.ttftMs = 12.25 + salt;
  s.tokensPerSecond = 87.5;
  s.wallMs = 123.456789;
  s.startedAtMs = 1700000000123LL + salt;
  s.stopReason = "eog";
  for (int i = 0; i < 3; ++i) {
    TokenRecord t;
    t.id = 1000 + i + salt;
    t.text = i == 1 ? std::string("\xe6\x97") : "tok" + std::to_string(i);  // partial UTF-8 kept as bytes
    t.logprob = -0.1f * static_cast<float>(i + 1);
    for (int k = 0; k < 2; ++k) t.top.push_back({t.id + 7 * (k + 1), "alt'" + std::to_string(k), -1.5f - k});
    s.tokens.push_back(t);
  }
  s.tokens[2].logprob = -std::numeric_limits<float>::infinity();
  return s;
}

ItemResult sampleItem(int64_t runId, const std::string& system, int index, int repeat = 0) {
  ItemResult it;
  it.runId = runId;
  it.system = system;
  it.itemIndex = index;
  it.itemId = "id-" + std::to_string(index) + "\"'";
  it.repeat = repeat;
  it.question = "Compute 2+2. Ünïcödé, 中文, emoji 🧮, quote ' and \"; DROP TABLE items; --";
  it.gold = "4";
  it.gradeKind = GradeKind::kMultipleChoice;
  it.signal = "plan: add <b>two</b> & two";
  it.signalTokens = 9;
  it.capableTokens = 40 + index;
  it.lightTokens = 17;
  it.answer = "\\boxed{4}";
  it.verdict.correct = index % 2 == 0;
  it.verdict.extracted = true;
  it.verdict.extractedAnswer = "4";
  it.verdict.normalizedAnswer = "4";
  it.verdict.normalizedGold = "4";
  it.verdict.method = "boxed";
  it.verdict.reason = "equal as rationals 4";
  it.wallMs = 456.5 + index;
  it.stages = {sampleStage("capable", index), sampleStage("light", index + 100)};
  return it;
}

void expectStageEq(const StageRecord& a, const StageRecord& b, bool tokens) {
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.promptTokens, b.promptTokens);
  EXPECT_EQ(a.outputTokens, b.outputTokens);
  EXPECT_EQ(a.ttftMs, b.ttftMs);
  EXPECT_EQ(a.tokensPerSecond, b.tokensPerSecond);
  EXPECT_EQ(a.wallMs, b.wallMs);
  EXPECT_EQ(a.startedAtMs, b.startedAtMs);
  EXPECT_EQ(a.stopReason, b.stopReason);
  if (!tokens) {
    EXPECT_TRUE(b.tokens.empty());
    return;
  }
  ASSERT_EQ(a.tokens.size(), b.tokens.size());
  for (size_t i = 0; i < a.tokens.size(); ++i) {
    const TokenRecord& x = a.tokens[i];
    const TokenRecord& y = b.tokens[i];
    EXPECT_EQ(x.id, y.id) << i;
    EXPECT_EQ(x.text, y.text) << i;
    EXPECT_EQ(std::memcmp(&x.logprob, &y.logprob, sizeof(float)), 0) << "logprob bits of token " << i;
    ASSERT_EQ(x.top.size(), y.top.size()) << i;
    for (size_t k = 0; k < x.top.size(); ++k) {
      EXPECT_EQ(x.top[k].id, y.top[k].id);
      EXPECT_EQ(x.top[k].text, y.top[k].text);
      EXPECT_EQ(x.top[k].logprob, y.top[k].logprob);
    }
  }
}

void expectItemEq(const ItemResult& a, const ItemResult& b, bool tokens = true) {
  EXPECT_EQ(a.runId, b.runId);
  EXPECT_EQ(a.system, b.system);
  EXPECT_EQ(a.itemIndex, b.itemIndex);
  EXPECT_EQ(a.itemId, b.itemId);
  EXPECT_EQ(a.repeat, b.repeat);
  EXPECT_EQ(a.question, b.question);
  EXPECT_EQ(a.gold, b.gold);
  EXPECT_EQ(a.gradeKind, b.gradeKind);
  EXPECT_EQ(a.signal, b.signal);
  EXPECT_EQ(a.signalTokens, b.signalTokens);
  EXPECT_EQ(a.capableTokens, b.capableTokens);
  EXPECT_EQ(a.lightTokens, b.lightTokens);
  EXPECT_EQ(a.answer, b.answer);
  EXPECT_EQ(a.verdict.correct, b.verdict.correct);
  EXPECT_EQ(a.verdict.extracted, b.verdict.extracted);
  EXPECT_EQ(a.verdict.extractedAnswer, b.verdict.extractedAnswer);
  EXPECT_EQ(a.verdict.normalizedAnswer, b.verdict.normalizedAnswer);
  EXPECT_EQ(a.verdict.normalizedGold, b.verdict.normalizedGold);
  EXPECT_EQ(a.verdict.method, b.verdict.method);
  EXPECT_EQ(a.verdict.reason, b.verdict.reason);
  EXPECT_EQ(a.wallMs, b.wallMs);
  ASSERT_EQ(a.stages.size(), b.stages.size());
  for (size_t i = 0; i < a.stages.size(); ++i) expectStageEq(a.stages[i], b.stages[i], tokens);
}

void expectRunEq(const RunInfo& a, const RunInfo& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.createdAt, b.createdAt);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.experimentName, b.experimentName);
  EXPECT_EQ(a.experimentPath, b.experimentPath);
  EXPECT_EQ(a.datasetName, b.datasetName);
  EXPECT_EQ(a.datasetPath, b.datasetPath);
  EXPECT_EQ(a.manifestJson, b.manifestJson);
  EXPECT_EQ(a.itemCount, b.itemCount);
  EXPECT_EQ(a.repeats, b.repeats);
  EXPECT_EQ(a.systems, b.systems);
}

// A single-value query on a raw connection.
int64_t queryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

std::string queryText(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string v;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (const unsigned char* t = sqlite3_column_text(st, 0)) v += reinterpret_cast<const char*>(t);
    v += '\n';
  }
  sqlite3_finalize(st);
  return v;
}

struct RawDb {
  explicit RawDb(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK); }
  ~RawDb() { sqlite3_close(db); }
  int exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
  sqlite3* db = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(StoreTest, RunRoundTrip) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  r.status = "";
  auto id = store->createRun(r);
  ASSERT_TRUE(id.ok()) << id.message();
  EXPECT_GT(*id, 0);
  EXPECT_EQ(r.id, *id);
  EXPECT_EQ(r.status, "running");
  ASSERT_EQ(r.createdAt.size(), 24u) << r.createdAt;  // 2024-01-02T03:04:05.678Z
  EXPECT_EQ(r.createdAt[10], 'T');
  EXPECT_EQ(r.createdAt.back(), 'Z');
  auto back = store->run(*id);
  ASSERT_TRUE(back.ok()) << back.message();
  expectRunEq(r, *back);

  ASSERT_TRUE(store->setRunStatus(*id, "done").ok());
  EXPECT_EQ(store->run(*id)->status, "done");
  EXPECT_EQ(store->setRunStatus(*id + 99, "done").error().code, Errc::kNotFound);
  auto missing = store->run(*id + 99);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

TEST_F(StoreTest, ItemsRoundTripWithStagesAndTokens) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  ASSERT_TRUE(store->createRun(r).ok());
  std::vector<ItemResult> in = {sampleItem(r.id, "original", 1), sampleItem(r.id, "duet@100", 0),
                                sampleItem(r.id, "duet@100", 1)};
  in[0].stages.pop_back();  // a one-stage system
  in[0].stages[0].tokens.clear();
  in[0].gradeKind = GradeKind::kExact;
  for (ItemResult& it : in) {
    Status s = store->addItem(it);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_GT(it.rowId, 0);
  }
  auto all = store->items(r.id, "", true);
  ASSERT_TRUE(all.ok()) << all.message();
  ASSERT_EQ(all->size(), 3u);
  // Ordered by system, itemIndex, repeat.
  expectItemEq(in[1], (*all)[0]);
  expectItemEq(in[2], (*all)[1]);
  expectItemEq(in[0], (*all)[2]);
  EXPECT_EQ((*all)[0].rowId, in[1].rowId);

  auto noTokens = store->items(r.id, "duet@100", false);
  ASSERT_TRUE(noTokens.ok());
  ASSERT_EQ(noTokens->size(), 2u);
  expectItemEq(in[1], (*noTokens)[0], /*tokens=*/false);

  auto one = store->item(in[2].rowId);
  ASSERT_TRUE(one.ok()) << one.message();
  expectItemEq(in[2], *one);
  EXPECT_EQ(one->rowId, in[2].rowId);
  EXPECT_EQ(store->item(99999).error().code, Errc::kNotFound);
}

TEST_F(StoreTest, FinishedKeysAndDuplicateRejection) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  ASSERT_TRUE(store->createRun(r).ok());
  ItemResult a = sampleItem(r.id, "duet@100", 3, 0);
  ItemResult b = sampleItem(r.id, "duet@100", 3, 1);
  ItemResult c = sampleItem(r.id, "light", 0, 0);
  ASSERT_TRUE(store->addItem(a).ok());
  ASSERT_TRUE(store->addItem(b).ok());
  ASSERT_TRUE(store->addItem(c).ok());
  auto keys = store->finishedKeys(r.id);
  ASSERT_TRUE(keys.ok());
  std::set<std::tuple<std::string, int, int>> want = {
      {"duet@100", 3, 0}, {"duet@100", 3, 1}, {"light", 0, 0}};
  EXPECT_EQ(*keys, want);

  ItemResult dup = sampleItem(r.id, "duet@100", 3, 1);
  dup.answer = "something else";
  Status s = store->addItem(dup);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("already stored"), std::string::npos) << s.message();
  EXPECT_EQ(dup.rowId, 0);
  // Nothing of the rejected item was written (its stages were inserted after the item row).
  EXPECT_EQ(queryInt(store->nativeHandle(), "SELECT count(*) FROM stages"), 6);
  EXPECT_EQ(store->item(b.rowId)->answer, b.answer);

  ItemResult orphan = sampleItem(r.id + 50, "light", 0);
  Status o = store->addItem(orphan);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::kNotFound) << o.message();
}

TEST_F(StoreTest, UpdateVerdictsIsAtomic) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  ASSERT_TRUE(store->createRun(r).ok());
  ItemResult a = sampleItem(r.id, "original", 0);
  ItemResult b = sampleItem(r.id, "original", 1);
  ASSERT_TRUE(store->addItem(a).ok());
  ASSERT_TRUE(store->addItem(b).ok());
  Verdict v;
  v.correct = !a.verdict.correct;
  v.extracted = false;
  v.method = "regraded";
  v.reason = "no \\boxed{} found; 'quoted'";
  ASSERT_TRUE(store->updateVerdicts({{a.rowId, v}, {b.rowId, v}}).ok());
  auto back = store->item(a.rowId, false);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->verdict.correct, v.correct);
  EXPECT_FALSE(back->verdict.extracted);
  EXPECT_EQ(back->verdict.extractedAnswer, "");
  EXPECT_EQ(back->verdict.method, "regraded");
  EXPECT_EQ(back->verdict.reason, v.reason);
  EXPECT_EQ(back->answer, a.answer);  // only the verdict changed

  // An unknown row fails the whole batch: the first update is rolled back.
  Verdict w = v;
  w.method = "second";
  Status s = store->updateVerdicts({{a.rowId, w}, {987654, w}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kNotFound);
  EXPECT_EQ(store->item(a.rowId, false)->verdict.method, "regraded");
}

TEST_F(StoreTest, MetricsRoundTripReplacedAsAWhole) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  ASSERT_TRUE(store->createRun(r).ok());
  SystemMetrics m;
  m.system = "duet@100";
  m.step = 100;
  m.n = 500, m.correct = 321;
  m.accuracy = 0.642, m.accuracyLo = 0.6, m.accuracyHi = 0.68;
  m.meanCapableTokens = 123.4, m.meanCapableLo = 110.1, m.meanCapableHi = 130.9;
  m.medianCapableTokens = 99, m.medianCapableLo = 90, m.medianCapableHi = 105;
  m.meanSignalTokens = 30.5, m.meanLightTokens = 210.25, m.ipt = 5.2, m.savingVsOriginal = 0.71;
  m.meanCapableWallMs = 1500.5, m.meanLightWallMs = 800.125;
  m.mcnemarP = 0.0312, m.mcnemarB = 12, m.mcnemarC = 3;
  SystemMetrics o;
  o.system = "original";
  o.savingVsOriginal = std::numeric_limits<double>::quiet_NaN();  // SQLite stores NaN as NULL
  ASSERT_TRUE(store->saveMetrics(r.id, {m, o}).ok());
  auto back = store->metrics(r.id);
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->size(), 2u);
  const SystemMetrics& x = (*back)[0];
  EXPECT_EQ(x.system, m.system);
  EXPECT_EQ(x.step, m.step);
  EXPECT_EQ(x.n, m.n);
  EXPECT_EQ(x.correct, m.correct);
  EXPECT_EQ(x.accuracy, m.accuracy);
  EXPECT_EQ(x.accuracyLo, m.accuracyLo);
  EXPECT_EQ(x.accuracyHi, m.accuracyHi);
  EXPECT_EQ(x.meanCapableTokens, m.meanCapableTokens);
  EXPECT_EQ(x.meanCapableLo, m.meanCapableLo);
  EXPECT_EQ(x.meanCapableHi, m.meanCapableHi);
  EXPECT_EQ(x.medianCapableTokens, m.medianCapableTokens);
  EXPECT_EQ(x.medianCapableLo, m.medianCapableLo);
  EXPECT_EQ(x.medianCapableHi, m.medianCapableHi);
  EXPECT_EQ(x.meanSignalTokens, m.meanSignalTokens);
  EXPECT_EQ(x.meanLightTokens, m.meanLightTokens);
  EXPECT_EQ(x.ipt, m.ipt);
  EXPECT_EQ(x.savingVsOriginal, m.savingVsOriginal);
  EXPECT_EQ(x.meanCapableWallMs, m.meanCapableWallMs);
  EXPECT_EQ(x.meanLightWallMs, m.meanLightWallMs);
  EXPECT_EQ(x.mcnemarP, m.mcnemarP);
  EXPECT_EQ(x.mcnemarB, m.mcnemarB);
  EXPECT_EQ(x.mcnemarC, m.mcnemarC);
  EXPECT_EQ((*back)[1].system, "original");
  EXPECT_TRUE(std::isnan((*back)[1].savingVsOriginal));
  EXPECT_EQ((*back)[1].mcnemarP, 1.0);

  ASSERT_TRUE(store->saveMetrics(r.id, {o}).ok());
  ASSERT_EQ(store->metrics(r.id)->size(), 1u);
  EXPECT_EQ(store->saveMetrics(r.id + 7, {m}).error().code, Errc::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// Runs listing and deletion

TEST_F(StoreTest, RunsSearchAndNewestFirst) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo a = sampleRun("alpha 100%");
  a.createdAt = "2024-01-01T00:00:00.000Z";
  a.datasetName = "gsm8k";
  RunInfo b = sampleRun("beta");
  b.createdAt = "2024-03-01T00:00:00.000Z";
  b.experimentName = "Sweep-Two";
  RunInfo c = sampleRun("gamma");
  c.createdAt = "2024-02-01T00:00:00.000Z";
  c.experimentName = "other";
  for (RunInfo* r : {&a, &b, &c}) ASSERT_TRUE(store->createRun(*r).ok());
  auto all = store->runs();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "beta");
  EXPECT_EQ((*all)[1].name, "gamma");
  EXPECT_EQ((*all)[2].name, "alpha 100%");
  expectRunEq(b, (*all)[0]);

  auto byExperiment = store->runs("sweep-two");  // case-insensitive
  ASSERT_TRUE(byExperiment.ok());
  ASSERT_EQ(byExperiment->size(), 1u);
  EXPECT_EQ((*byExperiment)[0].name, "beta");
  auto byDataset = store->runs("gsm");
  ASSERT_EQ(byDataset->size(), 1u);
  EXPECT_EQ((*byDataset)[0].name, "alpha 100%");
  // LIKE metacharacters are literal.
  EXPECT_EQ(store->runs("0%")->size(), 1u);
  EXPECT_EQ(store->runs("_")->size(), 0u);
  auto hostile = store->runs("'; DROP TABLE runs; --");  // alpha's experiment name, matched literally
  ASSERT_TRUE(hostile.ok());
  ASSERT_EQ(hostile->size(), 1u);
  EXPECT_EQ((*hostile)[0].name, "alpha 100%");
  EXPECT_EQ(store->runs()->size(), 3u);
}

TEST_F(StoreTest, DeleteRunCascades) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo keep = sampleRun("keep");
  RunInfo gone = sampleRun("gone");
  ASSERT_TRUE(store->createRun(keep).ok());
  ASSERT_TRUE(store->createRun(gone).ok());
  for (int64_t id : {keep.id, gone.id}) {
    ItemResult it = sampleItem(id, "duet@100", 0);
    ASSERT_TRUE(store->addItem(it).ok());
    ASSERT_TRUE(store->saveMetrics(id, {SystemMetrics{}}).ok());
  }
  sqlite3* db = store->nativeHandle();
  ASSERT_EQ(queryInt(db, "SELECT count(*) FROM tokens"), 4);
  ASSERT_TRUE(store->deleteRun(gone.id).ok());
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM run_systems"), 4);
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM items"), 1);
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM stages"), 2);
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM tokens"), 2);
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM metrics"), 1);
  EXPECT_EQ(store->items(keep.id)->size(), 1u);
  EXPECT_EQ(store->deleteRun(gone.id).error().code, Errc::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// Files: persistence, WAL, migrations, defaults

TEST_F(StoreTest, PersistsAcrossReopenAndCreatesParentDirs) {
  const std::string path = dbPath("nested/deeper/history.sqlite");
  RunInfo r = sampleRun();
  ItemResult it;
  {
    auto store = openOk(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->path(), path);
    ASSERT_TRUE(store->createRun(r).ok());
    it = sampleItem(r.id, "duet@100", 4);
    ASSERT_TRUE(store->addItem(it).ok());
  }
  auto second = openOk(path);
  ASSERT_TRUE(second);
  expectRunEq(r, *second->run(r.id));
  auto items = second->items(r.id, "", true);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  expectItemEq(it, (*items)[0]);
}

TEST_F(StoreTest, WalModeAndForeignKeysAreOn) {
  auto store = openOk(dbPath());
  ASSERT_TRUE(store);
  EXPECT_EQ(queryText(store->nativeHandle(), "PRAGMA journal_mode"), "wal\n");
  EXPECT_EQ(queryInt(store->nativeHandle(), "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(queryInt(store->nativeHandle(), "PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(store->schemaVersion(), Store::kSchemaVersion);
}

TEST_F(StoreTest, MigratesAnEmptyV0Database) {
  const std::string path = dbPath();
  {
    RawDb raw(path);
    ASSERT_EQ(raw.exec("CREATE TABLE unrelated (x INTEGER); DROP TABLE unrelated;"), SQLITE_OK);
    EXPECT_EQ(queryInt(raw.db, "PRAGMA user_version"), 0);
  }
  auto store = openOk(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schemaVersion(), 1);
  EXPECT_EQ(queryInt(store->nativeHandle(),
                     "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                     "('runs','run_systems','items','stages','tokens','metrics')"),
            6);
  RunInfo r = sampleRun();
  EXPECT_TRUE(store->createRun(r).ok());
}

TEST_F(StoreTest, ReopeningV1LeavesSchemaAndDataUnchanged) {
  const std::string path = dbPath();
  std::string schemaBefore;
  RunInfo r = sampleRun();
  {
    auto store = openOk(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->createRun(r).ok());
    schemaBefore = queryText(store->nativeHandle(), "SELECT sql FROM sqlite_master ORDER BY name");
  }
  auto store = openOk(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schemaVersion(), 1);
  EXPECT_EQ(queryText(store->nativeHandle(), "SELECT sql FROM sqlite_master ORDER BY name"), schemaBefore);
  EXPECT_EQ(store->runs()->size(), 1u);
  expectRunEq(r, *store->run(r.id));
}

TEST_F(StoreTest, RejectsANewerSchemaVersion) {
  const std::string path = dbPath();
  {
    RawDb raw(path);
    ASSERT_EQ(raw.exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  auto s = Store::open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kUnsupported);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("99"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("newer"), std::string::npos) << s.message();
  RawDb raw(path);
  EXPECT_EQ(queryInt(raw.db, "PRAGMA user_version"), 99);  // left alone
}

TEST_F(StoreTest, NotADatabaseNamesThePath) {
  const std::string path = dbPath("notes.txt");
  std::ofstream(path) << "this is not an SQLite database, just some text that is long enough to matter\n";
  auto s = Store::open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kIo);
  EXPECT_EQ(s.message().rfind(path + ": ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("not a database"), std::string::npos) << s.message();
}

TEST_F(StoreTest, CorruptTokenBlobIsReportedNotTrusted) {
  auto store = openOk(":memory:");
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  ASSERT_TRUE(store->createRun(r).ok());
  ItemResult it = sampleItem(r.id, "duet@100", 0);
  ASSERT_TRUE(store->addItem(it).ok());
  ASSERT_EQ(sqlite3_exec(store->nativeHandle(), "UPDATE tokens SET data = X'01000000FFFFFF7F00'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  auto items = store->items(r.id, "", true);
  ASSERT_FALSE(items.ok());
  EXPECT_EQ(items.error().code, Errc::kCorrupt);
  EXPECT_TRUE(store->items(r.id, "", false).ok());  // without tokens the blob is not read
}

TEST(StorePath, DefaultFollowsXdg) {
  const char* old = std::getenv("XDG_DATA_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_DATA_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(defaultStorePath(), "/tmp/xdg-test/duet-workbench/history.sqlite");
  setenv("XDG_DATA_HOME", "relative/ignored", 1);
  EXPECT_NE(defaultStorePath().find("/.local/share/duet-workbench/history.sqlite"), std::string::npos);
  unsetenv("XDG_DATA_HOME");
  EXPECT_NE(defaultStorePath().find("/.local/share/duet-workbench/history.sqlite"), std::string::npos);
  if (old) setenv("XDG_DATA_HOME", saved.c_str(), 1);
}

// ---------------------------------------------------------------------------------------------
// Failure paths: a full disk and a locked database lose nothing committed

TEST_F(StoreTest, FullDiskFailsClearlyAndKeepsCommittedItems) {
  const std::string path = dbPath();
  RunInfo r = sampleRun();
  std::vector<ItemResult> committed;
  {
    auto store = openOk(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->createRun(r).ok());
    for (int i = 0; i < 5; ++i) {
      committed.push_back(sampleItem(r.id, "duet@100", i));
      ASSERT_TRUE(store->addItem(committed.back()).ok());
    }
    // The database may not grow past its current size: the next big item cannot fit.
    sqlite3* db = store->nativeHandle();
    const int64_t pages = queryInt(db, "PRAGMA page_count");
    const std::string pragma = "PRAGMA max_page_count = " + std::to_string(pages);
    ASSERT_EQ(queryInt(db, pragma.c_str()), pages);
    ItemResult big = sampleItem(r.id, "duet@100", 99);
    big.stages[0].output.assign(1 << 20, 'x');
    Status s = store->addItem(big);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::kIo);
    EXPECT_EQ(s.message().rfind(path + ": ", 0), 0u) << s.message();
    EXPECT_NE(s.message().find("full"), std::string::npos) << s.message();
    EXPECT_EQ(big.rowId, 0);
    // The connection stays usable.
    EXPECT_EQ(store->items(r.id)->size(), 5u);
  }
  auto reopened = openOk(path);
  ASSERT_TRUE(reopened);
  auto items = reopened->items(r.id, "", true);
  ASSERT_TRUE(items.ok()) << items.message();
  ASSERT_EQ(items->size(), committed.size());
  for (size_t i = 0; i < committed.size(); ++i) expectItemEq(committed[i], (*items)[i]);
  EXPECT_EQ(queryInt(reopened->nativeHandle(), "SELECT count(*) FROM stages"), 10);  // no half item
  ItemResult after = sampleItem(r.id, "duet@100", 99);
  EXPECT_TRUE(reopened->addItem(after).ok());  // space again: the same item now fits
}

TEST_F(StoreTest, LockedDatabaseFailsClearlyAndRecovers) {
  const std::string path = dbPath();
  auto store = openOk(path, /*busyMs=*/100);
  ASSERT_TRUE(store);
  RunInfo r = sampleRun();
  ASSERT_TRUE(store->createRun(r).ok());
  ItemResult first = sampleItem(r.id, "light", 0);
  ASSERT_TRUE(store->addItem(first).ok());

  RawDb other(path);
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), SQLITE_OK) << sqlite3_errmsg(other.db);
  ItemResult blocked = sampleItem(r.id, "light", 1);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = store->addItem(blocked);
  const double waitedMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kIo);
  EXPECT_EQ(s.message().rfind(path + ": ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("locked"), std::string::npos) << s.message();
  EXPECT_LT(waitedMs, 3000.0);
  // Readers still proceed beside the writer (WAL).
  EXPECT_EQ(store->items(r.id)->size(), 1u);

  ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);
  ASSERT_TRUE(store->addItem(blocked).ok());
  EXPECT_EQ(store->items(r.id)->size(), 2u);
}

}  // namespace
}  // namespace duet
