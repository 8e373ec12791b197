#include "quantizer/calibrate.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/context.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

// Runs a model over the calibration text and collects, per linear input, max |x|, the first
// calib_samples rows and (second_moments) x xᵀ (memory: cols² doubles per distinct input).
calib::CalibStats collect_calib_stats(const Model& m, const MethodOptions& o, bool second_moments, const char* what,
                                      int64_t only_layer) {
  if (o.calib_tokens < 1) fail("--calib-tokens must be at least 1");
  if (o.calib_ctx < 4) fail("--calib-ctx must be at least 4");
  if (o.calib_samples < 0) fail("--calib-samples must not be negative");
  std::map<const Matrix*, std::string> keys;
  for (size_t l = 0; l < m.w.layers.size(); ++l) {
    if (only_layer >= 0 && static_cast<int64_t>(l) != only_layer) continue;
    const LayerWeights& lw = m.w.layers[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto [mat, name] : {std::pair{&lw.wq, "attn_q"}, {&lw.wk, "attn_k"}, {&lw.wv, "attn_v"}, {&lw.wo, "attn_output"},
                             {&lw.w_gate, "ffn_gate"}, {&lw.w_up, "ffn_up"}, {&lw.w_down, "ffn_down"}})
      keys[mat] = calib::stats_key(b + name + ".weight");
  }
  calib::CalibStats stats;
  // x xᵀ costs cols² per token: its own threads (the model's are idle while the observer runs).
  ThreadPool stats_pool(o.threads > 0 ? o.threads : default_thread_count());
  std::pair<std::string, const float*> last;  // q/k/v (gate/up) run back to back on one input: count it once
  const LinearObserver observe = [&](const Matrix& w, const float* x, int64_t ldx, int64_t n) {
    auto it = keys.find(&w);
    if (it == keys.end() || it->second.empty()) return;
    if (last.first == it->second && last.second == x) return;
    last = {it->second, x};
    auto [st, fresh] = stats.try_emplace(it->second, w.cols, o.calib_samples, second_moments);
    st->second.add(x, ldx, n, &stats_pool);
  };
  const Tokenizer& tok = *m.tokenizer;
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  const auto text = MappedFile::open(o.calib_file, false);
  std::vector<int32_t> tokens =
      tok.encode(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), false, false);
  if (tokens.empty()) fail("{}: no calibration tokens", o.calib_file);
  const int64_t total = std::min<int64_t>(o.calib_tokens, static_cast<int64_t>(tokens.size()));
  ContextParams cp;
  cp.n_ctx = o.calib_ctx;
  cp.n_threads = o.threads;
  Context ctx(m, cp);
  ctx.engine().set_observer(observe);
  const int64_t body = o.calib_ctx - (add_bos ? 1 : 0);
  std::vector<int32_t> chunk;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min(body, total - done);
    chunk.clear();
    if (add_bos) chunk.push_back(tok.bos());
    chunk.insert(chunk.end(), tokens.begin() + done, tokens.begin() + done + n);
    ctx.truncate(0);
    ctx.eval(chunk.data(), static_cast<int64_t>(chunk.size()));
    done += n;
    const int width = 30, filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\rcalibrate (%s): [%s%s] %lld/%lld tokens", what, std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done), static_cast<long long>(total));
  }
  std::fprintf(stderr, "\n");
  return stats;
}

// Prints, per layer and linear input, max |x| / rms (the largest channel's peak over the
// typical entry), the median per-token peak / rms, and the channels that stand out most.
nlohmann::json print_activation_report(const calib::CalibStats& stats) {
  nlohmann::json out = nlohmann::json::array();
  std::fprintf(stderr, "activations per linear input (original model, calibration tokens): max|x|/rms over all "
                       "entries, median per-token max|x|/rms, and the top channels as channel:max|x_c|/rms (rms_c/rms)\n");
  // CalibStats is ordered by name ("blk.10." before "blk.2."): print in layer order.
  std::vector<std::pair<std::pair<int64_t, std::string>, const calib::LinearStats*>> order;
  for (const auto& [key, st] : stats) order.push_back({{std::stoll(key.substr(4)), key}, &st});
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, st] : order) {
    const auto o = st->outliers(3);
    std::string top;
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& c : o.top) {
      top += fmt::format(" {}:{:.1f} ({:.1f})", c.index, c.peak_to_rms, c.rms_ratio);
      channels.push_back({{"channel", c.index}, {"max_abs_over_rms", c.peak_to_rms}, {"rms_over_rms", c.rms_ratio}});
    }
    std::fprintf(stderr, "  %-20s max|x|/rms %7.1f  token median %6.1f  top%s\n", k.second.c_str(), o.peak_to_rms,
                 o.token_peak_to_rms_median, top.c_str());
    out.push_back({{"input", k.second},
                   {"rms", o.rms},
                   {"max_abs_over_rms", o.peak_to_rms},
                   {"token_max_abs_over_rms_median", o.token_peak_to_rms_median},
                   {"top_channels", channels}});
  }
  return out;
}

}  // namespace pocketllm
