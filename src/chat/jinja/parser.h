// Recursive-descent parser from tokens to the syntax tree, following python-jinja2's
// grammar and operator precedence. Nesting is bounded so hostile input cannot overflow the stack.
#pragma once
#include <string>

#include "chat/jinja/ast.h"

namespace pocketllm::chat::jinja {

Template parse_template(const std::string& source);

}  // namespace pocketllm::chat::jinja
