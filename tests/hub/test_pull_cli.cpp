// `pocketllm pull`, `-hf`, `list` and `rm` against the fake Hub: the cache layout
// huggingface_hub expects, what is (and is not) transferred, and the model runs.
#include <gtest/gtest.h>

#include "hub/hub_cli_fixture.h"

using namespace hubtest;
namespace ts = testsupport;
using nlohmann::json;

namespace {
using ts::contains;
}  // namespace

TEST_F(HubCli, PullWritesHuggingFaceHubsLayout) {
  auto r = cli({"pull", "test/tiny-GGUF:q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path repo = repo_dir("test/tiny-GGUF");
  const fs::path pointer = repo / "snapshots" / kMain / "tiny-Q8_0.gguf";
  EXPECT_EQ(ts::chomp(r.out), pointer.string()) << "stdout is only the model's path";
  const std::string sha = sha256_of(family_gguf("llama-tied"));
  ASSERT_TRUE(fs::is_symlink(pointer));
  EXPECT_EQ(fs::read_symlink(pointer), fs::path("../../blobs") / sha) << "LFS blobs are named by their sha256";
  EXPECT_EQ(sha256_of(blob("test/tiny-GGUF", sha)), sha);
  EXPECT_EQ(ts::read_file(repo / "refs/main"), kMain) << "the ref holds exactly the commit";
  EXPECT_TRUE(fs::exists(cache_ / ".locks/models--test--tiny-GGUF" / (sha + ".lock")));
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(repo / "snapshots" / kMain / "README.md")) << "only the chosen file";
  EXPECT_TRUE(contains(r.err, "tiny-Q8_0.gguf: 1.6 MiB in ")) << "a summary line in logs: " << r.err;
  // The requests: the listing, a HEAD by commit (not by branch), the content from the redirect.
  EXPECT_EQ(hub_->requests("/api/models/test/tiny-GGUF/revision/main", "GET").size(), 1u);
  EXPECT_EQ(hub_->requests("/resolve/" + kMain + "/tiny-Q8_0.gguf", "HEAD").size(), 1u);
  EXPECT_EQ(hub_->requests("/cdn-lfs/" + sha, "GET").size(), 1u);

  // A second pull transfers nothing.
  hub_->clear_log();
  r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ts::chomp(r.out), pointer.string());
  EXPECT_TRUE(hub_->requests("/cdn-lfs/").empty());
  EXPECT_TRUE(hub_->requests("/resolve/").empty()) << "a file in the snapshot of the commit needs no HEAD";
  EXPECT_TRUE(contains(r.err, "0 B downloaded")) << r.err;
}

TEST_F(HubCli, ProgressBarOnATerminal) {
  if (ts::run_command({"script", "--version"}).exit_code != 0) GTEST_SKIP() << "needs script(1) for a terminal";
  hub_->set_faults(json::array({{{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"throttle", 1600000}}}));
  const std::string cmd = std::string("'") + POCKETLLM_BINARY + "' pull test/tiny-GGUF:Q8_0";
  auto r = ts::run_command({"script", "-qec", cmd, "/dev/null"}, "", hub_env(hub_->endpoint(), cache_));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Redrawn in place: bytes, percentage and bar, rate, ETA.
  EXPECT_TRUE(contains(r.out, "\rtiny-Q8_0.gguf ") && contains(r.out, "% [#") && contains(r.out, " / 1.6 MiB") &&
              contains(r.out, "/s ETA 0:0"))
      << r.out;
}

TEST_F(HubCli, SmallFilesAreNamedByTheirGitBlobSha1) {
  auto r = cli({"pull", "test/tiny-GGUF", "--include", "README.md"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path readme = repo_dir("test/tiny-GGUF") / "snapshots" / kMain / "README.md";
  EXPECT_EQ(ts::read_file(readme), "# tiny\n");
  auto git = ts::run_command({"git", "hash-object", readme.string()});
  EXPECT_EQ(fs::read_symlink(readme), fs::path("../../blobs") / git.out.substr(0, 40));
  EXPECT_EQ(ts::chomp(r.out), (repo_dir("test/tiny-GGUF") / "snapshots" / kMain).string()) << "no GGUF: the folder";
}

TEST_F(HubCli, HfFlagRunsThePulledModel) {
  const std::string want = run_local(family_gguf("llama-tied"));
  ASSERT_FALSE(want.empty());
  std::vector<std::string> args{"run", "-hf", "test/tiny-GGUF:Q8_0"};
  for (auto& a : run_args()) args.push_back(a);
  auto r = cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, want);
  // -hf=VALUE, -hfr and the long form; -hf is not read as -h -f (help, then a prompt file).
  for (auto flag : {std::vector<std::string>{"-hf=test/tiny-GGUF:Q8_0"}, {"-hfr", "test/tiny-GGUF:Q8_0"},
                    {"--hf-repo", "test/tiny-GGUF:Q8_0"}}) {
    std::vector<std::string> a{"run"};
    a.insert(a.end(), flag.begin(), flag.end());
    for (auto& x : run_args()) a.push_back(x);
    r = cli(a);
    EXPECT_EQ(r.exit_code, 0) << flag[0] << ": " << r.err;
    EXPECT_EQ(r.out, want) << flag[0];
  }
  r = cli({"info", "-hf", "test/tiny-GGUF:Q4_K_M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "architecture:    qwen2")) << r.out;
  r = cli({"bench", "-hf", "test/tiny-GGUF:Q8_0", "-p", "8", "-n", "4", "-r", "1", "-t", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = cli({"perplexity", "-hf", "test/tiny-GGUF:Q8_0", "-f", (ts::shared_data() / "families/text.txt").string(), "-c",
           "64", "--chunks", "1", "-t", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Final estimate: PPL")) << r.out;
  r = cli({"chat", "-hf", "test/tiny-GGUF:Q8_0", "-n", "4", "--temp", "0", "-t", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // --help tells about -hf; no model at all is a clear error.
  r = cli({"run", "--help"});
  EXPECT_TRUE(contains(r.out, "--hf-repo") && contains(r.out, "-hf")) << r.out;
  r = cli({"run", "-p", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "pass -m FILE")) << r.err;
}

TEST_F(HubCli, ChoosingFiles) {
  auto r = cli({"pull", "test/tiny-GGUF:Q2_K"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "no GGUF file of test/tiny-GGUF matches ':Q2_K'") && contains(r.err, "tiny-Q8_0.gguf") &&
              contains(r.err, "tiny-Q4_K_M.gguf"))
      << r.err;
  EXPECT_TRUE(hub_->requests("/resolve/").empty()) << "nothing fetched after a failed choice";
  r = cli({"pull", "test/tiny-GGUF"});  // two GGUF models, no quant: llama.cpp's default Q4_K_M
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "tiny-Q4_K_M.gguf")) << r.out;
  EXPECT_TRUE(contains(r.err, "no :QUANT given; took Q4_K_M")) << r.err;
  r = cli({"pull", "test/tiny-GGUF", "--include", "nope.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "has no file 'nope.gguf'")) << r.err;
}

TEST_F(HubCli, ListAndRmKeepBlobsOthersLinkTo) {
  // Two snapshots (main and v1) and two names of one content.
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF:Q8_0"}).exit_code, 0);
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF:Q8_0", "--revision", "v1"}).exit_code, 0);
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF", "--include", "same-as-q8.bin"}).exit_code, 0);
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF:Q4_K_M"}).exit_code, 0);
  const std::string q8 = sha256_of(family_gguf("llama-tied")), q4 = sha256_of(family_gguf("qwen2"));
  EXPECT_EQ(ts::read_file(repo_dir("test/tiny-GGUF") / "refs/v1"), kV1);
  auto r = cli({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "test/tiny-GGUF") && contains(r.out, "tiny-Q8_0.gguf") && contains(r.out, "1.6 MiB") &&
              contains(r.out, "gguf") && contains(r.out, "main (aaaaaaaaaaaa)") && contains(r.out, "v1 (bbbbbbbbbbbb)"))
      << r.out;

  // :Q8_0 removes the entry from both snapshots; the blob stays for same-as-q8.bin.
  r = cli({"rm", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, kMain + "/tiny-Q8_0.gguf") && contains(r.out, kV1 + "/tiny-Q8_0.gguf")) << r.out;
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / "tiny-Q8_0.gguf"));
  EXPECT_TRUE(fs::exists(blob("test/tiny-GGUF", q8)));
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF") / "snapshots" / kV1)) << "an emptied snapshot goes";
  r = cli({"rm", "test/tiny-GGUF", "--include", "same-as-q8.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", q8))) << "nothing links to it any more";
  EXPECT_TRUE(fs::exists(blob("test/tiny-GGUF", q4)));
  r = cli({"rm", "test/tiny-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "nothing of test/tiny-GGUF:Q8_0 in the cache matches")) << r.err;
  r = cli({"rm", "test/tiny-GGUF"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF")));
  r = cli({"list"});
  EXPECT_TRUE(contains(r.err, "no models in the cache")) << r.err;
}

TEST_F(HubCli, OfflineUsesOnlyTheCache) {
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"}, {"HF_HUB_OFFLINE=1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "HF_HUB_OFFLINE is set") && contains(r.err, "not in the cache")) << r.err;
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF:Q8_0"}).exit_code, 0);
  hub_->clear_log();
  std::vector<std::string> args{"run", "-hf", "test/tiny-GGUF:Q8_0"};
  for (auto& a : run_args()) args.push_back(a);
  r = cli(args, {"HF_HUB_OFFLINE=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, run_local(family_gguf("llama-tied")));
  EXPECT_TRUE(hub_->log().empty()) << "offline means no request at all";
  r = cli({"pull", "test/tiny-GGUF:Q4_K_M"}, {"HF_HUB_OFFLINE=1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "no GGUF file of test/tiny-GGUF matches ':Q4_K_M'")) << r.err;
}

TEST_F(HubCli, NetworkDownFallsBackToTheCache) {
  // Nothing listens on port 9 of 127.0.0.1 (discard): connection refused.
  const std::vector<std::string> down{"HF_ENDPOINT=http://127.0.0.1:9"};
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"}, down);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "cannot connect to 127.0.0.1:9") && contains(r.err, "HF_HUB_OFFLINE=1")) << r.err;
  ASSERT_EQ(cli({"pull", "test/tiny-GGUF:Q8_0"}).exit_code, 0);
  r = cli({"pull", "test/tiny-GGUF:Q8_0"}, down);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "using the cached snapshot " + kMain)) << r.err;
  EXPECT_TRUE(contains(r.out, "tiny-Q8_0.gguf"));
}
