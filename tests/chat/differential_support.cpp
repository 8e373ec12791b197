// Runs jobs through the python jinja2 reference and compares with pocketllm's renders.
#include "chat/differential_support.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "chat/template.h"
#include "core/error.h"
#include "support/test_support.h"

namespace chattest {

using nlohmann::ordered_json;
namespace fs = std::filesystem;

static const char* kPython = "/usr/bin/python3";

bool python_has_jinja2() {
  std::string cmd = std::string(kPython) + " -c 'import jinja2' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}


// Runs all jobs through the python reference in one process; returns one result per job.
static ordered_json run_reference(const std::vector<Job>& jobs) {
  ordered_json arr = ordered_json::array();
  for (const auto& j : jobs) arr.push_back({{"template", j.tpl}, {"context", j.ctx}});
  fs::path dir = testsupport::temp_dir("jinja_diff");
  fs::path input = dir / "jobs.json";
  testsupport::write_file(input, arr.dump());
  std::string cmd = std::string(kPython) + " " + POCKETLLM_SOURCE_DIR + "/tests/chat/jinja_reference.py '" +
                    input.string() + "' 2>'" + (dir / "stderr.txt").string() + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) throw std::runtime_error("reference renderer failed: " + testsupport::read_file(dir / "stderr.txt"));
  return ordered_json::parse(out);
}

// Compares every job with the reference; returns the number of jobs checked.
size_t compare_all(const std::vector<Job>& jobs) {
  ordered_json ref = run_reference(jobs);
  EXPECT_EQ(ref.size(), jobs.size());
  int failures = 0;
  for (size_t i = 0; i < jobs.size() && i < ref.size(); ++i) {
    const Job& job = jobs[i];
    std::string ours;
    std::string our_error;
    try {
      ours = pocketllm::chat::render_chat_template_ordered(job.tpl, job.ctx);
    } catch (const pocketllm::Error& e) {
      our_error = e.what();
    }
    bool ref_error = ref[i].contains("error");
    bool ok = ref_error ? !our_error.empty() : (our_error.empty() && ours == ref[i]["rendered"].get<std::string>());
    if (!ok && ++failures <= 25) {
      ADD_FAILURE() << "mismatch for " << job.label << "\n--- template:\n" << job.tpl << "\n--- python:\n"
                    << (ref_error ? "ERROR " + ref[i]["error"].get<std::string>() : ref[i]["rendered"].get<std::string>())
                    << "\n--- pocketllm:\n" << (our_error.empty() ? ours : "ERROR " + our_error) << "\n";
    }
  }
  EXPECT_EQ(failures, 0);
  return jobs.size();
}


}  // namespace chattest
