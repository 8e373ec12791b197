// Writes a loaded llama-family model as a Hugging Face folder: config.json and
// model.safetensors with HF tensor names and HF's half-split Q/K row order.
#pragma once
#include <string>

#include "model/model.h"

namespace pocketllm {

// dtype: F32, F16 or BF16 for 2-D tensors (norms stay F32).
void export_hf(const Model& m, const std::string& dir, DType dtype = DType::F32);

}  // namespace pocketllm
