// The stored types a block linear may get under `quantize --bpw` (and Q4_K for
// --asym), and quantizing one tensor to one of them with the calibrated methods.
// Only types the integer kernels run: pocketllm's W4/W8 (incl. Q4_0/Q8_0 where
// rows are whole 32-blocks), Q5_0 (whole 32-blocks), Q4_K/Q5_K/Q6_K (whole
// 256-blocks). The methods apply as far as each type allows:
//   symmetric W4/W8 and Q5_0: GPTQ / clip / refit (quant/calib/gptq.h);
//   Q4_K / Q5_K: GPTQ / clip / refit (quant/calib/kquant.h; no act-order);
//   Q6_K: round to nearest (weights/row_codec.h), no method.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/calib/gptq.h"
#include "quant/calib/stats.h"
#include "quant/quantize.h"
#include "quantizer/tensor_quantize.h"

namespace pocketllm {

struct TypeCandidate {
  enum class Kind { Sym, Q5_0, KQuant, Q6_K };
  std::string name;  // e.g. "W4 g64", "Q4_K"
  Kind kind = Kind::Sym;
  DType type = DType::F32;  // as stored, before tiling
  Scheme scheme;            // Kind::Sym: bits and group
  // Bits the tensor takes in the file (scales and mins included).
  uint64_t bits(int64_t rows, int64_t cols) const;
};

// Every candidate for rows of `cols`, cheapest first (ties: the list's order).
std::vector<TypeCandidate> type_candidates(int64_t cols);
// The Q4_K candidate (rows of whole 256-blocks only).
TypeCandidate q4_k_candidate();

// Quantizes [rows][cols] `data` to c with `method` (the tensor's Hessian from stats,
// when it has one); the report compares with the same type's round to nearest.
QuantizedResult quantize_to_candidate(const TypeCandidate& c, const std::string& name, int64_t rows, int64_t cols,
                                      const float* data, const calib::CalibStats& stats,
                                      const calib::CalibMethod& method, ThreadPool& pool, bool verbose = true);

}  // namespace pocketllm
