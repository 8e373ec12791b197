// What goes wrong on the way from the Hub: gated and missing repos, rate limits,
// cut connections, Ctrl-C, corrupt bodies, a full disk, another downloader; and
// where the token goes after a redirect.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "hub/hub_cli_fixture.h"

using namespace hubtest;
namespace ts = testsupport;
using nlohmann::json;

namespace {

using ts::contains;

const std::string kQ8 = "tiny-Q8_0.gguf";
uint64_t q8_size() { return fs::file_size(family_gguf("llama-tied")); }

// Starts pocketllm in the background with stderr to a file; returns its pid.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& err_file) {
  std::vector<std::string> argv{POCKETLLM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const int fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t pid = ts::spawn_command(argv, env, -1, -1, fd);
  close(fd);
  return pid;
}

}  // namespace

TEST_F(HubCli, GatedRepoNeedsAGrantedToken) {
  auto r = cli({"pull", "test/gated-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "test/gated-GGUF is a gated model (HTTP 401)") && contains(r.err, "accept its licence") &&
              contains(r.err, "HF_TOKEN"))
      << r.err;
  r = cli({"pull", "test/gated-GGUF:Q8_0"}, {"HF_TOKEN=hf_unknown"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "refused the token from HF_TOKEN") && contains(r.err, "HTTP 401")) << r.err;
  r = cli({"pull", "test/gated-GGUF:Q8_0"}, {"HF_TOKEN=hf_noaccess"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "HTTP 403") && contains(r.err, "accept its licence at " + hub_->endpoint() +
                                                                  "/test/gated-GGUF"))
      << r.err;
  // The token file huggingface_hub's login writes ($HF_HOME/token) is read too.
  fs::create_directories(dir_ / "hf_home");
  ts::write_file(dir_ / "hf_home/token", "hf_good\n");
  hub_->clear_log();
  r = cli({"pull", "test/gated-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (auto& req : hub_->requests("/test/gated-GGUF/resolve/"))
    EXPECT_EQ(req["authorization"], "Bearer hf_good") << req.dump();
}

TEST_F(HubCli, TokenIsNotSentToAnotherHost) {
  start(standard_repos(), {"--cdn", "other"});  // LFS content on another port, as the real Hub's CDN
  auto r = cli({"pull", "test/gated-GGUF:Q8_0"}, {"HF_TOKEN=hf_good"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int hub_requests = 0, cdn_requests = 0;
  for (auto& req : hub_->log()) {
    if (req["server"] == "hub") {
      ++hub_requests;
      EXPECT_EQ(req["authorization"], "Bearer hf_good") << req.dump();
    } else {
      ++cdn_requests;
      EXPECT_EQ(req["authorization"], "") << "the token leaked to " << req.dump();
    }
  }
  EXPECT_GE(hub_requests, 2);
  EXPECT_EQ(cdn_requests, 1);
  EXPECT_EQ(sha256_of(repo_dir("test/gated-GGUF") / "snapshots" / std::string(40, 'c') / "g-Q8_0.gguf"),
            sha256_of(family_gguf("llama-tied")));
}

TEST_F(HubCli, NotFoundErrorsNameWhatIsMissing) {
  auto r = cli({"pull", "test/nope-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "test/nope-GGUF: no such model repo") && contains(r.err, "HTTP 404")) << r.err;
  r = cli({"pull", "test/tiny-GGUF:Q8_0", "--revision", "nope"});
  EXPECT_TRUE(contains(r.err, "test/tiny-GGUF has no revision 'nope' (HTTP 404)")) << r.err;
  // Listed but gone by the time of the HEAD.
  hub_->set_faults(json::array({{{"match", "/resolve/"},
                                 {"method", "HEAD"},
                                 {"times", -1},
                                 {"status", 404},
                                 {"headers", {{"X-Error-Code", "EntryNotFound"}}}}}));
  r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "tiny-Q8_0.gguf is not in test/tiny-GGUF at revision " + kMain)) << r.err;
}

TEST_F(HubCli, MirrorsThatResolveOnlyBranchNamesStillWork) {
  hub_->set_faults(json::array({{{"match", "/resolve/" + kMain},
                                 {"times", -1},
                                 {"status", 404},
                                 {"headers", {{"X-Error-Code", "RevisionNotFound"}}}}}));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(hub_->requests("/resolve/main/tiny-Q8_0.gguf", "HEAD").size(), 1u);
  EXPECT_EQ(sha256_of(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / kQ8), sha256_of(family_gguf("llama-tied")));
}

TEST_F(HubCli, RateLimitIsWaitedOutOrExplained) {
  hub_->set_faults(json::array(
      {{{"match", "/api/models/"}, {"times", 1}, {"status", 429}, {"headers", {{"Retry-After", "1"}}}}}));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "HTTP 429); retrying in 1 s")) << r.err;
  hub_->set_faults(json::array(
      {{{"match", "/resolve/"}, {"times", -1}, {"status", 429}, {"headers", {{"Retry-After", "3600"}}}}}));
  r = cli({"pull", "test/tiny-GGUF:Q4_K_M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "is rate-limiting requests (HTTP 429)") && contains(r.err, "retry in 3600 seconds"))
      << r.err;
}

TEST_F(HubCli, CutConnectionsAreResumedWithRange) {
  hub_->set_faults(json::array({{{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"cut_after", 300000}}}));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto gets = hub_->requests("/cdn-lfs/", "GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0]["range"], "");
  EXPECT_EQ(gets[1]["range"], "bytes=300000-");
  EXPECT_TRUE(contains(r.err, "resuming at byte 300000")) << r.err;
  EXPECT_EQ(sha256_of(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / kQ8), sha256_of(family_gguf("llama-tied")));
}

TEST_F(HubCli, AFailedDownloadLeavesOnlyAPartialFileThatTheNextRunResumes) {
  // 300000 bytes, then connections that give nothing: pocketllm gives up.
  hub_->set_faults(json::array({{{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"cut_after", 300000}},
                                {{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", -1}, {"cut_after", 0}}}));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "run the same command again to resume")) << r.err;
  const std::string sha = sha256_of(family_gguf("llama-tied"));
  EXPECT_EQ(fs::file_size(blob("test/tiny-GGUF", sha + ".incomplete")), 300000u);
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", sha))) << "nothing at the final name";
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / kQ8));
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF") / "refs/main")) << "the ref moves only with a complete snapshot";
  hub_->set_faults(json::array());
  hub_->clear_log();
  r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto gets = hub_->requests("/cdn-lfs/", "GET");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0]["range"], "bytes=300000-");
  EXPECT_EQ(sha256_of(blob("test/tiny-GGUF", sha)), sha);
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", sha + ".incomplete")));
}

TEST_F(HubCli, ServerIgnoringRangeRestartsFromTheStart) {
  hub_->set_faults(json::array({{{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"cut_after", 200000}},
                                {{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"ignore_range", true}}}));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sha256_of(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / kQ8), sha256_of(family_gguf("llama-tied")));
}

TEST_F(HubCli, CtrlCKeepsAResumablePartialFile) {
  hub_->set_faults(json::array({{{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"throttle", 400000}}}));
  const std::string sha = sha256_of(family_gguf("llama-tied"));
  const fs::path part = blob("test/tiny-GGUF", sha + ".incomplete");
  const pid_t pid = spawn({"pull", "test/tiny-GGUF:Q8_0"}, hub_env(hub_->endpoint(), cache_), dir_ / "pull.err");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::error_code ec;
  auto part_size = [&] {
    const auto n = fs::file_size(part, ec);
    return ec ? 0 : n;
  };
  while (std::chrono::steady_clock::now() < deadline && part_size() < 100000)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string err = ts::read_file(dir_ / "pull.err");
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 130) << err;
  EXPECT_TRUE(contains(err, "interrupted") && contains(err, "run the same command again to resume")) << err;
  const uint64_t kept = part_size();
  EXPECT_GE(kept, 100000u);
  EXPECT_LT(kept, q8_size());
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", sha)));
  hub_->clear_log();
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto gets = hub_->requests("/cdn-lfs/", "GET");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0]["range"], "bytes=" + std::to_string(kept) + "-");
  EXPECT_EQ(sha256_of(blob("test/tiny-GGUF", sha)), sha);
}

TEST_F(HubCli, CorruptBodiesAreDeleted) {
  hub_->set_faults(json::array({{{"match", "/cdn-lfs/"}, {"method", "GET"}, {"times", 1}, {"corrupt", true}}}));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  const std::string sha = sha256_of(family_gguf("llama-tied"));
  EXPECT_TRUE(contains(r.err, "tiny-Q8_0.gguf from test/tiny-GGUF is corrupt") && contains(r.err, "sha256 " + sha) &&
              contains(r.err, "was deleted"))
      << r.err;
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", sha)));
  EXPECT_FALSE(fs::exists(blob("test/tiny-GGUF", sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / kQ8));
  // A small file checked by its git blob SHA-1.
  hub_->set_faults(json::array({{{"match", "/README.md"}, {"method", "GET"}, {"times", 1}, {"corrupt", true}}}));
  r = cli({"pull", "test/tiny-GGUF", "--include", "README.md"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "README.md from test/tiny-GGUF is corrupt") && contains(r.err, "git blob sha1")) << r.err;
  EXPECT_FALSE(fs::exists(repo_dir("test/tiny-GGUF") / "snapshots" / kMain / "README.md"));
  // Both come right on the next run.
  EXPECT_EQ(cli({"pull", "test/tiny-GGUF:Q8_0"}).exit_code, 0);
  EXPECT_EQ(cli({"pull", "test/tiny-GGUF", "--include", "README.md"}).exit_code, 0);
}

TEST_F(HubCli, FullDiskLeavesNoFileAtTheFinalName) {
  // A 256 KiB tmpfs as the cache, in a private mount namespace (no root needed).
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  auto probe = ts::run_command({"unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=256k none '" + small.string() + "'"});
  if (probe.exit_code != 0) GTEST_SKIP() << "cannot mount a tmpfs in a user namespace here: " << probe.err;
  auto pull_into_small = [&] {
    std::vector<std::string> env = hub_env(hub_->endpoint(), small / "cache");
    const std::string cmd = "mount -t tmpfs -o size=256k none '" + small.string() + "' && exec '" +
                            POCKETLLM_BINARY + "' pull test/tiny-GGUF:Q8_0";
    return ts::run_command({"unshare", "-rm", "sh", "-c", cmd}, "", env);
  };
  // The announced size does not fit: refused before the transfer.
  auto r = pull_into_small();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "not enough disk space for tiny-Q8_0.gguf")) << r.err;
  // No size announced: the disk fills during the transfer.
  hub_->set_faults(json::array({{{"match", "tiny-Q8_0.gguf"}, {"times", -1}, {"no_length", true}},
                                {{"match", "/cdn-lfs/"}, {"times", -1}, {"no_length", true}}}));
  r = pull_into_small();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "no space left on the disk for tiny-Q8_0.gguf")) << r.err;
  EXPECT_TRUE(contains(r.err, ".incomplete")) << r.err;
}

TEST_F(HubCli, WaitsForAnotherDownloaderOfTheSameBlob) {
  // An exclusive flock on the blob's lock file, as huggingface_hub's filelock takes it.
  const std::string sha = sha256_of(family_gguf("llama-tied"));
  const fs::path lock = cache_ / ".locks/models--test--tiny-GGUF" / (sha + ".lock");
  fs::create_directories(lock.parent_path());
  const std::string py = "import fcntl, sys, time\nf = open(sys.argv[1], 'w')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
                         "open(sys.argv[2], 'w').close()\ntime.sleep(1.5)\n";
  ts::write_file(dir_ / "hold.py", py);
  const fs::path locked = dir_ / "locked";
  const pid_t holder = fork();
  if (holder == 0) {
    execl("/usr/bin/python3", "python3", (dir_ / "hold.py").c_str(), lock.c_str(), locked.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 500 && !fs::exists(locked); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(locked));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"});
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  waitpid(holder, nullptr, 0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "another process is downloading it")) << r.err;
  EXPECT_GT(waited, 0.5);
  EXPECT_EQ(sha256_of(blob("test/tiny-GGUF", sha)), sha);
}
