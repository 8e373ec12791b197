// Helpers shared by every test executable: where ../shared is, temp folders,
// and running the pocketllm binary as a user would.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace testsupport {

// ../shared/data relative to the repo root (POCKETLLM_SHARED overrides the ../shared part).
std::filesystem::path shared_data();
// A file of the real stories260K model's folder in ../shared, as a string for the CLI.
std::string stories(const std::string& file);
// A fresh empty folder under the system temp dir, removed at process exit.
std::filesystem::path temp_dir(const std::string& tag);

// The pocketllm binary the CLI and server tests run: this build's, or $POCKETLLM_TEST_BINARY
// (e.g. an older build, to check that a new test fails on the old code).
std::string pocketllm_binary();

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the built pocketllm binary with the given arguments (no shell quoting issues:
// each argument is passed as is). stdin_text, when not empty, is fed on stdin.
CmdResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");
// Runs any program (argv[0] looked up in PATH) the same way. Each env entry
// "NAME=VALUE" is set in the child's environment, a bare "NAME" is removed from it.
CmdResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                      const std::vector<std::string>& env = {});
// Starts a program as run_command does, without waiting; the given descriptors become
// its stdin / stdout / stderr (-1: this process's). Returns its pid (waitpid it).
pid_t spawn_command(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}, int stdin_fd = -1,
                    int stdout_fd = -1, int stderr_fd = -1);

// The python of the project's virtual environment for PyPI packages (scripts/venv.sh):
// $POCKETLLM_PYTHON, else the script's default location when it exists, else empty
// (a test that needs PyPI packages then skips, saying to run scripts/venv.sh).
std::string venv_python();

// Where scripts/fetch-test-models.sh and fetch-test-texts.sh put real models and texts:
// $POCKETLLM_MODELS, default ~/.cache/pocketllm/models (outside the repo).
std::filesystem::path models_dir();
// True when a missing real model or text must fail a test instead of skipping it
// (POCKETLLM_REQUIRE_MODELS=1, set by .ci/run after fetching them).
bool models_required();

std::string read_file(const std::filesystem::path& p);
// A file of the repository's tests/ folder (recorded fixtures): tests/<rel>.
std::string read_test_file(const std::string& rel);
void write_file(const std::filesystem::path& p, const std::string& bytes);

bool contains(const std::string& s, const std::string& part);
// What a shell command prints on stdout; `status` gets pclose's status (-1: not started).
std::string shell_output(const std::string& cmd, int& status);
// s without its trailing newlines (\n or \r\n), as a command prints one value.
std::string chomp(std::string s);

// n weights 0.05 * Student-t(4): heavy tails, as real weights have (clipping matters).
std::vector<float> heavy_tailed_weights(int64_t n, uint32_t seed);

}  // namespace testsupport
