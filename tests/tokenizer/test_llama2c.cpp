// The stories260K llama2.c tokenizer against the reference run.c outputs (golden.json).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <utility>

#include "core/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {
std::string tok512() { return (ts::shared_data() / "models/stories260K/tok512.bin").string(); }
nlohmann::json golden() {
  return nlohmann::json::parse(ts::read_file(ts::shared_data() / "models/stories260K/golden.json"));
}
}  // namespace

TEST(Llama2c, VocabAsSentencePiece) {
  auto tok = Tokenizer::from_llama2c(tok512());
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_EQ(tok->unk(), 0);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  EXPECT_EQ(tok->piece(0), "<unk>");
  EXPECT_EQ(tok->piece(1), "<s>");
  EXPECT_EQ(tok->piece(2), "</s>");
  EXPECT_EQ(tok->piece(3), "<0x00>");
  EXPECT_EQ(tok->piece(13), "<0x0A>");
  EXPECT_EQ(tok->piece(403), "\xE2\x96\x81Once");
  EXPECT_TRUE(tok->is_byte(13));
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(403));
  EXPECT_TRUE(tok->is_eog(1));  // run.c stops when BOS is sampled
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_FALSE(tok->is_eog(0));
  EXPECT_FALSE(tok->is_eog(403));
}

TEST(Llama2c, EncodesGoldenPrompts) {
  auto tok = Tokenizer::from_llama2c(tok512());
  auto g = golden();
  ASSERT_GE(g["cases"].size(), 4u);
  for (const auto& c : g["cases"]) {
    std::string prompt = c["prompt"];
    auto want = c["prompt_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok->encode(prompt, true, false), want) << prompt;
    // Without add_special there is no BOS.
    std::vector<int32_t> no_bos(want.begin() + 1, want.end());
    EXPECT_EQ(tok->encode(prompt, false, false), no_bos) << prompt;
  }
}

TEST(Llama2c, DecodePieceReproducesRunCOutput) {
  auto tok = Tokenizer::from_llama2c(tok512());
  auto g = golden();
  for (const auto& c : g["cases"]) {
    auto ids = c["full_sequence_ids"].get<std::vector<int32_t>>();
    std::string text;
    for (size_t i = 1; i < ids.size(); ++i) text += tok->decode_piece(ids[i - 1], ids[i]);
    EXPECT_EQ(text, c["generated_text"].get<std::string>()) << c["prompt"];
  }
  // Byte tokens come out raw; the BOS piece keeps the file's spelling.
  EXPECT_EQ(tok->decode_piece(403, 13), "\n");
  EXPECT_EQ(tok->decode_piece(1, 403), "Once");
  EXPECT_EQ(tok->decode_piece(261, 403), " Once");
  EXPECT_EQ(tok->decode_piece(5, 2), "\n</s>\n");
}

TEST(Llama2c, DecodeFollowsSentencePieceRules) {
  auto tok = Tokenizer::from_llama2c(tok512());
  auto g = golden();
  for (const auto& c : g["cases"]) {
    auto ids = c["full_sequence_ids"].get<std::vector<int32_t>>();
    std::string want = c["generated_text"];
    EXPECT_EQ(tok->decode(ids, true), want);             // BOS skipped, leading space dropped
    EXPECT_EQ(tok->decode(ids, false), "<s> " + want);   // HF: "<s>" kept, then " Once"
  }
  // Streaming yields the same text piece by piece.
  auto ids = g["cases"][0]["full_sequence_ids"].get<std::vector<int32_t>>();
  StreamDecoder s(*tok, true);
  std::string streamed;
  for (int32_t id : ids) streamed += s.push(id);
  streamed += s.flush();
  EXPECT_EQ(streamed, g["cases"][0]["generated_text"].get<std::string>());
}

TEST(Llama2c, ByteFallbackAndRoundTrip) {
  auto tok = Tokenizer::from_llama2c(tok512());
  // CJK is not in this 512-token vocab: byte fallback ids are byte + 3.
  auto ids = tok->encode("\xE4\xBD\xA0", false, false);  // 你
  std::vector<int32_t> want = {tok->find_piece("\xE2\x96\x81"), 0xE4 + 3, 0xBD + 3, 0xA0 + 3};
  EXPECT_EQ(ids, want);
  for (std::string s : {"Once upon a time, Lily saw a cat.", "\xE4\xBD\xA0\xE5\xA5\xBD world\n\ttab", "  two spaces"})
    EXPECT_EQ(tok->decode(tok->encode(s, true, false), true), s);
  // Invalid UTF-8 is tokenized as raw bytes, never rejected.
  auto bad = tok->encode("a\xFF\xC3", false, false);
  EXPECT_EQ(bad.back(), 0xC3 + 3);
  EXPECT_EQ(bad[bad.size() - 2], 0xFF + 3);
  EXPECT_TRUE(tok->encode("", false, false).empty());
  EXPECT_EQ(tok->encode("", true, false), std::vector<int32_t>{1});
}

TEST(Llama2c, SpecialTextParsedOnlyOnRequest) {
  auto tok = Tokenizer::from_llama2c(tok512());
  auto plain = tok->encode("a</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  auto parsed = tok->encode("a</s>", false, true);
  EXPECT_EQ(parsed.back(), 2);
}

TEST(Llama2c, RejectsBadFiles) {
  auto dir = ts::temp_dir("tok");
  ts::write_file(dir / "bad.bin", std::string("\x07\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\x7f", 12));
  EXPECT_THROW(Tokenizer::from_llama2c((dir / "bad.bin").string()), Error);
  EXPECT_THROW(Tokenizer::from_llama2c((dir / "missing.bin").string()), Error);
}

TEST(Llama2c, SameVocabInFamilyGgufs) {
  auto ref = nlohmann::json::parse(ts::read_file(ts::shared_data() / "families/reference.json"));
  auto bin = Tokenizer::from_llama2c(tok512());
  for (const char* name : {"llama-tied.gguf", "qwen2.gguf"}) {
    auto tok = Tokenizer::load((ts::shared_data() / "families" / name).string());
    const auto& f = ref["files"][name];
    std::string prompt = f["greedy_prompt"];
    EXPECT_EQ(tok->encode(prompt, true, false), f["greedy_prompt_ids"].get<std::vector<int32_t>>()) << name;
    EXPECT_EQ(tok->encode(prompt, true, false), bin->encode(prompt, true, false));
    EXPECT_TRUE(tok->is_eog(2));
    // llama.cpp printed the generated pieces one after another.
    auto gen = f["greedy_token_ids"].get<std::vector<int32_t>>();
    std::string text;
    int32_t prev = f["greedy_prompt_ids"].back();
    for (int32_t id : gen) text += tok->decode_piece(std::exchange(prev, id), id);
    EXPECT_EQ(text, f["greedy_text"].get<std::string>()) << name;
  }
}
