#include "gguf_types/reference_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "model/context.h"
#include "runtime/perplexity.h"
#include "support/greedy.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace ts = testsupport;
using nlohmann::json;
using namespace pocketllm;

namespace gguf_types {

std::vector<std::string> file_names(const json& ref) {
  std::vector<std::string> names;
  for (auto& [name, entry] : ref["files"].items()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::filesystem::path make_file(const std::filesystem::path& f32, const std::filesystem::path& dir,
                                const std::string& name, const json& make) {
  if (make.empty()) return f32;
  const auto out = dir / (name + ".gguf");
  std::vector<std::string> args = make.get<std::vector<std::string>>();
  args.insert(args.begin() + 1, {f32.string(), out.string()});
  const ts::CmdResult r = ts::run_cli(args);
  if (r.exit_code != 0) ADD_FAILURE() << "pocketllm " << make.dump() << " failed:\n" << r.err;
  return out;
}

void check_against_llamacpp(const std::filesystem::path& path, const json& ref, const json& entry, const std::string& name,
                            const char* kld_dir) {
  auto m = load_model(path.string());
  ContextParams cp;
  cp.n_threads = 2;
  cp.kv_type = entry["kv"] == "f32" ? KvType::F32 : KvType::F16;

  // Perplexity: running value after every chunk, then the final one.
  const json& pj = ref["perplexity"];
  cp.n_ctx = pj["n_ctx"].get<int64_t>();
  const Tokenizer& tok = *m->tokenizer;
  const std::vector<int32_t> tokens = tok.encode(ts::read_file(ts::shared_data() / pj["text"].get<std::string>()), true, false);
  PerplexityOptions po;
  po.n_ctx = cp.n_ctx;
  po.bos = tok.bos();
  po.max_chunks = pj["chunks"].get<int64_t>();
  Context ctx(*m, cp);
  const PerplexityResult r = perplexity(ctx, tokens, po);
  const auto want = entry["ppl_chunks"].get<std::vector<double>>();
  ASSERT_EQ(r.running_ppl.size(), want.size());
  const double n = static_cast<double>(want.size());
  double worst = 0;  // the largest chunk deviation, as a fraction of its bound
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = std::max(0.01, 0.008 * std::sqrt(n / static_cast<double>(i + 1)));
    const double dev = std::fabs(r.running_ppl[i] / want[i] - 1);
    worst = std::max(worst, dev / tol);
    EXPECT_LE(dev, tol) << "chunk " << i + 1 << ": pocketllm " << r.running_ppl[i] << ", llama.cpp " << want[i];
  }
  const double tol = entry["ppl_tolerance"].get<double>();
  EXPECT_LE(std::fabs(r.ppl / entry["ppl"].get<double>() - 1), tol)
      << "final PPL: pocketllm " << r.ppl << ", llama.cpp " << entry["ppl"].get<double>();

  // Greedy ids, identical up to the first step llama.cpp itself nearly tied.
  const auto prompt = ref["greedy"]["prompt_ids"].get<std::vector<int32_t>>();
  const auto want_ids = entry["greedy_ids"].get<std::vector<int32_t>>();
  const auto margins = entry["greedy_margins"].get<std::vector<double>>();
  ASSERT_EQ(margins.size(), want_ids.size());
  cp.n_ctx = 256;
  const auto ids = ts::greedy_ids(*m, prompt, static_cast<int64_t>(want_ids.size()), cp);
  const size_t firm = std::find_if(margins.begin(), margins.end(), [](double g) { return g < 0.3; }) - margins.begin();
  ASSERT_GE(ids.size(), firm);
  for (size_t i = 0; i < firm; ++i) ASSERT_EQ(ids[i], want_ids[i]) << "greedy step " << i << " (of " << firm << " firm steps)";
  std::printf("%s: PPL %.4f (llama.cpp %.4f, %+.3f%%), worst chunk at %.0f%% of its bound, greedy ids equal over %zu "
              "firm steps of %zu\n",
              name.c_str(), r.ppl, entry["ppl"].get<double>(), 100 * (r.ppl / entry["ppl"].get<double>() - 1), 100 * worst,
              firm, want_ids.size());

  if (!kld_dir || !*kld_dir) return;
  const auto kld = std::filesystem::path(kld_dir) / (name + ".kld");
  if (!std::filesystem::exists(kld)) return;
  const KlResult kl = kl_from_llamacpp(path, kld, entry["kv"].get<std::string>());
  std::printf("%s: KL from llama.cpp %.3g over %lld positions, same top token %.2f%%\n", name.c_str(), kl.mean_kld,
              static_cast<long long>(kl.n), 100 * kl.same_top);
  EXPECT_LE(kl.mean_kld, 1e-3);
  EXPECT_GE(kl.same_top, 0.99);
}

KlResult kl_from_llamacpp(const std::filesystem::path& path, const std::filesystem::path& kld_file, const std::string& kv) {
  // "_logits_", n_ctx, n_vocab, n_chunk (int32), the text's tokens [n_chunk * n_ctx], then per chunk
  // and scored position (n_ctx / 2 .. n_ctx - 2) nv uint16: f32 scale and min, then per token
  // log p = scale * code + min (nv = n_vocab rounded up to even, + 4).
  const std::string b = ts::read_file(kld_file);
  auto i32 = [&](size_t off) {
    int32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
  };
  if (b.size() < 20 || b.compare(0, 8, "_logits_") != 0) throw std::runtime_error(kld_file.string() + ": not a llama.cpp logits file");
  const int64_t n_ctx = i32(8), n_vocab = i32(12), n_chunk = i32(16);
  const int64_t nv = 2 * ((n_vocab + 1) / 2) + 4, first = n_ctx / 2;
  const size_t tok_off = 20, lp_off = tok_off + static_cast<size_t>(n_chunk * n_ctx) * 4;
  if (b.size() != lp_off + static_cast<size_t>(n_chunk * (n_ctx - 1 - first) * nv) * 2)
    throw std::runtime_error(kld_file.string() + ": unexpected size");
  auto m = load_model(path.string());
  if (m->cfg.n_vocab != n_vocab) throw std::runtime_error("vocabulary sizes differ");
  ContextParams cp;
  cp.n_threads = 2;
  cp.n_ctx = n_ctx;
  cp.kv_type = kv == "f32" ? KvType::F32 : KvType::F16;
  Context ctx(*m, cp);
  KlResult r;
  double sum = 0;
  int64_t same = 0;
  for (int64_t c = 0; c < n_chunk; ++c) {
    std::vector<int32_t> toks(static_cast<size_t>(n_ctx));
    for (int64_t i = 0; i < n_ctx; ++i) toks[i] = i32(tok_off + static_cast<size_t>((c * n_ctx + i) * 4));
    toks[0] = m->tokenizer->bos();  // llama-perplexity puts BOS first in every chunk
    ctx.truncate(0);
    const float* logits = ctx.eval(toks.data(), n_ctx, true);
    for (int64_t i = first; i < n_ctx - 1; ++i) {
      const uint8_t* e = reinterpret_cast<const uint8_t*>(b.data()) + lp_off + static_cast<size_t>((c * (n_ctx - 1 - first) + i - first) * nv) * 2;
      float scale, min_lp;
      std::memcpy(&scale, e, 4);
      std::memcpy(&min_lp, e + 4, 4);
      const float* l = logits + i * n_vocab;
      const int64_t top = std::max_element(l, l + n_vocab) - l;
      double z = 0;
      for (int64_t v = 0; v < n_vocab; ++v) z += std::exp(static_cast<double>(l[v] - l[top]));
      const double lse = l[top] + std::log(z);
      double kl = 0;
      int64_t top_base = 0;
      float best = -INFINITY;
      for (int64_t v = 0; v < n_vocab; ++v) {
        uint16_t code;
        std::memcpy(&code, e + 8 + v * 2, 2);
        const float lp_base = scale * static_cast<float>(code) + min_lp;
        if (lp_base > best) best = lp_base, top_base = v;
        if (lp_base > -16.f) kl += std::exp(static_cast<double>(lp_base)) * (lp_base - (l[v] - lse));
      }
      sum += kl;
      same += top == top_base;
      ++r.n;
    }
  }
  r.mean_kld = sum / static_cast<double>(r.n);
  r.same_top = static_cast<double>(same) / static_cast<double>(r.n);
  return r;
}

}  // namespace gguf_types
