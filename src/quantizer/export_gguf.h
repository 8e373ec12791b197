// Writes a loaded model as a GGUF file llama.cpp can read: standard tensor names,
// <arch>.* hyperparameters, tokenizer.ggml.* vocab, chat template; Q/K rows in
// GGUF's interleaved order for the llama architecture.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "model/model.h"

namespace pocketllm {

struct ExportedTensor {
  DType type;
  std::vector<uint8_t> bytes;
};

struct ExportOptions {
  // Converts one tensor, given as f32 rows ([rows][cols], already in GGUF layout),
  // to its stored form. Default: 2-D tensors to `type`, 1-D tensors stay F32.
  std::function<ExportedTensor(const std::string& name, int64_t rows, int64_t cols, const float* data)> convert;
  DType type = DType::F32;
  // Extra metadata (e.g. pocketllm.* keys of quantized files).
  std::vector<std::pair<std::string, gguf::Value>> extra;
  bool progress = true;  // per-tensor progress on stderr
  // Called after every tensor is converted, before the file is written: metadata
  // that depends on the conversion (e.g. quantize's static activation scales).
  std::function<void(gguf::Writer&)> finish;
};

void export_gguf(const Model& m, const std::string& path, const ExportOptions& opt);

// The model's tensor as f32 in GGUF layout (dequantized, Q/K permuted for llama
// HF sources). rows = product of outer dims, cols = ne[0].
std::vector<float> tensor_as_f32(const Model& m, const std::string& name, int64_t& rows, int64_t& cols);

// Stores f32 rows as F32, F16 or BF16.
ExportedTensor store_float(DType type, const float* data, size_t n);

}  // namespace pocketllm
