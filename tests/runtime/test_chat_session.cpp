// Multi-turn chat: the KV cache is reused up to the longest common prefix, and
// the first answer token is the model's prediction after the WHOLE prompt.
#include <gtest/gtest.h>

#include "model/context.h"
#include "runtime/chat_session.h"
#include "runtime/generation.h"
#include "sampling/sampler.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {
const char* kStoryTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}"
    "{% else %}{{ ' ' + m['content'] + '\\n' }}{% endif %}{% endfor %}";

std::unique_ptr<Model> stories() {
  LoadOptions lo;
  lo.tokenizer_path = (ts::shared_data() / "models/stories260K/tok512.bin").string();
  return load_model((ts::shared_data() / "models/stories260K/stories260K.bin").string(), lo);
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

int32_t greedy_after(const Model& m, const std::vector<int32_t>& ids) {
  ContextParams p;
  p.n_threads = 1;
  Context fresh(m, p);
  const float* logits = fresh.eval(ids.data(), static_cast<int64_t>(ids.size()));
  return argmax(logits, m.cfg.n_vocab);
}
}  // namespace

TEST(ChatSession, ThreeTurnsReuseTheCommonPrefixAndConditionOnTheWholePrompt) {
  auto m = stories();
  ContextParams p;
  p.n_threads = 1;
  Context ctx(*m, p);
  ChatFormatter fmt(*m->tokenizer, kStoryTemplate);
  SamplingParams sp;
  sp.temp = 0;
  ChatSession chat(ctx, fmt, sp);
  std::vector<int32_t> cached;  // what the cache must hold after each turn, computed here independently
  const char* turns[] = {"Once upon a time", "Lily went to the park", "The dog was big"};
  for (int t = 0; t < 3; ++t) {
    ChatSession::TurnOptions opt;
    opt.n_predict = 16;
    TurnResult r = chat.respond(turns[t], opt);
    // The prompt is the whole conversation rendered and tokenized again.
    std::vector<ChatMessage> all = chat.messages();
    all.pop_back();  // the answer just added
    const auto ids = fmt.tokenize(fmt.render(all, true));
    EXPECT_EQ(r.prompt_ids, ids);
    const size_t lcp = common_prefix(ids, cached);
    EXPECT_EQ(r.stats.n_prompt, static_cast<int64_t>(ids.size() - lcp)) << "turn " << t + 1;
    if (t > 0) {
      EXPECT_GT(lcp, 0u) << "turn " << t + 1 << " reused nothing";
    }
    ASSERT_FALSE(r.generated.empty());
    EXPECT_EQ(r.generated.front(), greedy_after(*m, ids)) << "turn " << t + 1;
    EXPECT_EQ(r.finish_reason, "length");
    // Evaluated tokens: the prompt and all generated tokens but the last (never fed back).
    cached = ids;
    cached.insert(cached.end(), r.generated.begin(), r.generated.end() - 1);
  }
}

TEST(ChatSession, ContextFullDropsOldestTurnsButKeepsSystem) {
  auto m = stories();
  ContextParams p;
  p.n_threads = 1;
  p.n_ctx = 96;
  Context ctx(*m, p);
  ChatFormatter fmt(*m->tokenizer,
                    "{% for m in messages %}{% if m['role'] == 'system' %}[{{ m['content'] }}]{% else %}{{ m['content'] }}"
                    "{% endif %}{% endfor %}");
  SamplingParams sp;
  sp.temp = 0;
  ChatSession chat(ctx, fmt, sp);
  chat.set_system("Sys");
  int notices = 0, dropped = 0;
  for (int t = 0; t < 6; ++t) {
    ChatSession::TurnOptions opt;
    opt.n_predict = 20;
    opt.on_notice = [&](const std::string&) { ++notices; };
    TurnResult r = chat.respond("Once upon a time there was a little girl", opt);
    dropped += r.dropped_turns;
    EXPECT_LE(static_cast<int64_t>(r.prompt_ids.size()) + r.stats.n_gen, 96);
  }
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(notices, dropped);
}

TEST(StopStringFilter, HoldsBackPossiblePrefixesAndCutsAtTheStop) {
  StopStringFilter f({"<|end|>", "###"});
  std::string shown = f.push("Hello <|");
  EXPECT_EQ(shown, "Hello ");
  shown += f.push("en");
  EXPECT_EQ(shown, "Hello ");
  shown += f.push("d|> more");
  EXPECT_EQ(shown, "Hello ");
  EXPECT_TRUE(f.stopped());
  StopStringFilter g({"###"});
  std::string s = g.push("a#");
  EXPECT_EQ(s, "a");
  s += g.push("b");
  s += g.flush();
  EXPECT_EQ(s, "a#b");
  EXPECT_FALSE(g.stopped());
}
