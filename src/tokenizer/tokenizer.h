// Tokenizers that match Hugging Face token for token: SentencePiece-style BPE
// (▁ whitespace, byte fallback) and byte-level BPE (GPT-2 family), loaded from
// a llama2.c tokenizer .bin, GGUF metadata (tokenizer.ggml.*) or tokenizer.json.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm {

namespace gguf {
class File;
class Writer;
}  // namespace gguf

// What Tokenizer::load accepts, for help texts and error messages.
inline constexpr const char* kTokenizerSources =
    "GGUF (model or vocab-only), tokenizer.json or a folder with one, llama2.c tokenizer .bin, SentencePiece .model";

// Same numbering as GGUF tokenizer.ggml.token_type.
enum class TokenType : uint8_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

namespace tok {
struct TokenizerData;  // internal, see tokenizer/tokenizer_data.h
}

class Tokenizer {
 public:
  static std::unique_ptr<Tokenizer> from_llama2c(const std::string& tok_bin_path);
  // A SentencePiece .model (BPE with the identity normalizer, as Llama's and llama2.c's).
  static std::unique_ptr<Tokenizer> from_sentencepiece(const std::string& model_path);
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& f);
  // A tokenizer.json file, or a folder holding tokenizer.json (plus optional
  // tokenizer_config.json and generation_config.json next to it).
  static std::unique_ptr<Tokenizer> from_hf(const std::string& path);
  // Any tokenizer file pocketllm reads (kTokenizerSources), by its name: .gguf (weights or
  // vocab-only), tokenizer.json or a folder with one, a llama2.c tokenizer .bin, a
  // SentencePiece .model.
  static std::unique_ptr<Tokenizer> load(const std::string& path);

  explicit Tokenizer(std::unique_ptr<tok::TokenizerData> data);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: BOS/EOS as the metadata asks. parse_special: text such as
  // "<|im_start|>" becomes its control token (user-defined added tokens are
  // always matched, as llama.cpp and HF do).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // HF semantics: decoder chain, clean_up_tokenization_spaces, invalid UTF-8 -> U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // llama2.c run.c decode(prev, token): the piece of `id`, leading space dropped
  // when prev is BOS, "<0xXX>" as the raw byte (may be a lone non-UTF-8 byte).
  std::string decode_piece(int32_t prev, int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when none
  int32_t eos() const;
  int32_t eot() const;
  int32_t unk() const;
  int32_t pad() const;
  bool add_bos() const;
  bool add_eos() const;
  bool is_eog(int32_t id) const;      // end-of-generation set
  const std::vector<int32_t>& eog_ids() const;
  bool is_special(int32_t id) const;  // control / unknown / added special tokens
  bool is_byte(int32_t id) const;     // <0xNN> byte-fallback token
  TokenType token_type(int32_t id) const;
  const std::string& piece(int32_t id) const;  // vocab entry as stored ("Ġworld", "▁the", "<0x0A>")
  int32_t find_piece(std::string_view piece) const;  // -1 when absent
  // "llama" (SentencePiece-style) or "gpt2" (byte-level), as GGUF names them.
  std::string model_name() const;
  std::string pre_name() const;  // pre-tokenizer family ("llama-bpe", "qwen2", "default", ...)

  // Writes the vocab into GGUF metadata as llama.cpp expects (tokenizer.ggml.*).
  void write_gguf(gguf::Writer& w) const;

  const tok::TokenizerData& data() const { return *d_; }

 private:
  std::unique_ptr<tok::TokenizerData> d_;
};

// Streaming detokenizer: feed ids one by one, get text as soon as it forms
// complete UTF-8 (never a split multi-byte char); the concatenation of all
// push() results plus flush() equals decode() of the whole sequence.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);
  std::string push(int32_t id);
  std::string flush();
  void reset();

 private:
  void append_text(std::string_view s);
  void move_bytes(bool all);
  std::string take_ready(bool final);
  const Tokenizer& tok_;
  bool skip_special_;
  bool started_ = false;  // some text was produced (the SPM leading-space strip is decided)
  std::string bytes_;     // raw bytes not yet complete UTF-8
  std::string pending_;   // text held back for clean-up, not yet emitted
};

}  // namespace pocketllm
