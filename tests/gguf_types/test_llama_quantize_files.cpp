// The same checks on files llama.cpp's own llama-quantize made (default mixes,
// from the peaked model's F16 conversion). Such files cannot be shipped or made
// in CI, so this runs only when POCKETLLM_LLAMA_QUANTIZE_DIR points at a folder
// holding them as <mix>.gguf; reference_llama_quantize.json holds their sha256s
// and llama.cpp's figures (record_llamacpp.py --llama-quantize-dir DIR makes
// both). docs/FORMAT.md lists the results.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "gguf_types/reference_checks.h"
#include "support/peaked_model.h"
#include "support/test_support.h"

namespace ts = testsupport;
using nlohmann::json;

namespace {
const json& quantize_reference() {
  static const json j = json::parse(
      ts::read_file(std::filesystem::path(POCKETLLM_SOURCE_DIR) / "tests/gguf_types/reference_llama_quantize.json"));
  return j;
}
class LlamaQuantizeFiles : public ::testing::TestWithParam<std::string> {};
}  // namespace

TEST_P(LlamaQuantizeFiles, MatchLlamaCpp) {
  const char* dir = std::getenv("POCKETLLM_LLAMA_QUANTIZE_DIR");
  if (!dir || !*dir)
    GTEST_SKIP() << "set POCKETLLM_LLAMA_QUANTIZE_DIR to a folder of llama-quantize's files: "
                    "tests/gguf_types/record_llamacpp.py --llama-quantize-dir DIR (needs a llama.cpp build) makes them";
  const auto path = std::filesystem::path(dir) / (GetParam() + ".gguf");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
  const json& f = quantize_reference()["files"][GetParam()];
  ASSERT_EQ(ts::sha256_file(path), f["sha256"].get<std::string>()) << path << " is not the recorded file";
  gguf_types::check_against_llamacpp(path, quantize_reference(), f, GetParam(), dir);
}

INSTANTIATE_TEST_SUITE_P(Files, LlamaQuantizeFiles, ::testing::ValuesIn(gguf_types::file_names(quantize_reference())),
                         [](const auto& info) { return info.param; });
