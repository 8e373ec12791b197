#include "kernels/linear.h"
#include "kernels/pack.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "kernels/ggml_int.h"
#include "kernels/int_weights.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/table.h"
#include "weights/row_codec.h"

namespace pocketllm {

namespace {
// Types multiplied in float, their rows converted as they are read: the float
// types, and GGML's quantized types without an integer kernel in the table at
// hand (Q2_K, Q3_K, IQ4_NL, Q4_1, Q5_1 everywhere; Q4_K, Q5_K, Q6_K, Q5_0 and
// IQ4_XS on tables without kernels/ggml_int.h kernels, or with float activations).
const RowCodec* float_path_codec(DType t) { return int_weight_format(t) ? nullptr : ggml_row_codec(t); }

// What prepare_matrix() leaves in Matrix::packed.
struct PreparedWeights {
  const KernelTable* kernels = nullptr;
  std::vector<uint8_t> raw;  // the stored rows, when the table reads weights as stored (ref)
  PackedInt tiles;           // int weights as tiles (SIMD tables, or any table for tiled types)
  bool has_tiles = false;
  PackedKQuant ktiles;       // Q4_K/Q5_K/Q6_K/IQ4_XS/Q5_0 repacked for the table's tile kernels (weights/kquant_tiles.h)
  bool has_ktiles = false;
  std::shared_ptr<HugeArena> arena;  // holds the tiles when they were moved into huge pages
};

const PreparedWeights* prepared(const Matrix& w) { return static_cast<const PreparedWeights*>(w.packed.get()); }
const KernelTable& kernels_of(const Matrix& w) {
  const auto* p = prepared(w);
  return p ? *p->kernels : active_kernels();
}
const PackedKQuant* ktiles_of(const Matrix& w) {
  const auto* p = prepared(w);
  return p && p->has_ktiles ? &p->ktiles : nullptr;
}
const uint8_t* stored_rows(const Matrix& w) {
  const auto* p = prepared(w);
  if (p && !p->raw.empty()) return p->raw.data();
  if (!w.data) fail("matrix of {} has no stored rows", dtype_name(w.type));
  return w.data;
}

void linear_float(const Matrix& w, const RowCodec& codec, const float* x, int64_t ldx, int64_t n_tokens, float* y,
                  int64_t ldy, ThreadPool& pool) {
  const DotF32Fn dot = kernels_of(w).dot_f32;
  const F16RowFn f16_row = kernels_of(w).f16_to_f32_row;
  const uint8_t* data = stored_rows(w);
  // Rows in blocks of 8 (converted once, into this thread's buffer) meet every
  // token: the tokens are read once per block instead of once per row, which
  // matters for batches (prefill, calibration). F32 rows are read in place.
  constexpr int64_t kRows = 8;
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> rows;
    rows.resize(static_cast<size_t>(kRows * w.cols));
    const float* wr[kRows];
    for (int64_t b0 = r0; b0 < r1; b0 += kRows) {
      const int64_t nb = std::min(kRows, r1 - b0);
      for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* src = data + (b0 + i) * w.row_bytes;
        float* dst = rows.data() + i * w.cols;
        if (w.type == DType::F32) wr[i] = reinterpret_cast<const float*>(src);
        else if (w.type == DType::F16) f16_row(reinterpret_cast<const uint16_t*>(src), dst, w.cols), wr[i] = dst;
        else codec.to_f32(src, dst, w.cols), wr[i] = dst;
      }
      for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t i = 0; i < nb; ++i) y[t * ldy + b0 + i] = dot(wr[i], x + t * ldx, w.cols);
    }
  });
}

// Row r of integer weights as floats (padding beyond cols dropped).
void int_row_to_f32(const Matrix& w, int64_t r, float* out) {
  const auto f = *int_weight_format(w.type);
  const int64_t g = effective_group(f, w.cols), kp = padded_cols(f, w.cols);
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> sc;
  q.resize(static_cast<size_t>(kp));
  sc.resize(static_cast<size_t>(kp / g));
  const auto* p = prepared(w);
  if (p && p->has_tiles)
    packed_row_ints(p->tiles, r, q.data(), sc.data());
  else
    unpack_int_row(w.type, stored_rows(w) + r * w.row_bytes, w.cols, q.data(), sc.data());
  for (int64_t c = 0; c < w.cols; ++c) out[c] = static_cast<float>(q[c]) * sc[c / g];
}

// W4A16 / W8A16: weights dequantized row by row, products in float.
void linear_dequant(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y, int64_t ldy,
                    ThreadPool& pool) {
  const DotF32Fn dot = kernels_of(w).dot_f32;
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(w.cols));
    for (int64_t r = r0; r < r1; ++r) {
      int_row_to_f32(w, r, row.data());
      for (int64_t t = 0; t < n_tokens; ++t) y[t * ldy + r] = dot(row.data(), x + t * ldx, w.cols);
    }
  });
}

// GGML blocks read in place by an integer kernel (kernels/ggml_int.h): the
// activations quantized once per call (tokens split over threads), then rows
// split over threads. `outs` share x and the activation block size.
const GgmlActs& quantize_ggml_acts(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, ThreadPool& pool) {
  thread_local GgmlActs caller_acts;  // a reference below: workers must see the caller's copy
  GgmlActs& acts = caller_acts;
  ggml_acts_shape(n_tokens, w.cols, ggml_int_block(w.type), acts, w.act_scale);
  if (n_tokens < 4) ggml_acts_tokens(x, ldx, 0, n_tokens, acts);  // not worth a thread handoff
  else pool.parallel_for(n_tokens, [&](int64_t t0, int64_t t1) { ggml_acts_tokens(x, ldx, t0, t1, acts); });
  return acts;
}

GgmlIntFn ggml_kernel_of(const Matrix& w) {
  return w.act == ActPrecision::Int8 ? ggml_int_kernel(kernels_of(w), w.type) : nullptr;
}

// Runs f(c0, c1) over [0, total): threads claim chunks from a shared counter, so a
// thread slowed by the machine (or by a smaller share of bandwidth) takes fewer
// chunks instead of holding up the others.
template <class F>
void claim_in_chunks(int64_t total, ThreadPool& pool, const F& f) {
  if (pool.size() == 1 || total < 2) return f(0, total);
  const int64_t chunk = std::max<int64_t>(1, total / (8 * pool.size()));
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    for (int64_t c0; (c0 = next.fetch_add(chunk, std::memory_order_relaxed)) < total;)
      f(c0, std::min(total, c0 + chunk));
  });
}

// The rows of every matrix of `outs` as one range; threads claim chunks of rows
// from a shared counter (as run_tile_jobs), so a thread slowed by the machine
// takes fewer. Each row is computed whole by one thread: results do not depend
// on the schedule.
void run_ggml_int(std::span<const LinearOut> outs, const GgmlActs& acts, ThreadPool& pool) {
  int64_t total = 0;
  for (const auto& o : outs) total += o.w->rows;
  const auto run_range = [&](int64_t r0, int64_t r1) {
    int64_t base = 0;
    for (const auto& o : outs) {
      const Matrix& w = *o.w;
      const int64_t b = std::max(r0, base), e = std::min(r1, base + w.rows);
      if (b >= e) {
      } else if (const PackedKQuant* kt = ktiles_of(w)) {
        // The tiles whose first row is in [b, e): each tile is run by exactly one range.
        const int64_t t0 = (b - base + kKqTileRows - 1) / kKqTileRows, t1 = (e - base + kKqTileRows - 1) / kKqTileRows;
        if (t0 < t1) kquant_tile_kernel(kernels_of(w), w.type)(*kt, acts, t0, t1, o.y, o.ldy);
      } else {
        ggml_kernel_of(w)(stored_rows(w), w.row_bytes, w.cols, acts, b - base, e - base, o.y, o.ldy);
      }
      base += w.rows;
    }
  };
  claim_in_chunks(total, pool, run_range);
}

// One matrix's share of a tile pass: its tiles and where its outputs go.
struct TileJob {
  const PackedInt* tiles;
  IntGemmFn gemm;
  float* y;
  int64_t ldy;
};

// Runs the tiles of all jobs as one list. Threads claim chunks of tiles from
// a shared counter, so a thread slowed by the machine (or by a smaller share of
// bandwidth) takes fewer chunks instead of holding up the others. Each tile is
// computed whole by one thread with the same code, so results do not depend on
// the schedule.
void run_tile_jobs(std::span<const TileJob> jobs, const QuantActs& acts, ThreadPool& pool) {
  int64_t total = 0;
  for (const auto& j : jobs) total += j.tiles->n_tiles;
  const auto run_range = [&](int64_t c0, int64_t c1) {
    int64_t base = 0;
    for (const auto& j : jobs) {
      const int64_t b = std::max(c0, base), e = std::min(c1, base + j.tiles->n_tiles);
      if (b < e) j.gemm(*j.tiles, acts, b - base, e - base, j.y, j.ldy);
      base += j.tiles->n_tiles;
    }
  };
  claim_in_chunks(total, pool, run_range);
}

// Quantizes the activations of n_tokens once for every matrix that reads them.
const QuantActs& quantize_shared_acts(const IntWeightFormat& f, const KernelTable& k, int64_t cols, float act_scale,
                                      const float* x, int64_t ldx, int64_t n_tokens, ThreadPool& pool) {
  // A reference, not the thread_local itself: workers must see the caller's copy.
  thread_local QuantActs caller_acts;
  QuantActs& acts = caller_acts;
  quantize_acts_shape(n_tokens, effective_group(f, cols), padded_cols(f, cols), acts, act_scale,
                      f.bits == 8 && k.reads_wsum128 && k.gemm_w8);
  if (n_tokens < 4) quantize_acts_tokens(x, ldx, 0, n_tokens, cols, acts);  // not worth a thread handoff
  else pool.parallel_for(n_tokens, [&](int64_t t0, int64_t t1) { quantize_acts_tokens(x, ldx, t0, t1, cols, acts); });
  return acts;
}

// The tile job of w, or none when its table has no SIMD GEMM (ref reads rows).
std::optional<TileJob> tile_job(const Matrix& w, float* y, int64_t ldy) {
  const auto* p = prepared(w);
  if (!p || !p->has_tiles) return std::nullopt;
  const IntGemmFn gemm = p->tiles.bits == 4 ? p->kernels->gemm_w4 : p->kernels->gemm_w8;
  if (!gemm) return std::nullopt;
  return TileJob{&p->tiles, gemm, y, ldy};
}

void linear_int8(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y, int64_t ldy,
                 ThreadPool& pool) {
  const auto f = *int_weight_format(w.type);
  const QuantActs& acts = quantize_shared_acts(f, kernels_of(w), w.cols, w.act_scale, x, ldx, n_tokens, pool);
  if (const auto job = tile_job(w, y, ldy)) return run_tile_jobs({&*job, 1}, acts, pool);
  const auto* p = prepared(w);
  if (p && p->has_tiles)  // the scalar table over a tiled file
    return pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) { ref_linear_packed(p->tiles, acts, r0, r1, y, ldy); });
  const uint8_t* data = stored_rows(w);
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    ref_linear_int(w.type, data, w.row_bytes, w.cols, acts, r0, r1, y, ldy);
  });
}
}  // namespace

Matrix make_matrix(DType type, int64_t rows, int64_t cols, const void* data) {
  if (rows < 0 || cols <= 0) fail("a matrix of {} x {} is not valid", rows, cols);
  auto rb = dtype_row_bytes(type, static_cast<uint64_t>(cols));
  if (!rb) fail("a row of {} elements cannot be stored as {}", cols, dtype_name(type));
  Matrix m;
  m.type = type;
  m.rows = rows;
  m.cols = cols;
  m.data = static_cast<const uint8_t*>(data);
  m.row_bytes = *rb;
  return m;
}

void prepare_matrix(Matrix& m) { prepare_matrix(m, active_kernels()); }

void prepare_matrix(Matrix& m, const KernelTable& kernels, const std::shared_ptr<HugeArena>& arena,
                    const SourceDone& done) {
  if (m.packed) return;
  const auto f = int_weight_format(m.type);
  if (!f) {
    // Float-path types and GGML blocks with an integer kernel are read in place
    // (linear() reports types it cannot read); the latter remember their table,
    // and K-quants with a tile kernel in it are repacked into its tiles.
    if (ggml_int_kernel(kernels, m.type)) {
      auto p = std::make_shared<PreparedWeights>();
      p->kernels = &kernels;
      if (kquant_tile_kernel(kernels, m.type) && m.act == ActPrecision::Int8 && m.data) {
        const size_t arena_before = arena ? arena->used() : 0;
        pack_kquant(m.type, m.data, m.row_bytes, m.rows, m.cols, p->ktiles, arena.get(), done);
        p->has_ktiles = true;
        p->arena = arena;
        m.packed_bytes = arena ? arena->used() - arena_before : p->ktiles.own.size();
        m.stream_bytes = p->ktiles.bytes();
      }
      m.packed = std::move(p);
    }
    return;
  }
  if (!m.data) fail("prepare_matrix: matrix of {} has no data", dtype_name(m.type));
  if (f->bits == 8 && f->group == 0 && m.cols > 32768)
    fail("per-row 8-bit weights with {} columns could overflow int32 sums (max 32768)", m.cols);
  auto p = std::make_shared<PreparedWeights>();
  p->kernels = &kernels;
  if ((kernels.gemm_w4 && kernels.gemm_w8) || f->tiled) {
    const size_t arena_before = arena ? arena->used() : 0;
    pack_int(m.type, m.data, m.row_bytes, m.rows, m.cols, p->tiles, kernels.reads_wsum128, arena.get(), done);
    p->has_tiles = true;
    p->arena = arena;
    m.packed_bytes = arena ? arena->used() - arena_before : p->tiles.owned_bytes();
    m.stream_bytes = p->tiles.n_tiles * (p->tiles.tile_bytes + static_cast<size_t>(p->tiles.n_groups) * kTileRows * 2);
  } else {
    p->raw.assign(m.data, m.data + m.row_bytes * m.rows);
    m.packed_bytes = p->raw.size();
  }
  m.packed = std::move(p);
}

void linear(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y, int64_t ldy, ThreadPool& pool) {
  if (n_tokens <= 0 || w.rows == 0) return;
  if (n_tokens > 1 && (ldx < w.cols || ldy < w.rows)) fail("linear: ldx {} / ldy {} smaller than a row ({} / {})", ldx, ldy, w.cols, w.rows);
  if (int_weight_format(w.type)) {
    if (w.act == ActPrecision::Float) return linear_dequant(w, x, ldx, n_tokens, y, ldy, pool);
    return linear_int8(w, x, ldx, n_tokens, y, ldy, pool);
  }
  if (ggml_kernel_of(w)) {
    const LinearOut out{&w, y, ldy};
    return run_ggml_int({&out, 1}, quantize_ggml_acts(w, x, ldx, n_tokens, pool), pool);
  }
  if (const RowCodec* c = float_path_codec(w.type)) return linear_float(w, *c, x, ldx, n_tokens, y, ldy, pool);
  fail("no kernel for weights of type {} (pocketllm reads: docs/FORMAT.md)", dtype_name(w.type));
}

namespace {
// The tile jobs of `outs` when they can share one quantized input (same type,
// act precision and scale, width and kernel table, all with SIMD tiles), else none.
std::vector<TileJob> shared_tile_jobs(std::span<const LinearOut> outs, int64_t ldx, int64_t n_tokens) {
  const Matrix& w0 = *outs[0].w;
  if (outs.size() < 2 || !int_weight_format(w0.type) || w0.act != ActPrecision::Int8 || (n_tokens > 1 && ldx < w0.cols))
    return {};
  std::vector<TileJob> jobs;
  for (const auto& o : outs) {
    const Matrix& w = *o.w;
    const auto job = tile_job(w, o.y, o.ldy);
    if (!job || w.type != w0.type || w.act != w0.act || w.act_scale != w0.act_scale || w.cols != w0.cols || w.rows == 0 ||
        prepared(w)->kernels != prepared(w0)->kernels || (n_tokens > 1 && o.ldy < w.rows))
      return {};  // linear() handles (or reports) each on its own
    jobs.push_back(*job);
  }
  return jobs;
}

// Whether `outs` are all GGML blocks with integer kernels that read the same
// quantized input: same activation block size (Q4_K, Q5_K, Q6_K and IQ4_XS all
// use 256), width and static scale.
bool shares_ggml_acts(std::span<const LinearOut> outs, int64_t ldx, int64_t n_tokens) {
  const Matrix& w0 = *outs[0].w;
  if (outs.size() < 2 || (n_tokens > 1 && ldx < w0.cols)) return false;
  for (const auto& o : outs) {
    const Matrix& w = *o.w;
    if (!ggml_kernel_of(w) || ggml_int_block(w.type) != ggml_int_block(w0.type) || w.cols != w0.cols ||
        w.act_scale != w0.act_scale || (n_tokens > 1 && o.ldy < w.rows))
      return false;
  }
  return true;
}
}  // namespace

void linear_shared_input(std::span<const LinearOut> outs, const float* x, int64_t ldx, int64_t n_tokens,
                         ThreadPool& pool) {
  if (outs.empty() || n_tokens <= 0) return;
  if (shares_ggml_acts(outs, ldx, n_tokens))
    return run_ggml_int(outs, quantize_ggml_acts(*outs[0].w, x, ldx, n_tokens, pool), pool);
  const std::vector<TileJob> jobs = shared_tile_jobs(outs, ldx, n_tokens);
  if (jobs.empty()) {
    for (const auto& o : outs) linear(*o.w, x, ldx, n_tokens, o.y, o.ldy, pool);
    return;
  }
  const Matrix& w0 = *outs[0].w;
  run_tile_jobs(jobs,
                quantize_shared_acts(*int_weight_format(w0.type), *prepared(w0)->kernels, w0.cols, w0.act_scale, x, ldx,
                                     n_tokens, pool),
                pool);
}

bool can_multiply(DType t) { return int_weight_format(t) || float_path_codec(t); }

bool int8_activations(DType t) {
  return int_weight_format(t) || ggml_int_kernel(active_kernels(), t);
}

void matrix_row(const Matrix& w, int64_t r, float* out) {
  if (r < 0 || r >= w.rows) fail("row {} is out of range (matrix has {} rows)", r, w.rows);
  if (int_weight_format(w.type)) return int_row_to_f32(w, r, out);
  const RowCodec* c = float_path_codec(w.type);
  if (const PackedKQuant* kt = ktiles_of(w); kt && c) {  // the file's blocks, rebuilt from the tiles
    thread_local std::vector<uint8_t> blocks;
    blocks.resize(w.row_bytes);
    kquant_row_blocks(*kt, r, blocks.data());
    return c->to_f32(blocks.data(), out, w.cols);
  }
  if (c) return c->to_f32(stored_rows(w) + r * w.row_bytes, out, w.cols);
  fail("no row reader for weights of type {} (pocketllm reads: docs/FORMAT.md)", dtype_name(w.type));
}

}  // namespace pocketllm
