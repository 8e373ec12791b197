#include "quant/calib/smooth.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pocketllm::calib {

namespace {
OutputError scaled_error(const std::vector<SmoothLinear>& ls, const std::vector<float>& s, const std::vector<float>& xs,
                         int64_t n, ActPrecision act, ThreadPool& pool) {
  OutputError total;
  for (auto& l : ls) {
    const int64_t rows = l.w->rows(), cols = l.w->cols();
    std::vector<float> ws(l.w->data);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) ws[r * cols + c] *= s[c];
    const QuantizedTensor q = quantize_rtn(ws.data(), rows, cols, l.scheme);
    total += quantized_output_error(ws.data(), q, act, xs.data(), n, pool);
  }
  return total;
}

std::vector<float> alpha_scales(const std::vector<float>& act_max, const std::vector<float>& w_max, float alpha) {
  const size_t cols = act_max.size();
  std::vector<float> s(cols, 1.0f);
  double log_sum = 0;
  size_t n_log = 0;
  for (size_t j = 0; j < cols; ++j) {
    if (!(act_max[j] > 0) || !(w_max[j] > 0)) continue;  // dead channel: leave it alone
    s[j] = std::clamp(std::pow(act_max[j], alpha) / std::pow(w_max[j], 1.0f - alpha), 1e-4f, 1e4f);
    log_sum += std::log(s[j]), ++n_log;
  }
  // Centre the scales (geometric mean 1): only their ratios matter, this keeps values in range.
  const float centre = n_log ? static_cast<float>(std::exp(log_sum / static_cast<double>(n_log))) : 1.0f;
  for (size_t j = 0; j < cols; ++j)
    if (act_max[j] > 0 && w_max[j] > 0) s[j] /= centre;
  return s;
}

void scale_columns(FloatTensor& w, const std::vector<float>& s) {
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t c = 0; c < w.cols(); ++c) w.row(r)[c] *= s[c];
}
}  // namespace

SmoothChoice search_smooth_scales(const std::vector<SmoothLinear>& ls, const LinearStats& st, ActPrecision act,
                                  ThreadPool& pool, const std::vector<int64_t>& tie) {
  const int64_t cols = st.cols, n = st.n_samples();
  if (n <= 0) fail("smoothing needs calibration samples (--calib FILE)");
  if (!tie.empty() && static_cast<int64_t>(tie.size()) != cols) fail("smoothing: {} tied columns, input has {}", tie.size(), cols);
  std::vector<float> w_max(static_cast<size_t>(cols), 0.0f);
  for (auto& l : ls) {
    if (l.w->cols() != cols) fail("smoothing: a linear has {} columns, its input {}", l.w->cols(), cols);
    for (int64_t r = 0; r < l.w->rows(); ++r)
      for (int64_t c = 0; c < cols; ++c) w_max[c] = std::max(w_max[c], std::fabs(l.w->data[r * cols + c]));
  }
  // Two activation statistics: the peak (SmoothQuant) and the rms, which a rare huge token
  // (GeGLU outputs) does not dominate. Tied columns: one scale from the group's largest.
  std::vector<float> rms(static_cast<size_t>(cols), 0.0f);
  for (int64_t j = 0; j < cols; ++j)
    rms[j] = st.n_tokens > 0 ? static_cast<float>(std::sqrt(st.sum_sq[j] / static_cast<double>(st.n_tokens))) : 0.0f;
  auto tied = [&](const std::vector<float>& v) {
    if (tie.empty()) return v;
    std::vector<float> g(static_cast<size_t>(*std::max_element(tie.begin(), tie.end()) + 1), 0.0f);
    for (int64_t j = 0; j < cols; ++j) {
      if (tie[j] < 0) fail("smoothing: negative tie index");
      g[tie[j]] = std::max(g[tie[j]], v[j]);
    }
    return g;
  };
  const std::vector<float> w_g = tied(w_max);
  const std::pair<SmoothStat, std::vector<float>> acts[] = {{SmoothStat::Max, tied(st.abs_max)}, {SmoothStat::Rms, tied(rms)}};
  SmoothChoice best;
  const std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
  best.before = best.after = scaled_error(ls, ones, st.samples, n, act, pool);
  for (const auto& [stat, act_g] : acts)
    for (int k = 0; k <= 10; ++k) {
      const float alpha = 0.1f * static_cast<float>(k);
      std::vector<float> s = alpha_scales(act_g, w_g, alpha);
      if (!tie.empty()) {
        std::vector<float> full(static_cast<size_t>(cols));
        for (int64_t j = 0; j < cols; ++j) full[j] = s[tie[j]];
        s = std::move(full);
      }
      std::vector<float> xs(st.samples);
      for (size_t i = 0; i < xs.size(); ++i) xs[i] /= s[i % static_cast<size_t>(cols)];
      const OutputError e = scaled_error(ls, s, xs, n, act, pool);
      if (e.relative() < best.after.relative())
        best.after = e, best.alpha = alpha, best.stat = stat, best.scales = std::move(s);
    }
  return best;
}

std::vector<int64_t> gqa_value_rows(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  if (n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0 || n_heads % n_kv_heads)
    fail("smoothing: {} query heads cannot share {} value heads", n_heads, n_kv_heads);
  std::vector<int64_t> rows(static_cast<size_t>(n_heads * head_dim));
  const int64_t per_kv = n_heads / n_kv_heads;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t d = 0; d < head_dim; ++d) rows[h * head_dim + d] = (h / per_kv) * head_dim + d;
  return rows;
}

void smooth_model(FloatTensors& t, CalibStats& stats, int64_t n_layers, const QuantPlanOptions& plan, ActPrecision act,
                  const SmoothOptions& o, ThreadPool& pool,
                  const std::function<void(int64_t, const std::string&, const SmoothChoice&)>& report) {
  auto get = [&](const std::string& name) -> FloatTensor* {
    auto it = t.find(name);
    return it == t.end() ? nullptr : &it->second;
  };
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    struct Site {
      std::string input;                 // stats key suffix
      std::vector<std::string> readers;  // linears reading it
      std::string producer;              // norm gain (1-D), up_proj or v_proj (rows) that absorbs 1/s
    };
    std::vector<Site> sites = {{"attn_in", {"attn_q", "attn_k", "attn_v", "attn_qkv"}, "attn_norm"},
                               {"ffn_in", {"ffn_gate", "ffn_up"}, "ffn_norm"}};
    if (o.up_down && get(p + "ffn_gate.weight")) sites.push_back({"ffn_down_in", {"ffn_down"}, "ffn_up"});
    if (o.n_heads > 0 && o.n_kv_heads > 0) sites.push_back({"attn_out_in", {"attn_output"}, "attn_v"});
    for (auto& site : sites) {
      auto st = stats.find(p + site.input);
      FloatTensor* producer = get(p + site.producer + ".weight");
      if (st == stats.end() || !producer) continue;
      std::vector<int64_t> tie;  // producer row of each input column (V rows are shared by grouped heads)
      if (site.producer == "attn_v") {
        if (st->second.cols % o.n_heads) fail("smoothing: o_proj has {} columns for {} heads", st->second.cols, o.n_heads);
        tie = gqa_value_rows(o.n_heads, o.n_kv_heads, st->second.cols / o.n_heads);
        if (producer->ne.size() != 2 || producer->rows() != o.n_kv_heads * (st->second.cols / o.n_heads))
          fail("smoothing: {} does not hold {} value heads", p + "attn_v.weight", o.n_kv_heads);
      }
      std::vector<SmoothLinear> ls;
      std::vector<FloatTensor*> readers;
      for (auto& r : site.readers)
        if (FloatTensor* w = get(p + r + ".weight")) {
          const TensorPlan tp = plan_tensor(plan, p + r + ".weight", w->rows(), w->cols());
          if (!tp.quantize) continue;
          ls.push_back({w, tp.scheme});
          readers.push_back(w);
        }
      if (ls.empty()) continue;
      SmoothChoice c = search_smooth_scales(ls, st->second, act, pool, tie);
      if (!c.scales.empty()) {
        for (FloatTensor* w : readers) scale_columns(*w, c.scales);
        // The scale of each producer row (output channel): the column's own, or its tied row's.
        std::vector<float> row_scale = c.scales;
        if (!tie.empty()) {
          row_scale.assign(static_cast<size_t>(producer->rows()), 1.0f);
          for (size_t j = 0; j < tie.size(); ++j) row_scale[tie[j]] = c.scales[j];
        }
        if (producer->ne.size() == 1) {  // norm gain
          for (size_t j = 0; j < row_scale.size(); ++j) producer->data[j] /= row_scale[j];
        } else {  // up_proj / v_proj rows
          for (int64_t r = 0; r < producer->rows(); ++r)
            for (int64_t k = 0; k < producer->cols(); ++k) producer->row(r)[k] /= row_scale[r];
          if (FloatTensor* bias = get(p + site.producer + ".bias"))
            for (int64_t r = 0; r < producer->rows(); ++r) bias->data[r] /= row_scale[r];
        }
        st->second.divide_channels(c.scales);
      }
      report(l, site.input, c);
    }
  }
}

}  // namespace pocketllm::calib
