// Special tokens that take the whitespace next to them (tokenizer.json's lstrip /
// rstrip; for GGUF, which does not store them, the family's rules as llama.cpp
// applies them), against Hugging Face `tokenizers` outputs recorded in
// fixtures/special_strip.json by make_strip_fixture.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {
const json& strip_cases() {
  static const json f = json::parse(ts::read_test_file("tokenizer/fixtures/special_strip.json"));
  return f;
}

std::string ids_text(const std::vector<int32_t>& ids) { return json(ids).dump(); }

void expect_cases(const Tokenizer& tok, const json& variant, const std::string& name) {
  for (const auto& c : variant["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(ids_text(tok.encode(text, false, true)), ids_text(c["ids"].get<std::vector<int32_t>>()))
        << name << ": " << json(text).dump();
  }
}

// The fixture's base tokenizer.json with its added tokens replaced or extended by the
// variant's patch (by id), written to a fresh folder: the file the oracle tokenized with.
std::string patched_tokenizer_json(const json& variant, const std::string& tag) {
  json tj = json::parse(ts::read_file(ts::shared_data() / "tokenizers" / variant["base"].get<std::string>()));
  std::map<int64_t, json> by_id;
  for (const auto& a : tj["added_tokens"]) by_id[a["id"].get<int64_t>()] = a;
  for (const auto& p : variant["patch"]) by_id[p["id"].get<int64_t>()] = p;
  tj["added_tokens"] = json::array();
  for (auto& [id, a] : by_id) tj["added_tokens"].push_back(a);
  const auto dir = ts::temp_dir(tag);
  ts::write_file(dir / "tokenizer.json", tj.dump());
  return dir.string();
}
}  // namespace

TEST(SpecialStrip, TokenizerJsonFlagsSentencePieceStyle) {
  const json& v = strip_cases()["variants"]["spm"];
  expect_cases(*Tokenizer::from_hf(patched_tokenizer_json(v, "strip-spm")), v, "spm");
}

TEST(SpecialStrip, TokenizerJsonFlagsByteLevel) {
  const json& v = strip_cases()["variants"]["qwen3"];
  expect_cases(*Tokenizer::from_hf(patched_tokenizer_json(v, "strip-qwen3")), v, "qwen3");
}

// Phi-3's GGUF: the same ids as Hugging Face gives with Phi-3's tokenizer.json.
TEST(SpecialStrip, GgufFamilyRulesPhi3) {
  const json& v = strip_cases()["variants"]["phi3_gguf"];
  auto tok = Tokenizer::load((ts::shared_data() / "tokenizers" / v["base"].get<std::string>()).string());
  expect_cases(*tok, v, "phi3 gguf");
  // Other families keep every whitespace (Llama-2's vocab without Phi-3's name).
  auto llama = Tokenizer::load((ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string());
  const auto ids = llama->encode("</s>\nx", false, true);
  ASSERT_GE(ids.size(), 3u) << ids_text(ids);
  EXPECT_EQ(ids[0], 2);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 13), ids.end()) << ids_text(ids);  // <0x0A>: the newline kept
}
