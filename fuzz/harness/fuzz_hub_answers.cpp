// What a Hub, or a hostile mirror at HF_ENDPOINT, answers and pocketllm reads: the
// model listing JSON, model.safetensors.index.json, repo file names to choose from
// (the input's lines), redirect Locations and ETags; and the model names users type.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "hub/checksum.h"
#include "hub/file_selection.h"
#include "hub/hub_api.h"
#include "hub/model_ref.h"
#include "hub/url.h"

using namespace pocketllm::hub;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzzutil::expect_clean([&] {
    for (const auto& f : parse_listing(text, "fuzz").files) check_repo_path(f, "file");
  });
  fuzzutil::expect_clean([&] { (void)index_shards(text, "fuzz"); });
  std::vector<std::string> lines;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  const std::vector<std::string> files(lines.begin() + 1, lines.end());
  fuzzutil::expect_clean([&] {
    const ModelRef ref = parse_model_ref(lines[0]);
    (void)select_files(files, ref.repo, ref.quant, {});
  });
  fuzzutil::expect_clean([&] { (void)select_files(files, "o/r", "", {lines[0]}); });
  const Url base = *parse_url("https://huggingface.co/o/r/resolve/main/x.gguf");
  for (const auto& l : lines) {
    if (auto u = parse_url(l)) (void)u->str();
    if (auto u = resolve_location(base, l)) (void)u->origin();
    (void)expected_checksum(normalize_etag(l), l.size() % 2 == 0);
    (void)percent_encode(l, true);
    fuzzutil::expect_clean([&] { check_plain_name(l, "fuzz"); });
  }
  return 0;
}
