// pocketllm quantize: flags for the quantizer library (quantizer/quantize_model.h),
// which writes a W4A8 / W8A8 / W4A16 GGUF file (or a llama-quantize preset). Formats
// equal to GGML types are written as those types (W4 g32 = Q4_0, W8 g32 = Q8_0) so
// llama.cpp can load the file; other formats use pocketllm type ids and the file
// says it needs pocketllm (docs/FORMAT.md).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "quantizer/quantize_model.h"

namespace pocketllm::cli {
namespace {

// --bpw's text as a number (ours, not CLI11's, so a bad value is an ordinary error: exit 1).
double parse_bpw(const std::string& s) {
  char* end = nullptr;
  const double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0)
    fail("--bpw '{}': give a positive number of bits per weight (e.g. 4.6)", s);
  return v;
}

int run(QuantizeOptions o, const std::string& bpw) {
  if (!bpw.empty()) o.bpw = parse_bpw(bpw);
  const QuantizeResult r = quantize_model(o);
  std::fputs(quantize_summary(r, o).c_str(), stderr);
  return 0;
}

RegisterCommand register_quantize({"quantize", "Quantize a model to W4A8, W8A8 or W4A16 (round-to-nearest or calibrated)", 30,
                     [](CLI::App& sub) {
                       auto o = std::make_shared<QuantizeOptions>();
                       auto bpw = std::make_shared<std::string>();
                       sub.add_option("input", o->in, "GGUF file, Hugging Face folder, or llama2.c checkpoint")->required();
                       sub.add_option("output", o->out, "Output .gguf file (written atomically)")->required();
                       sub.add_option("--scheme", o->plan.scheme, "w4a8, w8a8 or w4a16")->capture_default_str();
                       sub.add_option("--group", o->plan.group, "Weights per scale: 32, 64, 128, or 0 = per output channel")
                           ->capture_default_str();
                       sub.add_option("--head", o->plan.head, "Output head: q8, q4 or f16")->capture_default_str();
                       sub.add_option("--embed", o->plan.embed, "Token embedding (untied models): q8 or f16")->capture_default_str();
                       sub.add_flag("--compat", o->plan.compat,
                                    "Only types llama.cpp reads: tensors GGML types cannot hold stay F16");
                       sub.add_flag("--tiles", o->tiles,
                                    "Store Q4_0/Q8_0-shaped matrices (W4 g32, W8 g32, rows of whole groups) as pocketllm "
                                    "tiles too: they load in place (no repacking, less memory) but llama.cpp cannot "
                                    "read the file. Without it the file is llama.cpp-readable only when every tensor "
                                    "fits a GGML type (see the summary); --compat makes sure it does");
                       sub.add_flag("--allow-requantize", o->allow_requantize,
                                    "Quantize an input that is already quantized (its weights are rounded twice)");
                       sub.add_option("--type", o->plan.ggml_type,
                                      "A llama-quantize preset instead of --scheme (Q4_K_M, Q6_K, IQ4_XS, Q4_0, ...: "
                                      "GGML types only, round to nearest; docs/FORMAT.md)");
                       sub.add_flag("--pure", o->plan.pure, "--type: every matrix in the preset's base type");
                       sub.add_flag("--asym", o->plan.asym,
                                    "4-bit block linears as GGUF Q4_K (groups of 32 with a scale and a min, 4.5 bits "
                                    "per weight; --gptq, --clip and --refit apply, not --act-order) where rows are whole "
                                    "256-weight super-blocks; other rows keep --group's symmetric type (the summary "
                                    "says which)");
                       sub.add_option("--bpw", *bpw,
                                      "Bits per weight of the block linears (scales and mins included; head and "
                                      "embedding not counted): each gets the type, among W4 per-channel/g64/g32/g128, "
                                      "Q5_0, Q4_K, Q5_K, Q6_K, W8 g32/per-channel where its rows allow, that the KL "
                                      "it causes alone on --calib text says is worth its bits; the total never exceeds "
                                      "the budget. Needs --calib; composes with --method; report in OUT.calib.json")
                           ->type_name("B");
                       sub.add_option("--bpw-tokens", o->bpw_tokens,
                                      "--bpw: calibration tokens for each sensitivity run (memory: tokens x vocab floats)")
                           ->capture_default_str();
                       sub.add_option("--tokenizer", o->tokenizer, tokenizer_help());
                       MethodOptions& mo = o->methods;
                       sub.add_option("--calib", mo.calib_file, "Calibration text (never the evaluation text)");
                       sub.add_option("--calib-tokens", mo.calib_tokens, "Calibration tokens to run")->capture_default_str();
                       sub.add_option("--calib-ctx", mo.calib_ctx, "Tokens per calibration chunk")->capture_default_str();
                       sub.add_option("--calib-samples", mo.calib_samples,
                                      "Input rows kept per linear for --smooth and the error report")->capture_default_str();
                       sub.add_flag("--rotate", mo.rotate,
                                    "Hadamard rotation of the residual stream folded into the weights, plus an online "
                                    "rotation of ffn_down's input (needs pocketllm; --compat: residual only)");
                       sub.add_flag("--smooth", mo.smooth, "Per-channel smoothing scales searched on --calib data (the output error of the quantized linears), moved into the norm gains before q/k/v and gate/up, up_proj's rows before down_proj and v_proj's rows before o_proj (tied per V head under grouped-query attention)");
                       sub.add_flag("--gptq", mo.weights.gptq, "GPTQ with the calibration Hessian (needs --calib)");
                       sub.add_flag("--act-order", mo.weights.act_order, "GPTQ: columns by decreasing activation energy");
                       sub.add_flag("--clip", mo.weights.clip, "Search clipped scales per group (weighted by --calib statistics)");
                       sub.add_flag("--refit", mo.weights.refit,
                                    "Refit each group scale to the calibration Hessian, codes fixed (after --gptq/--clip)");
                       sub.add_flag("--learn", mo.learn,
                                    "Block reconstruction of the codes the other methods chose, against the calibration "
                                    "Hessian: optional learned rounding (--learn-iters) then greedy single-code moves; a "
                                    "row keeps new codes only if its exactly recomputed output error drops. Symmetric "
                                    "types and Q5_0 (not --asym's Q4_K); composes with --method best and --bpw");
                       sub.add_option("--learn-iters", mo.learn_iters,
                                      "--learn: Adam steps per row of AdaRound-style learned rounding before the greedy "
                                      "moves (each costs a pass of rows x cols^2; 0 = none)")
                           ->capture_default_str();
                       sub.add_flag("--sequential", mo.sequential,
                                    "Quantize block by block, each block's calibration statistics taken from the model "
                                    "whose earlier blocks are already quantized (one calibration pass per block)");
                       sub.add_flag("--compensate", mo.sequential_compensate,
                                    "--sequential: quantize W' = argmin E|W x_float - W' x_quantized|^2 instead of W, "
                                    "so each block also absorbs the error its input carries from the earlier blocks");
                       sub.add_flag("--mlp-aware", mo.mlp_aware,
                                    "ffn_gate/ffn_up: each row on its own Hessian, the calibration samples weighted by "
                                    "how that row's error reaches the FFN's output (act(gate) for up, act'(gate)*up for "
                                    "gate); uses --calib-samples");
                       sub.add_option("--damp", mo.weights.damp, "GPTQ damping (fraction of mean diag H)")->capture_default_str();
                       sub.add_option("--method", o->preset, "Preset: rtn, or best (the combination measured best)");
                       sub.add_option("--act", o->act_mode, "Activation ranges: dynamic (each token's max) or static (one "
                                      "searched scale per linear input, needs --calib)")->capture_default_str();
                       sub.add_option("--seed", mo.seed, "Rotation seed")->capture_default_str();
                       sub.add_option("-t,--threads", mo.threads, threads_help())->check(CLI::Range(0, 1024));
                       return std::function<int()>([o, bpw] { return run(*o, *bpw); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
