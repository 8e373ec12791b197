// A fake Hub with a few standard repos and a private cache, for the tests that run
// `pocketllm pull / run -hf / list / rm` against it.
#pragma once
#include <gtest/gtest.h>

#include <memory>

#include "hub/hub_fixture.h"

namespace hubtest {

// test/tiny-GGUF (main = 'a'*40, v1 = 'b'*40): README.md (small), tiny-Q8_0.gguf
//   (llama-tied, LFS), tiny-Q4_K_M.gguf (qwen2, LFS), same-as-q8.bin (llama-tied again).
// test/gated-GGUF ('c'*40, gated): g-Q8_0.gguf. Tokens: hf_good (granted), hf_noaccess.
nlohmann::json standard_repos();

class HubCli : public ::testing::Test {
 protected:
  void SetUp() override { start(standard_repos()); }
  void start(const nlohmann::json& config, const std::vector<std::string>& flags = {});

  // pocketllm with the hub's endpoint and the private cache (+ extra env entries).
  testsupport::CmdResult cli(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) const;
  fs::path repo_dir(const std::string& repo) const;
  fs::path blob(const std::string& repo, const std::string& etag) const { return repo_dir(repo) / "blobs" / etag; }
  // The greedy completion `run` prints for a local model file.
  std::string run_local(const fs::path& model, const std::vector<std::string>& extra = {}) const;
  static std::vector<std::string> run_args();

  std::unique_ptr<FakeHub> hub_;
  fs::path dir_, cache_;
};

const std::string kMain = std::string(40, 'a');
const std::string kV1 = std::string(40, 'b');

}  // namespace hubtest
