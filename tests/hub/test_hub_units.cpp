// The hub module's pure parts: model names, file choice, URLs, checksums (against
// git and sha256sum), the cache's names, the environment it reads.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/error.h"
#include "hub/checksum.h"
#include "hub/config.h"
#include "hub/file_selection.h"
#include "hub/hub_fixture.h"
#include "hub/model_ref.h"
#include "hub/repo_cache.h"
#include "hub/url.h"

using namespace pocketllm;
using namespace pocketllm::hub;
namespace ts = testsupport;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<std::string> kGgufRepo = {
    "README.md",
    "model-Q4_K.gguf",
    "model-Q4_K_M.gguf",
    "model-Q4_K_S.gguf",
    "model-Q8_0.gguf",
    "model-IQ4_XS.gguf",
    "mmproj-model-f16.gguf",
    "big/model-Q6_K-00001-of-00003.gguf",
    "big/model-Q6_K-00002-of-00003.gguf",
    "big/model-Q6_K-00003-of-00003.gguf",
};

}  // namespace

TEST(ModelRef, ParsesOwnerRepoAndQuant) {
  auto r = parse_model_ref("bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
  EXPECT_EQ(r.repo, "bartowski/Llama-3.2-1B-Instruct-GGUF");
  EXPECT_EQ(r.quant, "Q4_K_M");
  EXPECT_EQ(parse_model_ref("Qwen/Qwen2.5-0.5B-Instruct").quant, "");
  EXPECT_EQ(parse_model_ref("hf.co/unsloth/gemma-3-1b-it-GGUF:q8_0").repo, "unsloth/gemma-3-1b-it-GGUF");
  EXPECT_EQ(parse_model_ref("https://huggingface.co/a/b").repo, "a/b");
  for (const char* bad : {"noslash", "a/b/c", "a/", "/b", "a/../b", "a/b--c", "a/.b", "a/b.git", "a b/c"})
    EXPECT_NE(error_of([&] { parse_model_ref(bad); }).find("OWNER/REPO"), std::string::npos) << bad;
  for (const char* bad : {"a/b:", "a/b:Q4 K", "a/b:../x"})
    EXPECT_NE(error_of([&] { parse_model_ref(bad); }).find("quantization tag"), std::string::npos) << bad;
  EXPECT_EQ(repo_folder_name("TheBloke/Llama-2-7B-GGUF"), "models--TheBloke--Llama-2-7B-GGUF");
}

TEST(ModelRef, RefusesNamesThatLeaveTheCache) {
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", "", "./x", "a/."})
    EXPECT_NE(error_of([&] { check_repo_path(bad, "file"); }).find("not a safe relative file path"), std::string::npos)
        << bad;
  check_repo_path("sub/dir/model.gguf", "file");
  for (const std::string& bad : std::vector<std::string>{"..", ".", "a/b", "", "x y", std::string(129, 'a')})
    EXPECT_NE(error_of([&] { check_plain_name(bad, "ETag"); }).find("not a plain name"), std::string::npos) << bad;
}

TEST(FileSelection, QuantMatchesCaseInsensitivelyAndPrefersAWholeTag) {
  EXPECT_EQ(select_files(kGgufRepo, "o/r", "q8_0", {}).files, std::vector<std::string>{"model-Q8_0.gguf"});
  // Q4_K is in Q4_K, Q4_K_M and Q4_K_S: the whole tag wins.
  EXPECT_EQ(select_files(kGgufRepo, "o/r", "Q4_K", {}).model_file, "model-Q4_K.gguf");
  EXPECT_EQ(select_files(kGgufRepo, "o/r", "Q4_K_M", {}).model_file, "model-Q4_K_M.gguf");
  // IQ4_XS holds Q4_XS but not as a whole tag; it is the only match, so it is taken.
  EXPECT_EQ(select_files(kGgufRepo, "o/r", "Q4_XS", {}).model_file, "model-IQ4_XS.gguf");
  // "Q4" matches four files, none as a whole tag: an error that lists them.
  const std::string many = error_of([] { select_files(kGgufRepo, "o/r", "Q4", {}); });
  EXPECT_NE(many.find("matches 4 GGUF files of o/r"), std::string::npos) << many;
  EXPECT_NE(many.find("model-Q4_K_S.gguf"), std::string::npos);
  const std::string none = error_of([] { select_files(kGgufRepo, "o/r", "Q2_K", {}); });
  EXPECT_NE(none.find("no GGUF file of o/r matches ':Q2_K'"), std::string::npos) << none;
  EXPECT_NE(none.find("model-Q8_0.gguf"), std::string::npos);
  EXPECT_NE(none.find("big/model-Q6_K-00001-of-00003.gguf (+2 parts)"), std::string::npos) << none;
  EXPECT_EQ(none.find("mmproj"), std::string::npos) << "a projector is not a model to choose";
}

TEST(FileSelection, SplitModelsComeWhole) {
  auto s = select_files(kGgufRepo, "o/r", "Q6_K", {});
  EXPECT_EQ(s.files.size(), 3u);
  EXPECT_EQ(s.model_file, "big/model-Q6_K-00001-of-00003.gguf");
  // Naming one part with --include brings the others.
  s = select_files(kGgufRepo, "o/r", "", {"big/model-Q6_K-00002-of-00003.gguf"});
  EXPECT_EQ(s.files.size(), 3u);
  EXPECT_EQ(s.model_file, "big/model-Q6_K-00001-of-00003.gguf");
  auto missing = kGgufRepo;
  missing.pop_back();
  EXPECT_NE(error_of([&] { select_files(missing, "o/r", "Q6_K", {}); }).find("00003-of-00003.gguf is missing"),
            std::string::npos);
}

TEST(FileSelection, DefaultsIncludeAndSafetensors) {
  // No :QUANT on a GGUF repo with several models: llama.cpp's Q4_K_M, said in a note.
  auto s = select_files(kGgufRepo, "o/r", "", {});
  EXPECT_EQ(s.model_file, "model-Q4_K_M.gguf");
  EXPECT_NE(s.note.find("Q4_K_M"), std::string::npos);
  EXPECT_EQ(select_files({"a.gguf", "README.md"}, "o/r", "", {}).model_file, "a.gguf");
  EXPECT_NE(error_of([] { select_files({"a-Q8_0.gguf", "a-Q5_0.gguf"}, "o/r", "", {}); }).find("add :QUANT"),
            std::string::npos);
  const std::vector<std::string> st = {"config.json", "generation_config.json", "tokenizer.json",
                                       "tokenizer_config.json", "model-00001-of-00002.safetensors",
                                       "model-00002-of-00002.safetensors", "model.safetensors.index.json", "README.md",
                                       "model-Q8_0.gguf"};
  s = select_files(st, "o/r", "", {});
  EXPECT_TRUE(s.model_file.empty());
  EXPECT_TRUE(s.needs_index_shards);
  EXPECT_EQ(s.files, (std::vector<std::string>{"config.json", "tokenizer.json", "tokenizer_config.json",
                                               "generation_config.json", "model.safetensors.index.json"}));
  // A quant on the same repo takes its GGUF; on a safetensors-only repo it is an error.
  EXPECT_EQ(select_files(st, "o/r", "Q8_0", {}).model_file, "model-Q8_0.gguf");
  EXPECT_NE(error_of([] { select_files({"config.json", "model.safetensors"}, "o/r", "Q4_K_M", {}); })
                .find("drop :Q4_K_M to fetch its safetensors model"),
            std::string::npos);
  EXPECT_EQ(select_files({"config.json", "model.safetensors"}, "o/r", "", {}).files,
            (std::vector<std::string>{"config.json", "model.safetensors"}));
  EXPECT_NE(error_of([] { select_files({"config.json", "pytorch_model.bin"}, "o/r", "", {}); })
                .find("neither GGUF files nor a safetensors model"),
            std::string::npos);
  EXPECT_NE(error_of([&] { select_files(st, "o/r", "", {"nope.gguf"}); }).find("has no file 'nope.gguf'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { select_files(st, "o/r", "Q8_0", {"config.json"}); }).find("not both"), std::string::npos);
  EXPECT_EQ(index_shards(R"({"weight_map": {"a": "s2.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}})", "x"),
            (std::vector<std::string>{"s1.safetensors", "s2.safetensors"}));
  EXPECT_NE(error_of([] { index_shards(R"({"weight_map": {"a": "../x"}})", "x"); }).find("not a safe"), std::string::npos);
}

TEST(HubUrl, ParsesAndResolvesRedirects) {
  auto u = parse_url("https://Hub.Example:8443/a/b?x=1#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "hub.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?x=1");
  EXPECT_EQ(parse_url("http://h")->target, "/");
  EXPECT_EQ(parse_url("http://h")->port, 80);
  EXPECT_EQ(parse_url("http://[::1]:9/x")->host_port(), "[::1]:9");
  EXPECT_FALSE(parse_url("ftp://h/x"));
  EXPECT_FALSE(parse_url("http://h:99999/"));
  EXPECT_EQ(resolve_location(*u, "/c/d")->str(), "https://hub.example:8443/c/d");
  EXPECT_EQ(resolve_location(*u, "e")->str(), "https://hub.example:8443/a/e");
  EXPECT_EQ(resolve_location(*u, "http://cdn:81/z")->str(), "http://cdn:81/z");
  EXPECT_EQ(resolve_location(*u, "//cdn/z")->str(), "https://cdn:443/z");
  EXPECT_EQ(percent_encode("refs/pr/1", false), "refs%2Fpr%2F1");
  EXPECT_EQ(percent_encode("dir/a b+c.gguf", true), "dir/a%20b%2Bc.gguf");
}

TEST(Checksum, MatchesGitAndSha256sum) {
  const auto dir = ts::temp_dir("checksum");
  for (const std::string& content : {std::string(), std::string("hello\n"), std::string(3'000'000, 'x')}) {
    const auto p = dir / "f";
    ts::write_file(p, content);
    auto git = ts::run_command({"git", "hash-object", p.string()});
    ASSERT_EQ(git.exit_code, 0) << git.err;
    EXPECT_EQ(file_checksum(p.string(), ExpectedChecksum::Kind::GitBlobSha1), git.out.substr(0, 40));
    EXPECT_EQ(file_checksum(p.string(), ExpectedChecksum::Kind::Sha256), hubtest::sha256_of(p));
  }
  EXPECT_EQ(normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(expected_checksum(std::string(64, 'A'), true).kind, ExpectedChecksum::Kind::Sha256);
  EXPECT_EQ(expected_checksum(std::string(64, 'A'), true).hex, std::string(64, 'a'));
  EXPECT_EQ(expected_checksum(std::string(40, 'a'), false).kind, ExpectedChecksum::Kind::GitBlobSha1);
  EXPECT_EQ(expected_checksum(std::string(40, 'a'), true).kind, ExpectedChecksum::Kind::None);
  EXPECT_EQ(expected_checksum("abc-123", false).kind, ExpectedChecksum::Kind::None);
}

TEST(HubConfig, ReadsHuggingFaceHubsVariables) {
  const auto dir = ts::temp_dir("hubcfg");
  auto save = [](const char* n) { return std::getenv(n) ? std::optional<std::string>(std::getenv(n)) : std::nullopt; };
  const char* names[] = {"HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN",
                         "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                         "XDG_CACHE_HOME", "HF_HUB_DOWNLOAD_TIMEOUT"};
  std::vector<std::optional<std::string>> saved;
  for (auto n : names) {
    saved.push_back(save(n));
    unsetenv(n);
  }
  setenv("HF_HOME", dir.c_str(), 1);
  ts::write_file(dir / "token", "  hf_fromfile\n");
  auto c = HubConfig::from_env();
  EXPECT_EQ(c.endpoint, "https://huggingface.co");
  EXPECT_EQ(c.cache_dir, dir / "hub");
  EXPECT_EQ(c.token, "hf_fromfile");
  EXPECT_EQ(c.token_source, (dir / "token").string());
  EXPECT_FALSE(c.offline);
  setenv("HF_ENDPOINT", "https://hf-mirror.com/", 1);
  setenv("HF_HUB_CACHE", (dir / "elsewhere").c_str(), 1);
  setenv("HF_TOKEN", "hf_env", 1);
  setenv("HF_HUB_OFFLINE", "yes", 1);
  c = HubConfig::from_env();
  EXPECT_EQ(c.endpoint, "https://hf-mirror.com");
  EXPECT_EQ(c.cache_dir, dir / "elsewhere");
  EXPECT_EQ(c.token, "hf_env");
  EXPECT_TRUE(c.offline);
  setenv("HF_HUB_DOWNLOAD_TIMEOUT", "soon", 1);
  EXPECT_NE(error_of([] { HubConfig::from_env(); }).find("HF_HUB_DOWNLOAD_TIMEOUT"), std::string::npos);
  for (size_t i = 0; i < saved.size(); ++i) {
    if (saved[i]) setenv(names[i], saved[i]->c_str(), 1);
    else unsetenv(names[i]);
  }
}

TEST(RepoCacheLayout, RefsAndRelativeLinks) {
  const auto root = ts::temp_dir("layout");
  RepoCache c(root, "o/r");
  const std::string commit = hubtest::fake_sha('c');
  c.write_ref("main", commit);
  EXPECT_EQ(ts::read_file(root / "models--o--r/refs/main"), commit) << "no trailing newline";
  EXPECT_EQ(c.read_ref("main"), commit);
  EXPECT_EQ(c.read_ref(commit), commit);
  EXPECT_FALSE(c.read_ref("dev"));
  std::filesystem::create_directories(root / "models--o--r/blobs");
  ts::write_file(c.blob("e1"), "x");
  c.link(commit, "sub/dir/f.gguf", "e1");
  EXPECT_EQ(std::filesystem::read_symlink(c.pointer(commit, "sub/dir/f.gguf")), "../../../../blobs/e1");
  c.link(commit, "g.json", "e1");
  EXPECT_EQ(std::filesystem::read_symlink(c.pointer(commit, "g.json")), "../../blobs/e1");
  EXPECT_EQ(c.snapshot_files(commit), (std::vector<std::string>{"g.json", "sub/dir/f.gguf"}));
  EXPECT_EQ(c.lock_file("e1"), root / ".locks/models--o--r/e1.lock");
}
