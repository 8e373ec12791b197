// Q4_K / Q5_K / Q6_K / IQ4_XS / Q5_0 repacked into 16-row tiles (weights/kquant_tiles.h): the repack is
// exact and no larger than the file; every table's tile kernel against the
// in-place scalar reference (odd row counts, 1..9 and 70 tokens, zero and
// extreme blocks), within float rounding of the same exact int32 sums; linear()
// and matrix_row() over repacked matrices.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string_view>

#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/ggml_int.h"
#include "kernels/linear.h"
#include "kernels/pack.h"
#include "kernels/table.h"
#include "weights/row_codec.h"

using namespace pocketllm;

namespace kquant_tiles_test {
namespace {

const DType kTileTypes[] = {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS, DType::Q5_0};

size_t block_bytes(DType t) { return kquant_tile_sb_bytes(t) / kKqTileRows; }
bool has_min(DType t) { return t == DType::Q4_K || t == DType::Q5_K; }  // d, dmin at bytes 0, 2

KQuantGemmFn ref_tiles(DType t) {
  switch (t) {
    case DType::Q4_K: return ref_kquant_q4_k_tiles;
    case DType::Q5_K: return ref_kquant_q5_k_tiles;
    case DType::IQ4_XS: return ref_kquant_iq4_xs_tiles;
    case DType::Q5_0: return ref_kquant_q5_0_tiles;
    default: return ref_kquant_q6_k_tiles;
  }
}

void set_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Random blocks (every code and scale pattern), f16 scales small, zero or
// +-65504; row 3 block 1 all zero; row 5 all extreme: max codes, max scales
// and mins (Q6_K: scales -128 and 127 alternating; IQ4_XS: ls 63 and 0, the
// scales 31 and -32, alternating), d = dmin = 65504.
std::vector<uint8_t> random_blocks(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  const size_t bb = block_bytes(t);
  const int64_t nb = cols / kquant_tile_block_cols(t);
  std::vector<uint8_t> data(bb * nb * rows);
  std::mt19937 rng(seed);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> small(-0.02f, 0.02f);
  const auto pick = [&] {
    const unsigned p = rng() % 16;
    return p == 0 ? 0.0f : p == 1 ? 65504.0f : p == 2 ? -65504.0f : small(rng);
  };
  for (int64_t b = 0; b < nb * rows; ++b) {
    uint8_t* blk = &data[b * bb];
    if (has_min(t)) set_f16(blk, pick()), set_f16(blk + 2, pick());
    else if (t == DType::Q6_K) set_f16(blk + offsetof(BlockQ6_K, d), pick());
    else set_f16(blk, pick());
  }
  if (rows > 3 && nb > 1) std::memset(&data[(3 * nb + 1) * bb], 0, bb);
  if (rows > 5)
    for (int64_t b = 5 * nb; b < 6 * nb; ++b) {
      uint8_t* blk = &data[b * bb];
      std::memset(blk, 0xFF, bb);
      if (has_min(t)) {
        set_f16(blk, 65504.0f), set_f16(blk + 2, 65504.0f);
      } else if (t == DType::Q5_0) {
        set_f16(blk, 65504.0f);  // codes 31: value 15 d
      } else if (t == DType::IQ4_XS) {
        set_f16(blk, 65504.0f);
        const uint16_t h = 0x3333;  // ls = 63, 0, 63, 0, ... (low nibbles F, 0)
        std::memcpy(blk + offsetof(BlockIQ4_XS, scales_h), &h, 2);
        for (int k = 0; k < 4; ++k) blk[offsetof(BlockIQ4_XS, scales_l) + k] = 0x0F;
        std::memset(blk + offsetof(BlockIQ4_XS, qs), 0x0F, 128);  // levels 113 and -127
      } else {
        for (int j = 0; j < 16; ++j) blk[offsetof(BlockQ6_K, scales) + j] = j % 2 ? 0x80 : 0x7F;
        set_f16(blk + offsetof(BlockQ6_K, d), 65504.0f);
      }
    }
  return data;
}


GgmlActs acts_of(DType t, const std::vector<float>& x, int64_t n, int64_t cols) {
  GgmlActs a;
  ggml_acts_shape(n, cols, ggml_int_block(t), a);
  ggml_acts_tokens(x.data(), cols, 0, n, a);
  return a;
}

// The scale of each result's float rounding: sum over super-blocks of |d da| *
// sum |sc q a| (+ |dmin da| * sum |m sum(a)| for Q4_K), from the exact integers.
std::vector<double> magnitudes(DType t, const std::vector<uint8_t>& data, int64_t rows, int64_t cols,
                               const GgmlActs& a) {
  const int64_t bc = kquant_tile_block_cols(t), nb = cols / bc, n = a.n_tokens();
  const size_t bb = block_bytes(t);
  std::vector<double> mag(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t tok = 0; tok < n; ++tok) {
      double s = 0;
      for (int64_t b = 0; b < nb; ++b) {
        const int8_t* x = a.tok_q(tok) + b * bc;
        const double da = a.tok_d(tok)[b];
        const uint8_t* p = &data[(r * nb + b) * bb];
        if (has_min(t)) {
          Q4KRow w;
          if (t == DType::Q4_K) {
            BlockQ4_K blk;
            std::memcpy(&blk, p, sizeof blk);
            w = q4k_from_block(blk);
          } else {
            BlockQ5_K blk;
            std::memcpy(&blk, p, sizeof blk);
            w = q5k_from_block(blk);
          }
          double si = 0, sm = 0;
          for (int l = 0; l < 256; ++l) si += double(w.sc[l / 32]) * w.q[l] * std::abs(x[l]);
          for (int l = 0; l < 256; ++l) sm += double(w.m[l / 32]) * std::abs(x[l]);
          s += std::fabs(f16_to_f32(w.d) * da) * si + std::fabs(f16_to_f32(w.dmin) * da) * sm;
        } else if (t == DType::Q5_0) {
          BlockQ5_0 blk;
          std::memcpy(&blk, p, sizeof blk);
          const Q50Row w = q50_from_block(blk);
          double si = 0;
          for (int l = 0; l < 32; ++l) si += std::abs(double(w.q[l] - 16) * x[l]);
          s += std::fabs(f16_to_f32(w.d) * da) * si;
        } else if (t == DType::IQ4_XS) {
          BlockIQ4_XS blk;
          std::memcpy(&blk, p, sizeof blk);
          const IQ4XSRow w = iq4xs_from_block(blk);
          double si = 0;
          for (int l = 0; l < 256; ++l) si += std::abs(double(w.ls[l / 32] - 32) * kIQ4Levels[w.q[l]] * x[l]);
          s += std::fabs(f16_to_f32(w.d) * da) * si;
        } else {
          BlockQ6_K blk;
          std::memcpy(&blk, p, sizeof blk);
          const Q6KRow w = q6k_from_block(blk);
          double si = 0;
          for (int l = 0; l < 256; ++l) si += std::abs(double(w.sc[l / 16]) * (w.q[l] - 32) * x[l]);
          s += std::fabs(f16_to_f32(w.d) * da) * si;
        }
      }
      mag[tok * rows + r] = s;
    }
  return mag;
}

TEST(KQuantTiles, RepackIsExactAndNoLarger) {
  for (DType t : kTileTypes)
    for (int64_t rows : {1, 16, 37, 1000}) {
      const int64_t cols = rows == 1000 ? 4096 : 768;  // 1000 x 4096: > 2 MB, packed by 2 threads
      const auto data = random_blocks(t, rows, cols, 5 + static_cast<uint32_t>(rows));
      const size_t rb = *dtype_row_bytes(t, cols);
      PackedKQuant p;
      pack_kquant(t, data.data(), rb, rows, cols, p);
      EXPECT_EQ(p.bytes(), rb * 16 * static_cast<size_t>((rows + 15) / 16));
      if (rows % 16 == 0) {
        EXPECT_EQ(p.bytes(), data.size());
      }
      if (rows >= 1000) {
        EXPECT_LE(double(p.bytes()), 1.02 * double(data.size()));
      }
      std::vector<uint8_t> back(rb);
      for (int64_t r = 0; r < rows; ++r) {
        kquant_row_blocks(p, r, back.data());
        ASSERT_EQ(0, std::memcmp(back.data(), &data[r * rb], rb)) << dtype_name(t) << " row " << r;
      }
      // Padding rows are zero bytes.
      std::vector<uint8_t> zero(rb, 0);
      for (int64_t r = rows; r < p.n_tiles * 16; ++r) {
        kquant_row_blocks(p, r, back.data());
        ASSERT_EQ(back, zero) << r;
      }
    }
}

// Repacking tells its caller of every source byte once, in order and in whole rows,
// so the loader drops a large matrix's file pages while the rest is packed.
TEST(KQuantTiles, RepackReportsTheSourceBytesItHasRead) {
  const DType t = DType::Q4_K;
  const int64_t rows = 8000, cols = 2048;  // ~9.2 MB of blocks: more than one chunk
  const auto data = random_blocks(t, rows, cols, 77);
  const size_t rb = *dtype_row_bytes(t, cols);
  const uint8_t* at = data.data();
  int calls = 0;
  PackedKQuant p;
  pack_kquant(t, data.data(), rb, rows, cols, p, nullptr, [&](const uint8_t* ptr, size_t n) {
    EXPECT_EQ(ptr, at);
    EXPECT_EQ(n % rb, 0u);
    at += n;
    ++calls;
  });
  EXPECT_GE(calls, 2);
  EXPECT_EQ(at, data.data() + data.size());
}

// The scalar tile reference is the in-place reference bit for bit (same int32
// sums, same float order); every table's tile kernel is within float rounding.
TEST(KQuantTiles, EveryTableMatchesTheInPlaceReference) {
  uint32_t seed = 300;
  int tested = 0;
  for (DType t : kTileTypes)
    for (int64_t cols : {t == DType::Q5_0 ? int64_t{96} : int64_t{256}, int64_t{768}})  // Q5_0: 3 blocks
      for (int64_t rows : {1, 16, 37}) {
        const auto data = random_blocks(t, rows, cols, seed++);
        const size_t rb = *dtype_row_bytes(t, cols);
        PackedKQuant p;
        pack_kquant(t, data.data(), rb, rows, cols, p);
        for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 70}) {
          const auto x = kt::extreme_tokens(n, cols, seed++);
          const GgmlActs a = acts_of(t, x, n, cols);
          const auto mag = magnitudes(t, data, rows, cols, a);
          std::vector<float> ref(n * rows, -7.0f);
          ggml_int_kernel(*find_kernels("ref"), t)(data.data(), rb, cols, a, 0, rows, ref.data(), rows);
          std::vector<KQuantGemmFn> fns = {ref_tiles(t)};
          std::vector<std::string> names = {"ref tiles"};
          for (const KernelTable* k : kt::tested_kernels())
            if (const KQuantGemmFn fn = kquant_tile_kernel(*k, t)) fns.push_back(fn), names.push_back(k->name);
          for (size_t f = 0; f < fns.size(); ++f) {
            std::vector<float> y(n * rows, -7.0f);
            // Two calls over a split of the tiles: each writes only its own rows.
            const int64_t split = p.n_tiles / 2;
            fns[f](p, a, 0, split, y.data(), rows);
            fns[f](p, a, split, p.n_tiles, y.data(), rows);
            ++tested;
            for (int64_t tok = 0; tok < n; ++tok)
              for (int64_t r = 0; r < rows; ++r) {
                const size_t i = tok * rows + r;
                SCOPED_TRACE(fmt::format("{} {} {}x{} tokens {} token {} row {}", dtype_name(t), names[f], rows, cols,
                                         n, tok, r));
                if (f == 0) {
                  ASSERT_EQ(y[i], ref[i]);
                } else {
                  ASSERT_NEAR(y[i], ref[i], 2e-6 * mag[i]);
                }
                if (tok % 5 == 1) {
                  ASSERT_EQ(y[i], 0.0f);  // all-zero token
                }
              }
          }
        }
      }
  EXPECT_GT(tested, 0);
}

// The AVX-512 VNNI table has its tile kernels (so the test above is not silently
// reduced to the scalar one on such hosts); the other tables keep the blocks in place.
TEST(KQuantTiles, Avx512VnniTableHasTileKernels) {
  EXPECT_EQ(kquant_tile_kernel(*find_kernels("ref"), DType::Q4_K), nullptr);  // ref reads the file's blocks
  const KernelTable* k = find_kernels("avx512vnni");
  if (!k) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (DType t : kTileTypes) EXPECT_NE(kquant_tile_kernel(*k, t), nullptr) << dtype_name(t);
}

// The AVX2 and AVX-VNNI tables repack Q4_K, Q5_K, Q6_K and IQ4_XS (so the tests
// above run their tile kernels); Q5_0 stays in place there.
TEST(KQuantTiles, Avx2TablesHaveKQuantTileKernels) {
  for (const char* name : {"avx2", "avxvnni"}) {
    const KernelTable* k = find_kernels(name);
    if (!k) continue;
    for (DType t : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS})
      EXPECT_NE(kquant_tile_kernel(*k, t), nullptr) << name << " " << dtype_name(t);
    EXPECT_EQ(kquant_tile_kernel(*k, DType::Q5_0), nullptr) << name;
  }
}

// Zero blocks give exactly 0, and codes equal to the offset (Q6_K q = 32),
// codes 16 (Q5_0), zero codes with zero mins (Q4_K, Q5_K) or zero sub-block scales (IQ4_XS,
// ls = 32, under random indices) give exactly 0 against a huge activation.
TEST(KQuantTiles, ZeroValuesGiveZero) {
  const int64_t rows = 19, cols = 512, n = 6;
  auto x = kt::extreme_tokens(n, cols, 8);
  x[77] = 1e4f;
  for (DType t : kTileTypes) {
    const size_t bb = block_bytes(t);
    std::vector<uint8_t> data(bb * (cols / kquant_tile_block_cols(t)) * rows, 0);
    for (size_t b = 0; b < data.size() / bb; b += 2) {  // every other block: zero values under nonzero scales
      uint8_t* blk = &data[b * bb];
      if (t == DType::Q5_0) {
        std::memset(blk + offsetof(BlockQ5_0, qh), 0xFF, 4);  // codes 16: value 0
        set_f16(blk, 3.0f);
      } else if (t == DType::Q6_K) {
        std::memset(blk + offsetof(BlockQ6_K, qh), 0xAA, 64);
        std::memset(blk + offsetof(BlockQ6_K, scales), 0x7F, 16);
        set_f16(blk + offsetof(BlockQ6_K, d), 3.0f);
      } else if (t == DType::IQ4_XS) {
        const uint16_t h = 0xAAAA;  // every ls = 32: scale 0
        std::memcpy(blk + offsetof(BlockIQ4_XS, scales_h), &h, 2);
        for (int k = 0; k < 128; ++k) blk[offsetof(BlockIQ4_XS, qs) + k] = static_cast<uint8_t>(37 * k + b);
        set_f16(blk, 3.0f);
      } else {
        std::memset(blk + 4, 0x3F, 4);
        set_f16(blk, 3.0f), set_f16(blk + 2, 3.0f);
      }
    }
    PackedKQuant p;
    pack_kquant(t, data.data(), *dtype_row_bytes(t, cols), rows, cols, p);
    const GgmlActs a = acts_of(t, x, n, cols);
    for (const KernelTable* k : kt::tested_kernels())
      if (const KQuantGemmFn fn = kquant_tile_kernel(*k, t)) {
        std::vector<float> y(n * rows, -7.0f);
        fn(p, a, 0, p.n_tiles, y.data(), rows);
        for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t) << " " << k->name;
      }
  }
}

// linear() and matrix_row() over a repacked matrix: the tile kernel's results
// (with the source bytes gone), and the file's rows exactly.
TEST(KQuantTiles, LinearAndRowsOverRepackedMatrices) {
  constexpr int64_t rows = 45, cols = 512;
  uint32_t seed = 40;
  for (DType t : kTileTypes) {
    const auto w = kt::random_floats(rows * cols, seed++, 0.05f);
    const size_t rb = *dtype_row_bytes(t, cols);
    std::vector<uint8_t> stored(rb * rows);
    for (int64_t r = 0; r < rows; ++r) ggml_row_from_f32(t, &w[r * cols], &stored[r * rb], cols);
    for (int64_t n : {1, 7, 66}) {
      const auto x = kt::random_floats(n * cols, seed++);
      const Matrix base = make_matrix(t, rows, cols, stored.data());
      const auto ref = kt::run_linear(base, *find_kernels("ref"), x, n);
      for (const KernelTable* k : kt::tested_kernels()) {
        if (!kquant_tile_kernel(*k, t)) continue;
        SCOPED_TRACE(fmt::format("{} {} tokens {}", dtype_name(t), k->name, n));
        const auto y = kt::run_linear(base, *k, x, n, 2, /*drop_data=*/true);
        const GgmlActs a = acts_of(t, x, n, cols);
        const auto mag = magnitudes(t, stored, rows, cols, a);
        for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 2e-6 * mag[i] + 1e-30) << i;
        Matrix m = base;
        m.packed.reset();
        prepare_matrix(m, *k);
        EXPECT_EQ(m.packed_bytes, stored.size() / rows * 48);
        m.data = nullptr;  // rows come from the tiles
        std::vector<float> row(cols), want(cols);
        for (int64_t r = 0; r < rows; ++r) {
          matrix_row(m, r, row.data());
          ggml_row_to_f32(t, &stored[r * rb], want.data(), cols);
          ASSERT_EQ(row, want) << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kquant_tiles_test
