// pocketllm perplexity: llama-perplexity's method and wording, plus a KL mode
// that runs a base model on the same chunks (--kl-base).
#include <cmath>
#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "core/timer.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct PplOptions {
  ModelOptions model;
  std::string file, kl_base, kl_base_kv_type;  // kl_base_kv_type "": as --kv-type
  int64_t chunks = -1;
};

bool same_vocab(const Tokenizer& a, const Tokenizer& b) {
  if (a.n_vocab() != b.n_vocab()) return false;
  for (int32_t i = 0; i < a.n_vocab(); ++i)
    if (a.piece(i) != b.piece(i)) return false;
  return true;
}

void print_kl(const PerplexityResult& r) {
  std::printf("\n====== Perplexity statistics ======\n");
  std::printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", r.ppl, r.ppl_err);
  std::printf("Mean PPL(base)                : %10.6f ± %10.6f\n", r.base_ppl, r.base_ppl_err);
  std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r.mean_ln_ratio, r.mean_ln_ratio_err);
  std::printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", std::exp(r.mean_ln_ratio),
              std::exp(r.mean_ln_ratio) * r.mean_ln_ratio_err);
  std::printf("\n====== KL divergence statistics ======\n");
  std::printf("Mean    KLD: %10.6f ± %10.6f\n", r.kld_mean, r.kld_err);
  std::printf("Maximum KLD: %10.6f\n", r.kld_max);
  std::printf("99.9%%   KLD: %10.6f\n", r.kld_p999);
  std::printf("99.0%%   KLD: %10.6f\n", r.kld_p99);
  std::printf("90.0%%   KLD: %10.6f\n", r.kld_p90);
  std::printf("Median  KLD: %10.6f\n", r.kld_median);
  std::printf("10.0%%   KLD: %10.6f\n", r.kld_p10);
  std::printf(" 1.0%%   KLD: %10.6f\n", r.kld_p1);
  std::printf("Minimum KLD: %10.6f\n", r.kld_min);
  std::printf("\n====== Token probability statistics ======\n");
  std::printf("RMS Δp    : %6.3f ± %5.3f %%\n", 100.0 * r.rms_dp, 100.0 * r.rms_dp_err);
  std::printf("Same top p: %6.3f ± %5.3f %%\n", 100.0 * r.same_top, 100.0 * r.same_top_err);
}

int run(const PplOptions& o) {
  if (!o.kl_base_kv_type.empty() && o.kl_base.empty()) fail("--kl-base-kv-type needs --kl-base MODEL");
  auto model = load_model_or_fail(o.model, true);
  const Tokenizer& tok = *model->tokenizer;
  std::unique_ptr<Model> base;
  if (!o.kl_base.empty()) {
    ModelOptions bo = o.model;
    bo.model = o.kl_base;
    base = load_model_or_fail(bo, true);
    if (!same_vocab(tok, *base->tokenizer))
      fail("{} and {} have different vocabularies: KL divergence needs the same tokens", o.model.model, o.kl_base);
  }
  ModelOptions mo = o.model;
  if (mo.ctx <= 0) mo.ctx = 512;
  const std::string text = read_text_file(o.file);
  Timer t;
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  std::vector<int32_t> tokens = tok.encode(text, add_bos, false);
  std::fprintf(stderr, "perplexity: tokenized %s into %zu tokens in %.0f ms\n", o.file.c_str(), tokens.size(), t.ms());
  Context ctx(*model, context_params(mo, *model));
  std::unique_ptr<Context> bctx;
  if (base) {
    ModelOptions bmo = mo;
    if (!o.kl_base_kv_type.empty()) bmo.kv_type = o.kl_base_kv_type;
    bctx = std::make_unique<Context>(*base, context_params(bmo, *base));
  }
  PerplexityOptions po;
  po.n_ctx = mo.ctx;
  po.add_bos = add_bos;
  po.bos = tok.bos();
  po.max_chunks = o.chunks;
  const int64_t n_chunk = std::min<int64_t>(static_cast<int64_t>(tokens.size()) / po.n_ctx,
                                            o.chunks > 0 ? o.chunks : INT64_MAX);
  std::fprintf(stderr, "perplexity: calculating perplexity over %lld chunks, n_ctx=%lld\n",
               static_cast<long long>(n_chunk), static_cast<long long>(po.n_ctx));
  t.reset();
  po.on_chunk = [&](int64_t i, double ppl) {
    if (i == 0) {
      const double s = t.ms() / 1000.0;
      std::fprintf(stderr, "perplexity: %.2f seconds per pass - ETA %.2f minutes\n", s, s * n_chunk / 60.0);
    }
    std::printf("[%lld]%.4f,", static_cast<long long>(i + 1), ppl);
    std::fflush(stdout);
  };
  PerplexityResult r = perplexity(ctx, tokens, po, bctx.get());
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
  if (r.has_kl) print_kl(r);
  return 0;
}

RegisterCommand register_perplexity({"perplexity", "Measure perplexity on a text file (llama-perplexity's method), optionally KL vs a base model",
                     20, [](CLI::App& sub) {
                       auto o = std::make_shared<PplOptions>();
                       add_model_options(sub, o->model);
                       sub.add_option("-f,--file", o->file, "Text file to evaluate")->required();
                       sub.add_option("--kl-base", o->kl_base,
                                      "Base (unquantized) model: also report KL divergence and top-token agreement");
                       sub.add_option("--kl-base-kv-type", o->kl_base_kv_type,
                                      "KV cache type of the --kl-base model's context (default: as --kv-type); e.g. "
                                      "--kv-type q8 --kl-base M --kl-base-kv-type f16 measures what q8 KV costs")
                           ->check(CLI::IsMember({"f32", "f16", "q8"}));
                       sub.add_option("--chunks", o->chunks, "Evaluate at most this many chunks (-1 = all)")->capture_default_str();
                       return std::function<int()>([o] {
                         resolve_model_source(o->model);
                         return run(*o);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
