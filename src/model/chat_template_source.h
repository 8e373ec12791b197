#pragma once
#include <string>

namespace pocketllm {

// The chat template a model ships, read without loading its weights: GGUF
// tokenizer.chat_template; in a Hugging Face folder tokenizer_config.json's
// chat_template (a string, or a list of {name, template}: "default" or the
// first) or chat_template.jinja. Empty when the model ships none.
std::string read_model_chat_template(const std::string& path);

}  // namespace pocketllm
