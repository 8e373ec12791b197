// Calibrated W4A8 (GPTQ + clipping, calibrated on calib.txt only) against plain
// round-to-nearest, both measured on eval.txt: the KL ratio is computed here.
#include <gtest/gtest.h>

#include <regex>

#include "support/test_support.h"

namespace ts = testsupport;

namespace {
std::string stories(const std::string& f) { return (ts::shared_data() / "models/stories260K" / f).string(); }

double mean_kl(const std::string& q) {
  auto r = ts::run_cli({"perplexity", "-m", q, "--kl-base", stories("stories260K.bin"), "--tokenizer",
                        stories("tok512.bin"), "-f", (ts::shared_data() / "text/eval.txt").string(), "-c", "256", "-t", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  if (!std::regex_search(r.out, m, std::regex(R"(Mean    KLD:\s*([0-9.]+))"))) return 1e9;
  return std::stod(m[1]);
}

std::string quantize(const std::string& dir, const std::string& group, bool calibrated) {
  const std::string out = dir + "/q-g" + group + (calibrated ? "-cal" : "-rtn") + ".gguf";
  std::vector<std::string> args = {"quantize", stories("stories260K.bin"), out, "--tokenizer", stories("tok512.bin"),
                                   "--scheme", "w4a8", "--group", group, "--head", "f16", "-t", "2"};
  if (calibrated)
    args.insert(args.end(), {"--calib", (ts::shared_data() / "text/calib.txt").string(), "--gptq", "--clip"});
  auto r = ts::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}
}  // namespace

TEST(Calibration, GptqPlusClipCutsKlBelowSixTenthsOfRtn) {
  auto dir = ts::temp_dir("calib").string();
  for (const char* g : {"32", "0"}) {
    const double rtn = mean_kl(quantize(dir, g, false));
    const double cal = mean_kl(quantize(dir, g, true));
    std::printf("W4A8 g%s: RTN KL %.4f, GPTQ+clip KL %.4f, ratio %.3f\n", g, rtn, cal, cal / rtn);
    EXPECT_GT(rtn, 0.05) << "RTN must lose quality for the ratio to mean anything";
    EXPECT_LE(cal, 0.6 * rtn) << "group " << g;
  }
}

TEST(Calibration, IsDeterministic) {
  auto dir = ts::temp_dir("calib-det").string();
  const std::string a = quantize(dir, "32", true);
  const std::string b = dir + "/again.gguf";
  auto r = ts::run_cli({"quantize", stories("stories260K.bin"), b, "--tokenizer", stories("tok512.bin"), "--scheme",
                        "w4a8", "--group", "32", "--head", "f16", "-t", "1", "--calib",
                        (ts::shared_data() / "text/calib.txt").string(), "--gptq", "--clip"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ts::read_file(a), ts::read_file(b));
}
