#include "quantizer/type_candidates.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/calib/kquant.h"
#include "quant/calib/row_weighted.h"
#include "quant/ggml_mix.h"
#include "weights/block_pack.h"
#include "weights/blocks_legacy.h"

namespace pocketllm {
namespace {

TypeCandidate sym(const char* name, int bits, int group, int64_t cols) {
  TypeCandidate c;
  c.name = name;
  c.scheme.bits = bits;
  c.scheme.group = group;
  c.type = scheme_type(c.scheme, cols);
  return c;
}

TypeCandidate ggml(const char* name, TypeCandidate::Kind kind, DType t) {
  TypeCandidate c;
  c.name = name;
  c.kind = kind;
  c.type = t;
  return c;
}

// Calibrated Q5_0: the symmetric calibrated codes at 5 bits, packed as Q5_0 blocks.
std::vector<uint8_t> pack_q5_0(const calib::CalibratedWeights& cw) {
  const int64_t nb = cw.cols / 32;
  std::vector<uint8_t> out(static_cast<size_t>(cw.rows * nb) * sizeof(BlockQ5_0));
  int q[32];
  for (int64_t r = 0; r < cw.rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      const float s = cw.scales[r * cw.groups_per_row + b];
      for (int i = 0; i < 32; ++i)
        q[i] = s > 0 ? static_cast<int>(std::nearbyint(cw.values[r * cw.cols + b * 32 + i] / s)) : 0;
      pack_q5_0_block(f32_to_f16(s), q, out.data() + static_cast<size_t>(r * nb + b) * sizeof(BlockQ5_0));
    }
  return out;
}

}  // namespace

uint64_t TypeCandidate::bits(int64_t rows, int64_t cols) const {
  return static_cast<uint64_t>(*dtype_row_bytes(type, static_cast<uint64_t>(cols))) * static_cast<uint64_t>(rows) * 8;
}

TypeCandidate q4_k_candidate() { return ggml("Q4_K", TypeCandidate::Kind::KQuant, DType::Q4_K); }

std::vector<TypeCandidate> type_candidates(int64_t cols) {
  using K = TypeCandidate::Kind;
  std::vector<TypeCandidate> c = {sym("W4 per-channel", 4, 0, cols), sym("W4 g64", 4, 64, cols),
                                  sym("W4 g32", 4, 32, cols)};
  if (cols % 128 == 0) c.push_back(sym("W4 g128", 4, 128, cols));
  if (cols % 32 == 0) c.push_back(ggml("Q5_0", K::Q5_0, DType::Q5_0));
  if (cols % 256 == 0) {
    c.push_back(q4_k_candidate());
    c.push_back(ggml("Q5_K", K::KQuant, DType::Q5_K));
    c.push_back(ggml("Q6_K", K::Q6_K, DType::Q6_K));
  }
  c.push_back(sym("W8 g32", 8, 32, cols));
  c.push_back(sym("W8 per-channel", 8, 0, cols));
  std::stable_sort(c.begin(), c.end(), [&](const TypeCandidate& a, const TypeCandidate& b) {
    return a.bits(1, cols) < b.bits(1, cols);
  });
  return c;
}

QuantizedResult quantize_to_candidate(const TypeCandidate& c, const std::string& name, int64_t rows, int64_t cols,
                                      const float* data, const calib::CalibStats& stats,
                                      const calib::CalibMethod& method, ThreadPool& pool, bool verbose) {
  using K = TypeCandidate::Kind;
  std::vector<float> h;
  if (auto it = stats.find(calib::stats_key(name)); it != stats.end() && it->second.cols == cols && it->second.second_moments)
    h = it->second.hessian();
  const bool calibrating = method.gptq || method.clip || method.refit || method.learn;
  if ((method.gptq || method.refit || method.learn) && h.empty() && c.kind != K::Q6_K)
    fail("{}: no calibration statistics for this tensor", name);
  QuantizedResult out;
  std::vector<float> values, rtn_values;  // for the report: the stored weights and the type's plain RTN
  std::optional<calib::LearnSummary> learned;  // symmetric types and Q5_0 under --learn
  switch (c.kind) {
    case K::Sym: {
      TensorPlan p;
      p.quantize = true;
      p.scheme = c.scheme;
      if (!calibrating) return quantize_tensor(p, name, rows, cols, data, stats, method, pool);
      const int64_t g = calib::stored_group(c.scheme, cols);
      const calib::CalibratedWeights cw = calib::quantize_calibrated_for(
          name, data, rows, cols, c.scheme.bits, g, h, verbose ? with_learn_progress(method, name) : method, &pool);
      learned = cw.learned;
      QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, calib::replay_scheme(c.scheme, cw));
      out.tensor = ExportedTensor{q.type, std::move(q.bytes)};
      values = cw.values;
      if (!h.empty()) rtn_values = calib::quantize_calibrated(data, rows, cols, c.scheme.bits, g, {}, {}).values;
      break;
    }
    case K::Q5_0: {
      if (cols % 32 != 0) fail("{}: Q5_0 needs rows of whole 32-blocks, not {}", name, cols);
      const calib::CalibratedWeights cw =
          calib::quantize_calibrated_for(name, data, rows, cols, 5, 32, h, verbose ? with_learn_progress(method, name) : method, &pool);
      learned = cw.learned;
      out.tensor = ExportedTensor{DType::Q5_0, pack_q5_0(cw)};
      values = cw.values;
      if (!h.empty() && calibrating) rtn_values = calib::quantize_calibrated(data, rows, cols, 5, 32, {}, {}).values;
      break;
    }
    case K::KQuant: {
      calib::KQuantWeights k = calib::quantize_kquant_calibrated(c.type, data, rows, cols, h, method, &pool);
      out.tensor = ExportedTensor{c.type, std::move(k.bytes)};
      values = std::move(k.values);
      if (!h.empty() && calibrating) rtn_values = calib::quantize_kquant_calibrated(c.type, data, rows, cols, {}, {}, &pool).values;
      break;
    }
    case K::Q6_K:
      out.tensor = ExportedTensor{DType::Q6_K, quantize_ggml_rows(DType::Q6_K, data, rows, cols, pool)};
      return out;
  }
  if (!rtn_values.empty()) {
    // Measured on 64 rows spread through the matrix: it costs cols² per row.
    const double before = calib::relative_output_error(data, rtn_values.data(), rows, cols, h, 64, &pool);
    const double after = calib::relative_output_error(data, values.data(), rows, cols, h, 64, &pool);
    out.calib_report = nlohmann::json{
        {"tensor", name}, {"type", c.name}, {"rtn_output_error", before}, {"calibrated_output_error", after}};
    if (verbose)
      std::fprintf(stderr, "calibrate: %-28s %-8s output error %.3e -> %.3e\n", name.c_str(), c.name.c_str(), before,
                   after);
    if (learned && method.learn && verbose) (*out.calib_report)["learn"] = learn_report(*learned, rows);
  }
  return out;
}

}  // namespace pocketllm
