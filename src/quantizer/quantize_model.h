// The quantizer: any loadable model to a W4A8 / W8A8 / W4A16 GGUF file (or a
// llama-quantize preset of GGML types), in named stages:
//   plan        validate the options, decide each tensor's type and whether the file
//               needs pocketllm (quant/plan.h, file_needs_pocketllm below);
//   calibrate   run the model over calibration text (quantizer/calibrate.h);
//   transforms  --rotate / --smooth on a float copy (quantizer/transforms.h);
//   quantize    each tensor to its type, calibrated or RTN (quantizer/tensor_quantize.h);
//   act search  --act static scales;  tile  the kernels' layout;
//   write       the GGUF file (atomically) and the .calib.json report.
// Progress and per-stage figures go to stderr as they are made.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/model.h"
#include "quantizer/options.h"
#include "quantizer/type_candidates.h"

namespace pocketllm {

struct QuantizeResult {
  uint64_t in_bytes = 0, out_bytes = 0;  // as stored: the input's tensors, the output's
  bool needs_pocketllm = false;          // the file holds something llama.cpp cannot run
  bool online_rotation = false, act_static = false;
  std::map<std::string, std::vector<std::string>> pocketllm_types;  // why a pocketllm type -> tensors
  std::string report_path;  // the .calib.json written, or empty
  double bpw = 0;           // --bpw: the block linears' bits per weight as stored
  std::map<std::string, std::pair<uint64_t, uint64_t>> other_bits;  // head / embedding: bits, weights
  int asym_tensors = 0;                                // --asym: tensors stored as Q4_K
  std::map<int64_t, std::vector<std::string>> asym_kept;  // --asym: row length -> tensors that kept the scheme
};

// Runs every stage and writes o.out; throws Error (before any work where it can:
// bad options, an unwritable output) with a message for the user.
QuantizeResult quantize_model(QuantizeOptions o);

// What `pocketllm quantize` prints when done (o as given to quantize_model): sizes,
// why the file needs pocketllm if it does, and the --asym / --bpw figures; one
// line each, newline-terminated.
std::string quantize_summary(const QuantizeResult& r, const QuantizeOptions& o);

// The plan stage's verdict for model m under the plan: whether any matrix gets a
// pocketllm type (or a tile of a standard type with --tiles), so llama.cpp cannot read the file;
// `chosen` holds the types --bpw picked (they replace the plan's).
bool file_needs_pocketllm(const Model& m, const QuantPlanOptions& plan, bool tiles,
                          const std::map<std::string, TypeCandidate>& chosen = {});

}  // namespace pocketllm
