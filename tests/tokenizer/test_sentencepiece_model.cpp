// SentencePiece .model files read directly (Tokenizer::from_sentencepiece), against
// SentencePiece itself: fixtures/tok512_model.json, recorded by make_spm_fixture.py.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {
const json& fixture() {
  static const json f = json::parse(ts::read_test_file("tokenizer/fixtures/tok512_model.json"));
  return f;
}
std::string model_path() { return (ts::shared_data() / fixture()["model"].get<std::string>()).string(); }
}  // namespace

TEST(SentencePieceModel, VocabularyAndSpecialIds) {
  auto tok = Tokenizer::load(model_path());
  const json& f = fixture();
  EXPECT_EQ(tok->n_vocab(), f["n_vocab"].get<int>());
  EXPECT_EQ(tok->bos(), f["bos"].get<int>());
  EXPECT_EQ(tok->eos(), f["eos"].get<int>());
  EXPECT_EQ(tok->unk(), f["unk"].get<int>());
  EXPECT_EQ(tok->pad(), f["pad"].get<int>());
  for (auto& [id, piece] : f["pieces"].items()) EXPECT_EQ(tok->piece(std::stoi(id)), piece.get<std::string>()) << id;
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->is_byte(13));
  // The same pieces and scores as the llama2.c export of the same vocabulary.
  auto bin = Tokenizer::from_llama2c((ts::shared_data() / "models/stories260K/tok512.bin").string());
  for (int32_t i = 3; i < tok->n_vocab(); ++i) ASSERT_EQ(tok->piece(i), bin->piece(i)) << i;
}

TEST(SentencePieceModel, EncodesAndDecodesAsSentencePiece) {
  auto tok = Tokenizer::load(model_path());
  for (const auto& c : fixture()["cases"]) {
    const std::string text = c["text"];
    const auto want = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(json(tok->encode(text, false, false)).dump(), json(want).dump()) << json(text).dump();
    EXPECT_EQ(tok->decode(want), c["decoded"].get<std::string>()) << json(text).dump();
  }
  auto with_bos = tok->encode("Once upon", true, false);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos[0], 1);
}

TEST(SentencePieceModel, RefusesWhatItCannotTokenizeExactly) {
  const auto dir = ts::temp_dir("spm-model");
  // Not a protobuf at all, a truncated one, and a checkpoint given as a tokenizer.
  ts::write_file(dir / "junk.model", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11));
  EXPECT_THROW(Tokenizer::load((dir / "junk.model").string()), Error);
  const std::string real = ts::read_file(model_path());
  ts::write_file(dir / "cut.model", real.substr(0, real.size() / 2));
  EXPECT_THROW(Tokenizer::load((dir / "cut.model").string()), Error);
  try {
    Tokenizer::load((ts::shared_data() / "models/stories260K/stories260K.bin").string());
    ADD_FAILURE() << "a checkpoint loaded as a tokenizer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds no tokenizer"), std::string::npos) << e.what();
  }
  // A Unigram model (trainer_spec.model_type = 1): refused by name. The smallest such file:
  // one piece, then trainer_spec {model_type: 1}, normalizer_spec {name: "identity"}.
  const std::string unigram = std::string("\x0a\x05\x0a\x03<s>", 7) + std::string("\x12\x02\x18\x01", 4) +
                              std::string("\x1a\x0a\x0a\x08identity", 12);
  ts::write_file(dir / "unigram.model", unigram);
  try {
    Tokenizer::load((dir / "unigram.model").string());
    ADD_FAILURE() << "a Unigram model loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Unigram"), std::string::npos) << e.what();
  }
}
