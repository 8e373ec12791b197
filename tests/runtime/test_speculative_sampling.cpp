// Speculative sampling keeps the target's distribution: from a fixed state on
// stories260K, the tokens one speculative pass produces are drawn from exactly
// the distribution plain sampling uses there (chi-square goodness of fit over
// many draws, fixed seeds), with a deterministic draft (q one-hot, as prompt
// lookup) and with a sampled draft model (q its own distribution).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "grammar/matcher.h"
#include "model/engine.h"
#include "runtime/generation.h"
#include "runtime/grammar_constraint.h"
#include "runtime/model_draft.h"
#include "runtime/speculator.h"
#include "sampling/speculative.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

std::shared_ptr<Model> load_shared(const std::string& rel) {
  LoadOptions lo;
  lo.tokenizer_path = (ts::shared_data() / "models/stories260K/tok512.bin").string();
  return load_model((ts::shared_data() / rel).string(), lo);
}

// Always proposes the same tokens (a deterministic draft, like prompt lookup).
class FixedDraft : public DraftSource {
 public:
  explicit FixedDraft(std::vector<int32_t> t) : t_(std::move(t)) {}
  void propose(std::span<const int32_t>, int n_max, Draft& out) override {
    out.clear();
    out.tokens.assign(t_.begin(), t_.begin() + std::min<size_t>(t_.size(), static_cast<size_t>(n_max)));
  }

 private:
  std::vector<int32_t> t_;
};

// Chi-square goodness of fit of `counts` to the probabilities `p`; bins with an
// expected count under 5 are pooled. Returns statistic minus the critical
// value at significance 1e-4 (Wilson-Hilferty): > 0 means "not drawn from p".
double chi_square_excess(const std::vector<int64_t>& counts, const std::vector<double>& p) {
  int64_t n = 0;
  for (auto c : counts) n += c;
  double stat = 0, pool_e = 0, pool_o = 0;
  int bins = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double e = p[i] * static_cast<double>(n);
    if (e < 5) {
      pool_e += e;
      pool_o += static_cast<double>(counts[i]);
      continue;
    }
    stat += (counts[i] - e) * (counts[i] - e) / e;
    ++bins;
  }
  if (pool_e > 0) {
    stat += (pool_o - pool_e) * (pool_o - pool_e) / std::max(pool_e, 1e-9);
    ++bins;
  }
  const double df = bins - 1, z = 3.719;
  const double crit = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
  return stat - crit;
}

struct Fixture {
  std::shared_ptr<Model> m = load_shared("models/stories260K/stories260K.bin");
  Engine e{*m, {64, 1}};
  std::vector<int32_t> prompt = m->tokenizer->encode("Once upon a time, there was a", true, false);
  int32_t x0 = 0;           // the token drawn after the prompt (run by the speculative pass)
  Sequence base = e.new_sequence(64);
  Sequence work = e.new_sequence(64);  // each pass starts from a copy of base
  SamplingParams sp;
  std::vector<double> p1;   // the target's distribution after prompt + x0
  Fixture() {
    sp.temp = 1.0f;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    const float* l = e.eval(base, prompt.data(), static_cast<int64_t>(prompt.size()));
    x0 = argmax(l, m->cfg.n_vocab);
    p1 = distribution_after({x0});
  }
  // The exact distribution plain sampling draws from after prompt + `more`.
  std::vector<double> distribution_after(const std::vector<int32_t>& more) {
    Sequence s = e.new_sequence(64);
    s.copy_prefix(base, base.n_past());
    const float* l = e.eval(s, more.data(), static_cast<int64_t>(more.size()));
    Sampler smp(sp, m->n_sampleable());
    std::vector<float> p;
    smp.distribution(l, p);
    return {p.begin(), p.end()};
  }
  // One speculative pass from prompt + x0 with draw seed `seed`: the tokens it
  // added. With a grammar, the answer (x0 first) must fit it.
  std::vector<int32_t> pass(Speculator& spec, uint64_t seed,
                            const std::shared_ptr<const grammar::Grammar>& gr = nullptr) {
    Sequence& s = work;
    s.copy_prefix(base, base.n_past());
    SamplingParams p = sp;
    p.seed = static_cast<int64_t>(seed);
    GenerationLimits lim;
    lim.is_eog = [](int32_t) { return false; };
    lim.grammar = make_grammar_matcher(gr, m->tokenizer);
    Generation g(*m, Sampler(p, m->n_sampleable()), lim);
    g.start(prompt);
    g.push(x0, s.n_ctx() - s.n_past());
    spec.step(e, s, g, prompt);
    return {g.tokens().begin() + 1, g.tokens().end()};
  }
};

// The token after x0: p1; and, given the first draft was kept, the next one: p(. | x0 d1).
void expect_target_law(Fixture& f, Speculator& spec, int32_t d1, int n_draws) {
  std::vector<int64_t> first(f.p1.size()), second(f.p1.size());
  int64_t kept_first = 0;
  for (int i = 0; i < n_draws; ++i) {
    const auto t = f.pass(spec, 1000 + static_cast<uint64_t>(i));
    ASSERT_FALSE(t.empty());
    first[static_cast<size_t>(t[0])]++;
    if (t[0] == d1 && t.size() >= 2) {
      second[static_cast<size_t>(t[1])]++;
      ++kept_first;
    }
  }
  EXPECT_LT(chi_square_excess(first, f.p1), 0) << "first token";
  ASSERT_GT(kept_first, 500) << "too few draws kept the first draft to test the second";
  EXPECT_LT(chi_square_excess(second, f.distribution_after({f.x0, d1})), 0) << "second token";
  EXPECT_GT(spec.stats().accepted, 0);
  EXPECT_LT(spec.stats().accepted, spec.stats().drafted);
}

}  // namespace

TEST(SpeculativeSampling, DeterministicDraftKeepsTheTargetDistribution) {
  Fixture f;
  // Draft the most likely token then a likely follower: both kept and rejected often.
  int32_t d1 = 0;
  for (size_t i = 0; i < f.p1.size(); ++i)
    if (f.p1[i] > f.p1[static_cast<size_t>(d1)]) d1 = static_cast<int32_t>(i);
  ASSERT_LT(f.p1[static_cast<size_t>(d1)], 0.9);
  const auto p2 = f.distribution_after({f.x0, d1});
  const int32_t d2 = static_cast<int32_t>(std::max_element(p2.begin(), p2.end()) - p2.begin());
  Speculator spec(std::make_unique<FixedDraft>(std::vector<int32_t>{d1, d2}), {2, 2});
  expect_target_law(f, spec, d1, 6000);
}

TEST(SpeculativeSampling, SampledDraftModelKeepsTheTargetDistribution) {
  Fixture f;
  // Another model of the same vocabulary, sampled: q far from p.
  SamplingParams dsp = f.sp;
  dsp.seed = 7;
  Speculator spec(std::make_unique<ModelDraft>(load_shared("families/llama-tied.gguf"), *f.m, 64, dsp,
                                                          EngineParams{64, 1, nullptr}), {2, 2});
  std::vector<int64_t> first(f.p1.size());
  const int n = 6000;
  for (int i = 0; i < n; ++i) first[static_cast<size_t>(f.pass(spec, 5000 + static_cast<uint64_t>(i))[0])]++;
  EXPECT_LT(chi_square_excess(first, f.p1), 0);
  EXPECT_GT(spec.stats().accepted, 0);
  EXPECT_LT(spec.stats().accepted, spec.stats().drafted);
}

// With a grammar, drafts are judged against the target's law over the tokens
// that fit (renormalised): a forbidden draft is never kept, and what is drawn
// in its place follows plain constrained sampling's law exactly.
TEST(SpeculativeSampling, GrammarMaskedTargetLawWithAForbiddenDraft) {
  Fixture f;
  // The two most likely tokens after x0: d1 (to be forbidden) and d2 (allowed).
  std::vector<size_t> order(f.p1.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f.p1[a] > f.p1[b]; });
  const auto d1 = static_cast<int32_t>(order[0]), d2 = static_cast<int32_t>(order[1]);
  // Forbid a character of d1's text that x0's text does not use.
  const std::string x0_text = f.m->tokenizer->decode_piece(-1, f.x0), d1_text = f.m->tokenizer->decode_piece(f.x0, d1);
  char banned = 0;
  for (char c : d1_text)
    if (std::isalpha(static_cast<unsigned char>(c)) && x0_text.find(c) == std::string::npos &&
        f.m->tokenizer->decode_piece(f.x0, d2).find(c) == std::string::npos) {
      banned = c;
      break;
    }
  ASSERT_NE(banned, 0) << "no character of '" << d1_text << "' to forbid";
  const auto gr = compile_grammar(GrammarSpec{.gbnf = std::string("root ::= [^") + banned + "]*", .json_schema = {}, .json_object = false});
  // The exact law: p1 over the tokens the grammar allows after x0, renormalised.
  auto mt = make_grammar_matcher(gr, f.m->tokenizer);
  ASSERT_TRUE(mt->accept_token(f.x0));
  ASSERT_FALSE(mt->allows(d1));
  ASSERT_TRUE(mt->allows(d2));
  const std::vector<uint64_t>& mask = mt->mask();
  std::vector<double> law(f.p1.size());
  double z = 0;
  for (size_t i = 0; i < law.size(); ++i)
    if (i / 64 < mask.size() && (mask[i / 64] >> (i % 64) & 1)) z += law[i] = f.p1[i];
  for (double& v : law) v /= z;
  // Draft d1 (forbidden: never kept) and, from a second source, d2 (allowed: kept sometimes).
  for (const int32_t d : {d1, d2}) {
    SCOPED_TRACE(d == d1 ? "forbidden draft" : "allowed draft");
    Speculator spec(std::make_unique<FixedDraft>(std::vector<int32_t>{d}), {1, 1});
    std::vector<int64_t> first(f.p1.size());
    for (int i = 0; i < 4000; ++i) {
      const auto t = f.pass(spec, 9000 + static_cast<uint64_t>(i), gr);
      ASSERT_FALSE(t.empty());
      first[static_cast<size_t>(t[0])]++;
    }
    EXPECT_EQ(first[static_cast<size_t>(d1)], 0);
    EXPECT_LT(chi_square_excess(first, law), 0);
    if (d == d1) {
      EXPECT_EQ(spec.stats().accepted, 0);
    } else {
      EXPECT_GT(spec.stats().accepted, 0);
    }
  }
}

// The rule itself on a small distribution, exact frequencies: p = (.5 .3 .2),
// q = (.2 .6 .2), x = 1 kept with p/q = .5, else drawn from (.3 0 0)/.3 = token 0.
TEST(SpeculativeSampling, RuleOnAKnownPair) {
  const std::vector<float> p = {0.5f, 0.3f, 0.2f}, q = {0.2f, 0.6f, 0.2f};
  Sampler s(SamplingParams{.seed = 3}, 3);
  std::vector<float> scratch;
  int kept = 0, zero = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const DraftVerdict v = verify_draft_token(p, q.data(), 1, s, scratch);
    kept += v.accepted;
    zero += !v.accepted && v.token == 0;
    if (!v.accepted) {
      ASSERT_EQ(v.token, 0);
    }
  }
  EXPECT_NEAR(kept / double(n), 0.5, 0.02);
  EXPECT_EQ(kept + zero, n);
  // x where p >= q is always kept; deterministic q keeps x with p(x).
  EXPECT_TRUE(verify_draft_token(p, q.data(), 0, s, scratch).accepted);
  int det = 0;
  for (int i = 0; i < n; ++i) det += verify_draft_token(p, nullptr, 2, s, scratch).accepted;
  EXPECT_NEAR(det / double(n), 0.2, 0.02);
}
