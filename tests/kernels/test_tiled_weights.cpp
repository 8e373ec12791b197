// The tiled weight types (weights/blocks_pocketllm.h, 1030..1035): the same matrix stored as
// tiles gives bit-identical products, rows and dequantized values as its row form,
// under every kernel table, and is used in place (no repacked copy).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/int_weights.h"
#include "kernels/pack.h"
#include "quant/quantize.h"

using namespace pocketllm;

namespace {
const Scheme kTiledSchemes[] = {{4, 32, {}}, {4, 64, {}}, {4, 128, {}}, {4, 0, {}}, {8, 32, {}}, {8, 0, {}}};
}

TEST(TiledWeights, SameResultsAsRowsForEveryTable) {
  for (const Scheme& s : kTiledSchemes)
    for (int64_t cols : {64, 100, 300}) {
      const int64_t rows = 48, nt = 5;
      const auto w = kt::random_floats(static_cast<size_t>(rows * cols), 91);
      const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
      const auto tiled_type = tiled_int_type(q.type, rows);
      ASSERT_TRUE(tiled_type) << dtype_name(q.type);
      const std::vector<uint8_t> tiles = tile_int_rows(q.type, q.bytes.data(), q.row_bytes, rows, cols);
      ASSERT_EQ(tiles.size(), q.bytes.size()) << "a tiled matrix takes exactly the bytes of its rows";
      const Matrix row_m = make_matrix(q.type, rows, cols, q.bytes.data());
      const Matrix tile_m = make_matrix(*tiled_type, rows, cols, tiles.data());
      const auto x = kt::random_floats(static_cast<size_t>(nt * cols), 92);
      for (const KernelTable* k : kt::tested_kernels()) {
        const auto a = kt::run_linear(row_m, *k, x, nt), b = kt::run_linear(tile_m, *k, x, nt);
        ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << k->name << " " << dtype_name(q.type) << " cols " << cols;
        Matrix prepared = tile_m;
        prepare_matrix(prepared, *k);
        if (s.bits == 4) {
          EXPECT_EQ(prepared.packed_bytes, 0u) << "4-bit tiles are used in place";
        }
        std::vector<float> r1(static_cast<size_t>(cols)), r2(static_cast<size_t>(cols));
        Matrix row_prepared = row_m;
        prepare_matrix(row_prepared, *k);
        for (int64_t r : {int64_t{0}, int64_t{17}, rows - 1}) {
          matrix_row(row_prepared, r, r1.data());
          matrix_row(prepared, r, r2.data());
          ASSERT_EQ(r1, r2) << k->name << " row " << r;
        }
      }
      EXPECT_EQ(dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols),
                dequantize(*tiled_type, tiles.data(), tiles.size(), rows, cols));
    }
}

TEST(TiledWeights, RowsNotMultipleOfTileAreRefused) {
  const int64_t rows = 20, cols = 64;
  const auto w = kt::random_floats(static_cast<size_t>(rows * cols), 93);
  const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, Scheme{4, 0, {}});
  EXPECT_FALSE(tiled_int_type(q.type, rows));
  EXPECT_TRUE(tiled_int_type(q.type, 32));
  EXPECT_FALSE(tiled_int_type(*tiled_int_type(q.type, 32), 32)) << "a tiled type has no further tiled form";
  // A file that claims a tiled type for 20 rows is a clear error, not a read past the data.
  Matrix m = make_matrix(*tiled_int_type(q.type, 32), rows, cols, q.bytes.data());
  try {
    prepare_matrix(m);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 16 rows"), std::string::npos) << e.what();
  }
  // Tiles have no row access.
  std::vector<int8_t> qi(64);
  std::vector<float> sc(1);
  EXPECT_THROW(unpack_int_row(*tiled_int_type(q.type, 32), q.bytes.data(), cols, qi.data(), sc.data()), Error);
}

// Packing tells its caller of every source byte it has read, once, in order, in
// chunks (the loader drops those file pages as it goes), and only when the matrix
// was copied: a tiled type viewed in place is never reported.
TEST(TiledWeights, PackingReportsTheSourceBytesItHasRead) {
  const int64_t rows = 2500, cols = 4096;  // 8-bit g32: ~10.6 MB of rows, more than one chunk
  const auto w = kt::random_floats(static_cast<size_t>(rows * cols), 94);
  const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, Scheme{8, 32, {}});
  std::vector<std::pair<const uint8_t*, size_t>> seen;
  const SourceDone done = [&](const uint8_t* p, size_t n) { seen.emplace_back(p, n); };
  PackedInt p;
  pack_int(q.type, q.bytes.data(), q.row_bytes, rows, cols, p, false, nullptr, done);
  ASSERT_GE(seen.size(), 2u) << "a large matrix is reported in several chunks";
  const uint8_t* at = q.bytes.data();
  for (const auto& [ptr, n] : seen) {
    EXPECT_EQ(ptr, at);
    EXPECT_EQ(n % q.row_bytes, 0u) << "whole rows";
    at += n;
  }
  EXPECT_EQ(at, q.bytes.data() + q.bytes.size());

  const int64_t trows = 32;
  const std::vector<uint8_t> tiles = tile_int_rows(q.type, q.bytes.data(), q.row_bytes, trows, cols);
  seen.clear();
  PackedInt viewed;
  pack_int(*tiled_int_type(q.type, trows), tiles.data(), q.row_bytes, trows, cols, viewed, false, nullptr, done);
  EXPECT_TRUE(seen.empty()) << "tiles used in place are the weights: nothing to drop";
}

// A large matrix is packed by several threads (whole tiles each, the 4-bit
// padding nibbles filled by the tile's own thread): every row, and the zero
// padding rows of the last tile, read back as the source.
TEST(TiledWeights, PackingOnSeveralThreadsKeepsEveryRow) {
  const int64_t rows = 1000, cols = 4096;  // > 2 MB of rows, not a multiple of 16
  const auto w = kt::random_floats(static_cast<size_t>(rows * cols), 95);
  for (const Scheme& s : {Scheme{4, 32, {}}, Scheme{8, 0, {}}}) {
    const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
    PackedInt p;
    pack_int(q.type, q.bytes.data(), q.row_bytes, rows, cols, p);
    std::vector<int8_t> want(static_cast<size_t>(p.kp)), got(static_cast<size_t>(p.kp));
    std::vector<float> want_sc(static_cast<size_t>(p.n_groups)), got_sc(static_cast<size_t>(p.n_groups));
    for (int64_t r = 0; r < p.n_tiles * 16; ++r) {
      if (r < rows) {
        unpack_int_row(q.type, q.bytes.data() + r * q.row_bytes, cols, want.data(), want_sc.data());
      } else {
        std::fill(want.begin(), want.end(), int8_t{0});
        std::fill(want_sc.begin(), want_sc.end(), 0.0f);
      }
      packed_row_ints(p, r, got.data(), got_sc.data());
      ASSERT_EQ(got, want) << s.bits << "-bit row " << r;
      for (size_t g = 0; g < want_sc.size(); ++g) ASSERT_EQ(f32_to_f16(got_sc[g]), f32_to_f16(want_sc[g])) << r;
    }
  }
}
