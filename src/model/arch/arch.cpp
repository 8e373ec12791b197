#include "model/arch/arch.h"

#include <cmath>
#include <limits>
#include <regex>

#include "core/error.h"

namespace pocketllm::detail {

int64_t HfConfig::integer(const std::string& key, std::optional<int64_t> dflt) const {
  if (j.contains(key) && j[key].is_number_integer()) return j[key].get<int64_t>();
  if (has(key)) fail("{}: '{}' should be an integer", source, key);
  if (dflt) return *dflt;
  fail("{}: missing '{}'", source, key);
}

double HfConfig::number(const std::string& key, double dflt) const {
  if (!has(key)) return dflt;
  if (!j[key].is_number()) fail("{}: '{}' should be a number", source, key);
  const double d = j[key].get<double>();
  // Readers keep these as float; a larger value would not convert.
  if (!(std::abs(d) <= std::numeric_limits<float>::max())) fail("{}: '{}' = {} is out of range", source, key, d);
  return d;
}

bool HfConfig::boolean(const std::string& key, bool dflt) const {
  if (!has(key)) return dflt;
  if (!j[key].is_boolean()) fail("{}: '{}' should be true or false", source, key);
  return j[key].get<bool>();
}

std::string HfConfig::string(const std::string& key, const std::string& dflt) const {
  if (!has(key)) return dflt;
  if (!j[key].is_string()) fail("{}: '{}' should be a string", source, key);
  return j[key].get<std::string>();
}

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> a = {llama_architecture(),  qwen2_architecture(),  qwen3_architecture(),
                                              gemma2_architecture(), gemma3_architecture(), phi3_architecture()};
  return a;
}

const Architecture& architecture(const std::string& name, const std::string& source) {
  for (auto& a : architectures())
    if (a.name == name) return a;
  std::string list;
  for (auto& a : architectures()) list += (list.empty() ? "" : ", ") + a.name;
  fail("{}: unsupported architecture '{}' (supported: {})", source, name, list);
}

const Architecture* architecture_for_hf_type(const std::string& model_type) {
  for (auto& a : architectures())
    for (auto& t : a.hf_types)
      if (t == model_type) return &a;
  return nullptr;
}

namespace {
const std::pair<std::string, std::string> kFixed[] = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                      {"model.norm.weight", "output_norm.weight"},
                                                      {"lm_head.weight", "output.weight"}};
const std::pair<std::string, std::string> kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"}};
}  // namespace

std::string hf_to_gguf_name(const Architecture& a, const std::string& hf) {
  for (auto& [h, g] : kFixed)
    if (hf == h) return g;
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch mm;
  if (!std::regex_match(hf, mm, layer)) return "";
  const std::string rest = mm[2].str(), blk = "blk." + mm[1].str() + ".";
  for (auto& [h, g] : a.hf_layer_names)
    if (rest == h) return blk + g;
  for (auto& [h, g] : kLayer)
    if (rest == h) return blk + g;
  return "";
}

std::string gguf_to_hf_name(const Architecture& a, const std::string& gguf) {
  for (auto& [h, g] : kFixed)
    if (gguf == g) return h;
  static const std::regex blk(R"(blk\.(\d+)\.(.+))");
  std::smatch mm;
  if (!std::regex_match(gguf, mm, blk)) return "";
  const std::string rest = mm[2].str(), layer = "model.layers." + mm[1].str() + ".";
  for (auto& [h, g] : a.hf_layer_names)
    if (rest == g) return layer + h;
  for (auto& [h, g] : kLayer)
    if (rest == g) return layer + h;
  return "";
}

std::vector<bool> sliding_layers_by_pattern(int64_t n_layers, int64_t pattern) {
  // As llama.cpp: pattern 0 = every layer slides; else the last of each `pattern` layers is full.
  std::vector<bool> s(static_cast<size_t>(n_layers));
  for (int64_t i = 0; i < n_layers; ++i) s[i] = pattern == 0 || (i % pattern) < pattern - 1;
  return s;
}

std::vector<bool> sliding_layers_from_hf(const HfConfig& k, int64_t n_layers, int64_t pattern) {
  if (!k.has("layer_types")) return sliding_layers_by_pattern(n_layers, pattern);
  const auto& lt = k.j["layer_types"];
  if (!lt.is_array() || static_cast<int64_t>(lt.size()) != n_layers)
    fail("{}: 'layer_types' should list one attention type per layer ({})", k.source, n_layers);
  std::vector<bool> s;
  for (auto& t : lt) {
    const std::string v = t.is_string() ? t.get<std::string>() : "";
    if (v != "sliding_attention" && v != "full_attention")
      fail("{}: layer type '{}' is not supported (sliding_attention or full_attention)", k.source, t.dump());
    s.push_back(v == "sliding_attention");
  }
  return s;
}

void write_arch_gguf_metadata(const ModelConfig& c, gguf::Writer& w) {
  const Architecture& a = architecture(c.arch, "export");
  if (c.rope_linear_factor != 1.0f) {
    w.set(c.arch + ".rope.scaling.type", gguf::Value::str("linear"));
    w.set(c.arch + ".rope.scaling.factor", gguf::Value::f32(c.rope_linear_factor));
  }
  if (a.to_gguf) a.to_gguf(c, w);
}

}  // namespace pocketllm::detail
