#include "quantizer/tensor_quantize.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include <unistd.h>
#include <vector>

#include "core/error.h"
#include "core/timer.h"
#include "kernels/int_weights.h"
#include "kernels/pack.h"
#include "model/arch/family.h"
#include "quant/calib/output_error.h"
#include "quant/calib/row_weighted.h"
#include "quant/ggml_mix.h"

namespace pocketllm {

calib::CalibMethod with_learn_progress(const calib::CalibMethod& m, const std::string& name) {
  calib::CalibMethod out = m;
  if (!m.learn) return out;
  const bool tty = isatty(fileno(stderr));
  auto shown = std::make_shared<int>(-1);
  auto timer = std::make_shared<Timer>();
  out.learn_progress = [name, tty, shown, timer](int64_t done, int64_t total) {
    if (done == 0) return timer->reset();  // the learning starts (GPTQ / clip / refit ran before it)
    const int width = 30, filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
    if (filled <= *shown) return;  // blocks finish out of order; redraw only forward
    *shown = filled;
    if (!tty && done < total) return;  // a log gets the finished line only
    const double el = timer->ms() / 1000.0, eta = done > 0 ? el / static_cast<double>(done) * static_cast<double>(total - done) : 0;
    std::fprintf(stderr, "\rlearn: %-28s [%s%s] %lld/%lld rows, %.1fs, ETA %.1fs%s", name.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), el, eta, done >= total ? "\n" : "");
  };
  return out;
}

nlohmann::json learn_report(const calib::LearnSummary& s, int64_t rows) {
  std::fprintf(stderr, "learn: objective (H-weighted error) %.4e -> %.4e (%.4fx), %lld of %lld rows changed, %lld codes\n",
               s.before, s.after, s.before > 0 ? s.after / s.before : 1.0, static_cast<long long>(s.rows_changed),
               static_cast<long long>(rows), static_cast<long long>(s.codes_changed));
  return {{"objective_before", s.before}, {"objective_after", s.after}, {"rows_changed", s.rows_changed},
          {"codes_changed", s.codes_changed}};
}

bool is_standard(DType t) { return static_cast<uint32_t>(t) < static_cast<uint32_t>(DType::POCKETLLM_FIRST); }

QuantizedResult quantize_tensor(const TensorPlan& p, const std::string& name, int64_t rows, int64_t cols,
                                const float* data, const calib::CalibStats& stats, const calib::CalibMethod& method,
                                ThreadPool& pool) {
  QuantizedResult out;
  ExportedTensor& e = out.tensor;
  const bool calibrating = method.gptq || method.clip || method.refit || method.learn;
  const std::string key = calib::stats_key(name);
  if (p.ggml_type) {
    e = ExportedTensor{*p.ggml_type, quantize_ggml_rows(*p.ggml_type, data, rows, cols, pool)};
  } else if (p.quantize && calibrating && !key.empty()) {
    std::vector<float> h;
    if (auto it = stats.find(key); it != stats.end() && it->second.cols == cols) h = it->second.hessian();
    if ((method.gptq || method.refit || method.learn) && h.empty()) fail("{}: no calibration statistics for this tensor", name);
    const int64_t g = calib::stored_group(p.scheme, cols);
    const calib::CalibratedWeights cw =
        calib::quantize_calibrated_for(name, data, rows, cols, p.scheme.bits, g, h, with_learn_progress(method, name), &pool);
    QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, calib::replay_scheme(p.scheme, cw));
    e.type = q.type;
    e.bytes = std::move(q.bytes);
    if (!h.empty()) {
      const calib::CalibratedWeights rtn = calib::quantize_calibrated(data, rows, cols, p.scheme.bits, g, {}, {});
      // Measured on 64 rows spread through the matrix: it costs cols² per row.
      const double before = calib::relative_output_error(data, rtn.values.data(), rows, cols, h, 64, &pool);
      const double after = calib::relative_output_error(data, cw.values.data(), rows, cols, h, 64, &pool);
      out.calib_report = nlohmann::json{{"tensor", name}, {"rtn_output_error", before}, {"calibrated_output_error", after}};
      if (method.learn) (*out.calib_report)["learn"] = learn_report(cw.learned, rows);
      std::fprintf(stderr, "calibrate: %-28s output error %.3e -> %.3e\n", name.c_str(), before, after);
    }
  } else if (!p.quantize) {
    e = store_float(p.float_type, data, static_cast<size_t>(rows * cols));
  } else {
    // Rows are independent: quantize slices of rows in parallel.
    const size_t row_bytes = *dtype_row_bytes(scheme_type(p.scheme, cols), static_cast<uint64_t>(cols));
    e.bytes.resize(static_cast<size_t>(rows) * row_bytes);
    pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
      QuantizedTensor q = quantize_rtn(data + r0 * cols, r1 - r0, cols, p.scheme);
      std::memcpy(e.bytes.data() + static_cast<size_t>(r0) * row_bytes, q.bytes.data(), q.bytes.size());
      if (r0 == 0) e.type = q.type;
    });
    if (rows > 0 && e.type == DType::F32) e.type = scheme_type(p.scheme, cols);
  }
  return out;
}

StaticActResult search_static_act(const std::string& name, const float* data, const QuantizedTensor& q,
                                  const calib::LinearStats& st, ThreadPool& pool) {
  StaticActResult r;
  const calib::StaticActChoice& c = r.choice = calib::search_static_act_scale(data, q, st, pool);
  r.report = {{"tensor", name},
              {"scale", c.scale},
              {"clip_ratio", c.ratio},
              {"dynamic_output_error", c.dynamic.relative()},
              {"unclipped_output_error", c.unclipped.relative()},
              {"static_output_error", c.chosen.relative()}};
  std::fprintf(stderr, "act static: %-28s clip %.3f  output error: per token %.3e, max range %.3e, searched %.3e\n",
               name.c_str(), c.ratio, c.dynamic.relative(), c.unclipped.relative(), c.chosen.relative());
  return r;
}

void tile_for_kernels(ExportedTensor& e, const ModelConfig& cfg, const std::string& name, int64_t rows, int64_t cols,
                      bool compat, bool tile_standard) {
  std::vector<int64_t> blocks = fused_row_blocks(cfg, name, rows);
  if (blocks.empty()) blocks = {rows};
  bool blocks_tile = true;
  for (auto b : blocks) blocks_tile = blocks_tile && tiled_int_type(e.type, b).has_value();
  const auto tiled = tiled_int_type(e.type, rows);
  if (!tiled || !blocks_tile || compat || !(tile_standard || !is_standard(e.type))) return;
  const size_t row_bytes = *dtype_row_bytes(e.type, static_cast<uint64_t>(cols));
  std::vector<uint8_t> out;
  out.reserve(e.bytes.size());
  int64_t r0 = 0;
  for (auto b : blocks) {
    const auto t = tile_int_rows(e.type, e.bytes.data() + static_cast<size_t>(r0) * row_bytes, row_bytes, b, cols);
    out.insert(out.end(), t.begin(), t.end());
    r0 += b;
  }
  e.bytes = std::move(out);
  e.type = *tiled;
}

}  // namespace pocketllm
