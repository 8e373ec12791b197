#include "quantizer/float_model.h"

#include "quantizer/export_gguf.h"
#include "model/arch/family.h"

namespace pocketllm {

FloatTensors model_float_tensors(const Model& m) {
  FloatTensors out;
  for (auto& [name, t] : m.tensors) {
    int64_t rows, cols;
    std::vector<float> f = tensor_as_f32(m, name, rows, cols);
    out[name] = FloatTensor{t.ne, std::move(f)};
  }
  return out;
}

std::unique_ptr<Model> model_over_float_tensors(const Model& base, const FloatTensors& t, bool online_down_rotation) {
  auto m = std::make_unique<Model>();
  m->cfg = base.cfg;
  m->cfg.tied_embeddings = !t.count("output.weight");
  m->cfg.online_down_rotation = online_down_rotation;
  m->format = ModelFormat::GGUF;  // tensors are in GGUF layout already
  // tensor_as_f32 permuted a Hugging Face llama's (a family whose GGUF interleaves RoPE pairs) Q/K rows into GGUF's interleaved RoPE order.
  if (base.format == ModelFormat::HuggingFace && base.cfg.rope_style == RopeStyle::Neox &&
      gguf_rope_style(base.cfg.arch, base.path) == RopeStyle::Interleaved)
    m->cfg.rope_style = RopeStyle::Interleaved;
  m->path = base.path + " (transformed)";
  m->tokenizer = base.tokenizer;
  m->chat_template = base.chat_template;
  m->act = base.act;
  m->info = base.info;
  for (auto& [name, x] : t)
    m->tensors[name] = TensorRef{DType::F32, x.ne, reinterpret_cast<const uint8_t*>(x.data.data()), x.data.size() * 4};
  bind_model_weights(*m);
  return m;
}

}  // namespace pocketllm
