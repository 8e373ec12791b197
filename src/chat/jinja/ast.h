// Syntax tree of a parsed template. Expressions and statements are plain tagged structs:
// each kind uses the fields documented next to it.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace pocketllm::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  Literal,    // value
  Name,       // name
  List,       // args
  Tuple,      // args
  Dict,       // args = k0, v0, k1, v1, ...
  Unary,      // op ("not", "-", "+"), args[0]
  Binary,     // op, args[0], args[1]  (and/or short-circuit)
  Compare,    // args[0] then ops[i] applied against args[i+1] (chained like Python)
  Ternary,    // args[0] = value, args[1] = condition, args[2] = else value (may be null)
  GetAttr,    // args[0], name
  GetItem,    // args[0], args[1]
  Slice,      // args[0], args[1..3] = start, stop, step (each may be null)
  Call,       // args[0] = callee, args[1..] positional, kwargs
  Filter,     // name, args[0] = input (null inside {% filter %}), args[1..], kwargs
  Test,       // name, negated, args[0] = subject, args[1..], kwargs
  BlockInput  // placeholder for the body text of a {% filter %} block
};

struct Expr {
  ExprKind kind;
  int line = 0;
  int depth = 1;  // height of this subtree, bounded by the parser
  bool negated = false;
  bool has_slice = false;  // a Slice somewhere in this subtree (see Interpreter::folds)
  std::string name;  // Name / GetAttr / Filter / Test
  std::string op;
  std::vector<std::string> ops;
  Value value;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  Text,        // text
  Print,       // expr
  If,          // conds[i] guards bodies[i]; else_body
  For,         // targets, expr = iterable, cond = optional filter, body, else_body
  Set,         // targets (or attr_target + names[0] for ns.attr), expr; or body (block set) + filter
  Macro,       // name, params (names + defaults), body
  CallBlock,   // expr = macro call, params = caller's parameters, body
  FilterBlock, // filter = filter chain applied on body text
  With,        // targets + values (defaults), body
  Break,
  Continue,
  Generation   // body (transformers' {% generation %} marker: renders its body)
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  std::string name;
  ExprPtr expr;
  ExprPtr cond;
  ExprPtr filter;
  std::string attr_target;  // "ns" for {% set ns.attr = ... %}
  std::vector<std::string> targets;
  std::vector<ExprPtr> conds;
  std::vector<Body> bodies;
  std::vector<ExprPtr> defaults;  // macro parameter defaults (null when none), with-values
  Body body;
  Body else_body;
};

struct Template {
  Body body;
};

}  // namespace pocketllm::chat::jinja
