// SentencePiece .model files: a ModelProto protobuf (sentencepiece_model.proto).
// Read with a minimal wire-format reader (no protobuf dependency for six fields):
//   ModelProto     1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
//   SentencePiece  1 piece, 2 score (float), 3 type (same numbers as TokenType)
//   TrainerSpec    3 model_type (2 = BPE), 35 byte_fallback, 40..43 unk/bos/eos/pad id
//   NormalizerSpec 1 name, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces
// pocketllm encodes BPE models with the identity normalizer (Llama's, llama2.c's);
// other models are refused with a clear message, never tokenized differently.
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer_data.h"

namespace pocketllm {

namespace {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t value = 0;      // varint and fixed values
  std::string_view bytes;  // length-delimited values
};

// Reads the fields of one message; every length is checked against what is left.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& path) : s_(data), path_(path) {}
  bool done() const { return pos_ >= s_.size(); }

  Field next() {
    Field f;
    const uint64_t key = varint();
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<uint32_t>(key & 7);
    switch (f.wire) {
      case kVarint: f.value = varint(); break;
      case kFixed64: f.value = fixed(8); break;
      case kFixed32: f.value = fixed(4); break;
      case kBytes: {
        const uint64_t n = varint();
        if (n > s_.size() - pos_) corrupt();
        f.bytes = s_.substr(pos_, n);
        pos_ += n;
        break;
      }
      default: corrupt();
    }
    return f;
  }

 private:
  [[noreturn]] void corrupt() const { fail("{}: not a SentencePiece model (bad protobuf data at byte {})", path_, pos_); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) corrupt();
      const auto b = static_cast<uint8_t>(s_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    corrupt();
  }
  uint64_t fixed(size_t n) {
    if (s_.size() - pos_ < n) corrupt();
    uint64_t v = 0;
    std::memcpy(&v, s_.data() + pos_, n);  // little-endian, as the wire format
    pos_ += n;
    return v;
  }
  std::string_view s_;
  const std::string& path_;
  size_t pos_ = 0;
};

struct Specs {
  int64_t model_type = 1;  // UNIGRAM unless the trainer spec says otherwise
  bool byte_fallback = false;
  int64_t unk = 0, bos = 1, eos = 2, pad = -1;
  std::string normalizer = "nmt_nfkc";
  bool dummy_prefix = true, remove_extra_spaces = true, escape_spaces = true;
};

void read_piece(std::string_view msg, const std::string& path, tok::TokenizerData& d) {
  std::string piece;
  float score = 0;
  uint64_t type = 1;
  for (ProtoReader r(msg, path); !r.done();) {
    const Field f = r.next();
    if (f.number == 1 && f.wire == kBytes) piece.assign(f.bytes);
    else if (f.number == 2 && f.wire == kFixed32) {
      const auto bits = static_cast<uint32_t>(f.value);
      std::memcpy(&score, &bits, 4);
    } else if (f.number == 3 && f.wire == kVarint) type = f.value;
  }
  if (type < 1 || type > 6) fail("{}: piece {} ('{}') has unknown type {}", path, d.pieces.size(), piece, type);
  d.pieces.push_back(std::move(piece));
  d.scores.push_back(score);
  d.types.push_back(static_cast<TokenType>(type));
}

void read_trainer(std::string_view msg, const std::string& path, Specs& s) {
  for (ProtoReader r(msg, path); !r.done();) {
    const Field f = r.next();
    if (f.wire != kVarint) continue;
    const auto i32 = static_cast<int64_t>(static_cast<int32_t>(f.value));  // int32 fields: negatives are 10-byte varints
    if (f.number == 3) s.model_type = i32;
    else if (f.number == 35) s.byte_fallback = f.value != 0;
    else if (f.number == 40) s.unk = i32;
    else if (f.number == 41) s.bos = i32;
    else if (f.number == 42) s.eos = i32;
    else if (f.number == 43) s.pad = i32;
  }
}

void read_normalizer(std::string_view msg, const std::string& path, Specs& s) {
  for (ProtoReader r(msg, path); !r.done();) {
    const Field f = r.next();
    if (f.number == 1 && f.wire == kBytes) s.normalizer.assign(f.bytes);
    else if (f.wire != kVarint) continue;
    else if (f.number == 3) s.dummy_prefix = f.value != 0;
    else if (f.number == 4) s.remove_extra_spaces = f.value != 0;
    else if (f.number == 5) s.escape_spaces = f.value != 0;
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_sentencepiece(const std::string& path) {
  auto file = MappedFile::open(path);
  const std::string_view data(reinterpret_cast<const char*>(file->data()), file->size());
  auto d = std::make_unique<tok::TokenizerData>();
  d->source = path;
  Specs s;
  for (ProtoReader r(data, path); !r.done();) {
    const Field f = r.next();
    if (f.wire != kBytes) continue;
    if (f.number == 1) read_piece(f.bytes, path, *d);
    else if (f.number == 2) read_trainer(f.bytes, path, s);
    else if (f.number == 3) read_normalizer(f.bytes, path, s);
  }
  if (d->pieces.empty()) fail("{}: not a SentencePiece model (no pieces)", path);
  if (s.model_type != 2)
    fail("{}: a SentencePiece {} model; pocketllm tokenizes BPE models (convert the model's tokenizer with "
         "llama.cpp or Hugging Face and pass that instead)", path, s.model_type == 1 ? "Unigram" : "word/char");
  if (s.normalizer != "identity")
    fail("{}: SentencePiece normalizer '{}' is not supported (pocketllm reads models with the identity normalizer, "
         "as Llama's)", path, s.normalizer);
  const auto id = [&](int64_t v) { return v >= 0 && v < static_cast<int64_t>(d->pieces.size()) ? static_cast<int32_t>(v) : -1; };
  d->model = tok::Model::SPM;
  d->unk = id(s.unk);
  d->bos = id(s.bos);
  d->eos = id(s.eos);
  d->pad = id(s.pad);
  d->add_bos = d->bos >= 0;  // SentencePiece's users (Llama, llama2.c) start every text with BOS
  d->prefix = s.dummy_prefix ? tok::PrefixScheme::Always : tok::PrefixScheme::Never;
  d->strip_leading_space = s.dummy_prefix;
  d->escape_spaces = s.escape_spaces;
  d->remove_extra_spaces = s.remove_extra_spaces;
  d->byte_fallback = s.byte_fallback;
  d->pre_name = "default";
  tok::finalize(*d);
  return std::make_unique<Tokenizer>(std::move(d));
}

}  // namespace pocketllm
