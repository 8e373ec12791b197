#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/table.h"
#include "model/ops.h"

namespace pocketllm {

namespace {
constexpr int64_t kMaxHeadsPerPass = 4;  // query heads sharing one pass over keys and values

// One thread's f32 copy of the keys and values of one KV head of one sequence,
// positions [0, len): converted once and shared by every query head of the group
// and every later row of the same sequence in the batch. Keys are kept
// transposed, so a query's scores are one pass of axpy_rows over head_dim rows
// (vector lanes over positions) instead of a dot product and reduction per key.
struct HeadCache {
  const KvCache* kv = nullptr;
  int64_t layer = -1, kv_head = -1, len = 0, cap = 0, head_dim = 0;
  std::vector<float> v;      // [pos][head_dim]
  std::vector<float> kt;     // [head_dim][cap]: the keys, transposed
  std::vector<float> fresh;  // scratch: the keys of the positions being added, [pos][head_dim]

  void extend_to(const KvCache& cache, int64_t lay, int64_t head, int64_t hd, int64_t n) {
    if (kv != &cache || layer != lay || kv_head != head) {
      kv = &cache;
      layer = lay;
      kv_head = head;
      len = 0;
    }
    if (hd != head_dim) {  // another model (this cache is thread_local): kt's stride is per head_dim
      head_dim = hd;
      cap = 0;
      len = 0;
      kt.clear();
    }
    if (n <= len) return;
    if (n > cap) {  // grow geometrically, moving the positions kept to the new stride
      const int64_t grown = std::max<int64_t>((n + 15) / 16 * 16, 2 * cap);
      std::vector<float> next(static_cast<size_t>(hd * grown));
      for (int64_t d = 0; d < hd && len > 0; ++d)
        std::memcpy(&next[static_cast<size_t>(d * grown)], &kt[static_cast<size_t>(d * cap)], static_cast<size_t>(len) * 4);
      kt.swap(next);
      cap = grown;
    }
    v.resize(static_cast<size_t>(n * hd));
    fresh.resize(static_cast<size_t>((n - len) * hd));
    cache.read(lay, len, n, head * hd, hd, fresh.data(), &v[len * hd]);
    for (int64_t d = 0; d < hd; ++d)
      for (int64_t p = len; p < n; ++p)
        kt[static_cast<size_t>(d * cap + p)] = fresh[static_cast<size_t>((p - len) * hd + d)];
    len = n;
  }
};

// The m query heads at qh (consecutive, one KV group) of the token at `pos`,
// written to out (same layout): one pass over the keys and one over the values
// serve all m heads (axpy_rows_multi).
void attend_heads(const ModelConfig& c, const HeadCache& hc, int64_t layer, const float* qh, int64_t m, int64_t pos,
                  float* out, std::vector<float>& scores, const KernelTable& kt) {
  const int64_t hd = c.head_dim;
  // With an f16 cache both operands of each dot product are f16 (as in llama.cpp,
  // which converts q and the attention weights to f16 for its f16 kernels).
  const bool f16 = hc.kv->type() == KvType::F16;
  float q16[kMaxHeadsPerPass * 1024];  // head_dim <= 1024 (config.cpp)
  if (f16) {
    std::memcpy(q16, qh, static_cast<size_t>(m * hd) * sizeof(float));
    kt.round_f16(q16, m * hd);
    qh = q16;
  }
  const float scale = c.attn_scale > 0.0f ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
  // A sliding-window layer sees the last `sliding_window` positions only.
  const int64_t first = c.is_sliding(layer) ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
  const int64_t n = pos + 1 - first;
  scores.resize(static_cast<size_t>(m * n));
  axpy_rows_multi(kt, qh, hd, m, hc.kt.data() + first, hd, n, hc.cap, scores.data(), n);
  for (int64_t i = 0; i < m; ++i) {
    float* s = scores.data() + i * n;
    for (int64_t j = 0; j < n; ++j) s[j] *= scale;
    if (c.attn_softcap > 0.0f) ops::softcap(s, n, c.attn_softcap);
    kt.softmax(s, n);
    if (f16) kt.round_f16(s, n);
  }
  axpy_rows_multi(kt, scores.data(), n, m, hc.v.data() + first * hd, n, hd, hd, out, hd);
}

// attend_heads over an 8-bit cache, read in place: the query heads are quantized
// to int8 like the keys (per block of 32), the scores are integer dot products,
// and the values are dequantized as they are summed. No f32 copy of the cache.
struct Q8Scratch {
  std::vector<int8_t> q;
  std::vector<float> qd, scores;
};

void attend_heads_q8(const ModelConfig& c, const KvCache& kv, int64_t layer, int64_t kv_head, const float* qh, int64_t m,
                     int64_t pos, float* out, Q8Scratch& sc, const KernelTable& kt) {
  const int64_t hd = c.head_dim, nb = kv.q8_blocks();
  sc.q.resize(static_cast<size_t>(m * hd));
  sc.qd.resize(static_cast<size_t>(m * nb));
  for (int64_t i = 0; i < m; ++i) quantize_kv_q8(qh + i * hd, hd, sc.q.data() + i * hd, sc.qd.data() + i * nb);
  const float scale = c.attn_scale > 0.0f ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t first = c.is_sliding(layer) ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
  const int64_t n = pos + 1 - first;
  sc.scores.resize(static_cast<size_t>(m * n));
  kv_q8_scores(kt, sc.q.data(), sc.qd.data(), m, hd, kv.q8_k(layer, first, kv_head), kv.q8_k_scales(layer, first, kv_head),
               kv.row_bytes(), n, sc.scores.data(), n);
  for (int64_t i = 0; i < m; ++i) {
    float* s = sc.scores.data() + i * n;
    for (int64_t j = 0; j < n; ++j) s[j] *= scale;
    if (c.attn_softcap > 0.0f) ops::softcap(s, n, c.attn_softcap);
    kt.softmax(s, n);
  }
  kv_q8_wsum(kt, sc.scores.data(), n, m, kv.q8_v(layer, first, kv_head), kv.q8_v_scales(layer, first, kv_head),
             kv.row_bytes(), n, hd, out, hd);
}
}  // namespace

void attention(const ModelConfig& c, int64_t layer, const std::vector<BatchRow>& rows, const float* q, float* att,
               ThreadPool& pool) {
  const int64_t n_rows = static_cast<int64_t>(rows.size()), hd = c.head_dim, qd = c.q_dim();
  const int64_t group = c.n_heads / c.n_kv_heads;
  // Work units: (row run, block of query heads of one KV group), where a run is
  // consecutive rows of one sequence. Every block does the same work, so a
  // contiguous split is balanced; within a unit the run's positions only grow,
  // so the head cache only extends. A group's heads go in blocks of at most
  // kMaxHeadsPerPass that share each pass over the keys and values.
  const int64_t blocks_per_group = (group + kMaxHeadsPerPass - 1) / kMaxHeadsPerPass;
  const int64_t block = (group + blocks_per_group - 1) / blocks_per_group;
  const int64_t units_per_run = c.n_kv_heads * blocks_per_group;
  std::vector<std::pair<int64_t, int64_t>> runs;  // [begin, end) of rows
  for (int64_t t = 0; t < n_rows; ++t) {
    if (runs.empty() || rows[t].kv != rows[runs.back().first].kv) runs.push_back({t, t});
    runs.back().second = t + 1;
  }
  const KernelTable& kt = active_kernels();
  pool.run([&](int ti, int nt) {
    thread_local HeadCache hc;
    thread_local std::vector<float> scores;
    thread_local Q8Scratch q8;
    hc.kv = nullptr;  // the cache may hold another call's (since overwritten) values
    const int64_t units = static_cast<int64_t>(runs.size()) * units_per_run;
    auto [u0, u1] = ThreadPool::split(units, ti, nt);
    for (int64_t u = u0; u < u1; ++u) {
      const auto [r0, r1] = runs[static_cast<size_t>(u / units_per_run)];
      const int64_t kv_head = u % units_per_run / blocks_per_group;
      const int64_t h0 = kv_head * group + u % blocks_per_group * block;
      const int64_t m = std::min(block, (kv_head + 1) * group - h0);
      if (rows[r0].kv->type() == KvType::Q8) {
        for (int64_t t = r0; t < r1; ++t)
          attend_heads_q8(c, *rows[r0].kv, layer, kv_head, q + t * qd + h0 * hd, m, rows[t].pos, att + t * qd + h0 * hd,
                          q8, kt);
        continue;
      }
      int64_t len = 0;
      for (int64_t t = r0; t < r1; ++t) len = std::max(len, rows[t].pos + 1);
      hc.extend_to(*rows[r0].kv, layer, kv_head, hd, len);
      for (int64_t t = r0; t < r1; ++t)
        attend_heads(c, hc, layer, q + t * qd + h0 * hd, m, rows[t].pos, att + t * qd + h0 * hd, scores, kt);
    }
  });
}

}  // namespace pocketllm
