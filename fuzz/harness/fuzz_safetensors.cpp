// safetensors reader: input byte 0 picks a single file or an index.json naming shards.
// Layout of a sharded input: [0x01][u16 index length][index.json][shard bytes]; the
// shard is written as both model-00001-of-00002 and model-00002-of-00002.
#include <cstring>

#include "formats/safetensors.h"
#include "fuzz_util.h"

static void touch(const pocketllm::safetensors::Archive& a) {
  size_t sink = 0;
  for (const auto& [name, t] : a.tensors()) {
    (void)pocketllm::safetensors::to_dtype(t.dtype);
    if (t.nbytes) sink += t.data[0] + t.data[t.nbytes - 1];
  }
  volatile size_t keep = sink;
  (void)keep;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if (data[0] != 1 || size < 3) {
    const std::string path = fuzzutil::write_file("model.safetensors", data + 1, size - 1);
    fuzzutil::expect_clean([&] { touch(pocketllm::safetensors::Archive::open(path, data[0] & 2)); });
    return 0;
  }
  size_t index_len = std::min<size_t>(size - 3, data[1] | (data[2] << 8));
  const uint8_t* index = data + 3;
  const uint8_t* shard = index + index_len;
  size_t shard_len = size - 3 - index_len;
  fuzzutil::write_file("model-00001-of-00002.safetensors", shard, shard_len);
  fuzzutil::write_file("model-00002-of-00002.safetensors", shard, shard_len);
  const std::string path = fuzzutil::write_file("model.safetensors.index.json", index, index_len);
  fuzzutil::expect_clean([&] { touch(pocketllm::safetensors::Archive::open(path, true)); });
  return 0;
}
