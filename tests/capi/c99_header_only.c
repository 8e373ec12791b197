/* pocketllm.h alone in a strict C99 translation unit (tests/capi/test_capi_library.cpp
 * compiles it with -std=c99 -pedantic-errors -Werror). */
#include <pocketllm.h>

int pocketllm_header_is_c99(void);
int pocketllm_header_is_c99(void) {
  pllm_model_params p;
  pllm_model_default_params(&p);
  return PLLM_API_VERSION + (int)sizeof(pllm_generate_params) + (int)PLLM_ERR_BUSY + p.n_threads;
}
