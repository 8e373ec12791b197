// Shared pieces of the three model loaders (not part of the public model API).
#pragma once
#include <string>

#include "model/model.h"

namespace pocketllm::detail {

void load_gguf(Model& m, const std::string& path, const LoadOptions& opt);
void load_hf(Model& m, const std::string& folder, const LoadOptions& opt);
void load_llama2c(Model& m, const std::string& path, const LoadOptions& opt);

// Binds the named tensors (GGUF names) to the llama block layout, checking each
// shape against the config. Used by every loader after it filled m.tensors and m.cfg.
void bind_weights(Model& m);

// Architectures whose blocks this build runs, for error messages.
const std::vector<std::string>& supported_architectures();
void check_architecture(const std::string& arch, const std::string& source);

}  // namespace pocketllm::detail
