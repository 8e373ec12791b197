// Every command reads every file `quantize` writes (pocketllm's tiled types
// 1024..1035 included); convert dequantizes them; re-quantizing needs
// --allow-requantize and then gives the same codes. And quantize's own messages:
// checks before the work, the summary's real reasons and real sizes.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "formats/gguf.h"
#include "support/test_support.h"

namespace ts = testsupport;

namespace {
using ts::stories;

std::string quantize_group(const std::string& dir, const std::string& group, std::vector<std::string> extra = {}) {
  const std::string out = dir + "/q-g" + group + ".gguf";
  std::vector<std::string> args = {"quantize", stories("stories260K.bin"), out, "--tokenizer", stories("tok512.bin"),
                                   "--group", group, "-t", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = ts::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

std::set<std::string> tensor_types(const std::string& path) {
  std::set<std::string> types;
  for (auto& t : pocketllm::gguf::File::open(path)->tensors()) types.insert(pocketllm::dtype_name(t.type));
  return types;
}

// The tensors' bytes by name (metadata aside).
std::map<std::string, std::string> tensor_bytes(const std::string& path) {
  std::map<std::string, std::string> out;
  auto f = pocketllm::gguf::File::open(path);
  for (auto& t : f->tensors()) out[t.name] = std::string(reinterpret_cast<const char*>(t.data), t.nbytes);
  return out;
}
}  // namespace

TEST(QuantizedFiles, EveryCommandReadsThem) {
  const auto dir = ts::temp_dir("qfiles").string();
  for (const char* g : {"32", "0"}) {
    const std::string q = quantize_group(dir, g, {"--tiles"});
    const auto types = tensor_types(q);
    ASSERT_TRUE(types.count(g == std::string("32") ? "PL_W4_G32_T16" : "PL_W4_ROW_T16")) << *types.begin();
    auto r = ts::run_cli({"tokenize", "-m", q, "-p", "Once upon a time"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "[403,407,261,378]\n");
    r = ts::run_cli({"detokenize", "-m", q, "--ids", "403,407,261,378"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "Once upon a time");
    ts::write_file(dir + "/msgs.json", R"([{"role": "user", "content": "hi"}])");
    r = ts::run_cli({"template", "-m", q, "--chat-template", "chatml", "--messages", dir + "/msgs.json", "--ids"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = ts::run_cli({"info", q});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("int8, per token"), std::string::npos) << r.out;
    // convert dequantizes the tiles: standard float types only, and it still runs.
    const std::string f = dir + "/f-g" + std::string(g) + ".gguf";
    r = ts::run_cli({"convert", q, f, "--type", "f32"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(tensor_types(f), std::set<std::string>{"F32"});
    r = ts::run_cli({"run", "-m", f, "-p", "Once upon a time", "-n", "8", "--temp", "0", "-t", "1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
    // Round-to-nearest of its own dequantized weights finds the same codes and scales again.
    const std::string again = dir + "/again-g" + std::string(g) + ".gguf";
    r = ts::run_cli({"quantize", f, again, "--group", g, "--tiles", "-t", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(tensor_bytes(again), tensor_bytes(q)) << "group " << g;
  }
}

TEST(QuantizedFiles, RequantizingNeedsTheFlagAndThenWorks) {
  const auto dir = ts::temp_dir("requant").string();
  const std::string q = quantize_group(dir, "32", {"--tiles"});
  const std::string out = dir + "/re.gguf";
  auto r = ts::run_cli({"quantize", q, out, "-t", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already quantized (PL_W4_G32_T16"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-requantize"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  r = ts::run_cli({"quantize", q, out, "--tiles", "--allow-requantize", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tensor_bytes(out), tensor_bytes(q));
  // GGML's Q4_0/Q8_0 (the default output for whole blocks) are refused the same way.
  const std::string std_q = dir + "/std.gguf";
  r = ts::run_cli({"quantize", stories("stories260K.bin"), std_q, "--tokenizer", stories("tok512.bin"), "--compat", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = ts::run_cli({"quantize", std_q, out, "-t", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Q8_0"), std::string::npos) << r.err;
}

TEST(QuantizeMessages, ChecksComeBeforeTheWork) {
  const auto dir = ts::temp_dir("qmsg").string();
  const std::vector<std::string> base = {"quantize", stories("stories260K.bin"), dir + "/x.gguf", "--tokenizer",
                                         stories("tok512.bin"), "-t", "2"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return ts::run_cli(a);
  };
  auto r = with({"--method", "best"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--method best needs calibration data (--calib FILE)"), std::string::npos) << r.err;
  // A missing output folder fails at once (no calibration first) and names the output, not a temp file.
  const std::string missing = dir + "/no/such/folder/out.gguf";
  r = ts::run_cli({"quantize", stories("stories260K.bin"), missing, "--tokenizer", stories("tok512.bin"), "--calib",
                   (ts::shared_data() / "text/calib.txt").string(), "--gptq", "-t", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing + ": cannot write: the folder"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(".tmp."), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("calibrate"), std::string::npos) << r.err;
}

TEST(QuantizeMessages, SummaryGivesTheRealReasonsAndSizes) {
  const auto dir = ts::temp_dir("qsum").string();
  // stories260K's FFN rows are 172 wide: those tensors need pocketllm's padded types.
  auto r = ts::run_cli({"quantize", stories("stories260K.bin"), dir + "/a.gguf", "--tokenizer", stories("tok512.bin"), "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("rows of 172 weights are not a multiple of 32: 5 tensors"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("online rotation"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("static activation"), std::string::npos) << r.err;
  // Sizes as stored: an F16 input counts 2 bytes per weight, not 4.
  const std::string f16 = dir + "/f16.gguf";
  r = ts::run_cli({"convert", stories("stories260K.bin"), f16, "--tokenizer", stories("tok512.bin"), "--type", "f16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = ts::run_cli({"quantize", f16, dir + "/b.gguf", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(quantize: ([0-9.]+) MiB -> ([0-9.]+) MiB)"))) << r.err;
  const double in_mib = std::stod(m[1]), file_mib = static_cast<double>(std::filesystem::file_size(f16)) / 1048576.0;
  EXPECT_LE(in_mib, file_mib);        // the tensors are the file minus its metadata
  EXPECT_GT(in_mib, 0.9 * file_mib);  // (the F32 count was about twice the file)
}
