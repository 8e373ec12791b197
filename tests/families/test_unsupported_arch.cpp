// Architectures pocketllm does not run are refused up front, by every command and
// from both formats, with a message that names the architecture and lists the
// supported ones (never a crash or a half-loaded model).
#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/model.h"
#include "support/test_support.h"

namespace ts = testsupport;
using namespace pocketllm;

namespace {
void expect_names_all_supported(const std::string& msg, const std::vector<const char*>& names) {
  for (const char* name : names) EXPECT_NE(msg.find(name), std::string::npos) << name << " not in: " << msg;
}

const std::vector<const char*> kGgufNames = {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"};
const std::vector<const char*> kHfTypes = {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3"};
}  // namespace

TEST(UnsupportedArchitecture, GgufIsRefusedByNameWithTheSupportedList) {
  const auto dir = ts::temp_dir("unsupported-gguf");
  for (const char* arch : {"mamba", "gemma", "phi2", "qwen2moe"}) {
    SCOPED_TRACE(arch);
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::str(arch));
    w.set(std::string(arch) + ".block_count", gguf::Value::u32(1));
    w.set(std::string(arch) + ".embedding_length", gguf::Value::u32(8));
    std::vector<float> emb(8 * 4, 0.5f);
    w.add_tensor("token_embd.weight", DType::F32, {8, 4}, emb.data(), emb.size() * 4);
    const std::string path = (dir / (std::string(arch) + ".gguf")).string();
    w.write(path);
    try {
      load_model(path);
      ADD_FAILURE() << arch << " loaded";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("unsupported architecture '") + arch + "'"), std::string::npos) << msg;
      expect_names_all_supported(msg, kGgufNames);
    }
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"info", path}, {"run", "-m", path, "-p", "x", "-n", "1"},
          {"quantize", path, (dir / "q.gguf").string()}}) {
      auto r = ts::run_cli(cmd);
      EXPECT_EQ(r.exit_code, 1) << cmd[0];
      EXPECT_NE(r.err.find(std::string("unsupported architecture '") + arch + "'"), std::string::npos)
          << cmd[0] << ": " << r.err;
      expect_names_all_supported(r.err, kGgufNames);
    }
  }
}

TEST(UnsupportedArchitecture, HuggingFaceModelTypeIsRefusedByNameWithTheSupportedList) {
  const auto dir = ts::temp_dir("unsupported-hf");
  for (const char* type : {"gemma", "phi", "mixtral", "falcon_mamba"}) {
    SCOPED_TRACE(type);
    const auto folder = dir / type;
    std::filesystem::create_directories(folder);
    ts::write_file(folder / "config.json", std::string(R"({"model_type": ")") + type +
                                               R"(", "hidden_size": 8, "num_hidden_layers": 1})");
    auto r = ts::run_cli({"info", folder.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(std::string("unsupported architecture '") + type + "'"), std::string::npos) << r.err;
    expect_names_all_supported(r.err, kHfTypes);
  }
}
