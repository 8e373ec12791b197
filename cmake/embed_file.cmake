# Turns a file into a C++ source defining `std::string_view NAME()` that returns its bytes,
# so a page stays editable as a file and is still compiled into the binary (no external tool).
#   cmake -DINPUT=file -DOUTPUT=out.cpp -DNAMESPACE=ns -DNAME=fn -DHEADER=path/to.h [-DHTML_HASHES=ON] -P embed_file.cmake
# HTML_HASHES: the file is an HTML page with one inline <script> and one <style>; NAME_script_sha256()
# and NAME_style_sha256() return the base64 SHA-256 of their text, for a Content-Security-Policy
# that allows exactly them ('sha256-...').
foreach(v INPUT OUTPUT NAMESPACE NAME HEADER)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "embed_file.cmake: -D${v}= is missing")
  endif()
endforeach()

# Lower-case hex (an even number of digits) to base64 with padding.
function(hex_to_base64 hex out)
  set(abc "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  string(LENGTH "${hex}" n)
  set(res "")
  set(i 0)
  while(i LESS n)
    math(EXPR left "${n} - ${i}")
    if(left GREATER 6)
      set(left 6)
    endif()
    string(SUBSTRING "${hex}" ${i} ${left} group)
    string(SUBSTRING "${group}000000" 0 6 padded)
    math(EXPR v "0x${padded}")
    math(EXPR n_out "${left} / 2 + 1")  # 3 bytes -> 4 digits, 2 -> 3, 1 -> 2
    foreach(shift 18 12 6 0)
      if(n_out GREATER 0)
        math(EXPR d "(${v} >> ${shift}) & 63")
        string(SUBSTRING "${abc}" ${d} 1 c)
        string(APPEND res "${c}")
        math(EXPR n_out "${n_out} - 1")
      else()
        string(APPEND res "=")
      endif()
    endforeach()
    math(EXPR i "${i} + 6")
  endwhile()
  set(${out} "${res}" PARENT_SCOPE)
endfunction()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n_bytes "${n_hex} / 2")
# 0xNN, per byte; a line break every 16 bytes keeps the generated file readable by tools.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n" bytes "${bytes}")

set(extra "")
if(HTML_HASHES)
  file(READ "${INPUT}" text)
  foreach(tag script style)
    # The text between the tag and its end, byte for byte as the browser hashes it.
    string(FIND "${text}" "<${tag}>" open)
    string(FIND "${text}" "</${tag}>" close)
    string(FIND "${text}" "<${tag}" open_any REVERSE)
    if(open LESS 0 OR close LESS open OR NOT open_any EQUAL open)
      message(FATAL_ERROR "${INPUT}: HTML_HASHES wants exactly one plain <${tag}> ... </${tag}>")
    endif()
    string(LENGTH "<${tag}>" tag_len)
    math(EXPR from "${open} + ${tag_len}")
    math(EXPR len "${close} - ${from}")
    string(SUBSTRING "${text}" ${from} ${len} body)
    string(SHA256 digest "${body}")
    hex_to_base64(${digest} b64)
    string(APPEND extra "std::string_view ${NAME}_${tag}_sha256() { return \"${b64}\"; }\n")
  endforeach()
endif()

file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by cmake/embed_file.cmake: edit that file, not this one.
#include \"${HEADER}\"

namespace ${NAMESPACE} {
namespace {
// One byte more (0) so an empty file is still a valid array.
const unsigned char k_${NAME}_bytes[] = {
${bytes}0};
}  // namespace

std::string_view ${NAME}() { return {reinterpret_cast<const char*>(k_${NAME}_bytes), ${n_bytes}}; }
${extra}
}  // namespace ${NAMESPACE}
")
# Only a changed page rebuilds what includes it.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
