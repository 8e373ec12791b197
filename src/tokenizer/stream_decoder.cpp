// Incremental detokenization with HF decoder semantics. Bytes from byte tokens
// (SPM <0xNN>, byte-level pieces) collect in bytes_ until they form complete
// UTF-8; an interrupted or invalid sequence becomes U+FFFD. Text then waits in
// text_ only as long as clean_up_tokenization_spaces could still change it.
#include <utility>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/unicode_util.h"

namespace pocketllm {
namespace {

// transformers' clean_up_tokenization: drop the space before punctuation and contractions.
std::string clean_up(std::string s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : rules) {
    std::string_view f(from), t(to);
    size_t pos = 0;
    while ((pos = s.find(f, pos)) != std::string::npos) {
      s.replace(pos, f.size(), t);
      pos += t.size();
    }
  }
  return s;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special) : tok_(tok), skip_special_(skip_special) {}

void StreamDecoder::reset() {
  started_ = false;
  pending_.clear();
  bytes_.clear();
}

void StreamDecoder::append_text(std::string_view s) {
  if (s.empty()) return;
  if (!started_) {
    started_ = true;
    if (tok_.data().strip_leading_space && tok_.data().model == tok::Model::SPM && s[0] == ' ') s.remove_prefix(1);
  }
  pending_.append(s);
}

void StreamDecoder::move_bytes(bool all) {
  size_t keep = all ? 0 : tok::utf8_incomplete_tail(bytes_);
  if (bytes_.size() == keep) return;
  std::string ready = tok::utf8_lossy(std::string_view(bytes_).substr(0, bytes_.size() - keep));
  bytes_.erase(0, bytes_.size() - keep);
  append_text(ready);
}

std::string StreamDecoder::push(int32_t id) {
  const tok::TokenizerData& d = tok_.data();
  if (id < 0 || id >= tok_.n_vocab()) fail("token id {} out of range (vocabulary of {})", id, tok_.n_vocab());
  if (skip_special_ && d.special[id]) return {};
  const std::string& piece = d.pieces[id];
  const TokenType type = d.types[id];
  if (d.model == tok::Model::SPM) {
    if (type == TokenType::Byte) {
      bytes_ += tok_.decode_piece(-1, id);
    } else {
      move_bytes(true);
      std::string text;
      text.reserve(piece.size());
      for (size_t i = 0; i < piece.size(); ++i) {
        if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
          text += ' ';
          i += 2;
        } else {
          text += piece[i];
        }
      }
      append_text(text);
    }
  } else if (d.special[id] || type == TokenType::UserDefined || type == TokenType::Control) {
    move_bytes(true);  // added tokens are emitted as written, not byte-decoded
    append_text(piece);
  } else if (!tok::byte_level_decode(piece, bytes_)) {
    bytes_ += piece;
  }
  move_bytes(false);
  return take_ready(false);
}

std::string StreamDecoder::flush() {
  move_bytes(true);
  return take_ready(true);
}

std::string StreamDecoder::take_ready(bool final) {
  if (!tok_.data().clean_up_spaces) return std::exchange(pending_, std::string());
  // Clean-up patterns start with a space and span at most 4 bytes, so a cut
  // right after 4 non-space bytes can never split one.
  size_t cut = final ? pending_.size() : 0;
  for (size_t p = pending_.size(); !final && p >= 4; --p) {
    bool ok = p == pending_.size() || (static_cast<unsigned char>(pending_[p]) & 0xC0) != 0x80;
    for (size_t k = p - 4; ok && k < p; ++k) ok = pending_[k] != ' ';
    if (ok) {
      cut = p;
      break;
    }
  }
  std::string out = clean_up(pending_.substr(0, cut));
  pending_.erase(0, cut);
  return out;
}

}  // namespace pocketllm
