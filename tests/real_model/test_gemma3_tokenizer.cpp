// Gemma 3's tokenizer and chat prompts from the real GGUF's metadata (no weights
// needed, so these run before pocketllm reads K-quants) against llama.cpp's and
// transformers' token ids.
#include <gtest/gtest.h>

#include "chat/template.h"
#include "formats/gguf.h"
#include "gemma3_fixture.h"
#include "runtime/chat_format.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {

// The tokenizer of the real file (parsed once), or null with the reason in `why`.
const Tokenizer* gemma_tokenizer(std::string* why, bool* fatal) {
  *why = gemma3::missing("q4_k_m", false, fatal);
  if (!why->empty()) return nullptr;
  static const std::unique_ptr<Tokenizer> tok = Tokenizer::from_gguf(*gguf::File::open(gemma3::q4_path().string()));
  return tok.get();
}

#define GEMMA3_TOKENIZER_OR_SKIP(tok)           \
  std::string why_;                             \
  bool fatal_ = false;                          \
  const Tokenizer* tok = gemma_tokenizer(&why_, &fatal_); \
  if (fatal_) FAIL() << why_;                   \
  if (!tok) GTEST_SKIP() << why_

std::vector<ChatMessage> messages(const json& j) {
  std::vector<ChatMessage> m;
  for (const auto& e : j) m.push_back({e["role"].get<std::string>(), e["content"].get<std::string>()});
  return m;
}

}  // namespace

TEST(Gemma3Tokenizer, TheFileIsGemma3WithBosAndNoTemplate) {
  GEMMA3_TOKENIZER_OR_SKIP(tok);
  auto f = gguf::File::open(gemma3::q4_path().string());
  EXPECT_EQ(f->get_string("general.architecture").value_or(""), "gemma3");
  // Google's pretrained checkpoint (google/gemma-3-270m), not the -it one; no chat template.
  EXPECT_EQ(f->get_string("general.name").value_or(""), "Gemma 3 270m");
  EXPECT_FALSE(f->get_string("tokenizer.chat_template").has_value());
  EXPECT_EQ(tok->n_vocab(), 262144);
  EXPECT_EQ(tok->bos(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->is_eog(tok->find_piece("<end_of_turn>")));
  EXPECT_TRUE(tok->is_eog(tok->find_piece("<eos>")));
}

TEST(Gemma3Tokenizer, IdsMatchLlamaCppAndTransformers) {
  GEMMA3_TOKENIZER_OR_SKIP(tok);
  const json& cases = gemma3::reference()["tokenize"];
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    // llama.cpp: add_special (BOS), parse_special; transformers: no special tokens added.
    EXPECT_EQ(tok->encode(text, true, true), c["llama_ids"].get<std::vector<int32_t>>()) << "text: " << text;
    // A literal U+2581 is where the oracles disagree (transformers respells the file's
    // all-space tokens as "▁▁", so it merges "▁ " into token 138): follow llama.cpp there.
    if (c.contains("hf_ids") && text.find("\u2581") == std::string::npos) {
      EXPECT_EQ(tok->encode(text, false, true), c["hf_ids"].get<std::vector<int32_t>>()) << "text: " << text;
    }
  }
}

TEST(Gemma3Tokenizer, EvaluationTextIdsMatchLlamaCpp) {
  GEMMA3_TOKENIZER_OR_SKIP(tok);
  bool fatal = false;
  const std::string why = gemma3::missing("q4_k_m", true, &fatal);
  if (fatal) FAIL() << why;
  if (!why.empty()) GTEST_SKIP() << why;
  const json& ref = gemma3::reference()["eval_text"];
  const std::vector<int32_t> ids = tok->encode(ts::read_file(gemma3::eval_text_path()), true, false);
  const auto first = ref["first_ids"].get<std::vector<int32_t>>();
  ASSERT_GE(ids.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) ASSERT_EQ(ids[i], first[i]) << "first difference at token " << i;
  EXPECT_EQ(static_cast<int64_t>(ids.size()), ref["n_tokens"].get<int64_t>());
}

TEST(Gemma3Tokenizer, FallbackTemplateIsGemmaAndItsPromptIdsMatchLlamaCpp) {
  GEMMA3_TOKENIZER_OR_SKIP(tok);
  // The file has no chat template; its vocabulary's turn tokens pick the built-in one.
  EXPECT_EQ(builtin_template_for_vocab(*tok), "gemma");
  ChatFormatter fmt(*tok, *chat::builtin_chat_template("gemma"));
  const json& chats = gemma3::reference()["variants"]["q4_k_m"]["chat"];
  ASSERT_GE(chats.size(), 3u);
  for (const auto& c : chats) {
    // llama.cpp rendered these with its own built-in "gemma" format (llama_chat_apply_template).
    const std::string rendered = fmt.render(messages(c["messages"]), true);
    EXPECT_EQ("<bos>" + c["text"].get<std::string>(), rendered);
    EXPECT_EQ(fmt.tokenize(rendered), c["prompt_ids"].get<std::vector<int32_t>>()) << c["name"];
  }
}

TEST(Gemma3Tokenizer, RealGemma3TemplatePromptIdsMatchTransformersAndLlamaCpp) {
  GEMMA3_TOKENIZER_OR_SKIP(tok);
  const json& ref = gemma3::reference();
  if (!ref.contains("chat_renders")) GTEST_SKIP() << "the fixture was made without transformers";
  ChatFormatter fmt(*tok, ts::read_file(ts::shared_data() / "chat_templates/gemma-3-it.jinja"));
  for (const auto& c : ref["chat_renders"]) {
    const std::string rendered = fmt.render(messages(c["messages"]), true);
    EXPECT_EQ(rendered, c["rendered"].get<std::string>()) << c["name"];
    const auto ids = fmt.tokenize(rendered);
    EXPECT_EQ(ids, c["hf_ids"].get<std::vector<int32_t>>()) << c["name"];
    EXPECT_EQ(ids, c["llama_ids"].get<std::vector<int32_t>>()) << c["name"];
  }
}

// ../shared's Gemma 3 cases carry ids from a Gemma 3 tokenizer.json (a third source):
// the GGUF's vocabulary must give the same ids for the same renders.
TEST(Gemma3Tokenizer, SharedGemma3CasesIdsMatch) {
  GEMMA3_TOKENIZER_OR_SKIP(tok);
  const json cases = json::parse(ts::read_file(ts::shared_data() / "chat_templates/gemma-3-it.cases.json"))["cases"];
  int checked = 0;
  for (const auto& c : cases) {
    if (!c.contains("rendered_ids") || c["rendered_ids"].is_null()) continue;
    EXPECT_EQ(tok->encode(c["rendered"].get<std::string>(), false, true),
              c["rendered_ids"].get<std::vector<int32_t>>())
        << c["id"];
    ++checked;
  }
  EXPECT_GT(checked, 0);
}
