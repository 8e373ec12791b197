/* libpocketllm.so's code comes from the module archives it links (see CMakeLists.txt). */
typedef int pocketllm_translation_unit_is_not_empty;
