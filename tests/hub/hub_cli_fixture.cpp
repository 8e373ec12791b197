#include "hub/hub_cli_fixture.h"

namespace hubtest {

nlohmann::json standard_repos() {
  return {{"tokens", {{"hf_good", {"test/gated-GGUF"}}, {"hf_noaccess", nlohmann::json::array()}}},
          {"repos",
           {{"test/tiny-GGUF",
             {{"sha", kMain},
              {"revisions", {{"v1", kV1}}},
              {"files",
               {{"README.md", file_text("# tiny\n")},
                {"tiny-Q8_0.gguf", file_from(family_gguf("llama-tied"), true)},
                {"tiny-Q4_K_M.gguf", file_from(family_gguf("qwen2"), true)},
                {"same-as-q8.bin", file_from(family_gguf("llama-tied"), true)}}}}},
            {"test/gated-GGUF",
             {{"sha", std::string(40, 'c')},
              {"gated", true},
              {"files", {{"g-Q8_0.gguf", file_from(family_gguf("llama-tied"), true)}}}}}}}};
}

void HubCli::start(const nlohmann::json& config, const std::vector<std::string>& flags) {
  hub_.reset();
  hub_ = std::make_unique<FakeHub>(config, flags);
  ASSERT_TRUE(hub_->ok());
  if (dir_.empty()) {
    dir_ = testsupport::temp_dir("hubcli");
    cache_ = dir_ / "cache";
  }
}

testsupport::CmdResult HubCli::cli(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) const {
  return run_pocketllm(args, hub_env(hub_->endpoint(), cache_, extra_env));
}

fs::path HubCli::repo_dir(const std::string& repo) const {
  std::string name = "models--" + repo;
  name.replace(name.find('/'), 1, "--");
  return cache_ / name;
}

std::vector<std::string> HubCli::run_args() { return {"-p", "Once upon a time", "-n", "12", "--temp", "0", "-t", "1"}; }

std::string HubCli::run_local(const fs::path& model, const std::vector<std::string>& extra) const {
  std::vector<std::string> args{"run", "-m", model.string()};
  for (auto& a : run_args()) args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_pocketllm(args, {});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

}  // namespace hubtest
