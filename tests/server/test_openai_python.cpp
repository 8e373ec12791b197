// The official `openai` Python client (PyPI, in the project's venv: scripts/venv.sh)
// against the real server: list models, complete a chat, stream a chat, a legacy
// completion and a rejected request (tests/server/openai_client.py). Without the
// venv the test is skipped with the reason.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "server_process.h"
#include "support/test_support.h"

using nlohmann::json;
using namespace servertest;
namespace fs = std::filesystem;

namespace {

TEST(OpenAIPythonClient, ModelsChatStreamCompletionAndErrors) {
  const std::string python = testsupport::venv_python();
  if (python.empty()) GTEST_SKIP() << "no Python venv: run `bash scripts/venv.sh` (or set POCKETLLM_PYTHON)";
  int st = 0;
  const std::string probe = testsupport::shell_output("'" + python + "' -c 'import openai' 2>&1", st);
  if (st != 0) GTEST_SKIP() << python << " has no openai package (run `bash scripts/venv.sh`):\n" << probe;

  ServerProcess server({"--alias", "stories"});
  ASSERT_NE(server.port(), 0);
  const fs::path script = fs::path(POCKETLLM_SOURCE_DIR) / "tests" / "server" / "openai_client.py";
  const std::string out = testsupport::shell_output("'" + python + "' '" + script.string() + "' " + server.base_url() + "/v1 2>&1", st);
  ASSERT_EQ(st, 0) << out << "\nserver log:\n" << server.log();
  const json r = json::parse(out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << out;
  EXPECT_EQ(r["models"], json::array({"stories"}));
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["role"], "assistant");
  ASSERT_TRUE(r["content"].is_string());
  EXPECT_FALSE(r["content"].get<std::string>().empty());
  EXPECT_TRUE(r["finish_reason"] == "stop" || r["finish_reason"] == "length") << r["finish_reason"];
  EXPECT_GT(r["usage"]["completion_tokens"].get<int>(), 0);
  // Same seed: the stream carries the same text, role first, finish reason and usage last.
  EXPECT_EQ(r["streamed"], r["content"]);
  EXPECT_GE(r["stream_chunks"].get<int>(), 3);
  EXPECT_EQ(r["stream_role"], "assistant");
  EXPECT_EQ(r["stream_finish_reason"], r["finish_reason"]);
  ASSERT_TRUE(r["stream_usage"].is_object()) << r.dump();
  for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
    EXPECT_EQ(r["stream_usage"][k], r["usage"][k]) << k;
  EXPECT_EQ(r["legacy_object"], "text_completion");
  EXPECT_FALSE(r["legacy_text"].get<std::string>().empty());
  EXPECT_EQ(r["legacy_usage"]["completion_tokens"], 8);
  EXPECT_EQ(r["bad_request"], json({{"status", 400}, {"type", "BadRequestError"}}));
}

// response_format json_schema validated by `jsonschema`, tool_choice required and
// named with arguments validated the same way, streamed tool calls, logprobs
// (tests/server/openai_structured.py), on the server `model_args` start.
void run_structured(const std::vector<std::string>& model_args) {
  const std::string python = testsupport::venv_python();
  if (python.empty()) GTEST_SKIP() << "no Python venv: run `bash scripts/venv.sh` (or set POCKETLLM_PYTHON)";
  int st = 0;
  const std::string probe = testsupport::shell_output("'" + python + "' -c 'import openai, jsonschema' 2>&1", st);
  if (st != 0) GTEST_SKIP() << python << " lacks openai or jsonschema (run `bash scripts/venv.sh`):\n" << probe;

  const std::vector<std::string> extra = {"--alias", "m", "-c", "2048"};
  std::unique_ptr<ServerProcess> server =
      model_args.empty() ? std::make_unique<ServerProcess>(extra) : std::make_unique<ServerProcess>(model_args, extra);
  ASSERT_NE(server->port(), 0);
  const fs::path script = fs::path(POCKETLLM_SOURCE_DIR) / "tests" / "server" / "openai_structured.py";
  const std::string out = testsupport::shell_output("'" + python + "' '" + script.string() + "' " + server->base_url() + "/v1 2>&1", st);
  ASSERT_EQ(st, 0) << out << "\nserver log:\n" << server->log();
  const json r = json::parse(out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << out;
  EXPECT_EQ(r["problems"], json::array()) << r.dump(2);
  EXPECT_EQ(r["seen"]["schemas"], 6) << r.dump();
  EXPECT_GE(r["seen"]["tool_calls"].get<int>(), 2) << r.dump();
  EXPECT_GE(r["seen"]["streamed_argument_deltas"].get<int>(), 2) << r.dump();  // arguments came token by token
  EXPECT_GT(r["seen"]["logprob_tokens"].get<int>(), 0) << r.dump();
  EXPECT_EQ(r["seen"]["bad_schema_status"], 400) << r.dump();
  EXPECT_EQ(r["seen"]["bad_tool_choice_status"], 400) << r.dump();
}

TEST(OpenAIPythonClient, StructuredOutputToolsAndLogprobs) { run_structured({}); }

// The same on the real Gemma 3 270M (scripts/fetch-test-models.sh); skipped without it.
TEST(OpenAIPythonClient, StructuredOutputToolsAndLogprobsOnGemma3) {
  const fs::path gemma = testsupport::models_dir() / "gemma-3-270m-q4_k_m.gguf";
  if (!fs::exists(gemma)) GTEST_SKIP() << gemma << " is missing (bash scripts/fetch-test-models.sh)";
  run_structured({"-m", gemma.string()});
}

}  // namespace
