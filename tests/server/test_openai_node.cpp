// The official `openai` npm client (Node.js) against the real server: list
// models, complete a chat, stream a chat. npm installs the client at test time
// into a folder next to this test binary; without npm or the registry the test
// is skipped with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "server_process.h"
#include "support/test_support.h"

using nlohmann::json;
using namespace servertest;
namespace fs = std::filesystem;

namespace {

std::string run_capture(const std::string& cmd, int& status) {
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

fs::path node_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return (ec ? fs::temp_directory_path() : exe.parent_path()) / "server-node-client";
}

TEST(OpenAINodeClient, ChatStreamAndModels) {
  int st = 0;
  run_capture("node --version 2>&1 && npm --version 2>&1", st);
  if (st != 0) GTEST_SKIP() << "node/npm not available: cannot run the openai npm client test";
  const fs::path src = fs::path(POCKETLLM_SOURCE_DIR) / "tests" / "server" / "node";
  const fs::path dir = node_dir();
  fs::create_directories(dir);
  for (const char* f : {"package.json", "client.mjs"})
    fs::copy_file(src / f, dir / f, fs::copy_options::overwrite_existing);
  const std::string log =
      run_capture("cd '" + dir.string() + "' && npm install --no-audit --no-fund --prefer-offline 2>&1", st);
  if (st != 0 || !fs::exists(dir / "node_modules" / "openai" / "package.json"))
    GTEST_SKIP() << "npm could not install the openai client (offline?):\n" << log;

  ServerProcess server({"--alias", "stories"});
  ASSERT_NE(server.port(), 0);
  const std::string out =
      run_capture("cd '" + dir.string() + "' && node client.mjs " + server.base_url() + "/v1 2>&1", st);
  ASSERT_EQ(st, 0) << out << "\nserver log:\n" << server.log();
  const json r = json::parse(out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << out;
  EXPECT_EQ(r["models"], json::array({"stories"}));
  EXPECT_EQ(r["object"], "chat.completion");
  ASSERT_TRUE(r["content"].is_string());
  EXPECT_FALSE(r["content"].get<std::string>().empty());
  EXPECT_TRUE(r["finish_reason"] == "stop" || r["finish_reason"] == "length") << r["finish_reason"];
  EXPECT_GT(r["usage"]["completion_tokens"].get<int>(), 0);
  // Same seed: the stream carries the same text, role first, finish reason and usage last.
  EXPECT_EQ(r["streamed"], r["content"]);
  EXPECT_GE(r["stream_chunks"].get<int>(), 3);
  EXPECT_EQ(r["stream_role"], "assistant");
  EXPECT_EQ(r["stream_finish_reason"], r["finish_reason"]);
  for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
    EXPECT_EQ(r["stream_usage"][k], r["usage"][k]);
}

}  // namespace
