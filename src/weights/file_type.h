// GGUF's general.file_type: which "mix" of weight types a whole file was made
// as (llama.cpp's llama_ftype, as llama-quantize's type argument spells it).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace pocketllm {

// The mix name of a general.file_type value ("Q4_K_M" for 15), or nullopt for an
// id llama.cpp does not define. Bit 1024 (LLAMA_FTYPE_GUESSED) is ignored.
std::optional<std::string> ggml_file_type_name(uint32_t id);
// The id of a mix name (case-insensitive), or nullopt.
std::optional<uint32_t> ggml_file_type_id(const std::string& name);

}  // namespace pocketllm
