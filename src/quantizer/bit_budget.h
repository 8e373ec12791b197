// `quantize --bpw B`: one stored type per block linear under a budget of bits per
// weight, from measured sensitivity.
//   choose_types_for_budget  for each block linear and each candidate type
//                            (quantizer/type_candidates.h) quantized with the
//                            methods: the KL divergence of the model's next-token
//                            distribution from the float model's when only that
//                            tensor is quantized (float activations, calibration
//                            text); candidates another candidate beats on both
//                            bits and H-weighted output error are not run;
//   solve_bit_budget         then the types: greedy by KL saved per extra bit.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "model/model.h"
#include "quant/calib/stats.h"
#include "quant/float_tensors.h"
#include "quantizer/options.h"
#include "quantizer/type_candidates.h"

namespace pocketllm {

struct BudgetOption {
  uint64_t bits = 0;  // the item's size with this option
  double cost = 0;    // its sensitivity (lower is better)
};

// One option per item (indices) with Σ bits <= budget_bits: every item starts at
// its cheapest option, then the step along an item's lower convex hull of (bits,
// cost) that saves the most cost per extra bit and still fits is taken, until none
// fits; finally any single switch that fits and lowers an item's cost is taken
// (largest saving first). Deterministic (ties: lower item index, fewer bits).
// Throws Error when even the cheapest options exceed the budget.
std::vector<size_t> solve_bit_budget(const std::vector<std::vector<BudgetOption>>& items, uint64_t budget_bits);

struct BudgetChoice {
  std::map<std::string, TypeCandidate> types;  // block linear -> its type
  uint64_t weights = 0, bits = 0;              // of the block linears
  nlohmann::json report;                       // budget, achieved bpw, per tensor: type, bpw, sensitivity, options
};

// float_model runs over `tensors` (which are changed while measuring and restored);
// stats must hold second moments. o.bpw is the budget, o.methods the methods.
BudgetChoice choose_types_for_budget(const Model& float_model, FloatTensors& tensors, const calib::CalibStats& stats,
                                     const QuantizeOptions& o, ThreadPool& pool);

}  // namespace pocketllm
