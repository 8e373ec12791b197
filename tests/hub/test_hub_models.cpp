// Whole models through the Hub: a split GGUF (written by llama.cpp's gguf-py) and
// safetensors folders (single file and sharded) run as the originals do; and the
// cache is shared with the real huggingface_hub both ways.
#include <gtest/gtest.h>

#include "hub/hub_cli_fixture.h"
#include "quantizer/export_hf.h"
#include "model/model.h"

using namespace hubtest;
namespace ts = testsupport;
using nlohmann::json;

namespace {

using ts::contains;

// stories260K as a Hugging Face folder (config.json + model.safetensors), once per process.
const fs::path& stories_hf() {
  static const fs::path dir = [] {
    const fs::path d = ts::temp_dir("stories-hf");
    pocketllm::LoadOptions lo;
    lo.load_tokenizer = false;
    auto m = pocketllm::load_model((stories_dir() / "stories260K.bin").string(), lo);
    pocketllm::export_hf(*m, d.string());
    fs::create_directories(d / "sharded");
    auto r = ts::run_command({"/usr/bin/python3", (fs::path(POCKETLLM_SOURCE_DIR) / "tests/hub/shard_safetensors.py").string(),
                              (d / "model.safetensors").string(), (d / "sharded").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return d;
  }();
  return dir;
}

// llama-tied.gguf split in 3 by gguf-py (needs the venv), once per process.
std::vector<fs::path> split_parts() {
  static const std::vector<fs::path> parts = [] {
    std::vector<fs::path> out;
    if (ts::venv_python().empty()) return out;
    const fs::path d = ts::temp_dir("split-hub");
    auto r = ts::run_command({ts::venv_python(), (fs::path(POCKETLLM_SOURCE_DIR) / "tests/tools/split_gguf.py").string(),
                              family_gguf("llama-tied").string(), (d / "m-Q8_0.gguf").string(), "8"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (int i = 1; i <= 3; ++i) out.push_back(d / ("m-Q8_0-0000" + std::to_string(i) + "-of-00003.gguf"));
    return out;
  }();
  return parts;
}

json model_repos() {
  json cfg = standard_repos();
  const fs::path hf = stories_hf();
  const json small = {{"generation_config.json", file_text(R"({"bos_token_id": 1, "eos_token_id": 2})")},
                      {"tokenizer_config.json", file_text("{}")},
                      {"README.md", file_text("stories\n")},
                      {"config.json", file_from(hf / "config.json", false)}};
  json st = small;
  st["model.safetensors"] = file_from(hf / "model.safetensors", true);
  cfg["repos"]["test/stories-st"] = {{"sha", std::string(40, 'd')}, {"files", st}};
  json sharded = small;
  sharded["model.safetensors.index.json"] = file_from(hf / "sharded/model.safetensors.index.json", false);
  for (const char* s : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"})
    sharded[s] = file_from(hf / "sharded" / s, true);
  cfg["repos"]["test/stories-sharded"] = {{"sha", std::string(40, 'e')}, {"files", sharded}};
  json split = json::object();
  for (auto& p : split_parts()) split[p.filename().string()] = file_from(p, true);
  split["README.md"] = file_text("split\n");
  cfg["repos"]["test/split-GGUF"] = {{"sha", std::string(40, 'f')}, {"files", split}};
  return cfg;
}

class HubModels : public HubCli {
 protected:
  void SetUp() override { start(model_repos(), {"--cdn", "other"}); }
  std::vector<std::string> run_hf(const std::string& model, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> a{"run", "-hf", model};
    for (auto& x : run_args()) a.push_back(x);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // The venv's huggingface_hub on this cache: hf_cache_check.py CMD REPO FILES...
  json hf_hub(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) const {
    std::vector<std::string> argv{ts::venv_python(), (fs::path(POCKETLLM_SOURCE_DIR) / "tests/hub/hf_cache_check.py").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = hub_env(hub_->endpoint(), cache_, {"HF_HUB_DISABLE_TELEMETRY=1", "HF_HUB_DISABLE_XET=1"});
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    auto r = ts::run_command(argv, "", env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  // export_hf writes no tokenizer; the family GGUF carries stories260K's 512-token vocab.
  const std::vector<std::string> tok_ = {"--tokenizer", family_gguf("llama-tied").string()};
};

}  // namespace

TEST_F(HubModels, SplitGgufIsFetchedWholeAndRunsAsOneModel) {
  if (split_parts().empty()) GTEST_SKIP() << "needs the venv's gguf package: run scripts/venv.sh";
  auto r = cli({"pull", "test/split-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ts::chomp(r.out), (repo_dir("test/split-GGUF") / "snapshots" / std::string(40, 'f') /
                          "m-Q8_0-00001-of-00003.gguf").string());
  EXPECT_TRUE(contains(r.err, "3 files of commit")) << r.err;
  r = cli(run_hf("test/split-GGUF:Q8_0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, run_local(family_gguf("llama-tied")));
}

TEST_F(HubModels, SafetensorsFoldersRunAsTheOriginal) {
  const std::string want = run_local(stories_hf(), tok_);  // the same folder, not through the Hub
  ASSERT_GT(want.size(), 20u);
  auto r = cli({"pull", "test/stories-st"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path snap = repo_dir("test/stories-st") / "snapshots" / std::string(40, 'd');
  EXPECT_EQ(ts::chomp(r.out), snap.string());
  for (const char* f : {"config.json", "generation_config.json", "tokenizer_config.json", "model.safetensors"})
    EXPECT_TRUE(fs::exists(snap / f)) << f;
  EXPECT_FALSE(fs::exists(snap / "README.md"));
  r = cli(run_hf("test/stories-st", tok_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, want);
  r = cli(run_hf("test/stories-sharded", tok_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, want);
  const fs::path sharded = repo_dir("test/stories-sharded") / "snapshots" / std::string(40, 'e');
  EXPECT_TRUE(fs::exists(sharded / "model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fs::exists(sharded / "model-00002-of-00002.safetensors"));
}

TEST_F(HubModels, HuggingFaceHubFindsWhatPocketllmPulled) {
  if (ts::venv_python().empty()) GTEST_SKIP() << "needs the venv's huggingface_hub: run scripts/venv.sh";
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF:Q8_0"}).exit_code, 0);
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF", "--include", "README.md"}).exit_code, 0);
  ASSERT_EQ(cli({"pull", "test/stories-st"}).exit_code, 0);
  hub_->clear_log();
  const json g = hf_hub({"find", "test/tiny-GGUF", "tiny-Q8_0.gguf", "README.md"}, {"HF_HUB_OFFLINE=1"});
  const fs::path snap = repo_dir("test/tiny-GGUF") / "snapshots" / kMain;
  EXPECT_EQ(g["files"]["tiny-Q8_0.gguf"], (snap / "tiny-Q8_0.gguf").string());
  EXPECT_EQ(g["files"]["README.md"], (snap / "README.md").string());
  EXPECT_EQ(g["snapshot"], snap.string());
  EXPECT_EQ(g["warnings"], json::array()) << "scan_cache_dir found nothing wrong";
  EXPECT_EQ(g["scan"]["refs"], json::array({"main"}));
  EXPECT_EQ(g["scan"]["size_on_disk"], fs::file_size(family_gguf("llama-tied")) + 7);
  const json s = hf_hub({"find", "test/stories-st", "config.json", "model.safetensors"}, {"HF_HUB_OFFLINE=1"});
  EXPECT_EQ(s["snapshot"], (repo_dir("test/stories-st") / "snapshots" / std::string(40, 'd')).string());
  EXPECT_TRUE(hub_->log().empty()) << "huggingface_hub ran offline";
}

TEST_F(HubModels, PocketllmRunsWhatHuggingFaceHubDownloaded) {
  if (ts::venv_python().empty()) GTEST_SKIP() << "needs the venv's huggingface_hub: run scripts/venv.sh";
  const json d = hf_hub({"download", "test/tiny-GGUF", "tiny-Q8_0.gguf"});
  EXPECT_EQ(d["files"]["tiny-Q8_0.gguf"], (repo_dir("test/tiny-GGUF") / "snapshots" / kMain / "tiny-Q8_0.gguf").string());
  hf_hub({"snapshot", "test/stories-st"});
  hub_->clear_log();
  // Offline: from huggingface_hub's files alone.
  auto r = cli(run_hf("test/tiny-GGUF:Q8_0"), {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, run_local(family_gguf("llama-tied")));
  r = cli(run_hf("test/stories-st", tok_), {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, run_local(stories_hf(), tok_));
  EXPECT_TRUE(hub_->log().empty());
  r = cli({"list"});
  EXPECT_TRUE(contains(r.out, "test/stories-st") && contains(r.out, "model.safetensors") &&
              contains(r.out, "safetensors"))
      << r.out;
  // Online: nothing is downloaded again.
  r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = cli({"pull", "test/stories-st"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(hub_->requests("/cdn-lfs/").empty());
  EXPECT_TRUE(hub_->requests("/resolve/", "GET").empty());
}
