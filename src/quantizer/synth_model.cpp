#include "quantizer/synth_model.h"

#include <cmath>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fp16.h"
#include "core/splitmix.h"
#include "core/thread_pool.h"
#include "model/arch/family.h"
#include "quantizer/export_gguf.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::bench {
namespace {

// Uniform in (0, 1]: never 0, so log() stays finite.
double unit(uint64_t& s) { return (static_cast<double>(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53; }

enum class Init { Random, Ones, Bias };

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> ne;
  Init init = Init::Random;
  bool is_float32() const { return init != Init::Random; }  // norms and biases stay F32
};

// The tensors llama.cpp's converter writes for the family, in GGUF names and shapes.
std::vector<TensorPlan> tensor_plan(const ModelConfig& c) {
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const FamilyTensors fam = family_tensors(c.arch, "synth");
  std::vector<TensorPlan> t;
  t.push_back({"token_embd.weight", {u(c.dim), u(c.n_vocab)}});
  t.push_back({"output_norm.weight", {u(c.dim)}, Init::Ones});
  if (!c.tied_embeddings) t.push_back({"output.weight", {u(c.dim), u(c.n_vocab)}});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    t.push_back({b + "attn_norm.weight", {u(c.dim)}, Init::Ones});
    if (fam.fused_qkv) {
      t.push_back({b + "attn_qkv.weight", {u(c.dim), u(c.q_dim() + 2 * c.kv_dim())}});
    } else {
      t.push_back({b + "attn_q.weight", {u(c.dim), u(c.q_dim())}});
      t.push_back({b + "attn_k.weight", {u(c.dim), u(c.kv_dim())}});
      t.push_back({b + "attn_v.weight", {u(c.dim), u(c.kv_dim())}});
    }
    t.push_back({b + "attn_output.weight", {u(c.q_dim()), u(c.dim)}});
    t.push_back({b + "ffn_norm.weight", {u(c.dim)}, Init::Ones});
    if (fam.fused_gate_up) {
      t.push_back({b + "ffn_up.weight", {u(c.dim), u(2 * c.hidden_dim)}});  // [gate; up]
    } else {
      t.push_back({b + "ffn_gate.weight", {u(c.dim), u(c.hidden_dim)}});
      t.push_back({b + "ffn_up.weight", {u(c.dim), u(c.hidden_dim)}});
    }
    t.push_back({b + "ffn_down.weight", {u(c.hidden_dim), u(c.dim)}});
    // Family extras after the llama tensors, so llama presets keep their RNG streams.
    if (fam.qkv_bias) {
      t.push_back({b + "attn_q.bias", {u(c.q_dim())}, Init::Bias});
      t.push_back({b + "attn_k.bias", {u(c.kv_dim())}, Init::Bias});
      t.push_back({b + "attn_v.bias", {u(c.kv_dim())}, Init::Bias});
    }
    if (c.qk_norm) {
      t.push_back({b + "attn_q_norm.weight", {u(c.head_dim)}, Init::Ones});
      t.push_back({b + "attn_k_norm.weight", {u(c.head_dim)}, Init::Ones});
    }
    if (c.post_norms) {
      t.push_back({b + "post_attention_norm.weight", {u(c.dim)}, Init::Ones});
      t.push_back({b + "post_ffw_norm.weight", {u(c.dim)}, Init::Ones});
    }
  }
  return t;
}

constexpr size_t kChunk = size_t{1} << 16;  // elements per RNG stream

// Fills one tensor's bytes (type `type`) chunk by chunk in parallel.
void generate_tensor(uint64_t seed, uint64_t tensor_index, DType type, size_t n, uint8_t* out, ThreadPool& pool) {
  const size_t n_chunks = (n + kChunk - 1) / kChunk;
  pool.parallel_for(static_cast<int64_t>(n_chunks), [&](int64_t b, int64_t e) {
    std::vector<float> buf(kChunk);
    for (int64_t ci = b; ci < e; ++ci) {
      const size_t off = static_cast<size_t>(ci) * kChunk, len = std::min(kChunk, n - off);
      fill_normal(seed, (tensor_index << 32) | static_cast<uint64_t>(ci), 0.02f, buf.data(), len);
      if (type == DType::F32) {
        std::memcpy(out + off * 4, buf.data(), len * 4);
      } else {
        auto* h = reinterpret_cast<uint16_t*>(out) + off;
        if (type == DType::F16)
          for (size_t i = 0; i < len; ++i) h[i] = f32_to_f16(buf[i]);
        else
          for (size_t i = 0; i < len; ++i) h[i] = f32_to_bf16(buf[i]);
      }
    }
  });
}

uint32_t gguf_file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
    case DType::F16: return 1;   // LLAMA_FTYPE_MOSTLY_F16
    case DType::BF16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
    default: fail("synth: type {} is not f32, f16 or bf16", dtype_name(t));
  }
}

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> p = make_synth_presets();
  return p;
}

const SynthPreset& find_synth_preset(const std::string& name) {
  std::string known;
  for (auto& p : synth_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  fail("unknown preset '{}' (known: {})", name, known);
}

void fill_normal(uint64_t seed, uint64_t stream, float stddev, float* out, size_t n) {
  uint64_t s = seed * 0xD1B54A32D192ED03ull ^ stream;
  splitmix64(s);
  constexpr double kTwoPi = 6.283185307179586;
  for (size_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(unit(s))) * stddev, a = kTwoPi * unit(s);
    out[i] = static_cast<float>(r * std::cos(a));
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(a));
  }
}

std::unique_ptr<Model> synth_model(const SynthOptions& o) {
  const SynthPreset& preset = find_synth_preset(o.preset);
  gguf_file_type(o.type);  // rejects non-float types early
  auto m = std::make_unique<Model>();
  m->tokenizer = Tokenizer::load(o.vocab_path);
  m->cfg = preset.cfg;
  m->cfg.name = preset.display_name;
  if (o.n_layers < 0 || o.n_layers > m->cfg.n_layers)
    fail("synth: --layers {} is not between 1 and preset {}'s {}", o.n_layers, preset.name, m->cfg.n_layers);
  if (o.n_layers > 0 && o.n_layers < m->cfg.n_layers) {
    // Small test files: the preset's first layers, each with its own attention kind.
    m->cfg.n_layers = o.n_layers;
    if (!m->cfg.layer_sliding.empty()) m->cfg.layer_sliding.resize(static_cast<size_t>(o.n_layers));
    m->cfg.name += fmt::format(", first {} of {} layers", o.n_layers, preset.cfg.n_layers);
  }
  const int64_t vocab = m->tokenizer->n_vocab();
  if (m->cfg.n_vocab == 0 || !o.pad_vocab) m->cfg.n_vocab = vocab;
  if (vocab > m->cfg.n_vocab)
    fail("{}: the vocabulary has {} tokens, more than preset {}'s {}", o.vocab_path, vocab, preset.name, m->cfg.n_vocab);
  m->cfg.validate("synth preset " + preset.name);
  m->format = ModelFormat::GGUF;
  m->path = "synth:" + preset.name;

  const auto plan = tensor_plan(m->cfg);
  uint64_t total = 0, done = 0;
  for (auto& t : plan) {
    uint64_t n = 1;
    for (auto d : t.ne) n *= d;
    total += n * (t.is_float32() ? 4 : (o.type == DType::F32 ? 4 : 2));
  }
  const int threads = o.n_threads > 0 ? o.n_threads : default_thread_count();
  ThreadPool pool(threads);
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    const TensorPlan& t = plan[ti];
    size_t n = 1;
    for (auto d : t.ne) n *= static_cast<size_t>(d);
    const DType type = t.is_float32() ? DType::F32 : o.type;
    const size_t nbytes = n * (type == DType::F32 ? 4 : 2);
    auto buf = std::make_shared<std::vector<uint8_t>>(nbytes);
    if (t.init == Init::Ones) {
      std::vector<float> ones(n, 1.0f);
      std::memcpy(buf->data(), ones.data(), nbytes);
    } else {
      generate_tensor(o.seed, ti, type, n, buf->data(), pool);
    }
    m->tensors[t.name] = TensorRef{type, t.ne, buf->data(), nbytes};
    m->owned.push_back(std::move(buf));
    done += nbytes;
    if (o.progress) o.progress(done, total);
  }
  return m;
}

void write_synth_gguf(const SynthOptions& o, const std::string& path) {
  auto m = synth_model(o);
  ExportOptions e;
  e.type = o.type;
  e.progress = static_cast<bool>(o.progress);
  e.extra.emplace_back("general.file_type", gguf::Value::u32(gguf_file_type(o.type)));
  export_gguf(*m, path, e);
}

}  // namespace pocketllm::bench
