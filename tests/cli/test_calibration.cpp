// Calibrated W4A8 (--method best, calibrated on calib.txt only) against plain
// round-to-nearest, both measured on eval.txt: the KL ratio is computed here.
// Also: a rotated file is marked as needing pocketllm, --compat drops the online part;
// static activation ranges are stored per linear, used, and checked at load.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>

#include "formats/gguf.h"
#include "kernels/int_weights.h"
#include "model/model.h"
#include "support/test_support.h"

namespace ts = testsupport;

namespace {
using ts::stories;

double mean_kl(const std::string& q) {
  auto r = ts::run_cli({"perplexity", "-m", q, "--kl-base", stories("stories260K.bin"), "--tokenizer",
                        stories("tok512.bin"), "-f", (ts::shared_data() / "text/eval.txt").string(), "-c", "256", "-t", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  if (!std::regex_search(r.out, m, std::regex(R"(Mean    KLD:\s*([0-9.]+))"))) return 1e9;
  return std::stod(m[1]);
}

std::string calib_txt() { return (ts::shared_data() / "text/calib.txt").string(); }

ts::CmdResult quantize_to(const std::string& out, const std::string& group, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"quantize", stories("stories260K.bin"), out, "--tokenizer", stories("tok512.bin"),
                                   "--scheme", "w4a8", "--group", group, "--head", "f16", "-t", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ts::run_cli(args);
}

std::string quantize_calibrated(const std::string& dir, const std::string& group, const std::string& tag,
                     const std::vector<std::string>& extra) {
  const std::string out = dir + "/q-g" + group + "-" + tag + ".gguf";
  auto r = quantize_to(out, group, extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

std::string quantize_calibrated(const std::string& dir, const std::string& group, bool calibrated) {
  return calibrated ? quantize_calibrated(dir, group, "cal", {"--calib", calib_txt(), "--gptq", "--clip", "--refit"})
                    : quantize_calibrated(dir, group, "rtn", {});
}
}  // namespace

TEST(Calibration, BestMethodCutsKlBelowSixTenthsOfRtn) {
  // --method best (docs/CALIBRATION.md) against plain RTN, both measured here on eval.txt.
  auto dir = ts::temp_dir("calib").string();
  for (const char* g : {"32", "0"}) {
    const double rtn = mean_kl(quantize_calibrated(dir, g, false));
    const double best = mean_kl(quantize_calibrated(dir, g, "best", {"--calib", calib_txt(), "--method", "best"}));
    std::printf("W4A8 g%s: RTN KL %.4f, best KL %.4f, ratio %.3f\n", g, rtn, best, best / rtn);
    EXPECT_GT(rtn, 0.05) << "RTN must lose quality for the ratio to mean anything";
    EXPECT_LE(best, 0.6 * rtn) << "group " << g;
  }
}

TEST(Calibration, RotatedFileNeedsPocketllmAndRuns) {
  auto dir = ts::temp_dir("calib-rot").string();
  const std::string out = quantize_calibrated(dir, "32", "rot", {"--rotate", "--calib", calib_txt()});
  const std::string bytes = ts::read_file(out);
  EXPECT_NE(bytes.find("pocketllm.online_rotation"), std::string::npos);
  EXPECT_NE(bytes.find("ffn_down_rotation.weight"), std::string::npos);
  const double kl = mean_kl(out);
  std::printf("W4A8 g32 rotated (RTN): KL %.4f\n", kl);
  EXPECT_LT(kl, 0.3) << "a rotated model that runs without its online transform would be far worse";
  // The JSON report has the per-layer errors of each stage.
  const std::string report = ts::read_file(out + ".calib.json");
  EXPECT_NE(report.find("layer_output_error"), std::string::npos);
  EXPECT_NE(report.find("\"rotate\""), std::string::npos);
  // --compat: llama.cpp cannot run the online part; it is dropped with a message.
  const std::string compat = dir + "/compat.gguf";
  auto r = quantize_to(compat, "32", {"--rotate", "--compat"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("rotating the residual stream only"), std::string::npos) << r.err;
  const std::string cb = ts::read_file(compat);
  EXPECT_EQ(cb.find("pocketllm.online_rotation"), std::string::npos);
  EXPECT_EQ(cb.find("ffn_down_rotation.weight"), std::string::npos);
}

TEST(Calibration, BadMethodsFailClearly) {
  auto dir = ts::temp_dir("calib-bad").string();
  auto r = quantize_to(dir + "/a.gguf", "32", {"--act", "static"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--act static needs calibration data"), std::string::npos) << r.err;
  r = quantize_to(dir + "/a.gguf", "32", {"--act", "sometimes"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("use dynamic (per token) or static"), std::string::npos) << r.err;
  r = quantize_to(dir + "/b.gguf", "32", {"--method", "magic"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown --method"), std::string::npos) << r.err;
  r = quantize_to(dir + "/c.gguf", "32", {"--smooth"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--smooth needs calibration data"), std::string::npos) << r.err;
}

TEST(Calibration, IsDeterministic) {
  auto dir = ts::temp_dir("calib-det").string();
  const std::string a = quantize_calibrated(dir, "32", true);
  const std::string b = dir + "/again.gguf";
  auto r = ts::run_cli({"quantize", stories("stories260K.bin"), b, "--tokenizer", stories("tok512.bin"), "--scheme",
                        "w4a8", "--group", "32", "--head", "f16", "-t", "1", "--calib",
                        (ts::shared_data() / "text/calib.txt").string(), "--gptq", "--clip", "--refit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ts::read_file(a), ts::read_file(b));
}

namespace {
// A copy of a GGUF file with its static-scale arrays replaced (hostile files for the loader).
void rewrite_static_scales(const std::string& from, const std::string& to, const std::vector<std::string>& names,
                           const std::vector<float>& scales) {
  namespace gguf = pocketllm::gguf;
  auto f = gguf::File::open(from, true);
  gguf::Writer w;
  for (auto& [k, v] : f->metadata())
    if (k != pocketllm::kActStaticTensorsKey && k != pocketllm::kActStaticScalesKey) w.set(k, v);
  w.set(pocketllm::kActStaticTensorsKey, gguf::Value::str_array(names));
  w.set(pocketllm::kActStaticScalesKey, gguf::Value::f32_array(scales));
  for (auto& t : f->tensors()) w.add_tensor(t.name, t.type, t.ne, t.data, t.nbytes);
  w.write(to);
}
}  // namespace

TEST(Calibration, StaticActivationRangesAreStoredUsedAndChecked) {
  auto dir = ts::temp_dir("calib-static").string();
  const std::string dyn = quantize_calibrated(dir, "0", false);
  const std::string stat = quantize_calibrated(dir, "0", "static", {"--calib", calib_txt(), "--act", "static"});
  auto f = pocketllm::gguf::File::open(stat, true);
  EXPECT_EQ(f->get_string("pocketllm.activations"), "int8-static");
  EXPECT_EQ(f->get_bool("pocketllm.required"), true);
  const auto names = f->get_string_array(pocketllm::kActStaticTensorsKey);
  const auto scales = f->get_float_array(pocketllm::kActStaticScalesKey);
  ASSERT_TRUE(names && scales);
  ASSERT_EQ(names->size(), scales->size());
  // One scale for every block linear, none for anything else (the head keeps per-token ranges).
  std::set<std::string> want, got(names->begin(), names->end());
  for (auto& t : f->tensors())
    for (const char* l : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      if (t.name.starts_with("blk.") && t.name.ends_with(std::string(".") + l + ".weight")) want.insert(t.name);
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.size(), names->size());
  for (float s : *scales) EXPECT_TRUE(s > 0 && std::isfinite(s)) << s;
  EXPECT_NE(ts::read_file(stat + ".calib.json").find("\"act_static\""), std::string::npos);
  const double kl_dyn = mean_kl(dyn), kl_stat = mean_kl(stat);
  std::printf("W4A8 per-channel RTN: per-token activations KL %.4f, static activations KL %.4f\n", kl_dyn, kl_stat);
  EXPECT_NE(kl_stat, kl_dyn) << "the static scales must change the computation";
  // stories260K has no outlier channels: one searched range per input stays close to per-token ranges.
  EXPECT_LT(kl_stat, 1.25 * kl_dyn);
  // Hostile scale tables are refused with the reason.
  const std::string bad = dir + "/bad.gguf";
  const std::vector<std::pair<std::vector<float>, std::string>> cases = {
      {std::vector<float>(names->size(), -1.0f), "is not a finite positive number"},
      {std::vector<float>(names->size(), NAN), "is not a finite positive number"},
      {std::vector<float>(names->size() - 1, 0.01f), "of equal length"}};
  for (auto& [sc, msg] : cases) {
    rewrite_static_scales(stat, bad, *names, sc);
    auto r = ts::run_cli({"run", "-m", bad, "-p", "x", "-n", "1"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(msg), std::string::npos) << r.err;
  }
  std::vector<std::string> unknown = *names;
  unknown[0] = "blk.99.attn_q.weight";
  rewrite_static_scales(stat, bad, unknown, *scales);
  auto r = ts::run_cli({"run", "-m", bad, "-p", "x", "-n", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("which is not a tensor of the file"), std::string::npos) << r.err;
}
