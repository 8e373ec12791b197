// Differential testing against python jinja2 configured as transformers does
// (tests/chat/jinja_reference.py, run with /usr/bin/python3).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace chattest {

struct Job {
  std::string label;
  std::string tpl;
  nlohmann::ordered_json ctx;
};

bool python_has_jinja2();
// Renders every job with both engines (python in one batch); reports each mismatch as a
// test failure (identical output, or both failing). Returns the number of jobs compared.
size_t compare_all(const std::vector<Job>& jobs);

}  // namespace chattest
