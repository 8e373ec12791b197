// tokenizer.json tokenizers against Hugging Face (transformers.js) outputs in
// hf/*/cases.jsonl, and against llama.cpp's Llama 3 / Qwen 2 vectors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "vectors.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {
std::filesystem::path hf_dir() { return ts::shared_data() / "tokenizers/hf"; }

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (auto id : ids) s.append(" ").append(std::to_string(id));
  return s;
}

void check_cases(const std::string& name) {
  auto tok = Tokenizer::load((hf_dir() / name).string());
  std::istringstream lines(ts::read_file(hf_dir() / name / "cases.jsonl"));
  std::string line;
  int n = 0, failed = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto c = nlohmann::json::parse(line);
    ++n;
    const std::string text = c["text"];
    auto ids = c["ids"].get<std::vector<int32_t>>();
    auto ids_special = c["ids_with_special_tokens"].get<std::vector<int32_t>>();
    auto got = tok->encode(text, false, true);
    auto got_special = tok->encode(text, true, true);
    std::string dec = tok->decode(ids, false), dec_skip = tok->decode(ids, true);
    bool ok = got == ids && got_special == ids_special && dec == c["decoded"] && dec_skip == c["decoded_skip_special_tokens"];
    // The tokens (pieces) must be the vocab entries as stored.
    auto pieces = c["tokens"].get<std::vector<std::string>>();
    for (size_t i = 0; ok && i < pieces.size() && i < ids.size(); ++i) ok = tok->piece(ids[i]) == pieces[i];
    if (!ok && ++failed <= 6)
      ADD_FAILURE() << name << ": " << c["text"].dump() << "\n ids got:" << show(got) << "\nwant:" << show(ids)
                    << "\n with special got:" << show(got_special) << "\nwant:" << show(ids_special)
                    << "\n decoded: " << nlohmann::json(dec).dump() << " want " << c["decoded"].dump()
                    << "\n skip: " << nlohmann::json(dec_skip).dump() << " want "
                    << c["decoded_skip_special_tokens"].dump();
  }
  EXPECT_GT(n, 40);
  EXPECT_EQ(failed, 0) << name << ": " << failed << " of " << n << " cases differ";
}

void check_vectors(const std::string& hf_name, const std::string& vocab) {
  auto tok = Tokenizer::load((hf_dir() / hf_name).string());
  auto cases = tokvec::read_vectors(ts::shared_data() / "tokenizers/llamacpp/vectors_only" /
                                    ("ggml-vocab-" + vocab + ".gguf.inp"));
  ASSERT_GT(cases.size(), 30u);
  int failed = 0;
  for (const auto& c : cases) {
    auto got = tok->encode(c.text, false, false);
    if (got != c.ids && ++failed <= 5)
      ADD_FAILURE() << vocab << ": " << nlohmann::json(c.text).dump() << "\n got:" << show(got) << "\nwant:" << show(c.ids);
  }
  EXPECT_EQ(failed, 0);
}
}  // namespace

TEST(HfCases, Llama3) { check_cases("llama3"); }
TEST(HfCases, Qwen3) { check_cases("qwen3"); }
TEST(HfCases, Mistral) { check_cases("lenml-llama2_mistral-7b-vocab"); }

TEST(HfVectors, LlamaBpeWithLlama3Json) { check_vectors("llama3", "llama-bpe"); }
TEST(HfVectors, Qwen2WithQwen3Json) { check_vectors("qwen3", "qwen2"); }
TEST(HfVectors, DeepseekR1QwenWithQwen3Json) { check_vectors("qwen3", "deepseek-r1-qwen"); }

TEST(HfLoad, MetadataAndEog) {
  auto llama3 = Tokenizer::load((hf_dir() / "llama3/tokenizer.json").string());
  EXPECT_EQ(llama3->model_name(), "gpt2");
  EXPECT_EQ(llama3->pre_name(), "llama-bpe");
  EXPECT_EQ(llama3->bos(), 128000);
  EXPECT_EQ(llama3->eos(), 128001);
  EXPECT_FALSE(llama3->add_bos());  // this early tokenizer.json's post-processor adds nothing
  EXPECT_TRUE(llama3->is_eog(128001));
  EXPECT_TRUE(llama3->is_eog(llama3->find_piece("<|eot_id|>")));
  EXPECT_FALSE(llama3->is_eog(llama3->find_piece("<|start_header_id|>")));
  EXPECT_EQ(llama3->piece(1917), "\xC4\xA0world");

  auto qwen = Tokenizer::load((hf_dir() / "qwen3").string());
  EXPECT_EQ(qwen->pre_name(), "qwen2");
  EXPECT_EQ(qwen->bos(), -1);
  EXPECT_EQ(qwen->eos(), qwen->find_piece("<|im_end|>"));
  EXPECT_TRUE(qwen->is_eog(qwen->find_piece("<|im_end|>")));
  EXPECT_TRUE(qwen->is_eog(qwen->find_piece("<|endoftext|>")));
  // parse_special decides whether chat markup becomes one token.
  EXPECT_EQ(qwen->encode("<|im_start|>", false, true), std::vector<int32_t>{qwen->find_piece("<|im_start|>")});
  EXPECT_GT(qwen->encode("<|im_start|>", false, false).size(), 1u);

  auto mistral = Tokenizer::load((hf_dir() / "lenml-llama2_mistral-7b-vocab").string());
  EXPECT_EQ(mistral->model_name(), "llama");
  EXPECT_TRUE(mistral->add_bos());
  EXPECT_EQ(mistral->bos(), 1);
  EXPECT_TRUE(mistral->is_eog(2));
}

TEST(HfLoad, ClearErrors) {
  auto dir = ts::temp_dir("tokhf");
  ts::write_file(dir / "wp.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  try {
    Tokenizer::from_hf((dir / "wp.json").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos) << e.what();
  }
  ts::write_file(dir / "pre.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
      "pre_tokenizer": {"type": "Whitespace"}})");
  try {
    Tokenizer::from_hf((dir / "pre.json").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Whitespace"), std::string::npos) << e.what();
  }
  ts::write_file(dir / "ids.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 99999999}, "merges": []},
      "pre_tokenizer": {"type": "ByteLevel"}})");
  EXPECT_THROW(Tokenizer::from_hf((dir / "ids.json").string()), Error);  // no huge allocation
  ts::write_file(dir / "merge.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "b", "c"]]},
      "pre_tokenizer": {"type": "ByteLevel"}})");
  EXPECT_THROW(Tokenizer::from_hf((dir / "merge.json").string()), Error);
  ts::write_file(dir / "vocab.json", R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})");
  EXPECT_THROW(Tokenizer::from_hf((dir / "vocab.json").string()), Error);
  // Ids that are not int32 integers (a float this large cast to an integer was undefined behaviour).
  for (const char* id : {"6.66667e+116", "1.5", "\"6\"", "-3", "4294967296"}) {
    ts::write_file(dir / "added.json", fmt::format(R"({{"model": {{"type": "BPE", "vocab": {{"a": 0}}, "merges": []}},
        "added_tokens": [{{"id": {}, "content": "<x>", "special": true}}], "pre_tokenizer": {{"type": "ByteLevel"}}}})",
                                                   id));
    try {
      Tokenizer::from_hf((dir / "added.json").string());
      ADD_FAILURE() << id;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no valid token id"), std::string::npos) << e.what();
    }
  }
  ts::write_file(dir / "post.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
      "pre_tokenizer": {"type": "ByteLevel"}, "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>"}}], "special_tokens": {"<s>": {"ids": [1e300]}}}})");
  EXPECT_FALSE(Tokenizer::from_hf((dir / "post.json").string())->add_bos());  // ignored, not cast
  ts::write_file(dir / "bad.json", "{not json");
  EXPECT_THROW(Tokenizer::from_hf((dir / "bad.json").string()), Error);
  EXPECT_THROW(Tokenizer::load((dir / "nothing-here").string()), Error);
  EXPECT_THROW(Tokenizer::load(dir.string()), Error);  // folder without tokenizer.json
}

TEST(HfLoad, LegacyFalsePrefixesOnlyTheTextStart) {
  auto src = hf_dir() / "lenml-llama2_mistral-7b-vocab";
  auto dir = ts::temp_dir("toklegacy");
  std::filesystem::copy_file(src / "tokenizer.json", dir / "tokenizer.json");
  ts::write_file(dir / "tokenizer_config.json",
                 R"({"legacy": false, "tokenizer_class": "LlamaTokenizer", "add_bos_token": true})");
  auto legacy = Tokenizer::load(src.string());
  auto modern = Tokenizer::load(dir.string());
  int32_t sp_hello = legacy->find_piece("\xE2\x96\x81Hello"), hello = legacy->find_piece("Hello");
  ASSERT_GE(sp_hello, 0);
  ASSERT_GE(hello, 0);
  // legacy: "▁" after the special token too; legacy=false: only at the start.
  EXPECT_EQ(legacy->encode("</s>Hello", false, true), (std::vector<int32_t>{2, sp_hello}));
  EXPECT_EQ(modern->encode("</s>Hello", false, true), (std::vector<int32_t>{2, hello}));
  EXPECT_EQ(modern->encode("Hello", true, true), (std::vector<int32_t>{1, sp_hello}));
}

TEST(Streaming, HoldsIncompleteUtf8) {
  auto spm = Tokenizer::load((ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string());
  auto ids = spm->encode("a\xF0\x9F\xA6\x99", false, false);  // "a🦙": the llama needs 4 byte tokens
  ASSERT_EQ(ids.size(), 5u);
  StreamDecoder sd(*spm);
  EXPECT_EQ(sd.push(ids[0]), "a");
  EXPECT_EQ(sd.push(ids[1]), "");
  EXPECT_EQ(sd.push(ids[2]), "");
  EXPECT_EQ(sd.push(ids[3]), "");
  EXPECT_EQ(sd.push(ids[4]), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(sd.flush(), "");
  // An interrupted sequence becomes U+FFFD once it is known to be broken.
  StreamDecoder broken(*spm);
  EXPECT_EQ(broken.push(ids[1]), "");
  EXPECT_EQ(broken.push(ids[0]), "\xEF\xBF\xBD a");  // ids[0] is "▁a"

  auto llama3 = Tokenizer::load((hf_dir() / "llama3").string());
  auto emoji = llama3->encode("\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F", false, false);
  ASSERT_GT(emoji.size(), 1u);
  StreamDecoder sd3(*llama3);
  std::string all;
  for (int32_t id : emoji) {
    std::string part = sd3.push(id);
    EXPECT_TRUE(part.empty() || (static_cast<unsigned char>(part[0]) & 0xC0) != 0x80);
    all += part;
  }
  all += sd3.flush();
  EXPECT_EQ(all, "\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F");
}

TEST(Streaming, CleanUpSpacesLikeWholeDecode) {
  auto llama3 = Tokenizer::load((hf_dir() / "llama3").string());
  std::string text = "Hello , world ! How are you ? I do n't know . He 's here";
  auto ids = llama3->encode(text, false, false);
  std::string want = "Hello, world! How are you? I don't know. He's here";
  EXPECT_EQ(llama3->decode(ids), want);
  StreamDecoder sd(*llama3);
  std::string streamed;
  for (int32_t id : ids) streamed += sd.push(id);
  streamed += sd.flush();
  EXPECT_EQ(streamed, want);
}

TEST(HfLoad, SmallByteLevelTokenizerWithAddedTokenFlags) {
  // A hand-made byte-level BPE: merges in both forms, an added special token
  // with rstrip, and a non-special added token that is matched even when
  // parse_special is off.
  auto dir = ts::temp_dir("toksmall");
  ts::write_file(dir / "tokenizer.json", R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120ab": 4, "c": 5},
              "merges": ["a b", ["\u0120", "ab"]]},
    "added_tokens": [{"id": 6, "content": "<eot>", "special": true, "rstrip": true},
                     {"id": 7, "content": "zz", "special": false}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"}})");
  ts::write_file(dir / "tokenizer_config.json", R"({"eos_token": "<eot>"})");
  auto tok = Tokenizer::load(dir.string());
  EXPECT_EQ(tok->n_vocab(), 8);
  EXPECT_EQ(tok->eos(), 6);
  EXPECT_TRUE(tok->is_eog(6));
  EXPECT_EQ(tok->encode("ab ab", false, false), (std::vector<int32_t>{2, 4}));
  EXPECT_EQ(tok->encode("ab<eot>  ab", false, true), (std::vector<int32_t>{2, 6, 2}));  // rstrip ate the spaces
  EXPECT_EQ(tok->encode("czzc", false, false), (std::vector<int32_t>{5, 7, 5}));
  EXPECT_EQ(tok->decode({2, 6, 4}), "ab<eot> ab");
  EXPECT_EQ(tok->decode({2, 6, 4}, true), "ab ab");
}

TEST(HfLoad, GemmaStyleSentencePieceWithoutDummyPrefix) {
  // Gemma's layout: spaces -> "▁" by a Replace normalizer, no prefix, a no-op
  // Split on " ", byte fallback, and a decoder without Strip.
  auto dir = ts::temp_dir("tokgemma");
  ts::write_file(dir / "tokenizer.json", R"({
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
              "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<0x0A>": 4, "h": 5, "i": 6, "hi": 7,
                        "\u2581": 8, "\u2581hi": 9},
              "merges": ["h i", "\u2581 hi"]},
    "added_tokens": [{"id": 0, "content": "<pad>", "special": true}, {"id": 1, "content": "<eos>", "special": true},
                     {"id": 2, "content": "<bos>", "special": true}, {"id": 3, "content": "<unk>", "special": true}],
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"}]}})");
  auto tok = Tokenizer::load((dir / "tokenizer.json").string());
  EXPECT_EQ(tok->model_name(), "llama");
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->encode("hi hi\n", true, false), (std::vector<int32_t>{2, 7, 9, 4}));
  EXPECT_EQ(tok->decode({2, 9, 7}, true), " hihi");  // no Strip decoder: the space stays
  EXPECT_EQ(tok->decode_piece(2, 9), " hi");
}
