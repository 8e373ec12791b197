#include "runtime/lookup_draft.h"

#include <algorithm>

#include "core/error.h"

namespace pocketllm {

std::vector<int32_t> lookup_continuation(std::span<const int32_t> context, int ngram_max, int n_max) {
  const auto len = static_cast<int64_t>(context.size());
  if (n_max <= 0) return {};
  for (int64_t n = std::min<int64_t>(ngram_max, len - 1); n >= 1; --n) {
    const auto tail = context.subspan(static_cast<size_t>(len - n));
    // Earlier occurrences end at `end` < len (exclusive): the most recent first.
    for (int64_t end = len - 1; end >= n; --end) {
      if (!std::equal(tail.begin(), tail.end(), context.begin() + (end - n))) continue;
      const int64_t m = std::min<int64_t>(n_max, len - end);
      return {context.begin() + end, context.begin() + end + m};
    }
  }
  return {};
}

LookupDraft::LookupDraft(int ngram_max) : ngram_max_(ngram_max) {
  if (ngram_max < 1) fail("--lookup needs an n-gram size of at least 1, not {}", ngram_max);
}

void LookupDraft::propose(std::span<const int32_t> context, int n_max, Draft& out) {
  out.clear();
  out.tokens = lookup_continuation(context, ngram_max_, n_max);
}

}  // namespace pocketllm
