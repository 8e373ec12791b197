#include "quantizer/sequential.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "core/error.h"
#include "model/context.h"
#include "quant/calib/inverse_factor.h"
#include "quant/quantize.h"
#include "tokenizer/tokenizer.h"
#include "core/mapped_file.h"
#include "quantizer/calibrate.h"
#include "quantizer/float_model.h"

namespace pocketllm {
namespace {

// Block l's statistics on the quantized-so-far model (`quant`) plus, per input, the cross
// moment C = mean x_q x_fᵀ with the float model's input x_f on the same tokens.
struct PairStats {
  calib::CalibStats stats;                          // of x_q
  std::map<std::string, std::vector<double>> cross;  // [cols][cols]: row i = x_q[i], column j = x_f[j]
};

PairStats collect_pair_stats(const Model& fp, const Model& quant, const MethodOptions& o, bool second_moments, int64_t l,
                             ThreadPool& pool) {
  PairStats out;
  auto keys_of = [&](const Model& m) {
    std::map<const Matrix*, std::string> keys;
    const LayerWeights& lw = m.w.layers[static_cast<size_t>(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto [mat, name] : {std::pair{&lw.wq, "attn_q"}, {&lw.wk, "attn_k"}, {&lw.wv, "attn_v"}, {&lw.wo, "attn_output"},
                             {&lw.w_gate, "ffn_gate"}, {&lw.w_up, "ffn_up"}, {&lw.w_down, "ffn_down"}})
      keys[mat] = calib::stats_key(b + name + ".weight");
    return keys;
  };
  const auto fkeys = keys_of(fp), qkeys = keys_of(quant);
  std::map<std::string, std::vector<float>> frows;  // this chunk's float inputs, per key, in token order
  std::map<std::string, int64_t> used;              // how many of them the quantized pass has paired
  std::pair<std::string, const float*> last;
  const LinearObserver record = [&](const Matrix& w, const float* x, int64_t ldx, int64_t n) {
    auto it = fkeys.find(&w);
    if (it == fkeys.end() || it->second.empty() || (last.first == it->second && last.second == x)) return;
    last = {it->second, x};
    auto& v = frows[it->second];
    for (int64_t t = 0; t < n; ++t) v.insert(v.end(), x + t * ldx, x + t * ldx + w.cols);
  };
  const LinearObserver pair = [&](const Matrix& w, const float* x, int64_t ldx, int64_t n) {
    auto it = qkeys.find(&w);
    if (it == qkeys.end() || it->second.empty() || (last.first == it->second && last.second == x)) return;
    last = {it->second, x};
    const std::string& key = it->second;
    const int64_t c = w.cols;
    auto [st, fresh] = out.stats.try_emplace(key, c, o.calib_samples, second_moments);
    st->second.add(x, ldx, n, &pool);
    auto& cr = out.cross[key];
    if (cr.empty()) cr.assign(static_cast<size_t>(c * c), 0.0);
    const float* xf = frows.at(key).data() + used[key] * c;
    pool.parallel_for(c, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t t = 0; t < n; ++t) {
          const double a = x[t * ldx + i];
          double* row = cr.data() + i * c;
          const float* f = xf + t * c;
          for (int64_t j = 0; j < c; ++j) row[j] += a * f[j];
        }
    });
    used[key] += n;
  };
  const Tokenizer& tok = *fp.tokenizer;
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  const auto text = MappedFile::open(o.calib_file, false);
  std::vector<int32_t> tokens =
      tok.encode(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), false, false);
  const int64_t total = std::min<int64_t>(o.calib_tokens, static_cast<int64_t>(tokens.size()));
  ContextParams cp;
  cp.n_ctx = o.calib_ctx;
  cp.n_threads = o.threads;
  Context cf(fp, cp), cq(quant, cp);
  cf.engine().set_observer(record);
  cq.engine().set_observer(pair);
  const int64_t body = o.calib_ctx - (add_bos ? 1 : 0);
  std::vector<int32_t> chunk;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min(body, total - done);
    chunk.assign(add_bos ? 1 : 0, tok.bos());
    chunk.insert(chunk.end(), tokens.begin() + done, tokens.begin() + done + n);
    frows.clear(), used.clear(), last = {};
    cf.truncate(0);
    cf.eval(chunk.data(), static_cast<int64_t>(chunk.size()));
    last = {};
    cq.truncate(0);
    cq.eval(chunk.data(), static_cast<int64_t>(chunk.size()));
    done += n;
    std::fprintf(stderr, "\rcalibrate (blk.%lld, quantized and float inputs): %lld/%lld tokens", static_cast<long long>(l),
                 static_cast<long long>(done), static_cast<long long>(total));
  }
  std::fprintf(stderr, "\n");
  for (auto& [key, cr] : out.cross)
    for (double& v : cr) v /= static_cast<double>(out.stats.at(key).n_tokens);
  return out;
}

// The weights W' whose output on the quantized inputs best matches W's on the float ones:
// argmin E||W x_f − W' x_q||² = W Cᵀ H⁻¹ = W + W (C − H)ᵀ H⁻¹ (H = mean x_q x_qᵀ,
// C = mean x_q x_fᵀ; the damping, as GPTQ's, applies to the correction only, so equal
// inputs give W' = W). Quantizing W' against H then minimizes E||W x_f − Q x_q||², so a
// block's codes also absorb the error its input carries from the earlier blocks.
std::vector<float> compensated_weights(const float* w, int64_t rows, int64_t cols, const std::vector<float>& h,
                                       const std::vector<double>& cross, double damp, ThreadPool& pool) {
  std::vector<double> hd(h.begin(), h.end());
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) mean_diag += hd[i * cols + i];
  mean_diag = std::max(mean_diag / static_cast<double>(cols), 1e-12);
  for (int64_t i = 0; i < cols; ++i) hd[i * cols + i] += damp * mean_diag;
  std::vector<double> u;
  if (!calib::inverse_hessian_factor(std::move(hd), cols, u, &pool)) fail("--sequential: the input's Hessian is singular");
  std::vector<float> out(static_cast<size_t>(rows * cols));
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<double> b(static_cast<size_t>(cols)), c(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* wr = w + r * cols;
      for (int64_t i = 0; i < cols; ++i) {  // b = (C − H) wᵀ
        double s = 0;
        for (int64_t j = 0; j < cols; ++j) s += (cross[i * cols + j] - h[i * cols + j]) * wr[j];
        b[i] = s;
      }
      for (int64_t i = 0; i < cols; ++i) {  // c = U b (U upper)
        double s = 0;
        for (int64_t j = i; j < cols; ++j) s += u[i * cols + j] * b[j];
        c[i] = s;
      }
      for (int64_t j = 0; j < cols; ++j) {  // w' = Uᵀ c
        double s = 0;
        for (int64_t i = 0; i <= j; ++i) s += u[i * cols + j] * c[i];
        out[r * cols + j] = static_cast<float>(wr[j] + s);
      }
    }
  });
  return out;
}

}  // namespace

SequentialResult quantize_sequential(const Model& m, const calib::CalibStats& first, const MethodOptions& o,
                                     bool second_moments,
                                     const std::function<bool(const std::string&, int64_t, int64_t)>& quantizes,
                                     const TensorQuantizer& quantize, ThreadPool& pool) {
  SequentialResult out;
  FloatTensors t = model_float_tensors(m);
  // Views t: a block's weights replaced in t are what the next calibration pass runs.
  const std::unique_ptr<Model> run = model_over_float_tensors(m, t, m.cfg.online_down_rotation);
  for (int64_t l = 0; l < m.cfg.n_layers; ++l) {
    const std::string prefix = "blk." + std::to_string(l) + ".";
    PairStats layer;
    if (l == 0) {
      for (const auto& [key, st] : first)
        if (key.starts_with(prefix)) layer.stats.emplace(key, st);
    } else if (o.sequential_compensate) {
      layer = collect_pair_stats(m, *run, o, second_moments, l, pool);
    } else {
      const std::string what = fmt::format("blk.{} after quantized blk.0-{}", l, l - 1);
      layer.stats = collect_calib_stats(*run, o, second_moments, what.c_str(), l);
    }
    for (auto& [name, ft] : t) {
      if (!name.starts_with(prefix) || ft.ne.size() < 2 || calib::stats_key(name).empty()) continue;
      if (!quantizes(name, ft.rows(), ft.cols())) continue;
      std::vector<float> target;
      if (auto c = layer.cross.find(calib::stats_key(name)); c != layer.cross.end())
        target = compensated_weights(ft.data.data(), ft.rows(), ft.cols(), layer.stats.at(c->first).hessian(), c->second,
                                     o.weights.damp, pool);
      QuantizedResult q = quantize(name, ft.rows(), ft.cols(), target.empty() ? ft.data.data() : target.data(), layer.stats);
      const std::vector<float> v = dequantize(q.tensor.type, q.tensor.bytes.data(), q.tensor.bytes.size(), ft.rows(), ft.cols());
      std::copy(v.begin(), v.end(), ft.data.begin());  // in place: the model views this buffer
      out.tensors.emplace(name, std::move(q));
    }
    for (auto& [key, st] : layer.stats) out.stats.insert_or_assign(key, std::move(st));
  }
  return out;
}

}  // namespace pocketllm
