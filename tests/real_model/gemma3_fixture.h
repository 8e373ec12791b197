// The real Gemma 3 270M file (scripts/fetch-test-models.sh), its evaluation text
// (scripts/fetch-test-texts.sh), and what llama.cpp and transformers said about
// them (gemma3_reference.json, made by tests/reference/gemma3_fixtures.py).
//
// Variants: "q4_k_m" is the file as shipped; "f32" is llama.cpp's F32 copy of it
// (llama-quantize --allow-requantize, dequantized Q4_K_M), made only by the fixture
// script, so in CI that variant skips. A missing fetched file fails under
// POCKETLLM_REQUIRE_MODELS=1 (CI) and skips elsewhere, saying how to fetch it.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "model/model.h"
#include "support/test_support.h"

namespace gemma3 {

inline const nlohmann::json& reference() {
  static const nlohmann::json j = nlohmann::json::parse(
      testsupport::read_file(std::filesystem::path(POCKETLLM_SOURCE_DIR) / "tests/real_model/gemma3_reference.json"));
  return j;
}

inline std::filesystem::path q4_path() { return testsupport::models_dir() / "gemma-3-270m-q4_k_m.gguf"; }
inline std::filesystem::path eval_text_path() {
  return testsupport::models_dir() / reference()["eval_text"]["file"].get<std::string>();
}
inline std::filesystem::path variant_path(const std::string& v) {
  return testsupport::models_dir() / reference()["variants"][v]["file"].get<std::string>();
}

// Why a test on `variant` cannot run ("" when it can): a fetched file is missing
// (a failure under POCKETLLM_REQUIRE_MODELS=1: *fatal is set), or the F32 copy was never made.
inline std::string missing(const std::string& variant, bool need_text, bool* fatal) {
  *fatal = false;
  if (!std::filesystem::exists(q4_path())) {
    *fatal = testsupport::models_required();
    return q4_path().string() + " is missing: run scripts/fetch-test-models.sh";
  }
  if (need_text && !std::filesystem::exists(eval_text_path())) {
    *fatal = testsupport::models_required();
    return eval_text_path().string() + " is missing: run scripts/fetch-test-texts.sh";
  }
  if (variant != "q4_k_m" && !std::filesystem::exists(variant_path(variant)))
    return variant_path(variant).string() +
           " is missing: it is made outside CI by tests/reference/gemma3_fixtures.py (needs llama.cpp)";
  return "";
}

// Loads a variant once per test program (a load error fails the test).
const pocketllm::Model& load_variant(const std::string& variant);

}  // namespace gemma3

// In a test body: skip (or fail in CI) when the variant's files are missing; else
// `out` is the loaded model.
#define GEMMA3_MODEL_OR_SKIP(out, variant, need_text)                    \
  do {                                                                     \
    bool fatal_ = false;                                                   \
    const std::string why_ = gemma3::missing(variant, need_text, &fatal_); \
    if (fatal_) FAIL() << why_;                                            \
    if (!why_.empty()) GTEST_SKIP() << why_;                               \
    out = &gemma3::load_variant(variant);                                  \
  } while (0)
