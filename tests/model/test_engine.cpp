// One engine, many sequences: a row's logits are bit-identical whatever else is
// in its batch and whichever path runs it (1-token decode, k-token verification,
// a prefill chunk, rows of other sequences beside it), on every kernel table and
// thread count; sequences can be truncated (rolled back) and copied.
//
// Each kernel table is tested in a child process (POCKETLLM_ISA picks the table a
// model's weights are packed for when it loads).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "support/model_helpers.h"
#include "kernels/table.h"
#include "model/engine.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;
namespace fs = std::filesystem;

namespace {


// The models under test: stories260K as trained (F32) and quantized, and the
// qwen2 family file (Q/K/V biases, half-split RoPE), made once per process.
const std::map<std::string, fs::path>& model_files() {
  static const std::map<std::string, fs::path> files = [] {
    const fs::path stories = ts::shared_data() / "models/stories260K/stories260K.bin";
    const fs::path qwen = ts::shared_data() / "families/qwen2.gguf";
    // The per-table child processes reuse the parent's files (run_per_table).
    const char* shared_dir = std::getenv("POCKETLLM_TEST_ENGINE_MODELS");
    const fs::path dir = shared_dir ? fs::path(shared_dir) : ts::temp_dir("engine");
    std::map<std::string, fs::path> f = {{"stories-f32", stories}, {"qwen2-f32", qwen}};
    auto quantize = [&](const std::string& name, const fs::path& in, std::vector<std::string> args) {
      const fs::path out = dir / (name + ".gguf");
      f[name] = out;
      if (shared_dir) return;
      std::vector<std::string> cmd = {"quantize", in.string(), out.string(), "-t", "2"};
      cmd.insert(cmd.end(), args.begin(), args.end());
      const auto r = ts::run_cli(cmd);
      if (r.exit_code != 0) throw std::runtime_error("quantize failed: " + r.err);
    };
    const std::string tok = (ts::shared_data() / "models/stories260K/tok512.bin").string();
    quantize("stories-w4a8-g32", stories, {"--tokenizer", tok, "--scheme", "w4a8", "--group", "32"});
    quantize("stories-w4a8-row", stories, {"--tokenizer", tok, "--scheme", "w4a8", "--group", "0"});
    quantize("stories-w8a8", stories, {"--tokenizer", tok, "--scheme", "w8a8"});
    quantize("qwen2-w4a8-g32", qwen, {"--scheme", "w4a8", "--group", "32"});
    return f;
  }();
  return files;
}

std::vector<int32_t> token_run(int64_t n, int32_t seed, int32_t n_vocab) {
  std::vector<int32_t> t = {1};
  for (int64_t i = 1; i < n; ++i) t.push_back(static_cast<int32_t>(2 + (seed + i * 37 + i * i * 11) % (n_vocab - 2)));
  return t;
}

using Logits = std::vector<float>;

// Logits of every token, one 1-token forward pass each (plain decode).
std::vector<Logits> one_by_one(Engine& e, const std::vector<int32_t>& toks, KvType kv = KvType::F32) {
  Sequence s = e.new_sequence(256, kv);
  std::vector<Logits> out;
  const int64_t V = e.model().cfg.n_vocab;
  for (int32_t t : toks) {
    const Engine::Row r{&s, t, true};
    const float* l = e.forward({&r, 1});
    out.emplace_back(l, l + V);
  }
  return out;
}

bool same(const float* a, const Logits& b) { return std::memcmp(a, b.data(), b.size() * sizeof(float)) == 0; }

// The whole check for the table this process runs with.
void check_batch_invariance(const std::string& name, int threads, KvType kv) {
  auto m = ts::load_weights(model_files().at(name));
  const int64_t V = m->cfg.n_vocab;
  Engine e(*m, {64, threads});
  const auto a_toks = token_run(48, 7, static_cast<int32_t>(V));
  const auto b_toks = token_run(30, 101, static_cast<int32_t>(V));
  const auto a_ref = one_by_one(e, a_toks, kv);
  const auto b_ref = one_by_one(e, b_toks, kv);

  for (int k = 1; k <= 8; ++k) {
    SCOPED_TRACE("k = " + std::to_string(k));
    // A: a 9-token prefill chunk, then k-token verification chunks; B decodes one
    // token per pass beside A's chunk (a mixed batch), from a different position.
    Sequence a = e.new_sequence(256, kv), b = e.new_sequence(256, kv);
    std::vector<Engine::Row> rows;
    for (int i = 0; i < 9; ++i) rows.push_back({&a, a_toks[i], true});
    const float* l = e.forward(rows);
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(same(l + i * V, a_ref[i])) << "prefill row " << i;
    size_t ai = 9, bi = 0;
    while (ai < a_toks.size()) {
      rows.clear();
      if (bi < b_toks.size()) rows.push_back({&b, b_toks[bi], true});
      const size_t n = std::min<size_t>(k, a_toks.size() - ai);
      for (size_t j = 0; j < n; ++j) rows.push_back({&a, a_toks[ai + j], true});
      l = e.forward(rows);
      size_t r = 0;
      if (bi < b_toks.size()) {
        ASSERT_TRUE(same(l + r * V, b_ref[bi])) << "B row at position " << bi;
        ++r;
        ++bi;
      }
      for (size_t j = 0; j < n; ++j, ++r) ASSERT_TRUE(same(l + r * V, a_ref[ai + j])) << "A position " << ai + j;
      ai += n;
    }
    EXPECT_EQ(a.n_past(), static_cast<int64_t>(a_toks.size()));
  }
}

// Runs this test's body once per kernel table, each in a child process with
// POCKETLLM_ISA set; returns the tables that failed.
std::vector<std::string> run_per_table(const std::string& test_name) {
  std::vector<std::string> failed;
  setenv("POCKETLLM_TEST_ENGINE_MODELS", model_files().at("stories-w8a8").parent_path().c_str(), 1);
  for (const KernelTable* k : available_kernels()) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("POCKETLLM_ISA", k->name, 1);
      const std::string filter = "--gtest_filter=" + test_name;
      execl("/proc/self/exe", "test_model", filter.c_str(), "--gtest_brief=1", static_cast<char*>(nullptr));
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed.push_back(k->name);
  }
  return failed;
}

class EngineTables : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(EngineTables, LogitsAreBatchInvariantOnEveryTableAndThreadCount) {
  if (!std::getenv("POCKETLLM_ISA")) {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() +
                             std::string(".") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const auto failed = run_per_table(test);
    EXPECT_TRUE(failed.empty()) << "tables with batch-dependent logits: " << ::testing::PrintToString(failed);
    return;
  }
  for (int threads : {1, 2})
    for (KvType kv : {KvType::F32, KvType::Q8}) {
      SCOPED_TRACE(std::string(active_kernels().name) + ", threads " + std::to_string(threads) + ", KV " +
                   kv_type_name(kv));
      check_batch_invariance(GetParam(), threads, kv);
    }
}

INSTANTIATE_TEST_SUITE_P(Models, EngineTables,
                         ::testing::Values("stories-f32", "stories-w4a8-g32", "stories-w4a8-row", "stories-w8a8",
                                           "qwen2-f32", "qwen2-w4a8-g32"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

TEST(Engine, ThreadCountDoesNotChangeLogits) {
  auto m = ts::load_weights(model_files().at("stories-w4a8-g32"));
  Engine e1(*m, {64, 1}), e2(*m, {64, 2});
  const auto toks = token_run(40, 3, static_cast<int32_t>(m->cfg.n_vocab));
  const auto r1 = one_by_one(e1, toks), r2 = one_by_one(e2, toks);
  for (size_t i = 0; i < toks.size(); ++i) ASSERT_EQ(r1[i], r2[i]) << "position " << i;
}

TEST(Engine, RollbackLeavesTheSequenceAsIfRejectedTokensNeverRan) {
  auto m = ts::load_weights(model_files().at("stories-w4a8-g32"));
  const int64_t V = m->cfg.n_vocab;
  Engine e(*m, {64, 2});
  const auto toks = token_run(30, 5, static_cast<int32_t>(V));
  const auto ref = one_by_one(e, toks);
  Sequence s = e.new_sequence(256);
  e.eval(s, toks.data(), 20);
  // Five drafted tokens, all rejected: run, then rolled back.
  const std::vector<int32_t> draft = {300, 301, 302, 303, 304};
  e.eval(s, draft.data(), 5, true);
  s.truncate(20);
  EXPECT_EQ(s.n_past(), 20);
  for (size_t i = 20; i < toks.size(); ++i) {
    const float* l = e.eval(s, &toks[i], 1);
    ASSERT_TRUE(same(l, ref[i])) << "position " << i;
  }
}

// The same with an 8-bit cache, and the cache itself: after the rollback and the
// accepted tokens, its bytes equal those of a sequence that never saw the drafts
// (each position's row is quantized on its own, so rewriting it is exact).
TEST(Engine, Q8RollbackLeavesTheCacheAsIfRejectedTokensNeverRan) {
  for (const char* name : {"stories-f32", "stories-w4a8-g32", "qwen2-f32"}) {
    SCOPED_TRACE(name);
    auto m = ts::load_weights(model_files().at(name));
    const int64_t V = m->cfg.n_vocab;
    Engine e(*m, {64, 2});
    const auto toks = token_run(30, 5, static_cast<int32_t>(V));
    Sequence clean = e.new_sequence(256, KvType::Q8);
    std::vector<Logits> ref;
    for (int32_t t : toks) {
      const float* l = e.eval(clean, &t, 1);
      ref.emplace_back(l, l + V);
    }
    Sequence s = e.new_sequence(256, KvType::Q8);
    e.eval(s, toks.data(), 20);
    const std::vector<int32_t> draft = {300, 301, 302, 303, 304, 305, 306};
    e.eval(s, draft.data(), 7, true);
    s.truncate(20);
    e.eval(s, draft.data(), 3, true);  // a second draft, rejected too
    s.truncate(20);
    for (size_t i = 20; i < toks.size(); ++i) ASSERT_TRUE(same(e.eval(s, &toks[i], 1), ref[i])) << "position " << i;
    ASSERT_EQ(s.n_past(), clean.n_past());
    for (int64_t l = 0; l < m->cfg.n_layers; ++l) {
      const auto ka = s.kv().k_bytes(l, s.n_past()), kb = clean.kv().k_bytes(l, s.n_past());
      const auto va = s.kv().v_bytes(l, s.n_past()), vb = clean.kv().v_bytes(l, s.n_past());
      ASSERT_EQ(ka.size(), kb.size());
      ASSERT_EQ(std::memcmp(ka.data(), kb.data(), ka.size()), 0) << "keys of layer " << l;
      ASSERT_EQ(std::memcmp(va.data(), vb.data(), va.size()), 0) << "values of layer " << l;
    }
  }
}

TEST(Engine, Q8CopiedPrefixContinuesLikeTheOriginal) {
  auto m = ts::load_weights(model_files().at("stories-f32"));
  Engine e(*m, {64, 2});
  const auto toks = token_run(30, 9, static_cast<int32_t>(m->cfg.n_vocab));
  const auto ref = one_by_one(e, toks, KvType::Q8);
  Sequence a = e.new_sequence(256, KvType::Q8), b = e.new_sequence(256, KvType::Q8);
  e.eval(a, toks.data(), 25);
  b.copy_prefix(a, 12);
  for (size_t i = 12; i < toks.size(); ++i) ASSERT_TRUE(same(e.eval(b, &toks[i], 1), ref[i])) << "position " << i;
  Sequence f16 = e.new_sequence(256, KvType::F16);
  EXPECT_THROW(f16.copy_prefix(a, 12), Error);  // another KV type: refused, not reinterpreted
}

// The q8 row layout itself: read() gives back each stored value within half a
// quantization step of its block, per head (head_dim 40: blocks of 32 and 8), and
// refuses a range that splits a head.
TEST(Engine, Q8CacheReadsBackWhatWasStored) {
  const int64_t hd = 40, kvd = 3 * hd;
  KvCache c(2, 5, kvd, KvType::Q8, hd);
  EXPECT_EQ(c.q8_blocks(), 2);
  EXPECT_EQ(c.row_bytes(), static_cast<size_t>(kvd + 3 * 2 * 4));
  std::vector<float> k(static_cast<size_t>(kvd)), v(static_cast<size_t>(kvd));
  for (int64_t i = 0; i < kvd; ++i) {
    k[i] = std::sin(0.37f * static_cast<float>(i)) * (i == 7 ? 50.0f : 1.0f);  // an outlier in head 0, block 0
    v[i] = std::cos(0.11f * static_cast<float>(i)) - 0.5f;
  }
  c.store(1, 3, k.data(), v.data());
  std::vector<float> kr(static_cast<size_t>(2 * hd)), vr(static_cast<size_t>(2 * hd));
  c.read(1, 3, 4, hd, 2 * hd, kr.data(), vr.data());  // heads 1 and 2
  for (int64_t i = 0; i < 2 * hd; ++i) {
    const int64_t d = hd + i, h = d / hd, b = (d % hd) / 32;
    ASSERT_LE(std::fabs(kr[i] - k[d]), 0.5f * c.q8_k_scales(1, 3, h)[b] * 1.0001f) << i;
    ASSERT_LE(std::fabs(vr[i] - v[d]), 0.5f * c.q8_v_scales(1, 3, h)[b] * 1.0001f) << i;
  }
  // The outlier widens only its own block's step.
  EXPECT_GT(c.q8_k_scales(1, 3, 0)[0], 10 * c.q8_k_scales(1, 3, 0)[1]);
  EXPECT_THROW(c.read(1, 3, 4, 5, hd, kr.data(), vr.data()), Error);
}

TEST(Engine, CopiedPrefixContinuesLikeTheOriginal) {
  auto m = ts::load_weights(model_files().at("stories-f32"));
  Engine e(*m, {64, 2});
  const auto toks = token_run(30, 9, static_cast<int32_t>(m->cfg.n_vocab));
  const auto ref = one_by_one(e, toks);
  Sequence a = e.new_sequence(256), b = e.new_sequence(256);
  e.eval(a, toks.data(), 25);
  b.copy_prefix(a, 12);
  EXPECT_EQ(b.n_past(), 12);
  for (size_t i = 12; i < toks.size(); ++i) ASSERT_TRUE(same(e.eval(b, &toks[i], 1), ref[i])) << "position " << i;
  EXPECT_EQ(a.n_past(), 25);  // the source is untouched
}

TEST(Engine, BadBatchesAreErrorsThatChangeNoSequence) {
  auto m = ts::load_weights(model_files().at("stories-f32"));
  Engine e(*m, {8, 1});
  Sequence a = e.new_sequence(16), b = e.new_sequence(16);
  const int32_t t = 300;
  const std::vector<Engine::Row> bad_id = {{&a, t, false}, {&b, 100000, true}};
  EXPECT_THROW(e.forward(bad_id), Error);
  const std::vector<Engine::Row> split = {{&a, t, false}, {&b, t, false}, {&a, t, true}};
  EXPECT_THROW(e.forward(split), Error);
  const std::vector<Engine::Row> too_many(9, Engine::Row{&a, t, false});
  EXPECT_THROW(e.forward(too_many), Error);
  EXPECT_THROW(e.forward({}), Error);
  EXPECT_EQ(a.n_past(), 0);
  EXPECT_EQ(b.n_past(), 0);
  // A full sequence refuses more tokens, and keeps its state.
  std::vector<int32_t> fill(16, t);
  e.eval(a, fill.data(), 16);
  const Engine::Row one{&a, t, true};
  EXPECT_THROW(e.forward({&one, 1}), Error);
  EXPECT_EQ(a.n_past(), 16);
  auto other = ts::load_weights(model_files().at("stories-f32"));
  Engine other_engine(*other, {8, 1});
  Sequence foreign = other_engine.new_sequence(16);
  const Engine::Row f{&foreign, t, true};
  EXPECT_THROW(e.forward({&f, 1}), Error);
}
