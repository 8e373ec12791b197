#include "weights/dtype.h"

#include <algorithm>
#include <array>
#include <map>

#include "core/error.h"
#include "weights/blocks_iq4.h"
#include "weights/blocks_k.h"
#include "weights/blocks_legacy.h"
#include "weights/blocks_pocketllm.h"

namespace pocketllm {

namespace {
struct GgmlType {
  DType id;
  DTypeTraits traits;
};

// GGML's types. Those pocketllm reads take their sizes from the block structs;
// the others (listed so a file holding them parses, and is refused by name
// where it is used) from ggml's table.
constexpr std::array kGgmlTypes = {
    GgmlType{DType::F32, {"F32", 1, 4}},
    GgmlType{DType::F16, {"F16", 1, 2}},
    GgmlType{DType::BF16, {"BF16", 1, 2}},
    GgmlType{DType::Q4_0, {"Q4_0", kQK_Legacy, sizeof(BlockQ4_0)}},
    GgmlType{DType::Q4_1, {"Q4_1", kQK_Legacy, sizeof(BlockQ4_1)}},
    GgmlType{DType::Q5_0, {"Q5_0", kQK_Legacy, sizeof(BlockQ5_0)}},
    GgmlType{DType::Q5_1, {"Q5_1", kQK_Legacy, sizeof(BlockQ5_1)}},
    GgmlType{DType::Q8_0, {"Q8_0", kQK_Legacy, sizeof(BlockQ8_0)}},
    GgmlType{DType::Q2_K, {"Q2_K", kQK_K, sizeof(BlockQ2_K)}},
    GgmlType{DType::Q3_K, {"Q3_K", kQK_K, sizeof(BlockQ3_K)}},
    GgmlType{DType::Q4_K, {"Q4_K", kQK_K, sizeof(BlockQ4_K)}},
    GgmlType{DType::Q5_K, {"Q5_K", kQK_K, sizeof(BlockQ5_K)}},
    GgmlType{DType::Q6_K, {"Q6_K", kQK_K, sizeof(BlockQ6_K)}},
    GgmlType{DType::IQ4_NL, {"IQ4_NL", kQK_Legacy, sizeof(BlockIQ4_NL)}},
    GgmlType{DType::IQ4_XS, {"IQ4_XS", kQK_K, sizeof(BlockIQ4_XS)}},
    GgmlType{DType::Q8_1, {"Q8_1", 32, 36}},
    GgmlType{DType::Q8_K, {"Q8_K", 256, 292}},
    GgmlType{DType::IQ2_XXS, {"IQ2_XXS", 256, 66}},
    GgmlType{DType::IQ2_XS, {"IQ2_XS", 256, 74}},
    GgmlType{DType::IQ3_XXS, {"IQ3_XXS", 256, 98}},
    GgmlType{DType::IQ1_S, {"IQ1_S", 256, 50}},
    GgmlType{DType::IQ3_S, {"IQ3_S", 256, 110}},
    GgmlType{DType::IQ2_S, {"IQ2_S", 256, 82}},
    GgmlType{DType::I8, {"I8", 1, 1}},
    GgmlType{DType::I16, {"I16", 1, 2}},
    GgmlType{DType::I32, {"I32", 1, 4}},
    GgmlType{DType::I64, {"I64", 1, 8}},
    GgmlType{DType::F64, {"F64", 1, 8}},
    GgmlType{DType::IQ1_M, {"IQ1_M", 256, 56}},
    GgmlType{DType::TQ1_0, {"TQ1_0", 256, 54}},
    GgmlType{DType::TQ2_0, {"TQ2_0", 256, 66}},
};

// pocketllm's own formats (docs/FORMAT.md; ids and block structs in weights/blocks_pocketllm.h, whose
// sizes tests/kernels/test_quant_formats.cpp checks against these). Known here, not
// registered by the quant module, so every reader (tokenize, template, info...) parses
// every file `quantize` writes. Rows of any length, the last block zero-padded.
static constexpr uint32_t id(DType t) { return static_cast<uint32_t>(t); }
const std::map<uint32_t, DTypeTraits>& pocketllm_types() {
  static const std::map<uint32_t, DTypeTraits> m = {
      {id(kW4G32), {"PL_W4_G32", 32, 18, true, 0}},       {id(kW4G64), {"PL_W4_G64", 64, 34, true, 0}},
      {id(kW4G128), {"PL_W4_G128", 128, 66, true, 0}},     {id(kW4Row), {"PL_W4_ROW", 32, 16, true, 2}},
      {id(kW8G32), {"PL_W8_G32", 32, 34, true, 0}},       {id(kW8Row), {"PL_W8_ROW", 32, 32, true, 2}},
      // The same six stored as the kernels' 16-row tiles.
      {id(kW4G32T), {"PL_W4_G32_T16", 32, 18, true, 0}},   {id(kW4G64T), {"PL_W4_G64_T16", 64, 34, true, 0}},
      {id(kW4G128T), {"PL_W4_G128_T16", 128, 66, true, 0}}, {id(kW4RowT), {"PL_W4_ROW_T16", 32, 16, true, 2}},
      {id(kW8G32T), {"PL_W8_G32_T16", 32, 34, true, 0}},   {id(kW8RowT), {"PL_W8_ROW_T16", 32, 32, true, 2}},
  };
  return m;
}
}  // namespace

std::optional<DTypeTraits> dtype_traits(DType t) {
  for (const auto& g : kGgmlTypes)
    if (g.id == t) return g.traits;
  const auto& r = pocketllm_types();
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
  for (const auto& g : kGgmlTypes)
    if (up == g.traits.name) return g.id;
  for (const auto& [id, tr] : pocketllm_types())
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
