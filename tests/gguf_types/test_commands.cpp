// Every command that reads a model, on a K-quant mix file (`quantize --type
// Q4_K_M` of the peaked model): info names each tensor's type and the file's
// mix, convert to F16 / F32 keeps the dequantized values, quantize takes it as
// input, run / chat / bench / perplexity / serve run it; bad --type values are errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>
#include <tuple>

#include "kernels/linear.h"
#include "model/model.h"
#include "server/server_process.h"
#include "support/peaked_model.h"
#include "support/test_support.h"
#include "weights/row_codec.h"

namespace ts = testsupport;
using namespace pocketllm;

namespace {
// The peaked model and its Q4_K_M mix, once per process.
const std::filesystem::path& q4_k_m() {
  static const std::filesystem::path p = [] {
    const auto dir = ts::temp_dir("gguf-cmds");
    ts::write_peaked_model(dir / "f32.gguf");
    const auto r = ts::run_cli({"quantize", (dir / "f32.gguf").string(), (dir / "q4km.gguf").string(), "--type", "Q4_K_M"});
    if (r.exit_code != 0) throw std::runtime_error(r.err);
    return dir / "q4km.gguf";
  }();
  return p;
}

std::vector<float> tensor_values(const Model& m, const std::string& name) {
  const TensorRef& t = m.tensors.at(name);
  Matrix mat = make_matrix(t.type, static_cast<int64_t>(t.ne[1]), static_cast<int64_t>(t.ne[0]), t.data);
  std::vector<float> v(t.ne[0] * t.ne[1]);
  for (int64_t r = 0; r < mat.rows; ++r) matrix_row(mat, r, v.data() + r * mat.cols);
  return v;
}
}  // namespace

TEST(GgufTypeCommands, InfoShowsEveryTensorTypeAndTheMix) {
  const auto r = ts::run_cli({"info", q4_k_m().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("file type:       Q4_K_M (general.file_type 15)"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(output\.weight +Q6_K +\[256, 512\])"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(blk\.0\.attn_q\.weight +Q4_K )"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(blk\.3\.ffn_down\.weight +Q6_K )"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(blk\.0\.attn_norm\.weight +F32 +\[256\])"))) << r.out;
  // Q4_K and Q6_K have integer kernels (int8 activations) on the ref and x86 tables;
  // elsewhere they go through the float path (docs/FORMAT.md).
  const bool int8 = int8_activations(DType::Q4_K) && int8_activations(DType::Q6_K);
  EXPECT_NE(r.out.find(int8 ? "activations:     int8, per token (dynamic ranges)\n"
                            : "activations:     float (Q4_K, Q6_K rows dequantized as read)\n"),
            std::string::npos)
      << r.out;
}

TEST(GgufTypeCommands, ConvertToF16AndF32KeepsTheDequantizedValues) {
  auto q = load_model(q4_k_m().string());
  for (auto [type, dtype, file_type, tolerance] : {std::tuple{"f16", DType::F16, "F16 (general.file_type 1)", 1e-3},
                                                   std::tuple{"f32", DType::F32, "F32 (general.file_type 0)", 0.0}}) {
    SCOPED_TRACE(type);
    const auto out = q4_k_m().parent_path() / (std::string("from_q4km_") + type + ".gguf");
    const auto r = ts::run_cli({"convert", q4_k_m().string(), out.string(), "--type", type});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto f = load_model(out.string());
    EXPECT_EQ(f->tensors.at("blk.1.ffn_gate.weight").type, dtype);
    EXPECT_EQ(f->tensors.at("blk.1.ffn_norm.weight").type, DType::F32);
    for (const char* name : {"blk.1.ffn_gate.weight", "output.weight", "token_embd.weight"}) {
      const auto a = tensor_values(*q, name), b = tensor_values(*f, name);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_NEAR(b[i], a[i], std::fabs(a[i]) * tolerance + (tolerance > 0 ? 1e-7 : 0.0)) << name << " " << i;
    }
    const auto info = ts::run_cli({"info", out.string()});
    EXPECT_NE(info.out.find(std::string("file type:       ") + file_type), std::string::npos) << info.out;
  }
}

TEST(GgufTypeCommands, QuantizeTakesAK_QuantFileAsInput) {
  const auto dir = q4_k_m().parent_path();
  for (std::vector<std::string> extra : {std::vector<std::string>{"--scheme", "w8a8"}, {"--type", "Q8_0"}}) {
    const auto out = dir / ("requant_" + extra[1] + ".gguf");
    std::vector<std::string> args = {"quantize", q4_k_m().string(), out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    // Without --allow-requantize an already quantized input is refused, as llama-quantize does.
    auto r = ts::run_cli(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--allow-requantize"), std::string::npos) << r.err;
    args.push_back("--allow-requantize");
    r = ts::run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // 8-bit codes of Q4_K values: the requantized weights stay within a Q8_0 step of them.
    auto q = load_model(q4_k_m().string()), o = load_model(out.string());
    const auto a = tensor_values(*q, "blk.2.attn_k.weight"), b = tensor_values(*o, "blk.2.attn_k.weight");
    float amax = 0;
    for (float v : a) amax = std::max(amax, std::fabs(v));
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(b[i], a[i], amax / 100) << i;
  }
}

TEST(GgufTypeCommands, RunChatBenchPerplexity) {
  const std::string m = q4_k_m().string();
  auto r = ts::run_cli({"run", "-m", m, "-p", "Once upon a time", "-n", "8", "--temp", "0", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), std::string("Once upon a time").size());
  r = ts::run_cli({"chat", "-m", m, "--chat-template", "chatml", "-n", "4", "--temp", "0", "-t", "1"}, "Hello\n/bye\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = ts::run_cli({"bench", "-m", m, "-p", "16", "-n", "4", "-r", "1", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tg4"), std::string::npos) << r.out;
  const auto text = q4_k_m().parent_path() / "text.txt";
  ts::write_file(text, ts::read_file(ts::shared_data() / "families/text.txt").substr(0, 2500));
  r = ts::run_cli({"perplexity", "-m", m, "-f", text.string(), "-c", "128", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Final estimate: PPL = "), std::string::npos) << r.out;
}

TEST(GgufTypeCommands, ServeAnswersAsRunDoes) {
  const std::string m = q4_k_m().string();
  const auto run = ts::run_cli({"run", "-m", m, "-p", "Once upon a time", "-n", "8", "--temp", "0", "-t", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  servertest::ServerProcess server({"-m", m, "--chat-template", "chatml"}, {});
  ASSERT_NE(server.port(), 0);
  const nlohmann::json body = {{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0}};
  const auto r = servertest::http_post(server.port(), "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string text = r.json()["choices"][0]["text"].get<std::string>();
  EXPECT_FALSE(text.empty());
  EXPECT_NE(run.out.find("Once upon a time" + text), std::string::npos) << "run: " << run.out << "\nserve: " << text;
}

// A type GGUF knows and pocketllm does not read (IQ2_XS) is refused at load, naming
// the tensor and the type, by every command that runs the model.
TEST(GgufTypeCommands, AnUnreadableTypeIsRefusedAtLoad) {
  std::string bytes = ts::read_file(q4_k_m());
  // The tensor-info entry: name (u64 length + bytes), n_dims (u32), dims (u64 each), type (u32).
  const std::string name = "blk.0.attn_q.weight";
  const size_t at = bytes.find(name);
  ASSERT_NE(at, std::string::npos);
  uint32_t n_dims = 0;
  std::memcpy(&n_dims, bytes.data() + at + name.size(), 4);
  ASSERT_EQ(n_dims, 2u);
  const size_t type_at = at + name.size() + 4 + 8 * n_dims;
  uint32_t type = 0;
  std::memcpy(&type, bytes.data() + type_at, 4);
  ASSERT_EQ(type, static_cast<uint32_t>(DType::Q4_K));
  type = static_cast<uint32_t>(DType::IQ2_XS);  // 74 bytes a block, fewer than Q4_K's 144: the data fits
  std::memcpy(bytes.data() + type_at, &type, 4);
  const auto path = q4_k_m().parent_path() / "iq2_xs.gguf";
  ts::write_file(path, bytes);
  for (std::vector<std::string> cmd : {std::vector<std::string>{"run", "-p", "Once", "-n", "1"}, {"bench", "-p", "8", "-n", "1"}}) {
    cmd.insert(cmd.begin() + 1, {"-m", path.string()});
    const auto r = ts::run_cli(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.err.find("tensor 'blk.0.attn_q.weight': weights of type IQ2_XS are not supported"), std::string::npos)
        << cmd[0] << ": " << r.err;
  }
}

TEST(GgufTypeCommands, BadTypesAreErrors) {
  const auto dir = q4_k_m().parent_path();
  const std::string in = (dir / "f32.gguf").string(), out = (dir / "bad.gguf").string();
  auto r = ts::run_cli({"quantize", in, out, "--type", "Q9_K"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown --type 'Q9_K'"), std::string::npos) << r.err;
  r = ts::run_cli({"quantize", in, out, "--pure"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--pure"), std::string::npos) << r.err;
  r = ts::run_cli({"quantize", in, out, "--type", "Q4_K_M", "--rotate"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--type"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}
