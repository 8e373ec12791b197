// --smooth: the searched per-channel scales keep the FP32 model's function (logits
// within 1e-4), never raise the searched RTN output error, and really change weights.
#include <gtest/gtest.h>

#include <cmath>

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
  ASSERT_EQ(stats.size(), 3u * m->cfg.n_layers);
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
