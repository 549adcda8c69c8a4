// Store: items with their stages and per-token records, verdict updates, resume keys.
#include <sqlite3.h>

#include "core/store/sqlite_util.h"
#include "core/store/store.h"
#include "core/store/token_blob.h"

namespace duet {

namespace {

constexpr const char* kItemSelect =
    "SELECT id, run_id, system, item_index, item_id, repeat, question, gold, grade_kind, signal, "
    "signal_tokens, capable_tokens, light_tokens, answer, correct, extracted, extracted_answer, "
    "normalized_answer, normalized_gold, method, reason, wall_ms FROM items ";

Result<ItemResult> readItem(const sql::Statement& st, const std::string& path) {
  ItemResult it;
  it.rowId = st.int64(0);
  it.runId = st.int64(1);
  it.system = st.text(2);
  it.itemIndex = st.int32(3);
  it.itemId = st.text(4);
  it.repeat = st.int32(5);
  it.question = st.text(6);
  it.gold = st.text(7);
  const std::string kind = st.text(8);
  std::optional<GradeKind> gk = gradeKindFromName(kind);
  if (!gk) {
    return makeError(Errc::kCorrupt, path + ": item row " + std::to_string(it.rowId) +
                                         " has unknown grade kind '" + kind + "'");
  }
  it.gradeKind = *gk;
  it.signal = st.text(9);
  it.signalTokens = st.int32(10);
  it.capableTokens = st.int32(11);
  it.lightTokens = st.int32(12);
  it.answer = st.text(13);
  it.verdict.correct = st.int32(14) != 0;
  it.verdict.extracted = st.int32(15) != 0;
  it.verdict.extractedAnswer = st.text(16);
  it.verdict.normalizedAnswer = st.text(17);
  it.verdict.normalizedGold = st.text(18);
  it.verdict.method = st.text(19);
  it.verdict.reason = st.text(20);
  it.wallMs = st.real(21);
  return it;
}

// Reads the stages of items through one prepared statement (reset per item).
class StageLoader {
 public:
  static Result<StageLoader> make(sqlite3* db, const std::string& path, bool withTokens) {
    const char* q = withTokens
                        ? "SELECT s.stage, s.model, s.prompt, s.output, s.prompt_tokens, s.output_tokens, "
                          "s.ttft_ms, s.tokens_per_second, s.wall_ms, s.started_at_ms, s.stop_reason, t.data "
                          "FROM stages s LEFT JOIN tokens t ON t.stage_id = s.id WHERE s.item_id = ?1 "
                          "ORDER BY s.position"
                        : "SELECT stage, model, prompt, output, prompt_tokens, output_tokens, ttft_ms, "
                          "tokens_per_second, wall_ms, started_at_ms, stop_reason, NULL "
                          "FROM stages WHERE item_id = ?1 ORDER BY position";
    auto st = sql::Statement::prepare(db, path, q, "reading stages");
    if (!st.ok()) return st.error();
    return StageLoader(std::move(*st), path);
  }

  Status load(ItemResult& item) {
    m_st.reset();
    m_st.bind(1, item.rowId);
    for (;;) {
      auto row = m_st.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      StageRecord s;
      s.stage = m_st.text(0);
      s.model = m_st.text(1);
      s.prompt = m_st.text(2);
      s.output = m_st.text(3);
      s.promptTokens = m_st.int32(4);
      s.outputTokens = m_st.int32(5);
      s.ttftMs = m_st.real(6);
      s.tokensPerSecond = m_st.real(7);
      s.wallMs = m_st.real(8);
      s.startedAtMs = m_st.int64(9);
      s.stopReason = m_st.text(10);
      auto tokens = store_detail::decodeTokens(m_st.blob(11));
      if (!tokens.ok()) {
        return makeError(Errc::kCorrupt,
                         m_path + ": item row " + std::to_string(item.rowId) + ": " + tokens.message());
      }
      s.tokens = std::move(*tokens);
      item.stages.push_back(std::move(s));
    }
    return {};
  }

 private:
  StageLoader(sql::Statement st, const std::string& path) : m_st(std::move(st)), m_path(path) {}
  sql::Statement m_st;
  const std::string& m_path;
};

Result<int64_t> insertItemRows(sqlite3* db, const std::string& path, const ItemResult& it) {
  auto st = sql::Statement::prepare(
      db, path,
      "INSERT INTO items (run_id, system, item_index, item_id, repeat, question, gold, grade_kind, signal, "
      "signal_tokens, capable_tokens, light_tokens, answer, correct, extracted, extracted_answer, "
      "normalized_answer, normalized_gold, method, reason, wall_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
      "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
      "storing an item");
  if (!st.ok()) return st.error();
  const Verdict& v = it.verdict;
  st->bind(1, it.runId).bind(2, it.system).bind(3, it.itemIndex).bind(4, it.itemId).bind(5, it.repeat);
  st->bind(6, it.question).bind(7, it.gold).bind(8, gradeKindName(it.gradeKind)).bind(9, it.signal);
  st->bind(10, it.signalTokens).bind(11, it.capableTokens).bind(12, it.lightTokens).bind(13, it.answer);
  st->bind(14, v.correct ? 1 : 0).bind(15, v.extracted ? 1 : 0).bind(16, v.extractedAnswer);
  st->bind(17, v.normalizedAnswer).bind(18, v.normalizedGold).bind(19, v.method).bind(20, v.reason);
  st->bind(21, it.wallMs);
  if (Status s = st->run(); !s.ok()) {
    if (s.error().code != Errc::kInvalidArgument) return s.error();
    return makeError(Errc::kInvalidArgument,
                     path + ": item " + std::to_string(it.itemIndex) + " (system " + it.system + ", repeat " +
                         std::to_string(it.repeat) + ") of run " + std::to_string(it.runId) +
                         " is already stored; a resumed run must skip finished items");
  }
  const int64_t itemRow = sqlite3_last_insert_rowid(db);

  auto sst = sql::Statement::prepare(
      db, path,
      "INSERT INTO stages (item_id, position, stage, model, prompt, output, prompt_tokens, output_tokens, "
      "ttft_ms, tokens_per_second, wall_ms, started_at_ms, stop_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
      "?8, ?9, ?10, ?11, ?12, ?13)",
      "storing a stage");
  if (!sst.ok()) return sst.error();
  auto tst = sql::Statement::prepare(
      db, path, "INSERT INTO tokens (stage_id, count, data) VALUES (?1, ?2, ?3)", "storing token records");
  if (!tst.ok()) return tst.error();
  for (size_t i = 0; i < it.stages.size(); ++i) {
    const StageRecord& s = it.stages[i];
    sst->reset();
    sst->bind(1, itemRow).bind(2, static_cast<int64_t>(i)).bind(3, s.stage).bind(4, s.model);
    sst->bind(5, s.prompt).bind(6, s.output).bind(7, s.promptTokens).bind(8, s.outputTokens);
    sst->bind(9, s.ttftMs).bind(10, s.tokensPerSecond).bind(11, s.wallMs).bind(12, s.startedAtMs);
    sst->bind(13, s.stopReason);
    DUET_TRY_STATUS(sst->run());
    if (s.tokens.empty()) continue;  // absent row reads back as no tokens
    const int64_t stageRow = sqlite3_last_insert_rowid(db);
    tst->reset();
    tst->bind(1, stageRow).bind(2, static_cast<int64_t>(s.tokens.size()));
    tst->bindBlob(3, store_detail::encodeTokens(s.tokens));
    DUET_TRY_STATUS(tst->run());
  }
  return itemRow;
}

}  // namespace

Status Store::addItem(ItemResult& item) {
  sql::Transaction tx(m_db.get(), m_path);
  DUET_TRY_STATUS(tx.begin());
  auto row = insertItemRows(m_db.get(), m_path, item);
  if (!row.ok()) return row.error();  // tx rolls back
  DUET_TRY_STATUS(tx.commit());
  item.rowId = *row;
  return {};
}

Result<std::vector<ItemResult>> Store::items(int64_t runId, const std::string& system,
                                             bool withTokens) const {
  const std::string q = std::string(kItemSelect) +
                        "WHERE run_id = ?1 AND (?2 = '' OR system = ?2) ORDER BY system, item_index, repeat";
  auto st = sql::Statement::prepare(m_db.get(), m_path, q, "reading items");
  if (!st.ok()) return st.error();
  st->bind(1, runId).bind(2, system);
  std::vector<ItemResult> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    auto it = readItem(*st, m_path);
    if (!it.ok()) return it.error();
    out.push_back(std::move(*it));
  }
  auto loader = StageLoader::make(m_db.get(), m_path, withTokens);
  if (!loader.ok()) return loader.error();
  for (ItemResult& it : out) DUET_TRY_STATUS(loader->load(it));
  return out;
}

Result<ItemResult> Store::item(int64_t itemRowId, bool withTokens) const {
  auto st = sql::Statement::prepare(m_db.get(), m_path, std::string(kItemSelect) + "WHERE id = ?1",
                                    "reading an item");
  if (!st.ok()) return st.error();
  st->bind(1, itemRowId);
  auto row = st->step();
  if (!row.ok()) return row.error();
  if (!*row)
    return makeError(Errc::kNotFound, m_path + ": item row " + std::to_string(itemRowId) + " does not exist");
  auto it = readItem(*st, m_path);
  if (!it.ok()) return it.error();
  auto loader = StageLoader::make(m_db.get(), m_path, withTokens);
  if (!loader.ok()) return loader.error();
  DUET_TRY_STATUS(loader->load(*it));
  return it;
}

Result<std::map<std::pair<int, int>, int64_t>> Store::itemRows(int64_t runId,
                                                               const std::string& system) const {
  auto st = sql::Statement::prepare(
      m_db.get(), m_path, "SELECT item_index, repeat, id FROM items WHERE run_id = ?1 AND system = ?2",
      "reading item rows");
  if (!st.ok()) return st.error();
  st->bind(1, runId).bind(2, system);
  std::map<std::pair<int, int>, int64_t> rows;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    rows[{st->int32(0), st->int32(1)}] = st->int64(2);
  }
  return rows;
}

Result<std::set<std::tuple<std::string, int, int>>> Store::finishedKeys(int64_t runId) const {
  auto st = sql::Statement::prepare(m_db.get(), m_path,
                                    "SELECT system, item_index, repeat FROM items WHERE run_id = ?1",
                                    "reading finished items");
  if (!st.ok()) return st.error();
  st->bind(1, runId);
  std::set<std::tuple<std::string, int, int>> keys;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    keys.emplace(st->text(0), st->int32(1), st->int32(2));
  }
  return keys;
}

Status Store::updateVerdicts(const std::vector<std::pair<int64_t, Verdict>>& rowVerdicts) {
  sql::Transaction tx(m_db.get(), m_path);
  DUET_TRY_STATUS(tx.begin());
  auto st = sql::Statement::prepare(m_db.get(), m_path,
                                    "UPDATE items SET correct = ?1, extracted = ?2, extracted_answer = ?3, "
                                    "normalized_answer = ?4, normalized_gold = ?5, method = ?6, reason = ?7 "
                                    "WHERE id = ?8",
                                    "updating verdicts");
  if (!st.ok()) return st.error();
  for (const auto& [rowId, v] : rowVerdicts) {
    st->reset();
    st->bind(1, v.correct ? 1 : 0).bind(2, v.extracted ? 1 : 0).bind(3, v.extractedAnswer);
    st->bind(4, v.normalizedAnswer)
        .bind(5, v.normalizedGold)
        .bind(6, v.method)
        .bind(7, v.reason)
        .bind(8, rowId);
    DUET_TRY_STATUS(st->run());
    if (sqlite3_changes(m_db.get()) == 0) {
      return makeError(Errc::kNotFound, m_path + ": item row " + std::to_string(rowId) +
                                            " does not exist; no verdict was changed");
    }
  }
  return tx.commit();
}

}  // namespace duet
