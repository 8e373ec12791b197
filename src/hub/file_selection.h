// Which files of a repo a model needs:
//   :QUANT   the GGUF file whose name contains QUANT (case-insensitive); several:
//            the one where it is a whole tag (Q4_K, not Q4_K_M), else an error
//            listing them; a split model (-00001-of-0000N) counts as one file.
//   --include FILE  exactly the files named (a split part brings its siblings).
//   neither  a safetensors model (config.json, tokenizer files, the weights or the
//            shards of model.safetensors.index.json), else the repo's only GGUF
//            (or its Q4_K_M, llama.cpp's default).
#pragma once
#include <string>
#include <vector>

namespace pocketllm::hub {

struct Selection {
  std::vector<std::string> files;   // to fetch, in order
  std::string model_file;           // the GGUF file to load (a split model's first part); "" = the folder
  bool needs_index_shards = false;  // also the shards model.safetensors.index.json names
  std::string note;                 // a choice the user did not spell out
};

// repo_files: the repo's (or a cached snapshot's) file names. Throws Error naming
// the choices when nothing or more than one thing matches.
Selection select_files(const std::vector<std::string>& repo_files, const std::string& repo, const std::string& quant,
                       const std::vector<std::string>& include);

// The shard file names of a model.safetensors.index.json (its weight_map values, once each).
std::vector<std::string> index_shards(const std::string& index_json, const std::string& where);

}  // namespace pocketllm::hub
