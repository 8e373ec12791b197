// --smooth: the searched per-channel scales keep the FP32 model's function (logits
// within 1e-4), never raise the searched RTN output error, and really change weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/linear.h"
#include "model/context.h"
#include "quantizer/float_model.h"
#include "quant/calib/smooth.h"
#include "support/model_helpers.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

// Statistics of each linear input over `ids` (one chunk), as quantize collects them.
calib::CalibStats collect(const Model& m, const std::vector<int32_t>& ids) {
  std::map<const Matrix*, std::string> keys;
  for (size_t l = 0; l < m.w.layers.size(); ++l) {
    const LayerWeights& lw = m.w.layers[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    keys[&lw.wq] = b + "attn_in";
    keys[&lw.w_gate] = b + "ffn_in";
    keys[&lw.w_down] = b + "ffn_down_in";
    keys[&lw.wo] = b + "attn_out_in";
  }
  calib::CalibStats stats;
  ContextParams p;
  p.n_ctx = 256;
  p.n_threads = 1;
  Context ctx(m, p);
  ctx.engine().set_observer([&](const Matrix& w, const float* x, int64_t ldx, int64_t n) {
    auto it = keys.find(&w);
    if (it == keys.end()) return;
    stats.try_emplace(it->second, w.cols, 256, true).first->second.add(x, ldx, n);
  });
  ctx.eval(ids.data(), static_cast<int64_t>(ids.size()), true);
  return stats;
}
}  // namespace

TEST(Smooth, KeepsFp32LogitsAndLowersTheSearchedError) {
  auto m = ts::stories_model();
  std::vector<int32_t> ids = m->tokenizer->encode(ts::read_file(ts::shared_data() / "text/calib.txt").substr(0, 900), false, false);
  ids.resize(std::min<size_t>(ids.size(), 200));
  ids.insert(ids.begin(), m->tokenizer->bos());
  calib::CalibStats stats = collect(*m, ids);
  ASSERT_EQ(stats.size(), 4u * m->cfg.n_layers);
  FloatTensors t = model_float_tensors(*m);
  const FloatTensors before = t;
  QuantPlanOptions plan;
  plan.group = 0;
  ThreadPool pool(1);
  int changed = 0;
  calib::smooth_model(t, stats, m->cfg.n_layers, plan, ActPrecision::Int8, {}, pool,
                      [&](int64_t, const std::string&, const calib::SmoothChoice& c) {
                        EXPECT_LE(c.after.relative(), c.before.relative());
                        changed += !c.scales.empty();
                      });
  EXPECT_GT(changed, 0) << "no input was smoothed: the test would not check anything";
  int norms_changed = 0;
  for (auto& [name, x] : t) norms_changed += name.ends_with("norm.weight") && x.data != before.at(name).data;
  EXPECT_GT(norms_changed, 0);
  auto sm = model_over_float_tensors(*m, t, false);
  const auto a = ts::all_logits(*m, ids), b = ts::all_logits(*sm, ids);
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  EXPECT_LE(d, 1e-4f);
}

TEST(Smooth, GqaValueHeadsAreSharedByTheirQueryHeads) {
  // 4 query heads over 2 value heads of dim 3: heads 0, 1 read V head 0, heads 2, 3 V head 1.
  const std::vector<int64_t> rows = calib::gqa_value_rows(4, 2, 3);
  const std::vector<int64_t> want = {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5};
  EXPECT_EQ(rows, want);
  EXPECT_THROW(calib::gqa_value_rows(4, 3, 3), std::exception);
}

TEST(Smooth, ValueToOutputProjectionKeepsFp32Logits) {
  // stories260K has 8 query heads over 4 value heads: o_proj's scales must be tied per V row,
  // or the smoothed model would compute a different function.
  auto m = ts::stories_model();
  ASSERT_LT(m->cfg.n_kv_heads, m->cfg.n_heads) << "the test needs grouped-query attention";
  std::vector<int32_t> ids = m->tokenizer->encode(ts::read_file(ts::shared_data() / "text/calib.txt").substr(0, 900), false, false);
  ids.resize(std::min<size_t>(ids.size(), 200));
  ids.insert(ids.begin(), m->tokenizer->bos());
  calib::CalibStats stats = collect(*m, ids);
  FloatTensors t = model_float_tensors(*m);
  const FloatTensors before = t;
  QuantPlanOptions plan;
  plan.group = 0;
  ThreadPool pool(1);
  calib::SmoothOptions so;
  so.n_heads = m->cfg.n_heads, so.n_kv_heads = m->cfg.n_kv_heads;
  int out_smoothed = 0;
  calib::smooth_model(t, stats, m->cfg.n_layers, plan, ActPrecision::Int8, so, pool,
                      [&](int64_t, const std::string& input, const calib::SmoothChoice& c) {
                        EXPECT_LE(c.after.relative(), c.before.relative());
                        if (input == "attn_out_in") out_smoothed += !c.scales.empty();
                      });
  EXPECT_GT(out_smoothed, 0) << "no o_proj input was smoothed: the test would not check anything";
  int v_changed = 0;
  for (int64_t l = 0; l < m->cfg.n_layers; ++l) {
    const std::string v = "blk." + std::to_string(l) + ".attn_v.weight";
    v_changed += t.at(v).data != before.at(v).data;
  }
  EXPECT_GT(v_changed, 0);
  auto sm = model_over_float_tensors(*m, t, false);
  const auto a = ts::all_logits(*m, ids), b = ts::all_logits(*sm, ids);
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  EXPECT_LE(d, 1e-4f);
}

TEST(Smooth, RmsStatisticWinsWhenOneTokenSpikes) {
  // A persistent outlier channel (0) that smoothing should move, and a channel (1) with a
  // single 1000x spike: peak-based scales crush channel 1 for every other token and blow
  // up its weight column; the rms-based ones do not, so the search picks them.
  const int64_t cols = 64, rows = 48, n = 256;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  calib::LinearStats st(cols, n, false);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) x[t * cols + j] = nd(rng) * (j == 0 ? 40.0f : 1.0f);
  x[17 * cols + 1] = 1000.0f;
  st.add(x.data(), cols, n);
  FloatTensor w{{static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, std::vector<float>(rows * cols)};
  for (auto& v : w.data) v = nd(rng) * 0.05f;
  ThreadPool pool(1);
  const calib::SmoothChoice c = calib::search_smooth_scales({{&w, Scheme{8, 0, {}}}}, st, ActPrecision::Int8, pool);
  ASSERT_FALSE(c.scales.empty());
  EXPECT_EQ(c.stat, calib::SmoothStat::Rms);
  EXPECT_LT(c.after.relative(), c.before.relative());
}
