// libpocketllm.so as an app sees it: its dynamic symbol table exports exactly the
// functions pocketllm.h declares (hidden visibility and the version script keep the
// C++ engine, fmt and the rest inside), it has a versioned soname, and the header
// and examples/c/chat.c compile as strict C99.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "capi/capi_fixture.h"

namespace ts = testsupport;

// The sanitizer build (fuzz/CMakeLists.txt) links the C API statically: no .so to look at.
#ifndef POCKETLLM_CAPI_LIBRARY
#define POCKETLLM_CAPI_LIBRARY ""
#define POCKETLLM_C_COMPILER ""
#endif

namespace {

bool have_library() { return POCKETLLM_CAPI_LIBRARY[0] != '\0'; }

std::set<std::string> declared_functions() {
  const std::string header = ts::read_file(std::string(POCKETLLM_SOURCE_DIR) + "/include/pocketllm.h");
  std::set<std::string> out;
  const std::regex decl(R"(PLLM_API[^;(]*\b(pllm_\w+)\s*\()");
  for (auto it = std::sregex_iterator(header.begin(), header.end(), decl); it != std::sregex_iterator(); ++it)
    out.insert((*it)[1]);
  return out;
}

}  // namespace

TEST(CapiLibrary, ExportsExactlyTheFunctionsOfTheHeader) {
  if (!have_library()) GTEST_SKIP() << "built against the static C API";
  const auto nm = ts::run_command({"nm", "-D", "--defined-only", POCKETLLM_CAPI_LIBRARY});
  ASSERT_EQ(nm.exit_code, 0) << nm.err;
  std::set<std::string> exported;
  std::istringstream lines(nm.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string addr, type, name;
    f >> addr >> type >> name;
    if (!name.empty()) exported.insert(name);
  }
  const auto declared = declared_functions();
  EXPECT_GE(declared.size(), 27u);  // the parse found the header's functions
  EXPECT_EQ(exported, declared);

  const auto rd = ts::run_command({"readelf", "-d", POCKETLLM_CAPI_LIBRARY});
  ASSERT_EQ(rd.exit_code, 0) << rd.err;
  EXPECT_NE(rd.out.find("Library soname: [libpocketllm.so.0]"), std::string::npos) << rd.out;
}

TEST(CapiLibrary, TheHeaderAndTheExampleAreStrictC99) {
  if (!have_library()) GTEST_SKIP() << "built against the static C API";
  const std::string root = POCKETLLM_SOURCE_DIR;
  const std::string obj = (ts::temp_dir("c99") / "chat.o").string();
  for (const std::string& src : {root + "/tests/capi/c99_header_only.c", root + "/examples/c/chat.c"}) {
    const auto cc = ts::run_command({POCKETLLM_C_COMPILER, "-std=c99", "-pedantic-errors", "-Wall", "-Wextra",
                                     "-Werror", "-I" + root + "/include", "-c", src, "-o", obj});
    EXPECT_EQ(cc.exit_code, 0) << src << ":\n" << cc.err;
  }
}

// bindings/python's pytest suite against this build's library, from the project venv
// (scripts/venv.sh pins pytest); skipped without the venv, as the other PyPI tests are.
TEST(CapiLibrary, PythonBindingTestsPass) {
  const std::string py = ts::venv_python();
  if (!have_library()) GTEST_SKIP() << "built against the static C API";
  if (py.empty()) GTEST_SKIP() << "no project venv: run scripts/venv.sh (or set POCKETLLM_PYTHON)";
  const std::string root = POCKETLLM_SOURCE_DIR;
  const auto r = ts::run_command(
      {py, "-m", "pytest", "-q", "-p", "no:cacheprovider", root + "/bindings/python/tests"}, "",
      {std::string("POCKETLLM_LIBRARY=") + POCKETLLM_CAPI_LIBRARY, "PYTHONPATH=" + root + "/bindings/python",
       "PYTHONDONTWRITEBYTECODE=1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}
