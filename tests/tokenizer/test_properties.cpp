// Properties over every vocabulary in ../shared/data/tokenizers: round trip of
// random NFC text, streaming == whole decode, invalid UTF-8 and empty input.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>

#include "formats/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/unicode_util.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

std::vector<std::string> all_sources() {
  auto base = ts::shared_data() / "tokenizers";
  std::vector<std::string> v;
  for (const char* n : {"llama-spm", "phi-3", "baichuan", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt",
                        "starcoder", "refact", "gpt-neox"})
    v.push_back((base / "llamacpp" / (std::string("ggml-vocab-") + n + ".gguf")).string());
  for (const char* n : {"llama3", "qwen3", "lenml-llama2_mistral-7b-vocab"}) v.push_back((base / "hf" / n).string());
  v.push_back((ts::shared_data() / "models/stories260K/tok512.bin").string());
  return v;
}

std::unique_ptr<Tokenizer> open(const std::string& src) {
  if (src.ends_with(".bin")) return Tokenizer::from_llama2c(src);
  return Tokenizer::load(src);
}

// Random text: mostly ASCII words and whitespace, plus accented Latin, Greek,
// Cyrillic, CJK, Hangul, emoji and combining marks; NFC-normalized.
std::string random_text(std::mt19937& rng, bool avoid_cleanup) {
  static const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'!', '/'}, {':', ';'}, {'?', '@'}, {'[', '`'}, {'{', '~'},
      {0xC0, 0xFF}, {0x391, 0x3C9}, {0x410, 0x44F}, {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x3040, 0x30FF},
      {0x1F600, 0x1F64F}, {0x300, 0x36F}, {0x2000, 0x206F}, {0x80, 0xBF}};
  static const char* spaces[] = {" ", " ", " ", "  ", "\n", "\t", "\r\n", "\n\n", "   "};
  std::string s;
  int n = std::uniform_int_distribution<int>(0, 24)(rng);
  for (int i = 0; i < n; ++i) {
    int r = std::uniform_int_distribution<int>(0, 9)(rng);
    if (r < 2) {
      s += spaces[std::uniform_int_distribution<size_t>(0, std::size(spaces) - 1)(rng)];
      continue;
    }
    // Weight ASCII letters most.
    size_t k = r < 6 ? std::uniform_int_distribution<size_t>(0, 1)(rng)
                     : std::uniform_int_distribution<size_t>(0, ranges.size() - 1)(rng);
    auto [lo, hi] = ranges[k];
    uint32_t cp = std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
    if (cp == '<' || cp == '>') cp = 'x';  // keeps special-token text out
    tok::append_utf8(s, cp);
  }
  s = tok::nfc(s);
  if (avoid_cleanup) {
    // clean_up_tokenization_spaces is lossy by design: drop the space it would remove.
    for (const char* p : {" .", " ?", " !", " ,", " '"}) {
      for (size_t pos; (pos = s.find(p)) != std::string::npos;) s.erase(pos, 1);
    }
  }
  return s;
}

class EveryVocab : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(EveryVocab, RoundTripOfRandomText) {
  auto tok = open(GetParam());
  std::mt19937 rng(1234);
  int failed = 0;
  for (int i = 0; i < 300; ++i) {
    std::string s = random_text(rng, tok->data().clean_up_spaces);
    auto ids = tok->encode(s, false, false);
    std::string back = tok->decode(ids);
    if (back != s && ++failed <= 3) ADD_FAILURE() << GetParam() << "\n  text: " << s << "\n  back: " << back;
  }
  EXPECT_EQ(failed, 0);
}

TEST_P(EveryVocab, StreamingMatchesDecodeAndNeverSplitsChars) {
  auto tok = open(GetParam());
  std::mt19937 rng(99);
  for (int i = 0; i < 100; ++i) {
    std::vector<int32_t> ids;
    if (i % 2 == 0) {
      ids = tok->encode(random_text(rng, false), i % 4 == 0, false);
    } else {  // arbitrary ids, including byte tokens in odd orders
      int n = std::uniform_int_distribution<int>(0, 30)(rng);
      for (int k = 0; k < n; ++k) ids.push_back(std::uniform_int_distribution<int32_t>(0, tok->n_vocab() - 1)(rng));
    }
    for (bool skip : {false, true}) {
      StreamDecoder sd(*tok, skip);
      std::string streamed;
      for (int32_t id : ids) {
        std::string part = sd.push(id);
        EXPECT_TRUE(tok::is_valid_utf8(part)) << GetParam();
        streamed += part;
      }
      std::string tail = sd.flush();
      EXPECT_TRUE(tok::is_valid_utf8(tail));
      streamed += tail;
      EXPECT_EQ(streamed, tok->decode(ids, skip)) << GetParam();
    }
  }
}

TEST_P(EveryVocab, InvalidUtf8AndEmptyInput) {
  auto tok = open(GetParam());
  EXPECT_TRUE(tok->encode("", false, false).empty());
  EXPECT_TRUE(tok->encode("", false, true).empty());
  auto with_special = tok->encode("", true, false);
  EXPECT_EQ(with_special.size(), static_cast<size_t>(tok->add_bos()) + static_cast<size_t>(tok->add_eos()));
  EXPECT_EQ(tok->decode({}), "");
  // Some vocabs lack the byte-level chars of bytes that never occur in UTF-8
  // (0xC0, 0xF5..0xFF; Falcon also some controls): those bytes are dropped, as in HF.
  std::vector<bool> missing(256);
  for (int b = 0; b < 256; ++b) {
    std::string piece = tok->model_name() == "gpt2" ? tok::byte_to_unicode(static_cast<uint8_t>(b))
                                                    : fmt::format("<0x{:02X}>", b);
    missing[b] = tok->find_piece(piece) < 0;
  }
  EXPECT_FALSE(missing['a'] || missing[0xE4] || missing[0x80]) << GetParam();
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s;
    int n = std::uniform_int_distribution<int>(1, 12)(rng);
    for (int k = 0; k < n; ++k) s += static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    auto ids = tok->encode(s, true, true);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
    std::string back = tok->decode(ids, true);
    EXPECT_TRUE(tok::is_valid_utf8(back));
    // Raw bytes survive as byte tokens: decoding gives the text with U+FFFD for
    // invalid sequences. (Added tokens decode as written, as in HF: DeepSeek's
    // "\xFD" byte is its added token "ý".)
    bool plain = !tok->data().clean_up_spaces && tok::nfc(s) == s;
    for (char c : s) plain = plain && !missing[static_cast<uint8_t>(c)];
    for (int32_t id : ids) plain = plain && !tok->is_special(id) && tok->token_type(id) != TokenType::UserDefined;
    if (plain) {
      EXPECT_EQ(back, tok::utf8_lossy(s)) << GetParam();
    }
  }
}

TEST_P(EveryVocab, GgufMetadataRoundTrip) {
  auto tok = open(GetParam());
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str("llama"));
  tok->write_gguf(w);
  auto path = ts::temp_dir("tokgguf") / "vocab.gguf";
  w.write(path.string());
  auto back = Tokenizer::from_gguf(*gguf::File::open(path.string()));
  EXPECT_EQ(back->n_vocab(), tok->n_vocab());
  EXPECT_EQ(back->bos(), tok->bos());
  EXPECT_EQ(back->eos(), tok->eos());
  EXPECT_EQ(back->add_bos(), tok->add_bos());
  EXPECT_EQ(back->eog_ids(), tok->eog_ids());
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) {
    std::string s = random_text(rng, false);
    EXPECT_EQ(back->encode(s, true, true), tok->encode(s, true, true)) << GetParam() << ": " << s;
  }
}

TEST_P(EveryVocab, LongRunsOfOneCharClass) {
  // Long single-class runs stress regex backtracking (JIT stack) and the merge queue.
  auto tok = open(GetParam());
  for (std::string s : {std::string(100000, ' '), std::string(100000, 'a'), std::string(50000, '7'),
                        std::string(50000, '\n') + "x", std::string(60000, '!') + " a"}) {
    auto ids = tok->encode(s, false, false);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(tok->decode(ids), s) << GetParam() << ": run of " << s.size();
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, EveryVocab, ::testing::ValuesIn(all_sources()),
                         [](const auto& info) {
                           std::string n = std::filesystem::path(info.param).filename().string();
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
