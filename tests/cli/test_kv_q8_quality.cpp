// `--kv-type q8` (int8 keys and values, a scale per 32 dims of a head) on
// stories260K: perplexity and KL divergence against the same model with an f16
// KV cache on eval.txt (c 256, all 165 chunks), issue 29's bar: PPL within 0.3%
// and mean KL <= 0.002. The base's KV type comes from --kl-base-kv-type.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "support/test_support.h"

namespace ts = testsupport;

namespace {
using ts::stories;

struct Figures {
  double ppl = NAN, base_ppl = NAN, ratio = NAN, kld = NAN;
};

Figures kl(const std::string& kv, const std::string& base_kv) {
  auto r = ts::run_cli({"perplexity", "-m", stories("stories260K.bin"), "--kl-base", stories("stories260K.bin"),
                        "--tokenizer", stories("tok512.bin"), "-f", (ts::shared_data() / "text/eval.txt").string(),
                        "-c", "256", "-t", "2", "--kv-type", kv, "--kl-base-kv-type", base_kv});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Figures f;
  std::smatch m;
  if (std::regex_search(r.out, m, std::regex(R"(Mean PPL\(Q\)\s*:\s*([0-9.]+))"))) f.ppl = std::stod(m[1]);
  if (std::regex_search(r.out, m, std::regex(R"(Mean PPL\(base\)\s*:\s*([0-9.]+))"))) f.base_ppl = std::stod(m[1]);
  if (std::regex_search(r.out, m, std::regex(R"(Mean PPL\(Q\)/PPL\(base\)\s*:\s*([0-9.]+))"))) f.ratio = std::stod(m[1]);
  if (std::regex_search(r.out, m, std::regex(R"(Mean    KLD:\s*(-?[0-9.]+))"))) f.kld = std::stod(m[1]);
  EXPECT_TRUE(std::isfinite(f.ppl) && std::isfinite(f.kld) && std::isfinite(f.ratio)) << r.out;
  return f;
}
}  // namespace

TEST(KvQ8Quality, StoriesPplAndKlAgainstF16Kv) {
  const Figures f = kl("q8", "f16");
  std::printf("q8 KV vs f16 KV: PPL %.4f (base %.4f, ratio %.5f)  mean KL %.6f\n", f.ppl, f.base_ppl, f.ratio, f.kld);
  EXPECT_LE(std::fabs(f.ppl / f.base_ppl - 1.0), 0.003);
  EXPECT_LE(f.kld, 0.002);
  // Were --kl-base-kv-type ignored, both sides would run q8: KL exactly 0.
  EXPECT_GT(f.kld, 0.0) << "no difference at all: the two runs used the same KV type";
}

TEST(KvQ8Quality, BadKvTypeNamesAreErrors) {
  auto r = ts::run_cli({"perplexity", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "-f",
                        (ts::shared_data() / "text/eval.txt").string(), "--kv-type", "q4"});
  EXPECT_NE(r.exit_code, 0);
  r = ts::run_cli({"perplexity", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "-f",
                   (ts::shared_data() / "text/eval.txt").string(), "--kl-base-kv-type", "f16"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--kl-base"), std::string::npos) << r.err;
  r = ts::run_cli({"bench", "-m", stories("stories260K.bin"), "-p", "0", "-n", "4", "--kv-type", "int8"});
  EXPECT_NE(r.exit_code, 0);
}

// Every command that takes a KV type runs with q8: run (greedy, as the f32 cache
// for the first words of a peaked model) and bench.
TEST(KvQ8Quality, RunAndBenchAcceptQ8) {
  auto base = ts::run_cli({"run", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "-p",
                           "Once upon a time", "-n", "24", "--temp", "0", "-t", "1"});
  auto q8 = ts::run_cli({"run", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "-p",
                         "Once upon a time", "-n", "24", "--temp", "0", "-t", "1", "--kv-type", "q8"});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  EXPECT_EQ(q8.out.substr(0, 40), base.out.substr(0, 40));
  auto b = ts::run_cli(
      {"bench", "-m", stories("stories260K.bin"), "-p", "16", "-n", "8", "-r", "1", "--kv-type", "q8", "-o", "json"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(std::regex_search(b.out, std::regex(R"("type_k"\s*:\s*"q8")"))) << b.out;
}
