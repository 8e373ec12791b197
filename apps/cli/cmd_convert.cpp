// pocketllm convert: any loadable model to a standard GGUF file (float types).
#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "quantizer/export_gguf.h"
#include "weights/file_type.h"

namespace pocketllm::cli {
namespace {

struct ConvertOptions {
  std::string in, out, type = "f16", tokenizer;
};

int run(const ConvertOptions& o) {
  check_can_write(o.out);
  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer;
  auto m = load_model(o.in, lo);
  if (!m->tokenizer) std::fprintf(stderr, "warning: %s has no tokenizer; the GGUF file will have no vocabulary\n", o.in.c_str());
  ExportOptions eo;
  eo.type = *dtype_from_name(o.type);
  eo.extra.emplace_back("general.file_type", gguf::Value::u32(*ggml_file_type_id(o.type)));  // F32 0, F16 1, BF16 32
  export_gguf(*m, o.out, eo);
  std::fprintf(stderr, "wrote %s\n", o.out.c_str());
  return 0;
}

RegisterCommand register_convert({"convert", "Convert a model (HF folder, GGUF, llama2.c) to GGUF F32/F16/BF16 (quantized inputs dequantized)", 60, [](CLI::App& sub) {
                       auto o = std::make_shared<ConvertOptions>();
                       sub.add_option("input", o->in, "GGUF file, Hugging Face folder, or llama2.c checkpoint")->required();
                       sub.add_option("output", o->out, "Output .gguf file (written atomically)")->required();
                       sub.add_option("--type", o->type, "Type of 2-D tensors: f32, f16 or bf16")
                           ->check(CLI::IsMember({"f32", "f16", "bf16"}))
                           ->capture_default_str();
                       sub.add_option("--tokenizer", o->tokenizer, tokenizer_help());
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
