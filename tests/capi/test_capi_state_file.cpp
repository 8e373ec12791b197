// Saving and restoring a session: the restored session continues exactly as the
// saved one would, without a prefill; the file is checked against the model, the
// context size and the KV type (a wrong one is PLLM_ERR_MISMATCH and changes
// nothing); a damaged or truncated file is PLLM_ERR_FORMAT; writes are atomic.
#include <filesystem>
#include <fstream>

#include "capi/capi_fixture.h"

using namespace capitest;
namespace fs = std::filesystem;
namespace ts = testsupport;

namespace {

// A session of `m` holding case 0's prompt and its first 20 greedy tokens.
SessionPtr session_after_20(pllm_model* m, int64_t n_ctx = 0, pllm_kv_type kv = PLLM_KV_DEFAULT) {
  auto s = new_session(m, n_ctx, kv);
  EXPECT_EQ(pllm_session_append_text(s.get(), "Once upon a time", 16, PLLM_TOKENIZE_ADD_SPECIAL), PLLM_OK);
  pllm_generate_params g = greedy(20);
  EXPECT_EQ(pllm_session_generate(s.get(), &g, nullptr), PLLM_OK) << pllm_session_last_error(s.get());
  return s;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  return out;
}

}  // namespace

TEST(CapiStateFile, ARestoredSessionContinuesWithoutAPrefill) {
  const auto dir = ts::temp_dir("capi_state");
  const std::string path = (dir / "story.pllm").string();
  auto m = load_stories();
  auto saved = session_after_20(m.get());
  ASSERT_EQ(pllm_session_save(saved.get(), path.c_str()), PLLM_OK) << pllm_session_last_error(saved.get());
  EXPECT_EQ(files_in(dir), std::vector<fs::path>{"story.pllm"});  // no temp file left behind

  // Another load of the model, another session: as an app started again.
  auto m2 = load_stories();
  auto restored = new_session(m2.get());
  ASSERT_EQ(pllm_session_load(restored.get(), path.c_str()), PLLM_OK) << pllm_session_last_error(restored.get());
  EXPECT_EQ(session_tokens(restored.get()), session_tokens(saved.get()));
  pllm_session_info a, b;
  pllm_session_get_info(saved.get(), &a);
  pllm_session_get_info(restored.get(), &b);
  EXPECT_EQ(a.n_cached, b.n_cached);

  pllm_generate_params g = greedy(40);
  Collected got;
  got.attach(g);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(restored.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.prompt_tokens, 1);  // only the last token drawn: the rest came from the file
  const auto want = ids_of(golden()["cases"][0]["generated_ids"]);
  EXPECT_EQ(got.tokens, std::vector<int32_t>(want.begin() + 20, want.end()));

  // Saving again replaces the file whole.
  ASSERT_EQ(pllm_session_save(restored.get(), path.c_str()), PLLM_OK);
  auto third = new_session(m.get());
  ASSERT_EQ(pllm_session_load(third.get(), path.c_str()), PLLM_OK);
  EXPECT_EQ(session_tokens(third.get()), ids_of(golden()["cases"][0]["full_sequence_ids"]));
  EXPECT_EQ(files_in(dir), std::vector<fs::path>{"story.pllm"});

  // An empty session saves and restores too (and empties the one it is loaded into).
  auto empty = new_session(m.get());
  ASSERT_EQ(pllm_session_save(empty.get(), path.c_str()), PLLM_OK);
  ASSERT_EQ(pllm_session_load(third.get(), path.c_str()), PLLM_OK);
  EXPECT_TRUE(session_tokens(third.get()).empty());
}

TEST(CapiStateFile, AnotherModelContextSizeOrKvTypeIsAMismatchThatChangesNothing) {
  const auto dir = ts::temp_dir("capi_state_mismatch");
  const std::string path = (dir / "s.pllm").string();
  auto m = load_stories();
  auto saved = session_after_20(m.get(), 128);
  ASSERT_EQ(pllm_session_save(saved.get(), path.c_str()), PLLM_OK);

  auto check_refused = [&](pllm_session* s, const char* says) {
    const auto before = session_tokens(s);
    EXPECT_EQ(pllm_session_load(s, path.c_str()), PLLM_ERR_MISMATCH);
    const std::string why = pllm_session_last_error(s);
    EXPECT_NE(why.find(says), std::string::npos) << why;
    EXPECT_EQ(session_tokens(s), before);  // unchanged
  };
  // The same weights without the tokenizer: another vocabulary (text would read differently).
  pllm_model* raw = nullptr;
  ASSERT_EQ(pllm_model_load(stories_bin().c_str(), nullptr, &raw), PLLM_OK) << pllm_last_error();
  ModelPtr no_vocab(raw);
  auto nv = new_session(no_vocab.get(), 128, PLLM_KV_F32);
  const int32_t bos = 1;
  ASSERT_EQ(pllm_session_append_tokens(nv.get(), &bos, 1), PLLM_OK);
  check_refused(nv.get(), "another vocabulary");

  // The same weights stored as f16 by `pocketllm convert`: same architecture, sizes and
  // vocabulary, other tensors: its keys and values would differ. (The sanitizer build
  // has no CLI to convert with.)
  if (std::filesystem::exists(POCKETLLM_BINARY)) {
    const std::string f16 = (dir / "stories-f16.gguf").string();
    const auto conv = ts::run_cli({"convert", stories_bin(), f16, "--type", "f16", "--tokenizer", stories_tok()});
    ASSERT_EQ(conv.exit_code, 0) << conv.err;
    ASSERT_EQ(pllm_model_load(f16.c_str(), nullptr, &raw), PLLM_OK) << pllm_last_error();
    ModelPtr other(raw);
    auto o = session_after_20(other.get(), 128, PLLM_KV_F32);
    check_refused(o.get(), "other weights");
  }
  auto small = session_after_20(m.get(), 64);
  check_refused(small.get(), "context size 128");
  auto f16kv = session_after_20(m.get(), 128, PLLM_KV_F16);
  check_refused(f16kv.get(), "f32 KV cache");
}

TEST(CapiStateFile, DamagedTruncatedOrForeignFilesAreFormatErrors) {
  const auto dir = ts::temp_dir("capi_state_damage");
  const std::string path = (dir / "s.pllm").string();
  auto m = load_stories();
  auto saved = session_after_20(m.get(), 64);
  ASSERT_EQ(pllm_session_save(saved.get(), path.c_str()), PLLM_OK);
  const std::string bytes = ts::read_file(path);
  const auto before = session_tokens(saved.get());

  // Truncated: refused from its size before anything is read; the session is unchanged.
  for (size_t keep : {size_t{0}, size_t{7}, size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    ts::write_file(dir / "cut.pllm", bytes.substr(0, keep));
    auto s = session_after_20(m.get(), 64);
    EXPECT_EQ(pllm_session_load(s.get(), (dir / "cut.pllm").c_str()), PLLM_ERR_FORMAT) << keep;
    EXPECT_EQ(session_tokens(s.get()), before) << keep;
  }
  // One bit flipped in the cached keys/values: the checksum catches it; the session is empty.
  std::string flipped = bytes;
  flipped[bytes.size() - 100] ^= 0x10;
  ts::write_file(dir / "flip.pllm", flipped);
  auto s = session_after_20(m.get(), 64);
  EXPECT_EQ(pllm_session_load(s.get(), (dir / "flip.pllm").c_str()), PLLM_ERR_FORMAT);
  EXPECT_NE(std::string(pllm_session_last_error(s.get())).find("checksum"), std::string::npos);
  EXPECT_TRUE(session_tokens(s.get()).empty());
  pllm_generate_params g = greedy(3);
  EXPECT_EQ(pllm_session_generate(s.get(), &g, nullptr), PLLM_ERR_STATE);  // usable, and empty

  // Not a session file at all, a model file, a folder, nothing.
  ts::write_file(dir / "text.pllm", "hello, this is not a session file at all, just some text bytes");
  EXPECT_EQ(pllm_session_load(s.get(), (dir / "text.pllm").c_str()), PLLM_ERR_FORMAT);
  EXPECT_EQ(pllm_session_load(s.get(), stories_bin().c_str()), PLLM_ERR_FORMAT);
  EXPECT_EQ(pllm_session_load(s.get(), dir.c_str()), PLLM_ERR_IO);
  EXPECT_EQ(pllm_session_load(s.get(), (dir / "absent.pllm").c_str()), PLLM_ERR_IO);
  EXPECT_EQ(pllm_session_load(s.get(), ""), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_load(s.get(), nullptr), PLLM_ERR_INVALID_ARGUMENT);
  // A token id beyond the vocabulary in an otherwise whole file: the tokens follow the
  // architecture name and the 72 bytes of fixed fields (runtime/session_file.cpp).
  std::string bad_id = bytes;
  const size_t tokens_at = bytes.find("llama") + 5 + 72;
  const int32_t huge = 100000;
  bad_id.replace(tokens_at, 4, reinterpret_cast<const char*>(&huge), 4);
  ts::write_file(dir / "bad_id.pllm", bad_id);
  auto t = session_after_20(m.get(), 64);
  EXPECT_EQ(pllm_session_load(t.get(), (dir / "bad_id.pllm").c_str()), PLLM_ERR_FORMAT);
  EXPECT_NE(std::string(pllm_session_last_error(t.get())).find("100000"), std::string::npos);
  EXPECT_EQ(session_tokens(t.get()), before);
}

TEST(CapiStateFile, AFailedSaveLeavesTheOldFileWholeAndNoTempFile) {
  const auto dir = ts::temp_dir("capi_state_atomic");
  const std::string path = (dir / "s.pllm").string();
  auto m = load_stories();
  auto s = session_after_20(m.get());
  ASSERT_EQ(pllm_session_save(s.get(), path.c_str()), PLLM_OK);
  const std::string old = ts::read_file(path);
  // A folder where the file should go, a folder that does not exist: IO errors.
  fs::create_directory(dir / "taken");
  EXPECT_EQ(pllm_session_save(s.get(), (dir / "taken").c_str()), PLLM_ERR_IO);
  EXPECT_EQ(pllm_session_save(s.get(), (dir / "no/such/dir/s.pllm").c_str()), PLLM_ERR_IO);
  EXPECT_NE(std::string(pllm_session_last_error(s.get())).find("no/such/dir"), std::string::npos);
  EXPECT_EQ(pllm_session_save(s.get(), ""), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ts::read_file(path), old);
  auto names = files_in(dir);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<fs::path>{"s.pllm", "taken"}));
}

// An 8-bit KV cache (PLLM_KV_Q8) saves its int8 rows and scales as they are: the
// restored session continues exactly as the saved one does, and an f16 session
// refuses the file.
TEST(CapiStateFile, AQ8SessionRestoresExactly) {
  const auto dir = ts::temp_dir("capi_state_q8");
  const std::string path = (dir / "q8.pllm").string();
  auto m = load_stories();
  auto saved = session_after_20(m.get(), 0, PLLM_KV_Q8);
  pllm_session_info info;
  pllm_session_get_info(saved.get(), &info);
  EXPECT_EQ(info.kv_type, PLLM_KV_Q8);
  ASSERT_EQ(pllm_session_save(saved.get(), path.c_str()), PLLM_OK) << pllm_session_last_error(saved.get());
  auto restored = new_session(m.get(), 0, PLLM_KV_Q8);
  ASSERT_EQ(pllm_session_load(restored.get(), path.c_str()), PLLM_OK) << pllm_session_last_error(restored.get());
  pllm_generate_params g = greedy(30);
  Collected a, b;
  a.attach(g);
  ASSERT_EQ(pllm_session_generate(saved.get(), &g, nullptr), PLLM_OK);
  b.attach(g);
  ASSERT_EQ(pllm_session_generate(restored.get(), &g, nullptr), PLLM_OK);
  EXPECT_EQ(a.tokens.size(), 30u);
  EXPECT_EQ(a.tokens, b.tokens);
  auto f16 = new_session(m.get(), 0, PLLM_KV_F16);
  EXPECT_EQ(pllm_session_load(f16.get(), path.c_str()), PLLM_ERR_MISMATCH);
}
