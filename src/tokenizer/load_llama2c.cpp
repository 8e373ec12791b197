// llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score,
// int32 length, bytes. The vocab size is not stored: read to the end of file.
#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/llama2c.h"
#include "tokenizer/tokenizer_data.h"

namespace pocketllm {

std::unique_ptr<Tokenizer> Tokenizer::from_llama2c(const std::string& path) {
  auto file = MappedFile::open(path);
  if (llama2c::looks_like_checkpoint(*file))
    fail("{}: a llama2.c model checkpoint, which holds no tokenizer; give its tokenizer .bin (e.g. tok512.bin)", path);
  const uint8_t* p = file->data();
  const size_t size = file->size();
  auto d = std::make_unique<tok::TokenizerData>();
  d->source = path;
  if (size < 4) fail("{}: too small for a llama2.c tokenizer", path);
  int32_t max_len;
  std::memcpy(&max_len, p, 4);
  if (max_len <= 0 || max_len > 4096) fail("{}: not a llama2.c tokenizer (max_token_length {})", path, max_len);
  size_t off = 4;
  while (off < size) {
    if (size - off < 8) fail("{}: truncated token record at byte {}", path, off);
    float score;
    int32_t len;
    std::memcpy(&score, p + off, 4);
    std::memcpy(&len, p + off + 4, 4);
    off += 8;
    if (len < 0 || len > max_len || static_cast<size_t>(len) > size - off)
      fail("{}: bad token length {} at byte {} (max_token_length {})", path, len, off - 4, max_len);
    d->raw_pieces.emplace_back(reinterpret_cast<const char*>(p + off), static_cast<size_t>(len));
    d->scores.push_back(score);
    off += static_cast<size_t>(len);
  }
  // As a SentencePiece vocabulary: ' ' -> '▁', "\n<s>\n" -> "<s>".
  for (size_t i = 0; i < d->raw_pieces.size(); ++i) {
    const std::string& raw = d->raw_pieces[i];
    std::string piece;
    TokenType type = TokenType::Normal;
    if (raw == "\n<s>\n" || raw == "\n</s>\n") {
      piece = raw.substr(1, raw.size() - 2);
      type = TokenType::Control;
    } else if (raw == "<unk>") {
      piece = raw;
      type = TokenType::Unknown;
    } else {
      for (char c : raw) {
        if (c == ' ')
          piece += "\xE2\x96\x81";
        else
          piece += c;
      }
    }
    if (piece == "<s>") d->bos = static_cast<int32_t>(i);
    if (piece == "</s>") d->eos = static_cast<int32_t>(i);
    if (type == TokenType::Unknown) d->unk = static_cast<int32_t>(i);
    d->pieces.push_back(std::move(piece));
    d->types.push_back(type);
  }
  d->model = tok::Model::SPM;
  d->add_bos = true;
  d->prefix = tok::PrefixScheme::Always;
  d->byte_fallback = true;
  d->strip_leading_space = true;
  d->pre_name = "default";
  if (d->bos >= 0) d->extra_eog.push_back(d->bos);  // run.c stops when BOS is sampled
  tok::finalize(*d);
  return std::make_unique<Tokenizer>(std::move(d));
}

}  // namespace pocketllm
