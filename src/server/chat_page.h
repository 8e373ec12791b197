// The chat page served at "/" (src/server/chat_page/index.html, compiled in by
// cmake/embed_file.cmake): one static HTML file with its CSS and JS inline.
#pragma once
#include <string_view>

namespace pocketllm::server {

std::string_view chat_page_html();
// Base64 SHA-256 of the page's inline <script> and <style> text: the Content-Security-Policy
// allows those two and nothing else inline.
std::string_view chat_page_html_script_sha256();
std::string_view chat_page_html_style_sha256();

}  // namespace pocketllm::server
