// Datasets (issue 3): JSONL loading with the five benchmark presets (published field names),
// malformed-line reporting, GPQA choice shuffling, the published prompt texts.
#include "core/eval/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace duet {
namespace {

namespace fs = std::filesystem;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    m_dir =
        fs::temp_directory_path() / ("duet_dataset_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }

  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path p = m_dir / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

  fs::path m_dir;
};

std::string fnv1aHex(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

constexpr const char* kSuffix = "Let's think step by step and output the final answer within \\boxed{}.";

// ---- prompt texts ------------------------------------------------------------------------------

TEST(DatasetPrompt, MathSuffixIsThePublishedText) {
  EXPECT_STREQ(kMathPromptSuffix, kSuffix);
  EXPECT_EQ(formatMathQuestion("What is $1+1$?"), std::string("What is $1+1$?\n") + kSuffix);
  // Formatting twice does not repeat the suffix.
  EXPECT_EQ(formatMathQuestion(formatMathQuestion("x")), std::string("x\n") + kSuffix);
}

TEST(DatasetPrompt, MultipleChoiceIsTheSimpleEvalsTemplate) {
  // openai/simple-evals common.py QUERY_TEMPLATE_MULTICHOICE with {Question}, {A}..{D} filled in.
  const std::string expected =
      "Answer the following multiple choice question. The last line of your response should be of the "
      "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by "
      "step before answering.\n\nWhich gas?\n\nA) He\nB) Ne\nC) Ar\nD) Kr";
  EXPECT_EQ(formatMultipleChoice("Which gas?", {"He", "Ne", "Ar", "Kr"}), expected);
}

// ---- presets and names -------------------------------------------------------------------------

TEST(DatasetPreset, GuessesFromFileNames) {
  EXPECT_EQ(guessDatasetPreset("math500.jsonl"), DatasetPreset::kMath500);
  EXPECT_EQ(guessDatasetPreset("/data/MATH-500_test.jsonl"), DatasetPreset::kMath500);
  EXPECT_EQ(guessDatasetPreset("data/MATH-500/test.jsonl"), DatasetPreset::kMath500);
  EXPECT_EQ(guessDatasetPreset("aime24.jsonl"), DatasetPreset::kAime2024);
  EXPECT_EQ(guessDatasetPreset("AIME_2024.jsonl"), DatasetPreset::kAime2024);
  EXPECT_EQ(guessDatasetPreset("aime_2025.jsonl"), DatasetPreset::kAime2025);
  EXPECT_EQ(guessDatasetPreset("aime25.jsonl"), DatasetPreset::kAime2025);
  EXPECT_EQ(guessDatasetPreset("amc23.jsonl"), DatasetPreset::kAmc23);
  EXPECT_EQ(guessDatasetPreset("gpqa_diamond.jsonl"), DatasetPreset::kGpqaDiamond);
  EXPECT_EQ(guessDatasetPreset("my_questions.jsonl"), DatasetPreset::kCustom);
  EXPECT_EQ(guessDatasetPreset("aime.jsonl"), DatasetPreset::kCustom);  // which year is unknown
}

TEST(DatasetPreset, NamesRoundTrip) {
  for (auto p : {DatasetPreset::kCustom, DatasetPreset::kMath500, DatasetPreset::kAime2024,
                 DatasetPreset::kAime2025, DatasetPreset::kAmc23, DatasetPreset::kGpqaDiamond}) {
    EXPECT_EQ(datasetPresetFromName(datasetPresetName(p)), p) << datasetPresetName(p);
  }
  EXPECT_EQ(datasetPresetName(DatasetPreset::kGpqaDiamond), "gpqa");
  EXPECT_EQ(datasetPresetFromName("MATH-500"), DatasetPreset::kMath500);
  EXPECT_FALSE(datasetPresetFromName("mmlu").has_value());
  EXPECT_EQ(presetGradeKind(DatasetPreset::kGpqaDiamond), GradeKind::kMultipleChoice);
  EXPECT_EQ(presetGradeKind(DatasetPreset::kAime2024), GradeKind::kMath);
}

TEST_F(DatasetTest, Math500) {
  const std::string path = write(
      "math500.jsonl",
      R"({"problem": "What is $1+1$?", "solution": "It is $\\boxed{2}$.", "answer": "2", "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"})"
      "\n"
      R"({"problem": "Simplify $\\frac{2}{4}$.", "solution": "...", "answer": "\\frac{1}{2}", "subject": "Prealgebra", "level": 2, "unique_id": "test/prealgebra/7.json"})"
      "\n");
  auto ds = loadDataset(path);
  ASSERT_TRUE(ds.ok()) << ds.message();
  EXPECT_EQ(ds->preset, DatasetPreset::kMath500);
  EXPECT_EQ(ds->kind, GradeKind::kMath);
  EXPECT_EQ(ds->name, "math500");
  EXPECT_EQ(ds->path, path);
  EXPECT_TRUE(ds->issues.empty());
  ASSERT_EQ(ds->items.size(), 2u);
  const DatasetItem& a = ds->items[0];
  EXPECT_EQ(a.index, 0);
  EXPECT_EQ(a.line, 1);
  EXPECT_EQ(a.id, "test/algebra/1.json");
  EXPECT_EQ(a.rawQuestion, "What is $1+1$?");
  EXPECT_EQ(a.question, std::string("What is $1+1$?\n") + kSuffix);
  EXPECT_EQ(a.gold, "2");
  EXPECT_TRUE(a.choices.empty());
  EXPECT_EQ(ds->items[1].gold, "\\frac{1}{2}");
  EXPECT_EQ(ds->items[1].line, 2);
}

TEST_F(DatasetTest, Aime2024NumbersAsAnswers) {
  const std::string path =
      write("aime24.jsonl", R"({"ID": "2024-I-2", "Problem": "Find $xy$.", "Solution": "...", "Answer": 25})"
                            "\n"
                            R"({"ID": "2024-I-4", "Problem": "Find $m+n$.", "Answer": "116"})"
                            "\n"
                            R"({"ID": "x1", "Problem": "p", "Answer": 204.0})"
                            "\n"
                            R"({"ID": "x2", "Problem": "p", "Answer": 2.5})"
                            "\n"
                            R"({"ID": "x3", "Problem": "p", "Answer": -7})"
                            "\n"
                            R"({"ID": "x4", "Problem": 12, "Answer": 18446744073709551615})"
                            "\n");
  auto ds = loadDataset(path);
  ASSERT_TRUE(ds.ok()) << ds.message();
  EXPECT_EQ(ds->preset, DatasetPreset::kAime2024);
  ASSERT_EQ(ds->items.size(), 6u);
  EXPECT_EQ(ds->items[0].id, "2024-I-2");
  EXPECT_EQ(ds->items[0].rawQuestion, "Find $xy$.");
  EXPECT_EQ(ds->items[0].gold, "25");
  EXPECT_EQ(ds->items[1].gold, "116");
  EXPECT_EQ(ds->items[2].gold, "204");  // an integral float has no ".0"
  EXPECT_EQ(ds->items[3].gold, "2.5");
  EXPECT_EQ(ds->items[4].gold, "-7");
  EXPECT_EQ(ds->items[5].gold, "18446744073709551615");
  EXPECT_EQ(ds->items[5].rawQuestion, "12");
}

TEST_F(DatasetTest, Aime2025AndAmc23) {
  const std::string aime =
      write("aime_2025.jsonl", R"({"id": 0, "problem": "Find the sum of all bases $b > 9$.", "answer": "70"})"
                               "\n");
  auto a = loadDataset(aime);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->preset, DatasetPreset::kAime2025);
  ASSERT_EQ(a->items.size(), 1u);
  EXPECT_EQ(a->items[0].id, "0");  // a numeric id as text
  EXPECT_EQ(a->items[0].gold, "70");

  const std::string amc =
      write("amc23.jsonl", R"({"id": 3, "question": "How many?", "answer": 27.0, "url": "https://x"})"
                           "\n"
                           R"({"question": "And now?", "answer": 0.5})"
                           "\n");
  auto b = loadDataset(amc);
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(b->preset, DatasetPreset::kAmc23);
  ASSERT_EQ(b->items.size(), 2u);
  EXPECT_EQ(b->items[0].question, std::string("How many?\n") + kSuffix);
  EXPECT_EQ(b->items[0].gold, "27");
  EXPECT_EQ(b->items[0].id, "3");
  EXPECT_EQ(b->items[1].gold, "0.5");
  EXPECT_EQ(b->items[1].id, "1");  // no id field: the item index
}

// ---- GPQA ----------------------------------------------------------------------------------------

std::string gpqaLine(int i) {
  const std::string n = std::to_string(i);
  return R"({"Record ID": "rec)" + n + R"(", "Question": "Question )" + n + R"( about $\\alpha$?", )" +
         R"("Correct Answer": "right )" + n + R"(", "Incorrect Answer 1": "wrong1 )" + n + R"(", )" +
         R"("Incorrect Answer 2": "wrong2 )" + n + R"(", "Incorrect Answer 3": "wrong3 )" + n + R"("})" +
         "\n";
}

std::string gpqaFile(int count) {
  std::string s;
  for (int i = 0; i < count; ++i) s += gpqaLine(i);
  return s;
}

TEST_F(DatasetTest, GpqaChoicesAndGoldAreConsistent) {
  const std::string path = write("gpqa_diamond.jsonl", gpqaFile(40));
  DatasetOptions opts;
  opts.shuffleSeed = 1234;
  auto ds = loadDataset(path, opts);
  ASSERT_TRUE(ds.ok()) << ds.message();
  EXPECT_EQ(ds->preset, DatasetPreset::kGpqaDiamond);
  EXPECT_EQ(ds->kind, GradeKind::kMultipleChoice);
  EXPECT_EQ(ds->shuffleSeed, 1234u);
  ASSERT_EQ(ds->items.size(), 40u);
  std::set<std::string> golds;
  for (const DatasetItem& it : ds->items) {
    const std::string n = std::to_string(it.index);
    EXPECT_EQ(it.id, "rec" + n);
    EXPECT_EQ(it.rawQuestion, "Question " + n + " about $\\alpha$?");
    ASSERT_EQ(it.choices.size(), 4u);
    ASSERT_EQ(it.gold.size(), 1u);
    ASSERT_GE(it.gold[0], 'A');
    ASSERT_LE(it.gold[0], 'D');
    EXPECT_EQ(it.choices[static_cast<size_t>(it.gold[0] - 'A')], "right " + n);
    const std::set<std::string> texts(it.choices.begin(), it.choices.end());
    EXPECT_EQ(texts, (std::set<std::string>{"right " + n, "wrong1 " + n, "wrong2 " + n, "wrong3 " + n}));
    EXPECT_EQ(it.question, formatMultipleChoice(it.rawQuestion, it.choices));
    EXPECT_NE(it.question.find("\n\nA) " + it.choices[0] + "\nB) " + it.choices[1]), std::string::npos);
    golds.insert(it.gold);
  }
  EXPECT_EQ(golds.size(), 4u) << "over 40 items the correct answer should land on every letter";
}

TEST_F(DatasetTest, GpqaShuffleIsReproducibleAndSeeded) {
  const std::string path = write("gpqa.jsonl", gpqaFile(12));
  auto orders = [&](uint64_t seed) {
    DatasetOptions opts;
    opts.shuffleSeed = seed;
    auto ds = loadDataset(path, opts);
    EXPECT_TRUE(ds.ok()) << ds.message();
    std::vector<std::vector<std::string>> out;
    if (ds.ok()) {
      for (const auto& it : ds->items) out.push_back(it.choices);
    }
    return out;
  };
  const auto a = orders(7), b = orders(7), c = orders(8);
  ASSERT_EQ(a.size(), 12u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Items are shuffled independently: not every item shows the same permutation.
  std::set<std::string> firstLetterSources;
  for (const auto& choices : a) firstLetterSources.insert(choices[0].substr(0, 5));
  EXPECT_GT(firstLetterSources.size(), 1u);
}

TEST_F(DatasetTest, GpqaMissingIncorrectAnswerIsReported) {
  std::string line = gpqaLine(1);
  line.replace(line.find("Incorrect Answer 2"), 18, "Incorrect Answer X");
  const std::string path = write("gpqa_diamond.jsonl", gpqaLine(0) + line);
  auto ds = loadDataset(path);
  ASSERT_TRUE(ds.ok()) << ds.message();
  ASSERT_EQ(ds->items.size(), 1u);
  ASSERT_EQ(ds->issues.size(), 1u);
  EXPECT_EQ(ds->issues[0].message, "gpqa_diamond.jsonl:2: field 'Incorrect Answer 2' is missing");
}

// ---- malformed input -----------------------------------------------------------------------------

const char* const kBadFile =
    "{\"problem\": \"ok one\", \"answer\": \"1\"}\n"  // 1 ok
    "this is not json\n"                              // 2
    "[1, 2, 3]\n"                                     // 3 not an object
    "{\"answer\": \"1\"}\n"                           // 4 missing problem
    "{\"problem\": true, \"answer\": \"1\"}\n"        // 5 boolean
    "{\"problem\": \"p\", \"answer\": null}\n"        // 6 null
    "\n"                                              // 7 empty: skipped silently
    "   \t \n"                                        // 8 blank: skipped silently
    "{\"problem\": \"ok two\", \"answer\": 3}\n"      // 9 ok
    "{\"problem\": \"p\", \"answer\": \"  \"}\n"      // 10 empty answer
    "{\"problem\": \"p\", \"answer\": {\"v\": 1}}\n"  // 11 object
    "{\"problem\": \"p\", \"answer\": \"1\"\n";       // 12 truncated

TEST_F(DatasetTest, MalformedLinesAreReportedWithFileAndLine) {
  const std::string path = write("bad.jsonl", kBadFile);
  auto ds = loadDataset(path);
  ASSERT_TRUE(ds.ok()) << ds.message();
  ASSERT_EQ(ds->items.size(), 2u);
  EXPECT_EQ(ds->items[0].line, 1);
  EXPECT_EQ(ds->items[1].line, 9);
  EXPECT_EQ(ds->items[1].index, 1);
  EXPECT_EQ(ds->items[1].gold, "3");
  ASSERT_EQ(ds->issues.size(), 8u);
  const std::vector<int> lines = {2, 3, 4, 5, 6, 10, 11, 12};
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(ds->issues[i].line, lines[i]);
  EXPECT_EQ(ds->issues[0].message.rfind("bad.jsonl:2: not valid JSON at byte ", 0), 0u)
      << ds->issues[0].message;
  EXPECT_EQ(ds->issues[1].message, "bad.jsonl:3: expected a JSON object, found array");
  EXPECT_EQ(ds->issues[2].message, "bad.jsonl:4: field 'problem' is missing");
  EXPECT_EQ(ds->issues[3].message, "bad.jsonl:5: field 'problem' is boolean, expected a string or a number");
  EXPECT_EQ(ds->issues[4].message, "bad.jsonl:6: field 'answer' is null, expected a string or a number");
  EXPECT_EQ(ds->issues[5].message, "bad.jsonl:10: field 'answer' is empty");
  EXPECT_EQ(ds->issues[6].message, "bad.jsonl:11: field 'answer' is object, expected a string or a number");
  EXPECT_EQ(ds->issues[7].message.rfind("bad.jsonl:12: not valid JSON", 0), 0u) << ds->issues[7].message;
}

TEST_F(DatasetTest, StopOnMalformedMakesTheFirstBadLineAnError) {
  const std::string path = write("bad.jsonl", kBadFile);
  DatasetOptions opts;
  opts.stopOnMalformed = true;
  auto ds = loadDataset(path, opts);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.error().code, Errc::kCorrupt);
  EXPECT_EQ(ds.message().rfind("bad.jsonl:2: not valid JSON", 0), 0u) << ds.message();

  // A clean file loads the same with the flag.
  const std::string good = write("good.jsonl", "{\"problem\": \"p\", \"answer\": \"1\"}\n");
  EXPECT_TRUE(loadDataset(good, opts).ok());
}

TEST_F(DatasetTest, EmptyOrAllBadIsAnError) {
  auto empty = loadDataset(write("empty.jsonl", "\n\n  \n"));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, Errc::kCorrupt);
  EXPECT_NE(empty.message().find("no valid items"), std::string::npos) << empty.message();

  auto allBad = loadDataset(write("allbad.jsonl", "{\"question\": \"q\", \"answer\": \"1\"}\n"));
  ASSERT_FALSE(allBad.ok());
  EXPECT_NE(allBad.message().find("allbad.jsonl:1: field 'problem' is missing"), std::string::npos)
      << allBad.message();
}

TEST_F(DatasetTest, MissingFileIsAnIoErrorNamingThePath) {
  const std::string path = (m_dir / "nope" / "math500.jsonl").string();
  auto ds = loadDataset(path);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.error().code, Errc::kIo);
  EXPECT_NE(ds.message().find(path), std::string::npos) << ds.message();
}

// ---- encodings, mapping, hash ------------------------------------------------------------------

TEST_F(DatasetTest, Utf8ContentAndBomSurviveByteExact) {
  const std::string q = "Найдите $x$: ∑ 🙂 — «ё»";
  const std::string path = write("utf8.jsonl", "\xEF\xBB\xBF{\"problem\": \"" + q +
                                                   "\", \"answer\": \"\\u221a2\"}\n"
                                                   "{\"problem\": \"bad \xFF byte\", \"answer\": \"1\"}\n");
  auto ds = loadDataset(path);
  ASSERT_TRUE(ds.ok()) << ds.message();
  ASSERT_EQ(ds->items.size(), 1u);
  EXPECT_EQ(ds->items[0].rawQuestion, q);
  EXPECT_EQ(ds->items[0].gold,
            "\xE2\x88\x9A"
            "2");                    // the \u221a escape decoded to UTF-8 "√2"
  ASSERT_EQ(ds->issues.size(), 1u);  // invalid UTF-8 is a malformed line, not a crash
  EXPECT_EQ(ds->issues[0].message.rfind("utf8.jsonl:2: not valid JSON", 0), 0u) << ds->issues[0].message;
  EXPECT_EQ(ds->issues[0].message.find('\xFF'), std::string::npos) << "the bad byte is escaped as \\xFF";

  // A number beyond double's range is a malformed line too.
  auto big = loadDataset(
      write("big.jsonl", "{\"problem\": \"p\", \"answer\": 1e400}\n{\"problem\": \"p\", \"answer\": 1}\n"));
  ASSERT_TRUE(big.ok()) << big.message();
  ASSERT_EQ(big->issues.size(), 1u);
  EXPECT_EQ(big->issues[0].message.rfind("big.jsonl:1: not valid JSON", 0), 0u) << big->issues[0].message;
}

TEST_F(DatasetTest, CrlfLineEndings) {
  const std::string path = write("crlf.jsonl",
                                 "{\"problem\": \"one\", \"answer\": \"1\"}\r\n"
                                 "\r\n"
                                 "{\"problem\": \"two\", \"answer\": \"2\"}\r\n"
                                 "{\"problem\": \"three\", \"answer\": \"3\"}");  // no final newline
  auto ds = loadDataset(path);
  ASSERT_TRUE(ds.ok()) << ds.message();
  EXPECT_TRUE(ds->issues.empty());
  ASSERT_EQ(ds->items.size(), 3u);
  EXPECT_EQ(ds->items[0].gold, "1");
  EXPECT_EQ(ds->items[1].rawQuestion, "two");
  EXPECT_EQ(ds->items[1].line, 3);
  EXPECT_EQ(ds->items[2].gold, "3");
}

TEST_F(DatasetTest, CustomMappingAndExplicitOptions) {
  const std::string path =
      write("mine.jsonl", "{\"key\": \"k1\", \"q\": \"Capital of France?\", \"a\": \"Paris\"}\n");
  DatasetOptions opts;
  opts.mapping = FieldMapping{"q", "a", "key", {}};
  opts.kind = GradeKind::kExact;
  auto ds = loadDataset(path, opts);
  ASSERT_TRUE(ds.ok()) << ds.message();
  EXPECT_EQ(ds->preset, DatasetPreset::kCustom);
  EXPECT_EQ(ds->kind, GradeKind::kExact);
  ASSERT_EQ(ds->items.size(), 1u);
  EXPECT_EQ(ds->items[0].id, "k1");
  EXPECT_EQ(ds->items[0].question, "Capital of France?");  // exact: no math suffix
  EXPECT_EQ(ds->items[0].gold, "Paris");

  // An explicit preset beats the file name: AMC23 reads "question", which math500 lines lack.
  const std::string math = write("math500.jsonl", "{\"problem\": \"p\", \"answer\": \"1\"}\n");
  DatasetOptions amc;
  amc.preset = DatasetPreset::kAmc23;
  EXPECT_FALSE(loadDataset(math, amc).ok());

  DatasetOptions tooMany;
  tooMany.mapping = FieldMapping{"q", "a", "", {"w1", "w2", "w3", "w4"}};
  auto r = loadDataset(path, tooMany);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST_F(DatasetTest, ContentHashIsFnv1aOfTheFileBytes) {
  ASSERT_EQ(fnv1aHex(""), "cbf29ce484222325");  // published FNV-1a 64 test vectors
  ASSERT_EQ(fnv1aHex("foobar"), "85944171f73967e8");
  const std::string bytes = "{\"problem\": \"p\", \"answer\": \"1\"}\n";
  auto a = loadDataset(write("h1.jsonl", bytes));
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->contentHash, fnv1aHex(bytes));
  EXPECT_EQ(a->contentHash.size(), 16u);
  auto b = loadDataset(write("h2.jsonl", "{\"problem\": \"p\", \"answer\": \"2\"}\n"));
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_NE(a->contentHash, b->contentHash);
}

}  // namespace
}  // namespace duet
