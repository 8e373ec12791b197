// A model's tensors as f32 (GGUF names and layout) and back: the quantizer's
// equivalent transforms (quant/rotate.h, quant/calib/smooth.h) rewrite the float
// tensors, and the transformed model runs in memory (calibration, exactness tests)
// and is exported like any loaded model.
#pragma once
#include <memory>

#include "model/model.h"
#include "quant/float_tensors.h"

namespace pocketllm {

// Every tensor of m as f32 (tensor_as_f32).
FloatTensors model_float_tensors(const Model& m);

// A runnable model with base's config, tokenizer and template over the tensors of t
// (stored F32, GGUF layout). The model points into t: keep t alive and unresized
// while the model is used. online_down_rotation: t holds the online ffn_down
// transform (quant/rotate.h).
std::unique_ptr<Model> model_over_float_tensors(const Model& base, const FloatTensors& t, bool online_down_rotation);

}  // namespace pocketllm
