// Flat open-addressing tables for the hot lookups of BPE: piece text -> id and
// (left id, right id) -> merge. Far fewer cache misses than node-based maps.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::tok {

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xff51afd7ed558ccdull);
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

inline size_t table_size_for(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  return cap;
}

// Piece text -> id over a vocabulary it does not own (the pieces must outlive it).
class PieceIndex {
 public:
  void build(const std::vector<std::string>& pieces) {
    pieces_ = &pieces;
    slots_.assign(table_size_for(pieces.size()), 0);
    mask_ = slots_.size() - 1;
    for (size_t i = 0; i < pieces.size(); ++i) {
      uint64_t h = hash_bytes(pieces[i]);
      size_t pos = h & mask_;
      for (;; pos = (pos + 1) & mask_) {
        uint64_t& slot = slots_[pos];
        if (slot == 0) {
          slot = (h & 0xFFFFFFFF00000000ull) | (i + 1);
          break;
        }
        if ((slot >> 32) == (h >> 32) && pieces[(slot & 0xFFFFFFFFu) - 1] == pieces[i]) {
          slot = (h & 0xFFFFFFFF00000000ull) | (i + 1);  // duplicate text: the last id wins, as in llama.cpp
          break;
        }
      }
    }
  }
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash_bytes(s);
    for (size_t pos = h & mask_;; pos = (pos + 1) & mask_) {
      uint64_t slot = slots_[pos];
      if (slot == 0) return -1;
      if ((slot >> 32) == (h >> 32)) {
        auto id = static_cast<int32_t>((slot & 0xFFFFFFFFu) - 1);
        if ((*pieces_)[id] == s) return id;
      }
    }
  }

 private:
  const std::vector<std::string>* pieces_ = nullptr;
  std::vector<uint64_t> slots_;  // high 32 bits: hash, low 32: id + 1 (0 = empty)
  size_t mask_ = 0;
};

// (left id, right id) -> (rank, merged id); the first insert of a pair wins.
class MergeTable {
 public:
  struct Entry {
    uint64_t key;  // 0 = empty; keys are stored + 1 so that pair (0, 0) is representable
    int32_t rank, id;
  };
  void reset(size_t n) {
    table_.assign(table_size_for(n), Entry{0, 0, 0});
    mask_ = table_.size() - 1;
    size_ = 0;
  }
  static uint64_t key(int32_t a, int32_t b) {
    return ((static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b)) + 1;
  }
  void insert(int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t k = key(a, b);
    for (size_t pos = hash_u64(k) & mask_;; pos = (pos + 1) & mask_) {
      if (table_[pos].key == k) return;
      if (table_[pos].key == 0) {
        table_[pos] = Entry{k, rank, id};
        ++size_;
        return;
      }
    }
  }
  const Entry* find(int32_t a, int32_t b) const {
    if (table_.empty()) return nullptr;
    uint64_t k = key(a, b);
    for (size_t pos = hash_u64(k) & mask_;; pos = (pos + 1) & mask_) {
      const Entry& e = table_[pos];
      if (e.key == k) return &e;
      if (e.key == 0) return nullptr;
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Entry& e : table_)
      if (e.key != 0) f(e);
  }
  size_t size() const { return size_; }

 private:
  std::vector<Entry> table_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace pocketllm::tok
