// Internal state of a Tokenizer, filled by the loaders (llama2.c, GGUF,
// tokenizer.json) and then finalized once (lookup tables, regexes, EOG set).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/hash_index.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::tok {

enum class Model { SPM, ByteLevelBPE };
enum class PrefixScheme { Never, First, Always };  // where SPM puts the dummy "▁" prefix

struct AddedTokenFlags {
  bool lstrip = false, rstrip = false, single_word = false;
};

struct TokenizerData {
  Model model = Model::SPM;
  std::string source;  // path, for messages
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;
  std::vector<uint8_t> special;  // HF "special": skipped by skip_special, parsed only with parse_special

  // Merge priorities: rank-based when merges are given (HF, GGUF gpt2), else SPM scores.
  bool use_merge_ranks = false;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
  std::vector<int32_t> extra_eog;  // generation_config.json eos_token_id list etc.

  // SPM options
  PrefixScheme prefix = PrefixScheme::Always;
  bool escape_spaces = true;     // " " -> "▁" before BPE
  bool byte_fallback = true;
  bool fuse_unk = false;
  bool strip_leading_space = true;  // decoder drops the dummy-prefix space
  bool remove_extra_spaces = false; // SentencePiece's remove_extra_whitespaces: spaces trimmed, runs made one

  // Byte-level options
  std::string pre_name = "default";
  std::vector<std::string> pre_regexes;
  bool ignore_merges = false;
  bool bl_add_prefix_space = false;

  bool nfc = false;
  bool clean_up_spaces = false;
  std::unordered_map<int32_t, AddedTokenFlags> added_flags;

  // llama2.c: pieces as the .bin stores them, for run.c-exact decode_piece
  std::vector<std::string> raw_pieces;

  // ---- built by finalize() ----
  PieceIndex piece_to_id;  // over `pieces`
  MergeTable merge_map;    // (a, b) -> (rank, merged id)
  std::array<int32_t, 256> byte_ids{};  // <0xNN> tokens, -1 when absent
  std::vector<int32_t> eog;
  std::vector<int32_t> parse_candidates;  // tokens matched in text, longest first
  std::array<std::vector<int32_t>, 256> candidates_by_byte;  // the same, by first byte
  std::unique_ptr<PreTokenizer> pretok;
  // SPM: code point pairs (a << 32 | b) that occur inside some vocab piece. No
  // merge can cross a boundary whose pair is absent, so text splits there into
  // independent words (same result, much faster on long text).
  std::unordered_set<uint64_t> spm_bigrams;
};

// Builds the lookup tables; validates ids. Call after a loader filled the fields.
void finalize(TokenizerData& d);

// Encodes one run of plain text (no special tokens inside).
void encode_spm(const TokenizerData& d, std::string_view text, bool is_first, std::vector<int32_t>& out);
void encode_byte_level(const TokenizerData& d, std::string_view text, std::vector<int32_t>& out);

}  // namespace pocketllm::tok
