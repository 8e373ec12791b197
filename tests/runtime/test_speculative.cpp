// Speculative decoding: greedy output is token-for-token plain decoding's
// (prompt lookup and draft models, several models and prompts, run and chat
// with KV reuse), the rejected rows leave the KV cache as if they never ran,
// and a draft of another vocabulary is refused. The sampling law is checked in
// test_speculative_sampling.cpp.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "model/context.h"
#include "quantizer/synth_model.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/grammar_constraint.h"
#include "runtime/lookup_draft.h"
#include "runtime/model_draft.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
namespace fs = std::filesystem;

namespace {

std::string tok512() { return (ts::shared_data() / "models/stories260K/tok512.bin").string(); }

std::shared_ptr<Model> load(const fs::path& p) {
  LoadOptions lo;
  lo.tokenizer_path = tok512();  // every model here has stories260K's 512-token vocabulary
  return load_model(p.string(), lo);
}

// stories260K (F32, as trained), its W4A8 copy, and the two 512-vocabulary family files.
const std::map<std::string, std::shared_ptr<Model>>& models() {
  static const auto all = [] {
    const fs::path stories = ts::shared_data() / "models/stories260K/stories260K.bin";
    const fs::path q = ts::temp_dir("spec") / "stories-w4a8.gguf";
    const auto r = ts::run_cli({"quantize", stories.string(), q.string(), "--tokenizer", tok512(), "--scheme",
                                "w4a8", "--group", "32", "-t", "2"});
    if (r.exit_code != 0) throw std::runtime_error("quantize failed: " + r.err);
    return std::map<std::string, std::shared_ptr<Model>>{
        {"stories", load(stories)},
        {"stories-w4a8", load(q)},
        {"llama-tied", load(ts::shared_data() / "families/llama-tied.gguf")},
        {"qwen2", load(ts::shared_data() / "families/qwen2.gguf")},
    };
  }();
  return all;
}

const char* kPrompts[] = {
    "Once upon a time, there was a little girl named Lily. She loved to play outside. Once upon a time",
    "The cat sat on the mat. The dog sat on the log. The cat sat",
    "Tom had a big red ball. He liked to",
};

struct Outcome {
  std::vector<int32_t> tokens;
  SpeculationStats spec;
  std::vector<float> kv_k, kv_v;  // the sequence's K/V at [0, n_past) of every layer
  int64_t n_past = 0;
};

Outcome generate_with(const Model& m, const std::string& prompt, Speculator* spec, int n = 40, int64_t n_ctx = 256,
                      const std::shared_ptr<const grammar::Grammar>& gr = nullptr) {
  ContextParams cp;
  cp.n_threads = 1;
  cp.n_ctx = n_ctx;
  Context ctx(m, cp);
  const auto ids = m.tokenizer->encode(prompt, true, false);
  SamplingParams sp;
  sp.temp = 0;
  GenerationLimits lim;
  lim.max_tokens = n;
  lim.is_eog = [](int32_t) { return false; };  // the full length, whatever the model says
  lim.grammar = make_grammar_matcher(gr, m.tokenizer);
  Generation g(m, Sampler(sp, m.n_sampleable()), lim);
  g.start(ids);
  Outcome r;
  r.spec = generate(ctx, g, ids, 0, {}, spec).spec;
  r.tokens = g.tokens();
  r.n_past = ctx.n_past();
  const int64_t kv_dim = m.cfg.kv_dim();
  r.kv_k.resize(static_cast<size_t>(m.cfg.n_layers * r.n_past * kv_dim));
  r.kv_v.resize(r.kv_k.size());
  for (int64_t l = 0; l < m.cfg.n_layers; ++l)
    ctx.sequence().kv().read(l, 0, r.n_past, 0, kv_dim, &r.kv_k[l * r.n_past * kv_dim], &r.kv_v[l * r.n_past * kv_dim]);
  return r;
}

EngineParams one_thread() {
  EngineParams ep;
  ep.n_threads = 1;
  return ep;
}

std::unique_ptr<Speculator> lookup(int ngram, int dmax = 6) {
  return std::make_unique<Speculator>(std::make_unique<LookupDraft>(ngram), SpeculatorParams{dmax, 1});
}
std::unique_ptr<Speculator> draft_model(const std::string& draft, const Model& target, int dmax = 4) {
  SamplingParams sp;
  sp.temp = 0;
  return std::make_unique<Speculator>(std::make_unique<ModelDraft>(models().at(draft), target, 256, sp, one_thread()),
                                      SpeculatorParams{dmax, 1});
}

}  // namespace

TEST(LookupDraft, LongestRecentMatchFirst) {
  //                            0  1  2  3  4  5  6  7  8  9
  const std::vector<int32_t> c = {5, 1, 2, 9, 7, 1, 2, 3, 4, 1, 2};
  // "1 2" occurs at 1..2 (then 9) and at 5..6 (then 3 4 1 2): the most recent wins.
  EXPECT_EQ(lookup_continuation(c, 2, 3), (std::vector<int32_t>{3, 4, 1}));
  EXPECT_EQ(lookup_continuation(c, 2, 10), (std::vector<int32_t>{3, 4, 1, 2}));  // up to the end
  // A 3-gram "4 1 2" has no earlier match; with ngram 3 the 2-gram still does.
  EXPECT_EQ(lookup_continuation(c, 3, 1), (std::vector<int32_t>{3}));
  // Longer matches win over more recent shorter ones: "7 1" vs "... 2".
  const std::vector<int32_t> d = {7, 1, 2, 8, 3, 2, 6, 7, 1, 2};
  EXPECT_EQ(lookup_continuation(d, 3, 2), (std::vector<int32_t>{8, 3}));
  EXPECT_EQ(lookup_continuation(d, 1, 2), (std::vector<int32_t>{6, 7}));
  EXPECT_TRUE(lookup_continuation(std::vector<int32_t>{1, 2, 3}, 3, 4).empty());
  EXPECT_TRUE(lookup_continuation(c, 2, 0).empty());
  EXPECT_TRUE(lookup_continuation(std::vector<int32_t>{4}, 2, 4).empty());
}

TEST(Speculator, RejectsBadDraftLengths) {
  EXPECT_THROW(Speculator(std::make_unique<LookupDraft>(2), SpeculatorParams{4, 0}), Error);
  EXPECT_THROW(Speculator(std::make_unique<LookupDraft>(2), SpeculatorParams{2, 3}), Error);
  EXPECT_THROW(LookupDraft(0), Error);
}

// Greedy: the same tokens as plain decoding, and the same KV cache (the
// rejected rows rolled back), on every model, prompt and draft source.
TEST(Speculator, GreedyOutputAndKvCacheAreExactlyPlainDecodings) {
  struct Case {
    std::string target, draft;  // draft "" = prompt lookup
  };
  const std::vector<Case> cases = {{"stories", ""},       {"stories", "stories-w4a8"}, {"stories", "qwen2"},
                                   {"llama-tied", ""},    {"llama-tied", "stories"},   {"qwen2", ""},
                                   {"qwen2", "llama-tied"}};
  SpeculationStats total;
  for (const Case& c : cases) {
    const Model& m = *models().at(c.target);
    for (const char* prompt : kPrompts) {
      SCOPED_TRACE(c.target + " draft " + (c.draft.empty() ? "lookup" : c.draft) + ": " + prompt);
      const Outcome plain = generate_with(m, prompt, nullptr);
      auto spec = c.draft.empty() ? lookup(3) : draft_model(c.draft, m);
      const Outcome fast = generate_with(m, prompt, spec.get());
      EXPECT_EQ(fast.tokens, plain.tokens);
      ASSERT_EQ(fast.n_past, plain.n_past);
      EXPECT_TRUE(fast.kv_k == plain.kv_k && fast.kv_v == plain.kv_v) << "the KV cache differs";
      EXPECT_GT(fast.spec.drafted, 0);
      total.drafted += fast.spec.drafted;
      total.accepted += fast.spec.accepted;
      total.passes += fast.spec.passes;
    }
  }
  // Both paths ran: drafts kept (fewer passes than tokens) and drafts rejected.
  EXPECT_GT(total.accepted, total.drafted / 4);
  EXPECT_LT(total.accepted, total.drafted);
}

// With a grammar, the drafts are checked against it: greedy output is plain
// constrained decoding's, with prompt lookup (whose drafts copy forbidden text)
// and with a draft model that knows nothing of the grammar.
TEST(Speculator, GrammarConstrainedGreedyIsPlainConstrainedDecodings) {
  // No 'e' and no capitals: the stories' most likely words are often forbidden.
  const auto gr = compile_grammar(GrammarSpec{.gbnf = "root ::= [a-df-z ,.]+", .json_schema = {}, .json_object = false});
  SpeculationStats total;
  for (const std::string draft : {"", "stories-w4a8"}) {
    const Model& m = *models().at("stories");
    for (const char* prompt : kPrompts) {
      SCOPED_TRACE((draft.empty() ? "lookup: " : "draft " + draft + ": ") + prompt);
      const Outcome plain = generate_with(m, prompt, nullptr, 40, 256, gr);
      auto spec = draft.empty() ? lookup(2) : draft_model(draft, m);
      const Outcome fast = generate_with(m, prompt, spec.get(), 40, 256, gr);
      EXPECT_EQ(fast.tokens, plain.tokens);
      ASSERT_EQ(fast.n_past, plain.n_past);
      EXPECT_TRUE(fast.kv_k == plain.kv_k && fast.kv_v == plain.kv_v) << "the KV cache differs";
      const std::string text = m.tokenizer->decode(fast.tokens);
      EXPECT_EQ(text.find_first_not_of("abcdfghijklmnopqrstuvwxyz ,."), std::string::npos) << text;
      total.drafted += fast.spec.drafted;
      total.accepted += fast.spec.accepted;
    }
  }
  EXPECT_GT(total.accepted, 0);
  EXPECT_LT(total.accepted, total.drafted);
}

// The context end: drafts never run past it, and the generation stops where plain decoding does.
TEST(Speculator, StopsAtTheContextEndLikePlainDecoding) {
  const Model& m = *models().at("stories");
  const Outcome plain = generate_with(m, kPrompts[1], nullptr, 200, 48);
  auto spec = lookup(2, 8);
  const Outcome fast = generate_with(m, kPrompts[1], spec.get(), 200, 48);
  EXPECT_EQ(fast.tokens, plain.tokens);
  EXPECT_EQ(fast.n_past, 48);  // every position used; the last token drawn is never run
  EXPECT_EQ(fast.n_past, plain.n_past);
}

// Adaptive length: grows while every guess is kept, shrinks after rejections, within bounds.
TEST(Speculator, DraftLengthFollowsAcceptance) {
  const Model& m = *models().at("stories");
  auto self = std::make_unique<Speculator>(
      std::make_unique<ModelDraft>(models().at("stories"), m, 256, SamplingParams{.temp = 0}, one_thread()),
      SpeculatorParams{7, 2});
  EXPECT_EQ(self->draft_len(), 7);
  generate_with(m, kPrompts[2], self.get());
  EXPECT_EQ(self->stats().accepted, self->stats().drafted);  // a model drafting for itself is always right
  EXPECT_EQ(self->draft_len(), 7);
  auto other = draft_model("qwen2", m, 6);
  generate_with(m, kPrompts[2], other.get());
  EXPECT_LT(other->stats().acceptance(), 0.5);
  EXPECT_GE(other->draft_len(), 1);
  EXPECT_LT(other->draft_len(), 6);
}

TEST(ModelDraft, ADraftOfAnotherVocabularyIsAnError) {
  bench::SynthOptions so;
  so.preset = "tiny";
  so.vocab_path = (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string();
  so.n_threads = 1;
  std::shared_ptr<Model> other = bench::synth_model(so);
  const Model& m = *models().at("stories");
  try {
    ModelDraft d(other, m, 64, SamplingParams{}, one_thread());
    FAIL() << "accepted a draft with another vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("same vocabulary"), std::string::npos) << e.what();
  }
  // Another model of the same vocabulary is a valid draft.
  EXPECT_NO_THROW(check_draft_vocab(m, *models().at("qwen2")));
}

// chat: every turn's answer is plain decoding's, with the KV cache reused across turns.
TEST(Speculator, ChatTurnsWithKvReuseAreUnchanged) {
  const Model& m = *models().at("stories");
  const char* tmpl =
      "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}"
      "{% else %}{{ ' ' + m['content'] + '\\n' }}{% endif %}{% endfor %}";
  ChatFormatter fmt(*m.tokenizer, tmpl);
  SamplingParams sp;
  sp.temp = 0;
  auto turns = [&](Speculator* spec) {
    ContextParams cp;
    cp.n_threads = 1;
    cp.n_ctx = 256;
    Context ctx(m, cp);
    ChatSession chat(ctx, fmt, sp);
    chat.set_speculator(spec);
    std::vector<TurnResult> out;
    for (const char* t : {"Once upon a time", "Lily went to the park. Lily went", "The dog was big"}) {
      ChatSession::TurnOptions opt;
      opt.n_predict = 24;
      out.push_back(chat.respond(t, opt));
    }
    return out;
  };
  const auto plain = turns(nullptr);
  auto spec = lookup(2);
  const auto fast = turns(spec.get());
  ASSERT_EQ(fast.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(fast[i].generated, plain[i].generated) << "turn " << i + 1;
    EXPECT_EQ(fast[i].text, plain[i].text);
    EXPECT_EQ(fast[i].reused, plain[i].reused) << "turn " << i + 1;
  }
  EXPECT_GT(plain[1].reused, 0);
  EXPECT_GT(spec->stats().accepted, 0);
}

// A generation with no room for an answer (max_tokens 0) runs the prompt and ends, with or without drafts.
TEST(Speculator, ZeroMaxTokensGeneratesNothing) {
  const Model& m = *models().at("stories");
  auto spec = lookup(2);
  for (Speculator* s : {static_cast<Speculator*>(nullptr), spec.get()}) {
    const Outcome r = generate_with(m, kPrompts[1], s, 0);
    EXPECT_TRUE(r.tokens.empty());
  }
  EXPECT_EQ(spec->stats().passes, 0);
}
