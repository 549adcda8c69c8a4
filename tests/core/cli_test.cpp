// The `duet` tool end to end: real process, real files, exit codes and JSON output.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out;
};

// Runs the CLI with args (shell-quoted by the caller); captures stdout (stderr when err).
Run duet(const std::string& args, bool err = false) {
  std::string cmd = std::string(DUET_CLI_PATH) + " " + args + (err ? " 2>&1 >/dev/null" : " 2>/dev/null");
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_dir = fs::temp_directory_path() / ("duet_cli_test_" + std::to_string(::getpid()));
    fs::create_directories(s_dir);
    s_model = (s_dir / "tiny.gguf").string();
    ASSERT_EQ(duet("synth --preset tiny --type q8_0 --out " + s_model).code, 0);
  }
  static void TearDownTestSuite() { fs::remove_all(s_dir); }
  static fs::path s_dir;
  static std::string s_model;
};
fs::path CliTest::s_dir;
std::string CliTest::s_model;

TEST_F(CliTest, HelpAndUsageErrors) {
  auto h = duet("--help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("generate"), std::string::npos);
  EXPECT_NE(duet("").code, 0);
  EXPECT_NE(duet("generate").code, 0);  // --model is required
  EXPECT_NE(duet("frobnicate").code, 0);
}

TEST_F(CliTest, InfoJson) {
  auto r = duet("info --json --model " + s_model);
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["n_layer"], 2);
  EXPECT_EQ(j["n_vocab"], 512);
  EXPECT_NE(j["tensor_types"].get<std::string>().find("Q8_0"), std::string::npos);
}

TEST_F(CliTest, TokenizeExactBytesAndSpecialHandling) {
  auto r = duet("tokenize --json --model " + s_model + " 'ab <|im_end|>'");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  std::string joined;
  for (const auto& t : j["tokens"]) joined += t["text"].get<std::string>();
  EXPECT_EQ(joined, "ab <|im_end|>");
  auto ids = j["ids"].get<std::vector<int>>();
  auto plain =
      nlohmann::json::parse(duet("tokenize --json --no-special --model " + s_model + " 'ab <|im_end|>'").out);
  EXPECT_GT(plain["n_tokens"].get<int>(), static_cast<int>(ids.size()));  // spelled out byte by byte
  // The tiny vocabulary: byte tokens first, then merges of " a".." z" and letter pairs from "aa".
  EXPECT_EQ(duet("tokenize --model " + s_model + " zz").out, "122,122\n");  // no "z z" merge
  EXPECT_EQ(duet("tokenize --model " + s_model + " ab").out, "283\n");      // merge #27 -> 256 + 27
}

TEST_F(CliTest, GenerateJsonStreamsTokensThenStats) {
  auto r = duet("generate --json --model " + s_model + " --prompt hello --max-tokens 8 --temp 0.7 --seed 5");
  ASSERT_EQ(r.code, 0);
  std::istringstream in(r.out);
  std::string line, text;
  int tokens = 0;
  nlohmann::json last;
  while (std::getline(in, line)) {
    last = nlohmann::json::parse(line);
    if (last["type"] == "token") {
      ++tokens;
      text += last["text"].get<std::string>();
      EXPECT_LE(last["logprob"].get<double>(), 0.0);
      EXPECT_EQ(last["top"].size(), 5u);
    }
  }
  EXPECT_EQ(tokens, 8);
  EXPECT_EQ(last["type"], "stats");
  EXPECT_EQ(last["generated_tokens"], 8);
  EXPECT_EQ(last["text"], text);
  auto again =
      duet("generate --json --model " + s_model + " --prompt hello --max-tokens 8 --temp 0.7 --seed 5");
  EXPECT_EQ(nlohmann::json::parse(again.out.substr(again.out.rfind('{', again.out.size() - 2)))["text"],
            last["text"]);
  auto toks = duet("generate --model " + s_model + " --prompt-tokens 1,2,3 --max-tokens 3");
  EXPECT_EQ(toks.code, 0);
}

TEST_F(CliTest, ErrorsNameTheProblem) {
  auto missing = duet("info --model /nonexistent/m.gguf", true);
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("/nonexistent/m.gguf"), std::string::npos) << missing.out;
  const std::string junk = (s_dir / "junk.gguf").string();
  {
    FILE* f = fopen(junk.c_str(), "wb");
    fputs("not a gguf file at all", f);
    fclose(f);
  }
  auto bad = duet("info --model " + junk, true);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("junk.gguf"), std::string::npos) << bad.out;
  auto badTok = duet("generate --model " + s_model + " --prompt-tokens 1,99999", true);
  EXPECT_EQ(badTok.code, 1);
  EXPECT_NE(badTok.out.find("99999"), std::string::npos) << badTok.out;
}

TEST_F(CliTest, BenchJson) {
  auto r = duet("bench --json --model " + s_model + " --prompt-len 16 --gen 4 --reps 1");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["pp_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0.0);
  EXPECT_EQ(j["depth"].get<int>(), 0);
  // With a context already in the cache, the decode test also reads it.
  auto d = duet("bench --json --model " + s_model + " --prompt-len 8 --gen 4 --reps 1 --depth 40");
  ASSERT_EQ(d.code, 0) << d.out;
  auto jd = nlohmann::json::parse(d.out);
  EXPECT_EQ(jd["depth"].get<int>(), 40);
  // 40 + 2.5 cached positions per decoded token on average instead of 2.5.
  EXPECT_GT(jd["decode_kv_gb_per_s"].get<double>() / jd["tg_tokens_per_s"].get<double>(),
            10 * j["decode_kv_gb_per_s"].get<double>() / j["tg_tokens_per_s"].get<double>());
  // --kv-type: f32 doubles f16's cache; q8_0 needs a head size of 32s (the tiny preset's is 16),
  // so the bench reports the f16 it fell back to.
  EXPECT_EQ(j["kv_type"], "f16");
  const std::string base = "bench --json --model " + s_model + " --prompt-len 8 --gen 2 --reps 1 --kv-type ";
  auto f32 = duet(base + "f32");
  ASSERT_EQ(f32.code, 0) << f32.out;
  EXPECT_EQ(nlohmann::json::parse(f32.out)["kv_cache_bytes"].get<size_t>(),
            2 * nlohmann::json::parse(duet(base + "f16").out)["kv_cache_bytes"].get<size_t>());
  auto q8 = duet(base + "q8_0");
  ASSERT_EQ(q8.code, 0) << q8.out;
  EXPECT_EQ(nlohmann::json::parse(q8.out)["kv_type"], "f16");
  EXPECT_NE(duet(base + "q4_0", true).code, 0);
}

}  // namespace

// Issue 4: the shipped demo manifest loads and every checkpoint (and the original pair) solves a
// held-out problem through `duet solve`, with M's tokens and m's boxed answer in the result.
TEST(CliDemo, EveryShippedCheckpointSolvesThroughTheCli) {
  const fs::path dir = fs::path(DUET_TEST_DATA_DIR) / ".." / ".." / "resources" / "demo";
  if (!fs::exists(dir / "experiment.json")) GTEST_SKIP() << "resources/demo not present";
  const auto manifest = nlohmann::json::parse(std::ifstream(dir / "experiment.json"));
  std::vector<std::string> checkpoints = {"original"};
  for (const auto& c : manifest.at("checkpoints"))
    checkpoints.push_back(std::to_string(c.at("step").get<int>()));
  ASSERT_GE(checkpoints.size(), 6u);
  for (const std::string& ck : checkpoints) {
    auto r = duet("solve --json --experiment " + (dir / "experiment.json").string() + " --checkpoint " + ck +
                  " --dataset " + (dir / "test.jsonl").string() + " --item 1 --threads 1");
    ASSERT_EQ(r.code, 0) << ck << ": " << r.out;
    const std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
    const auto j = nlohmann::json::parse(last);
    EXPECT_GT(j.at("capable_tokens").get<int>(), 0) << ck;
    EXPECT_GT(j.at("light_tokens").get<int>(), 0) << ck;
    EXPECT_NE(j.at("answer").get<std::string>().find("\\boxed{"), std::string::npos) << ck << ": " << last;
  }
}
