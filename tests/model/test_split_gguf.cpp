// Split GGUF models (NAME-00001-of-0000N.gguf ...) load as one model. The parts
// are written by llama.cpp's own gguf-py writer (tests/tools/split_gguf.py), so
// the layout is llama.cpp's, not one pocketllm made up.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/model.h"
#include "support/greedy.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace fs = std::filesystem;
namespace ts = testsupport;

namespace {

const fs::path kWhole = "families/llama-tied.gguf";

// Splits the family model into parts of at most max_tensors tensors under dir/stem-*.
std::vector<fs::path> split(const fs::path& dir, const std::string& stem, int max_tensors, bool small_first = false) {
  std::vector<std::string> argv{ts::venv_python(), (fs::path(POCKETLLM_SOURCE_DIR) / "tests/tools/split_gguf.py").string(),
                                (ts::shared_data() / kWhole).string(), (dir / (stem + ".gguf")).string(),
                                std::to_string(max_tensors)};
  if (small_first) argv.push_back("--small-first-shard");
  auto r = ts::run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<fs::path> parts;
  std::string line;
  for (char ch : r.out) {
    if (ch != '\n') line += ch;
    else if (!line.empty()) parts.push_back(std::exchange(line, ""));
  }
  return parts;
}

std::unique_ptr<Model> load_split(const fs::path& p) { return load_model(p.string(), LoadOptions{}); }

std::string load_error(const fs::path& p) {
  try {
    load_split(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

class SplitGguf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ts::venv_python().empty()) GTEST_SKIP() << "needs the venv's gguf package: run scripts/venv.sh";
    dir_ = ts::temp_dir("split");
  }
  fs::path dir_;
};

}  // namespace

TEST_F(SplitGguf, LoadsAsTheWholeModel) {
  auto whole = load_split(ts::shared_data() / kWhole);
  const std::vector<int32_t> prompt = {1, 50, 60, 70};
  const auto want = ts::greedy_ids(*whole, prompt, 12);
  for (bool small_first : {false, true}) {
    SCOPED_TRACE(small_first ? "metadata-only first part" : "tensors in every part");
    auto parts = split(dir_, small_first ? "s" : "m", 8, small_first);
    ASSERT_GE(parts.size(), 3u);
    EXPECT_EQ(parts[0].filename().string(), (small_first ? "s" : "m") + std::string("-00001-of-0000") +
                                                std::to_string(parts.size()) + ".gguf");
    auto m = load_split(parts[0]);
    EXPECT_EQ(m->files.size(), parts.size());
    EXPECT_EQ(m->tensors.size(), whole->tensors.size());
    EXPECT_EQ(m->cfg.n_layers, whole->cfg.n_layers);
    ASSERT_TRUE(m->tokenizer);
    EXPECT_EQ(m->tokenizer->n_vocab(), whole->tokenizer->n_vocab());
    EXPECT_EQ(m->chat_template, whole->chat_template);
    EXPECT_EQ(ts::greedy_ids(*m, prompt, 12), want);
  }
}

TEST_F(SplitGguf, MissingOrForeignPartsAreClearErrors) {
  auto parts = split(dir_, "m", 8);
  ASSERT_EQ(parts.size(), 3u);
  // Not the first part: the error names the file to pass instead.
  EXPECT_NE(load_error(parts[1]).find("pass the first part, " + (dir_ / "m-00001-of-00003.gguf").string()),
            std::string::npos)
      << load_error(parts[1]);
  // A first part renamed so the others cannot be found.
  fs::copy_file(parts[0], dir_ / "renamed.gguf");
  EXPECT_NE(load_error(dir_ / "renamed.gguf").find("must be named PREFIX-00001-of-00003.gguf"), std::string::npos);
  // A part from another split of the same model (other tensors in it).
  auto other = split(dir_, "o", 9);
  ASSERT_EQ(other.size(), 3u);
  fs::copy_file(other[2], parts[2], fs::copy_options::overwrite_existing);
  const std::string mixed = load_error(parts[0]);
  EXPECT_TRUE(mixed.find("is also in another part") != std::string::npos ||
              mixed.find("split.tensors.count") != std::string::npos)
      << mixed;
  // A missing part.
  fs::remove(parts[2]);
  EXPECT_NE(load_error(parts[0]).find("part 3 of the split model is missing: " + parts[2].string()), std::string::npos)
      << load_error(parts[0]);
}
