// Atomic writes: the temp file has an unpredictable name and is created
// exclusively; temp files left by a killed run are cleaned up; a failed write
// leaves the target untouched.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace pocketllm;

namespace {

// A pid that no process has: a child that already exited and was reaped.
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

TEST(AtomicFile, TempNamesAreUnpredictable) {
  const auto dir = testsupport::temp_dir("atomic");
  const std::string target = (dir / "out.gguf").string();
  AtomicFile a(target), b(target);
  const std::regex shape(R"(out\.gguf\.tmp\.\d+\.[0-9a-f]{16})");
  EXPECT_TRUE(std::regex_match(fs::path(a.temp_path()).filename().string(), shape)) << a.temp_path();
  EXPECT_NE(a.temp_path(), b.temp_path());
  EXPECT_TRUE(fs::exists(a.temp_path()));
}

TEST(AtomicFile, StaleTempFilesOfKilledRunsAreRemoved) {
  const auto dir = testsupport::temp_dir("atomic-stale");
  const fs::path target = dir / "model.gguf";
  const pid_t gone = dead_pid();
  const fs::path stale = dir / ("model.gguf.tmp." + std::to_string(gone) + ".0123456789abcdef");
  const fs::path old_style = dir / ("model.gguf.tmp." + std::to_string(gone) + ".4242");
  const fs::path live = dir / ("model.gguf.tmp." + std::to_string(getppid()) + ".00000000000000aa");
  const fs::path other = dir / ("other.gguf.tmp." + std::to_string(gone) + ".0123456789abcdef");
  for (const auto& p : {stale, old_style, live, other}) testsupport::write_file(p, "partial");
  write_file_atomic(target.string(), "whole");
  EXPECT_FALSE(fs::exists(stale)) << "a killed run's temp file was left behind";
  EXPECT_FALSE(fs::exists(old_style));
  EXPECT_TRUE(fs::exists(live)) << "a running process's temp file must stay";
  EXPECT_TRUE(fs::exists(other)) << "another target's temp file must stay";
  EXPECT_EQ(testsupport::read_file(target), "whole");
}

TEST(AtomicFile, UncommittedWriteLeavesTheTargetAlone) {
  const auto dir = testsupport::temp_dir("atomic-abort");
  const std::string target = (dir / "t.bin").string();
  write_file_atomic(target, "old");
  std::string tmp;
  {
    AtomicFile f(target);
    f.write("new", 3);
    tmp = f.temp_path();
  }
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ(testsupport::read_file(target), "old");
}

}  // namespace
