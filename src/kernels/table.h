// The kernel table: one set of function pointers per instruction set, chosen
// once at start-up from CPU feature detection (POCKETLLM_ISA forces one).
//
// Integer weights reach the GEMM kernels as 16-row tiles (weights/int_tiles.h),
// packed by kernels/pack.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/ggml_int.h"
#include "kernels/int_weights.h"
#include "weights/dtype.h"
#include "weights/int_tiles.h"

namespace pocketllm {

// y[t * ldy + r] for every token of `a` and every row r of tiles [tile0, tile1).
using IntGemmFn = void (*)(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y,
                           int64_t ldy);
using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
using F16RowFn = void (*)(const uint16_t* src, float* dst, int64_t n);  // IEEE half -> f32, exact
// x[i] = x[i] rounded to the nearest IEEE half (as f32), ties to even.
using RoundF16Fn = void (*)(float* x, int64_t n);
// out[i] = sum_j a[j] * rows[j * ld + i] for i < n (attention: the weighted sum of
// values, and the scores of one query against keys stored transposed).
using AxpyRowsFn = void (*)(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out);

// axpy_rows for m vectors at once: out[i * ldo + c] = sum_j a[i * lda + j] * rows[j * ld + c]
// for i < m, c < n. The query heads of one KV group read the same keys and values,
// so each row load feeds m FMAs. Each output is the same FMA chain over j as
// axpy_rows (so the results equal m calls of it, bit for bit). Null in tables
// without one: callers loop axpy_rows (axpy_rows_multi() below does).
using AxpyRowsMultiFn = void (*)(const float* a, int64_t lda, int64_t m, const float* rows, int64_t n_rows, int64_t n,
                                 int64_t ld, float* out, int64_t ldo);
// x[i] = exp(x[i] - max) / sum over i < n (n >= 1): attention's weights.
using SoftmaxFn = void (*)(float* x, int64_t n);
// One token's activations x[cols] to int8 per group of `group` (n_groups * group
// >= cols; q is zero past cols): QuantActs' rule, bit for bit the same in every table.
using QuantizeActRowFn = void (*)(const float* x, int64_t cols, int64_t group, int64_t n_groups, float static_d,
                                  int8_t* q, float* d, int32_t* sum);
// a[i] = silu(a[i]) * b[i] (SwiGLU's gate times up).
using SiluMulFn = void (*)(float* a, const float* b, int64_t n);

inline constexpr int64_t kKvQ8Block = 32;  // dims per scale of the 8-bit KV cache (within one head)

// Attention over an 8-bit KV cache (KvType::Q8, model/kv_cache.h). One head's
// vector of hd dims is int8 in blocks of 32 dims (the last may be shorter), one
// f32 scale per block: nb = ceil(hd / 32). Int8 values are in [-127, 127].
// Rows j < n of the cache are `stride` bytes apart: row j's ints at k + j * stride
// and its nb scales at (bytes) kd + j * stride.
// Scores of m int8 query heads (q [m][hd], scales qd [m][nb]) against n keys:
//   out[i * ldo + j] = sum_b qd[i][b] * kd_j[b] * (exact int32 dot of block b).
using KvQ8ScoresFn = void (*)(const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* k, const float* kd,
                              size_t stride, int64_t n, float* out, int64_t ldo);
// Weighted sums of n values for m weight vectors (w [m][ldw]):
//   out[i * ldo + d] = sum_j w[i][j] * vd_j[block of d] * v_j[d], for d < hd.
using KvQ8WsumFn = void (*)(const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd, size_t stride,
                            int64_t n, int64_t hd, float* out, int64_t ldo);

// One head's n floats to int8 per block of 32 (last block shorter): d = max|x| / 127
// (0 for an all-zero block), q = x / d rounded half to even, clamped to +-127, NaN
// to 0. Plain C++, the same bits whatever the table (the KV cache stores it).
void quantize_kv_q8(const float* x, int64_t n, int8_t* q, float* d);
// x[i] = d[i / 32] * q[i].
void dequantize_kv_q8(const int8_t* q, const float* d, int64_t n, float* x);

// An entry every table must name: it has no default, so a table whose designated
// initializer leaves it out does not compile (entries are filled by name, never by
// position). Calls and null tests go through the function pointer it converts to.
template <class T>
struct TableEntry {
  T value;
  constexpr TableEntry(T v) : value(v) {}  // NOLINT: implicit, so `.f = fn` and `.f = nullptr` read plainly
  constexpr operator T() const { return value; }
};

// Every table is written with designated initializers, each entry named.
struct KernelTable {
  const char* name;                          // as POCKETLLM_ISA spells it
  TableEntry<IntGemmFn> gemm_w4;             // nullptr for ref, which reads weights as stored
  TableEntry<IntGemmFn> gemm_w8;
  TableEntry<DotF32Fn> dot_f32;
  TableEntry<F16RowFn> f16_to_f32_row;
  TableEntry<RoundF16Fn> round_f16;
  TableEntry<AxpyRowsFn> axpy_rows;
  TableEntry<bool> reads_wsum128;            // its 8-bit kernels offset activations by 128 and need PackedInt::wsum128
  TableEntry<SoftmaxFn> softmax;
  TableEntry<QuantizeActRowFn> quantize_act_row;
  TableEntry<SiluMulFn> silu_mul;
  TableEntry<AxpyRowsMultiFn> axpy_rows_multi;  // nullptr: callers loop axpy_rows (axpy_rows_multi() below)
  // GGML block types multiplied in place with int8 activations (kernels/ggml_int.h);
  // GgmlIntKernels{} (all null) keeps those types on the float path with this table.
  TableEntry<GgmlIntKernels> ggml;
  TableEntry<KvQ8ScoresFn> kv_q8_scores;       // 8-bit KV cache; nullptr: ref's (kv_q8_scores() below)
  TableEntry<KvQ8WsumFn> kv_q8_wsum;           // likewise
};

// k.axpy_rows_multi, or m calls of k.axpy_rows where the table has none.
void axpy_rows_multi(const KernelTable& k, const float* a, int64_t lda, int64_t m, const float* rows, int64_t n_rows,
                     int64_t n, int64_t ld, float* out, int64_t ldo);

// k's q8 KV kernels, or ref's where the table has none.
void kv_q8_scores(const KernelTable& k, const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* keys,
                  const float* kd, size_t stride, int64_t n, float* out, int64_t ldo);
void kv_q8_wsum(const KernelTable& k, const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd,
                size_t stride, int64_t n, int64_t hd, float* out, int64_t ldo);

// The table every linear() uses by default: POCKETLLM_ISA if set (throws Error
// if unknown or not supported by this CPU), else the best the CPU supports.
const KernelTable& active_kernels();
// The table named `isa` (as POCKETLLM_ISA spells it), or the best one when isa is
// null or empty; throws Error for an unknown name or one this CPU lacks.
const KernelTable& select_kernels(const char* isa);
// Every table compiled in and supported by this CPU, ref first.
std::vector<const KernelTable*> available_kernels();
// The table of that name if compiled in and supported, else nullptr.
const KernelTable* find_kernels(std::string_view name);
// Names of all instruction sets this build knows (supported or not).
std::vector<std::string> compiled_isa_names();

// How many concurrent read streams each thread's share of a decode GEMV is split
// into (1 or 2). Which draws more bandwidth depends on the CPU's prefetchers:
// on Zen 5 two streams per core read ~20% faster, on Zen 4 one stream does
// (52.6 vs 44 tok/s at 1 thread, bench/RESULTS.md). Default: 2 on AMD family
// 0x1A and later, else 1; POCKETLLM_GEMV_STREAMS=1|2 overrides. Results do not
// depend on it (each tile is computed whole either way).
int gemv_streams();
void set_gemv_streams(int n);  // tests and benchmarks; n is clamped to 1..2

}  // namespace pocketllm
