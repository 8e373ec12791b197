// logprobs over HTTP on stories260K: the values are those of the distribution the
// server sampled from, recomputed here from the model's own logits (a prefill of
// prompt + answer in process) through the documented pipeline: penalties, grammar
// mask, top-k, top-p, temperature, renormalised. Greedy's token is the top one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "server_process.h"
#include "support/model_helpers.h"
#include "tokenizer/tokenizer.h"

using nlohmann::json;
using namespace servertest;
namespace ts = testsupport;
using pocketllm::Model;

namespace {

constexpr double kTol = 1e-4;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

class Logprobs : public SharedServerTest<Logprobs> {
 public:
  static std::vector<std::string> flags() { return {"-np", "2", "-c", "512"}; }
  static void SetUpTestSuite() {
    SharedServerTest<Logprobs>::SetUpTestSuite();
    model_ = ts::stories_model().release();
  }
  static void TearDownTestSuite() {
    delete model_;
    SharedServerTest<Logprobs>::TearDownTestSuite();
  }
  static inline Model* model_ = nullptr;
  const pocketllm::Tokenizer& tok() const { return *model_->tokenizer; }
  std::string spell(int32_t id) const { return tok().decode_piece(-1, id); }
  int32_t n_vocab() const { return model_->cfg.n_vocab; }
};

struct Pipeline {
  double temp = 1.0;  // <= 0: greedy (reported at temperature 1)
  int top_k = 0;
  double top_p = 1.0;
  double freq = 0, presence = 0;
  std::function<bool(int32_t, const std::vector<int32_t>&)> allowed;  // grammar mask (null: all)
};

// The log-probabilities the server should report for the token after `context`,
// from that position's logits. -inf: not a candidate.
std::vector<double> reference(const float* logits, int n_vocab, const std::vector<int32_t>& context,
                              const std::vector<int32_t>& answer_so_far, const Pipeline& p) {
  std::vector<double> l(logits, logits + n_vocab);
  std::map<int32_t, int> counts;
  for (int32_t t : context) counts[t]++;
  for (auto [id, n] : counts) l[static_cast<size_t>(id)] -= n * p.freq + p.presence;
  if (p.allowed)
    for (int32_t i = 0; i < n_vocab; ++i)
      if (!p.allowed(i, answer_so_far)) l[static_cast<size_t>(i)] = kNegInf;
  std::vector<int32_t> order(static_cast<size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  size_t keep = order.size();
  if (p.temp > 0 && p.top_k > 0) keep = std::min(keep, static_cast<size_t>(p.top_k));
  if (p.temp > 0 && p.top_p < 1) {
    double z = 0;
    for (size_t i = 0; i < keep; ++i) z += std::exp(l[order[i]] - l[order[0]]);
    double cum = 0;
    for (size_t i = 0; i < keep; ++i) {
      cum += std::exp(l[order[i]] - l[order[0]]) / z;
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  const double t = p.temp > 0 ? p.temp : 1.0;
  double z = 0;
  for (size_t i = 0; i < keep; ++i) z += std::exp((l[order[i]] - l[order[0]]) / t);
  std::vector<double> out(static_cast<size_t>(n_vocab), kNegInf);
  for (size_t i = 0; i < keep; ++i)
    if (l[order[i]] != kNegInf) out[order[i]] = (l[order[i]] - l[order[0]]) / t - std::log(z);
  return out;
}

// The id of a reported token: the one with its spelling whose reference value matches.
int32_t find_id(const std::string& spelled, double logprob, const std::vector<double>& ref,
                const std::function<std::string(int32_t)>& spell) {
  for (int32_t i = 0; i < static_cast<int32_t>(ref.size()); ++i)
    if (spell(i) == spelled && std::abs(ref[i] - logprob) < kTol) return i;
  return -1;
}

// A /v1/completions answer's logprobs checked position by position against `p`.
void check_completion(const json& choice, const std::vector<int32_t>& prompt, const Model& m, const Pipeline& p,
                      int top_n, bool greedy) {
  const json& lp = choice["logprobs"];
  ASSERT_TRUE(lp.is_object()) << choice.dump();
  const size_t n = lp["tokens"].size();
  ASSERT_GT(n, 0u);
  ASSERT_EQ(lp["token_logprobs"].size(), n);
  ASSERT_EQ(lp["top_logprobs"].size(), n);
  ASSERT_EQ(lp["text_offset"].size(), n);
  auto spell = [&](int32_t id) { return m.tokenizer->decode_piece(-1, id); };
  // Recover the answer's ids (by spelling and value), then the logits of every position at once.
  std::vector<int32_t> ids = prompt, answer;
  const std::string text = choice["text"];
  for (size_t i = 0; i < n; ++i) {
    const std::vector<float> logits = ts::all_logits(m, ids, 512);
    const float* row = logits.data() + (ids.size() - 1) * static_cast<size_t>(m.cfg.n_vocab);
    const std::vector<double> ref = reference(row, m.cfg.n_vocab, ids, answer, p);
    const std::string token = lp["tokens"][i];
    const double logprob = lp["token_logprobs"][i];
    const int32_t id = find_id(token, logprob, ref, spell);
    ASSERT_GE(id, 0) << "position " << i << ": '" << token << "' " << logprob << " is no candidate of the reference";
    // The alternatives: the top_n candidates, best first, nothing without mass. The
    // legacy shape is a map by spelling: ids spelled alike share the better entry.
    const json& top = lp["top_logprobs"][i];
    std::vector<int32_t> order;
    for (int32_t k = 0; k < static_cast<int32_t>(ref.size()); ++k)
      if (ref[k] != kNegInf) order.push_back(k);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return ref[a] > ref[b]; });
    const size_t n_candidates = order.size();
    if (order.size() > static_cast<size_t>(top_n)) order.resize(static_cast<size_t>(top_n));
    std::map<std::string, double> expected;
    for (int32_t k : order) expected.emplace(spell(k), ref[k]);
    double mass = 0;
    EXPECT_EQ(top.size(), expected.size()) << "position " << i << ": " << top.dump();
    for (auto& [s, v] : top.items()) {
      ASSERT_TRUE(expected.count(s)) << "position " << i << ": alternative '" << s << "' " << v << " is not in the top";
      EXPECT_NEAR(v.get<double>(), expected[s], kTol) << "position " << i << " '" << s << "'";
      mass += std::exp(v.get<double>());
    }
    EXPECT_LE(mass, 1 + 1e-5);
    if (n_candidates <= static_cast<size_t>(top_n) && expected.size() == n_candidates) {
      EXPECT_NEAR(mass, 1, 1e-4);
    }
    const double best = order.empty() ? kNegInf : ref[order[0]];
    if (greedy) {
      EXPECT_NEAR(logprob, best, kTol) << "greedy's token is the top one";
    }
    // The answer's first piece may lose its leading space (the detokenizer's rule for a first piece).
    const auto off = static_cast<size_t>(lp["text_offset"][i].get<int64_t>());
    const bool at = text.compare(off, token.size(), token) == 0 ||
                    (off == 0 && token.starts_with(" ") && text.compare(0, token.size() - 1, token, 1) == 0);
    EXPECT_TRUE(at) << "text_offset " << lp["text_offset"][i] << " of '" << token << "' in '" << text << "'";
    ids.push_back(id);
    answer.push_back(id);
  }
}

TEST_F(Logprobs, CompletionGreedyEqualsSoftmaxOfTheModelsLogits) {
  const auto prompt = tok().encode("Once upon a time there was a little girl", true, false);
  const json body = {{"prompt", prompt}, {"max_tokens", 16}, {"temperature", 0}, {"logprobs", 5},
                     {"repeat_penalty", 1}, {"frequency_penalty", 0}, {"presence_penalty", 0}};
  auto r = http_post(port(), "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  check_completion(r.json()["choices"][0], prompt, *model_, Pipeline{0, 0, 1.0, 0, 0, nullptr}, 5, true);
}

TEST_F(Logprobs, CompletionSampledWithPenaltiesTopKTopPAndTemperature) {
  const auto prompt = tok().encode("Once upon a time, a cat and a dog", true, false);
  Pipeline p{0.7, 12, 0.9, 0.6, 0.4, nullptr};
  for (int seed : {1, 2}) {
    const json body = {{"prompt", prompt}, {"max_tokens", 24}, {"temperature", p.temp}, {"top_k", p.top_k},
                       {"top_p", p.top_p}, {"min_p", 0}, {"frequency_penalty", p.freq}, {"presence_penalty", p.presence},
                       {"repeat_last_n", 512}, {"seed", seed}, {"logprobs", 20}};
    auto r = http_post(port(), "/v1/completions", body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    SCOPED_TRACE(seed);
    check_completion(r.json()["choices"][0], prompt, *model_, p, 20, false);
  }
}

TEST_F(Logprobs, CompletionUnderAGrammarAreOverTheTokensThatFit) {
  const auto prompt = tok().encode("Once upon a time", true, false);
  // root ::= [a-c]+ : a token fits when its bytes are a-c only; the end only after one.
  Pipeline p{1.0, 0, 1.0, 0, 0, [&](int32_t id, const std::vector<int32_t>& so_far) {
               if (tok().is_eog(id)) return !so_far.empty();
               const std::string s = spell(id);
               return !s.empty() && !tok().is_special(id) &&
                      s.find_first_not_of("abc") == std::string::npos;
             }};
  const json body = {{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 1}, {"top_k", 0}, {"top_p", 1},
                     {"min_p", 0}, {"repeat_penalty", 1}, {"seed", 5}, {"logprobs", 20}, {"grammar", "root ::= [a-c]+"}};
  auto r = http_post(port(), "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  check_completion(r.json()["choices"][0], prompt, *model_, p, 20, false);
}

json chat(const json& extra) {
  json b = {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}, {"max_tokens", 20}};
  b.update(extra);
  return b;
}

TEST_F(Logprobs, ChatShapeGreedyTopAndStreamedTheSame) {
  const json body = chat({{"temperature", 0}, {"logprobs", true}, {"top_logprobs", 3}});
  auto r = http_post(port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json choice = r.json()["choices"][0];
  const json& content = choice["logprobs"]["content"];
  ASSERT_TRUE(content.is_array()) << choice.dump();
  ASSERT_GT(content.size(), 0u);
  std::string joined;
  for (const json& t : content) {
    const std::string token = t["token"];
    joined += token;
    json bytes = json::array();
    for (unsigned char c : token) bytes.push_back(c);
    EXPECT_EQ(t["bytes"], bytes);
    ASSERT_EQ(t["top_logprobs"].size(), 3u) << t.dump();
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]) << "greedy's token is the top one";
    EXPECT_NEAR(t["top_logprobs"][0]["logprob"].get<double>(), t["logprob"].get<double>(), 1e-7);
    double mass = 0, prev = 0;
    for (const json& a : t["top_logprobs"]) {
      EXPECT_LE(a["logprob"].get<double>(), prev);
      prev = a["logprob"].get<double>();
      mass += std::exp(prev);
    }
    EXPECT_LE(mass, 1 + 1e-6);
  }
  const std::string text = choice["message"]["content"];
  EXPECT_TRUE(joined == text || (joined.starts_with(" ") && joined.substr(1) == text)) << joined << " | " << text;
  // Streamed: the same entries, spread over the chunks.
  json streamed_body = body;
  streamed_body["stream"] = true;
  auto s = http_stream(port(), "/v1/chat/completions", streamed_body.dump());
  ASSERT_EQ(s.status, 200);
  json streamed = json::array();
  for (const std::string& e : s.events) {
    if (e == "[DONE]") continue;
    const json c = json::parse(e);
    for (const json& ch : c["choices"])
      if (ch["logprobs"].is_object())
        for (const json& t : ch["logprobs"]["content"]) streamed.push_back(t);
  }
  EXPECT_EQ(streamed, content);
  // Without logprobs: null, as before.
  auto plain = http_post(port(), "/v1/chat/completions", chat({{"temperature", 0}}).dump());
  EXPECT_TRUE(plain.json()["choices"][0]["logprobs"].is_null());
}

TEST_F(Logprobs, OutOfRangeOrMistypedAre400) {
  const std::vector<std::pair<json, std::string>> chat_bad = {
      {{{"logprobs", true}, {"top_logprobs", 21}}, "'top_logprobs' must be between 0 and 20"},
      {{{"logprobs", true}, {"top_logprobs", -1}}, "'top_logprobs' must be between 0 and 20"},
      {{{"logprobs", true}, {"top_logprobs", "3"}}, "'top_logprobs' must be an integer"},
      {{{"top_logprobs", 2}}, "'top_logprobs' needs 'logprobs': true"},
      {{{"logprobs", 3}}, "'logprobs' must be a boolean"},
  };
  for (auto& [extra, message] : chat_bad) {
    auto r = http_post(port(), "/v1/chat/completions", chat(extra).dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["error"]["message"], message) << extra.dump();
  }
  for (const json& v : {json(21), json(-1), json(true)}) {
    auto r = http_post(port(), "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 2}, {"logprobs", v}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
  }
}

}  // namespace
