// `convert` carries weights AND vocabulary: the GGUF runs exactly like the llama2.c
// original, with no --tokenizer. `info` describes what was loaded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "support/test_support.h"

namespace ts = testsupport;
using nlohmann::json;

namespace {
using ts::stories;
}  // namespace

TEST(ConvertCli, Llama2cToGgufKeepsGoldenOutputAndVocab) {
  auto dir = ts::temp_dir("convert");
  const json g = json::parse(ts::read_file(stories("golden.json")));
  for (const char* type : {"f32", "f16"}) {
    const std::string out = (dir / (std::string("s-") + type + ".gguf")).string();
    auto r = ts::run_cli({"convert", stories("stories260K.bin"), out, "--tokenizer", stories("tok512.bin"), "--type", type});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto f = pocketllm::gguf::File::open(out);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model").value(), "llama");
    auto toks = f->get_string_array("tokenizer.ggml.tokens").value();
    ASSERT_EQ(toks.size(), 512u);
    EXPECT_EQ(toks[1], "<s>");
    EXPECT_EQ(toks[2], "</s>");
    EXPECT_EQ(toks[403], "\xe2\x96\x81Once");  // "▁Once": SPM spelling of the space
    auto& c = g["cases"][0];
    r = ts::run_cli({"run", "-m", out, "-p", c["prompt"].get<std::string>(), "-n",
                     std::to_string(c["generated_ids"].size()), "--temp", "0", "-t", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string want = c["run_c_cli_stdout"].get<std::string>();
    EXPECT_EQ(r.out, want.substr(0, want.size() - 1)) << type;  // run.c's final newline is not the model's
  }
}

TEST(InfoCli, DescribesEachFormat) {
  auto r = ts::run_cli({"info", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"llama2.c checkpoint", "architecture:    llama", "layers:          5",
                           "heads:           8 (KV heads 4, head dim 8)", "FFN size:        172", "tied",
                           "tensors:         47 (F32: 47)", "512 tokens", "chat template:   none"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  r = ts::run_cli({"info", (ts::shared_data() / "families/qwen2.gguf").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:    qwen2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("half-split"), std::string::npos) << r.out;
  // A vocab-only GGUF (no weights) is described as such, whatever architecture it names.
  r = ts::run_cli({"info", (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-gpt-2.gguf").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("vocabulary only"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gpt2 (pre gpt-2), 50257 tokens"), std::string::npos) << r.out;
}
