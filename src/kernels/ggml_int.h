// Integer kernels for GGML block types read in place (issue 26): Q4_K, Q5_K,
// Q6_K, IQ4_XS and Q5_0 rows are multiplied straight from the file's blocks,
// with no repacking (zero extra memory, the mapped pages are the weights):
// int8 activations times the blocks' exact integer codes, int32 sums per
// super-block (or block), one float rescale per super-block and token.
//
// Activations are quantized per token in blocks of the weight type's block
// size (256 for the K-quants and IQ4_XS, like llama.cpp's Q8_K; 32 for Q5_0):
// one scale max|x| / 127 per block, plus the sums of the int8 values over each
// 16, computed once per quantization: they give Q4_K/Q5_K's min terms
// (dmin * m * sum(a) per sub-block of 32) without touching each weight twice.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/int_weights.h"
#include "weights/dtype.h"
#include "weights/kquant_tiles.h"

namespace pocketllm {

struct GgmlActs {
  QuantActs q;                // group = block size, kp = cols (a whole number of blocks)
  std::vector<int16_t> sum16;  // [n_tokens][cols / 16]: sum of q over each 16 (|sum| <= 2032)
  int64_t n_tokens() const { return q.n_tokens; }
  int64_t cols() const { return q.kp; }
  const int8_t* tok_q(int64_t t) const { return q.q.data() + t * q.kp; }
  const float* tok_d(int64_t t) const { return q.d.data() + t * q.n_groups; }
  const int16_t* tok_sum16(int64_t t) const { return sum16.data() + t * (q.kp / 16); }
};

// y[t * ldy + r] = row r . token t for rows [r0, r1) stored at data + r * row_bytes
// (`cols` weights each) and every token of `a`.
using GgmlIntFn = void (*)(const uint8_t* data, size_t row_bytes, int64_t cols, const GgmlActs& a, int64_t r0,
                           int64_t r1, float* y, int64_t ldy);

// y[t * ldy + 16 * tile + i] for every token of `a` and the rows of tiles
// [tile0, tile1) of K-quants repacked at load (weights/kquant_tiles.h).
using KQuantGemmFn = void (*)(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                              int64_t ldy);

struct GgmlIntKernels {
  GgmlIntFn q4_k = nullptr, q5_k = nullptr, q6_k = nullptr, q5_0 = nullptr, iq4_xs = nullptr;
  // Tile kernels: where set, the table's matrices of that type are repacked at
  // load (prepare_matrix) and multiplied by these instead of the in-place ones.
  KQuantGemmFn q4_k_tiles = nullptr, q5_k_tiles = nullptr, q6_k_tiles = nullptr, iq4_xs_tiles = nullptr,
               q5_0_tiles = nullptr;
};

struct KernelTable;
// The kernel of table k for type t, or null (the type keeps the float path there).
GgmlIntFn ggml_int_kernel(const KernelTable& k, DType t);
// The tile kernel of table k for type t, or null (t stays in place there; also
// everywhere when POCKETLLM_KQUANT_TILES=0, for A/B benchmarks).
KQuantGemmFn kquant_tile_kernel(const KernelTable& k, DType t);
// Activation block size of t's integer kernel (256 or 32); 0 if t has none.
int64_t ggml_int_block(DType t);

// Size `a` for n_tokens x cols in blocks of `block` (static_d > 0: one fixed scale,
// as QuantActs), then quantize tokens [t0, t1) (threads may split the tokens).
void ggml_acts_shape(int64_t n_tokens, int64_t cols, int64_t block, GgmlActs& a, float static_d = 0);
void ggml_acts_tokens(const float* x, int64_t ldx, int64_t t0, int64_t t1, GgmlActs& a);

// The scalar references (kernels/ref): plain loops over the blocks.
void ref_ggml_q4_k(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_ggml_q5_k(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_ggml_q6_k(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_ggml_q5_0(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_ggml_iq4_xs(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
// Scalar references of the tile kernels (plain loops over the decoded tiles; tests).
void ref_kquant_q4_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_kquant_q6_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_kquant_q5_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_kquant_iq4_xs_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void ref_kquant_q5_0_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
inline constexpr GgmlIntKernels kRefGgmlInt = {.q4_k = ref_ggml_q4_k, .q5_k = ref_ggml_q5_k, .q6_k = ref_ggml_q6_k,
                                               .q5_0 = ref_ggml_q5_0, .iq4_xs = ref_ggml_iq4_xs};

// AVX2 versions (kernels/x86_avx2; also used by the AVX-VNNI and AVX-512 tables,
// whose CPUs run AVX2). Declared here, defined only in x86 builds.
void avx2_ggml_q4_k(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_ggml_q5_k(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_ggml_q6_k(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_ggml_q5_0(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_ggml_iq4_xs(const uint8_t*, size_t, int64_t, const GgmlActs&, int64_t, int64_t, float*, int64_t);
// AVX2 tile kernels (kernels/x86_avx2).
void avx2_kquant_q4_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_kquant_q6_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_kquant_q5_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx2_kquant_iq4_xs_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
// AVX-VNNI tile kernels (kernels/x86_avx2, 256-bit vpdpbusd).
void avxvnni_kquant_q4_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avxvnni_kquant_q5_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avxvnni_kquant_q6_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avxvnni_kquant_iq4_xs_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
// AVX-512 VNNI tile kernels (kernels/x86_avx512vnni).
void avx512vnni_kquant_q4_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx512vnni_kquant_q6_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx512vnni_kquant_q5_k_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx512vnni_kquant_iq4_xs_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
void avx512vnni_kquant_q5_0_tiles(const PackedKQuant&, const GgmlActs&, int64_t, int64_t, float*, int64_t);
#if defined(__x86_64__)
// AVX2 / AVX-VNNI tables: Q4_K, Q5_K, Q6_K and IQ4_XS repacked into tiles (AVX2
// tile kernels: 1.6x-2.3x the in-place ones in prefill, one thread); Q5_0 in place.
inline constexpr GgmlIntKernels kAvx2GgmlInt = {.q4_k = avx2_ggml_q4_k, .q5_k = avx2_ggml_q5_k, .q6_k = avx2_ggml_q6_k,
                                                .q5_0 = avx2_ggml_q5_0, .iq4_xs = avx2_ggml_iq4_xs,
                                                .q4_k_tiles = avx2_kquant_q4_k_tiles,
                                                .q5_k_tiles = avx2_kquant_q5_k_tiles,
                                                .q6_k_tiles = avx2_kquant_q6_k_tiles,
                                                .iq4_xs_tiles = avx2_kquant_iq4_xs_tiles};
inline constexpr GgmlIntKernels kAvxVnniGgmlInt = {.q4_k = avx2_ggml_q4_k, .q5_k = avx2_ggml_q5_k,
                                                   .q6_k = avx2_ggml_q6_k, .q5_0 = avx2_ggml_q5_0,
                                                   .iq4_xs = avx2_ggml_iq4_xs,
                                                   .q4_k_tiles = avxvnni_kquant_q4_k_tiles,
                                                   .q5_k_tiles = avxvnni_kquant_q5_k_tiles,
                                                   .q6_k_tiles = avxvnni_kquant_q6_k_tiles,
                                                   .iq4_xs_tiles = avxvnni_kquant_iq4_xs_tiles};
inline constexpr GgmlIntKernels kAvx512VnniGgmlInt = {
    .q4_k = avx2_ggml_q4_k, .q5_k = avx2_ggml_q5_k, .q6_k = avx2_ggml_q6_k, .q5_0 = avx2_ggml_q5_0,
    .iq4_xs = avx2_ggml_iq4_xs, .q4_k_tiles = avx512vnni_kquant_q4_k_tiles, .q5_k_tiles = avx512vnni_kquant_q5_k_tiles,
    .q6_k_tiles = avx512vnni_kquant_q6_k_tiles, .iq4_xs_tiles = avx512vnni_kquant_iq4_xs_tiles,
    .q5_0_tiles = avx512vnni_kquant_q5_0_tiles};
#endif

}  // namespace pocketllm
