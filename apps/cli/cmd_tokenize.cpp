// pocketllm tokenize / detokenize: the model's tokenizer on its own, for
// checking prompts against Hugging Face or llama.cpp token for token.
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct TokenizeOptions {
  std::string model, tokenizer, prompt, file, ids;
  bool prompt_set = false;
  bool add_special = false, parse_special = false, pieces = false, skip_special = false;
};

// --tokenizer, else -m: any tokenizer source (a model's GGUF or HF folder holds one).
std::unique_ptr<Tokenizer> open_tokenizer(const TokenizeOptions& o) {
  if (!o.tokenizer.empty()) return Tokenizer::load(o.tokenizer);
  if (o.model.empty()) fail("give the tokenizer with -m or --tokenizer ({})", kTokenizerSources);
  return Tokenizer::load(o.model);
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(cur, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != cur.size() || v < 0 || v > INT32_MAX) fail("--ids: \"{}\" is not a token id", cur);
    ids.push_back(static_cast<int32_t>(v));
    cur.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '[' || c == ']' || c == '\n' || c == '\t')
      flush();
    else
      cur += c;
  }
  flush();
  return ids;
}

int run_tokenize(const TokenizeOptions& o) {
  if (!o.prompt_set && o.file.empty()) fail("tokenize: give the text with -p TEXT or -f FILE");
  auto tok = open_tokenizer(o);
  std::string text = o.file.empty() ? o.prompt : read_text_file(o.file);
  auto ids = tok->encode(text, o.add_special, o.parse_special);
  nlohmann::json out = nlohmann::json::array();
  for (int32_t id : ids) {
    if (o.pieces)
      out.push_back({{"id", id}, {"piece", tok->piece(id)}});
    else
      out.push_back(id);
  }
  std::string s = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", s.c_str());
  return 0;
}

int run_detokenize(const TokenizeOptions& o) {
  auto tok = open_tokenizer(o);
  auto ids = parse_ids(o.ids);
  std::string text = tok->decode(ids, o.skip_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

void add_source_options(CLI::App& sub, TokenizeOptions& o) {
  sub.add_option("-m,--model", o.model, std::string("Tokenizer source: ") + kTokenizerSources)->envname("POCKETLLM_MODEL");
  sub.add_option("--tokenizer", o.tokenizer, "Tokenizer file overriding -m (the same formats)");
}

RegisterCommand reg_tokenize({"tokenize", "Print the token ids of a text as a JSON array", 50, [](CLI::App& sub) {
                                auto o = std::make_shared<TokenizeOptions>();
                                add_source_options(sub, *o);
                                sub.add_option("-p,--prompt", o->prompt, "Text to tokenize")
                                    ->each([o](const std::string&) { o->prompt_set = true; });
                                sub.add_option("-f,--file", o->file, "Read the text from a file");
                                sub.add_flag("--add-special", o->add_special, "Add BOS/EOS as the tokenizer's metadata says");
                                sub.add_flag("--parse-special", o->parse_special,
                                             "Turn special-token text such as <|im_start|> into its token");
                                sub.add_flag("--pieces", o->pieces, "Print {id, piece} objects (piece as stored in the vocab)");
                                return std::function<int()>([o] { return run_tokenize(*o); });
                              }});

RegisterCommand reg_detokenize({"detokenize", "Print the text of token ids (exactly, no newline added)", 51,
                                [](CLI::App& sub) {
                                  auto o = std::make_shared<TokenizeOptions>();
                                  add_source_options(sub, *o);
                                  sub.add_option("--ids", o->ids, "Token ids: 1,2,3 or \"[1, 2, 3]\"")->required();
                                  sub.add_flag("--skip-special", o->skip_special, "Leave out special tokens (BOS, <|im_end|>, ...)");
                                  return std::function<int()>([o] { return run_detokenize(*o); });
                                }});

}  // namespace
}  // namespace pocketllm::cli
