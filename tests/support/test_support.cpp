#include "support/test_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace testsupport {

fs::path shared_data() {
  if (const char* env = std::getenv("POCKETLLM_SHARED")) return fs::path(env) / "data";
  return fs::path(POCKETLLM_SOURCE_DIR).parent_path() / "shared" / "data";
}

std::string stories(const std::string& file) { return (shared_data() / "models/stories260K" / file).string(); }

std::string shell_output(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  status = pclose(p);
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

namespace {
struct TempDirs {
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs g_temp_dirs;
}  // namespace

fs::path temp_dir(const std::string& tag) {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("pocketllm-test-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(p);
  g_temp_dirs.dirs.push_back(p);
  return p;
}

std::string venv_python() {
  if (const char* env = std::getenv("POCKETLLM_PYTHON"); env && *env) return env;
  fs::path venv = std::getenv("POCKETLLM_VENV") ? fs::path(std::getenv("POCKETLLM_VENV"))
                  : std::getenv("HOME")        ? fs::path(std::getenv("HOME")) / ".cache/pocketllm/venv"
                                               : fs::path();
  std::error_code ec;
  if (!venv.empty() && fs::exists(venv / "bin" / "python", ec)) return (venv / "bin" / "python").string();
  return "";
}

fs::path models_dir() {
  if (const char* env = std::getenv("POCKETLLM_MODELS"); env && *env) return env;
  if (const char* home = std::getenv("HOME")) return fs::path(home) / ".cache/pocketllm/models";
  return fs::path(".cache/pocketllm/models");
}

bool models_required() {
  const char* env = std::getenv("POCKETLLM_REQUIRE_MODELS");
  return env && std::string(env) == "1";
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string read_test_file(const std::string& rel) { return read_file(fs::path(POCKETLLM_SOURCE_DIR) / "tests" / rel); }

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::string pocketllm_binary() {
  if (const char* env = std::getenv("POCKETLLM_TEST_BINARY"); env && *env) return env;
  return POCKETLLM_BINARY;
}

CmdResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv{pocketllm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, stdin_text);
}

pid_t spawn_command(const std::vector<std::string>& args, const std::vector<std::string>& env, int stdin_fd,
                    int stdout_fd, int stderr_fd) {
  if (args.empty()) throw std::runtime_error("spawn_command: no program");
  pid_t pid = fork();
  if (pid != 0) return pid;
  int target = 0;
  for (int fd : {stdin_fd, stdout_fd, stderr_fd}) {
    if (fd >= 0) dup2(fd, target);  // the copy is inherited; the pipes' other ends are close-on-exec
    ++target;
  }
  for (const std::string& e : env) {
    const size_t eq = e.find('=');
    if (eq == std::string::npos) unsetenv(e.c_str());
    else setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
  }
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  _exit(127);
}

CmdResult run_command(const std::vector<std::string>& args, const std::string& stdin_text,
                      const std::vector<std::string>& env) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  const pid_t pid = spawn_command(args, env, in_pipe[0], out_pipe[1], err_pipe[1]);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  std::thread writer([&] {
    size_t off = 0;
    while (off < stdin_text.size()) {
      ssize_t n = write(in_pipe[1], stdin_text.data() + off, stdin_text.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(in_pipe[1]);
  });
  CmdResult r;
  std::thread err_reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(err_pipe[0], buf, sizeof buf)) > 0) r.err.append(buf, static_cast<size_t>(n));
  });
  char buf[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  err_reader.join();
  writer.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<float> heavy_tailed_weights(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> d(4.0f);
  std::vector<float> w(static_cast<size_t>(n));
  for (auto& x : w) x = 0.05f * d(rng);
  return w;
}

}  // namespace testsupport
