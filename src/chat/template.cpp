#include "chat/template.h"

#include "chat/jinja/interpreter.h"
#include "chat/jinja/parser.h"

namespace pocketllm::chat {

namespace {

template <class Json>
std::string render(const std::string& template_text, const Json& context) {
  if (!context.is_object()) fail("chat template context must be a JSON object");
  jinja::Template tpl = jinja::parse_template(template_text);
  jinja::Value ctx = jinja::Value::from_json(context);
  jinja::Interpreter interp;
  return interp.render(tpl, ctx);
}

struct Builtin {
  const char* name;
  const char* alias;
  const char* text;
};

// Short templates written for this project, producing each family's prompt format.
const Builtin kBuiltins[] = {
    {"chatml", "qwen",
     "{% for message in messages %}"
     "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
     "{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
    {"zephyr", "tinyllama",
     "{% for message in messages %}"
     "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
     "{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"},
    {"llama2", nullptr,
     "{% if messages and messages[0]['role'] == 'system' %}"
     "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
     "{% else %}{% set system = none %}{% set turns = messages %}{% endif %}"
     "{% for message in turns %}"
     "{% if message['role'] == 'user' %}"
     "{% set content = message['content'] %}"
     "{% if loop.first and system is not none %}"
     "{% set content = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + content %}{% endif %}"
     "{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}"
     "{% elif message['role'] == 'assistant' %}"
     "{{ ' ' + message['content'] | trim + ' ' + eos_token }}"
     "{% endif %}"
     "{% endfor %}"},
    {"llama3", nullptr,
     "{{ bos_token }}"
     "{% for message in messages %}"
     "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
     "{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"},
    {"gemma", nullptr,
     "{{ bos_token }}"
     "{% set ns = namespace(prefix='') %}"
     "{% for message in messages %}"
     "{% if message['role'] == 'system' %}{% set ns.prefix = message['content'] | trim + '\\n\\n' %}"
     "{% else %}"
     "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
     "{{ '<start_of_turn>' + role + '\\n' + ns.prefix + message['content'] | trim + '<end_of_turn>\\n' }}"
     "{% set ns.prefix = '' %}"
     "{% endif %}"
     "{% endfor %}"
     "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"},
    {"phi3", nullptr,
     "{% for message in messages %}"
     "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
     "{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"},
    {"mistral", nullptr,
     "{{ bos_token }}"
     "{% set ns = namespace(system='') %}"
     "{% for message in messages %}"
     "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\\n\\n' %}"
     "{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.system + message['content'] + ' [/INST]' }}"
     "{% set ns.system = '' %}"
     "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
     "{% endif %}"
     "{% endfor %}"},
};

}  // namespace

std::string render_chat_template(const std::string& template_text, const nlohmann::json& context) {
  return render(template_text, context);
}

std::string render_chat_template_ordered(const std::string& template_text, const nlohmann::ordered_json& context) {
  return render(template_text, context);
}

std::optional<std::string> builtin_chat_template(const std::string& name) {
  for (const auto& b : kBuiltins)
    if (name == b.name || (b.alias && name == b.alias)) return std::string(b.text);
  return std::nullopt;
}

std::vector<std::string> builtin_chat_template_names() {
  std::vector<std::string> names;
  for (const auto& b : kBuiltins) {
    names.emplace_back(b.name);
    if (b.alias) names.emplace_back(b.alias);
  }
  return names;
}

std::string builtin_chat_template_list() {
  std::string list;
  for (const auto& b : kBuiltins) {
    list += list.empty() ? "" : ", ";
    list += b.name;
    if (b.alias) list += std::string(" (alias ") + b.alias + ")";
  }
  return list;
}

void check_chat_template(const std::string& template_text) { (void)jinja::parse_template(template_text); }

}  // namespace pocketllm::chat
