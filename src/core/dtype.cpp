#include "core/dtype.h"

#include <algorithm>
#include <map>

namespace pocketllm {

namespace {
const std::map<uint32_t, DTypeTraits>& registry() {
  static const std::map<uint32_t, DTypeTraits> m = {
      {0, {"F32", 1, 4}},          {1, {"F16", 1, 2}},          {2, {"Q4_0", 32, 18}},
      {3, {"Q4_1", 32, 20}},       {6, {"Q5_0", 32, 22}},       {7, {"Q5_1", 32, 24}},
      {8, {"Q8_0", 32, 34}},       {9, {"Q8_1", 32, 36}},       {10, {"Q2_K", 256, 84}},
      {11, {"Q3_K", 256, 110}},    {12, {"Q4_K", 256, 144}},    {13, {"Q5_K", 256, 176}},
      {14, {"Q6_K", 256, 210}},    {15, {"Q8_K", 256, 292}},    {16, {"IQ2_XXS", 256, 66}},
      {17, {"IQ2_XS", 256, 74}},   {18, {"IQ3_XXS", 256, 98}},  {19, {"IQ1_S", 256, 50}},
      {20, {"IQ4_NL", 32, 18}},    {21, {"IQ3_S", 256, 110}},   {22, {"IQ2_S", 256, 82}},
      {23, {"IQ4_XS", 256, 136}},  {24, {"I8", 1, 1}},          {25, {"I16", 1, 2}},
      {26, {"I32", 1, 4}},         {27, {"I64", 1, 8}},         {28, {"F64", 1, 8}},
      {29, {"IQ1_M", 256, 56}},    {30, {"BF16", 1, 2}},        {34, {"TQ1_0", 256, 54}},
      {35, {"TQ2_0", 256, 66}},
      // pocketllm's own formats (docs/FORMAT.md; block structs in quant/blocks.h, whose
      // sizes tests/kernels/test_quant_formats.cpp checks against these). Known here, not
      // registered by the quant module, so every reader (tokenize, template, info...) parses
      // every file `quantize` writes. Rows of any length, the last block zero-padded.
      {1024, {"PL_W4_G32", 32, 18, true, 0}},       {1025, {"PL_W4_G64", 64, 34, true, 0}},
      {1026, {"PL_W4_G128", 128, 66, true, 0}},     {1027, {"PL_W4_ROW", 32, 16, true, 2}},
      {1028, {"PL_W8_G32", 32, 34, true, 0}},       {1029, {"PL_W8_ROW", 32, 32, true, 2}},
      // The same six stored as the kernels' 16-row tiles.
      {1030, {"PL_W4_G32_T16", 32, 18, true, 0}},   {1031, {"PL_W4_G64_T16", 64, 34, true, 0}},
      {1032, {"PL_W4_G128_T16", 128, 66, true, 0}}, {1033, {"PL_W4_ROW_T16", 32, 16, true, 2}},
      {1034, {"PL_W8_G32_T16", 32, 34, true, 0}},   {1035, {"PL_W8_ROW_T16", 32, 32, true, 2}},
  };
  return m;
}
}  // namespace

std::optional<DTypeTraits> dtype_traits(DType t) {
  const auto& r = registry();
  auto it = r.find(static_cast<uint32_t>(t));
  if (it == r.end()) return std::nullopt;
  return it->second;
}

std::string dtype_name(DType t) {
  auto tr = dtype_traits(t);
  return tr ? tr->name : "unknown type " + std::to_string(static_cast<uint32_t>(t));
}

std::optional<DType> dtype_from_name(const std::string& name) {
  std::string up = name;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  for (auto& [id, tr] : registry())
    if (up == tr.name) return static_cast<DType>(id);
  return std::nullopt;
}

std::optional<size_t> dtype_row_bytes(DType t, uint64_t n) {
  auto tr = dtype_traits(t);
  if (!tr || tr->block_size == 0) return std::nullopt;
  if (tr->pads_rows) return static_cast<size_t>(tr->row_prefix + (n + tr->block_size - 1) / tr->block_size * tr->type_size);
  if (n % tr->block_size != 0) return std::nullopt;
  return static_cast<size_t>(n / tr->block_size * tr->type_size);
}

}  // namespace pocketllm
