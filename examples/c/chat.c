/* A minimal streaming generator over the pocketllm C API, with llama.cpp's flags:
 *   chat -m MODEL [--tokenizer FILE] -p PROMPT [-n N] [--temp T] [-s SEED] [-t THREADS] [--chat]
 * Completes PROMPT (echoed first, as `pocketllm run` does), or with --chat answers it
 * as one user turn in the model's chat template. stdout is only text; errors and
 * speeds go to stderr. Build: cc chat.c $(pkg-config --cflags --libs pocketllm) */
#include <pocketllm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int on_token(void* user_data, int32_t token, const char* text, size_t len) {
  (void)user_data;
  (void)token;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0; /* non-zero would stop the generation */
}

static int fail(const char* what) {
  fprintf(stderr, "error: %s: %s\n", what, pllm_last_error());
  return 1;
}

static int usage(const char* argv0) {
  fprintf(stderr,
          "usage: %s -m MODEL [--tokenizer FILE] -p PROMPT [-n N] [--temp T] [-s SEED] [-t THREADS] [--chat]\n",
          argv0);
  return 2;
}

int main(int argc, char** argv) {
  const char *model_path = NULL, *prompt = NULL;
  pllm_model_params mp;
  pllm_generate_params gp;
  int chat = 0;
  pllm_model_default_params(&mp);
  pllm_generate_default_params(&gp);
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--chat") == 0) { chat = 1; continue; }
    if (!v) return usage(argv[0]);
    if (strcmp(a, "-m") == 0) model_path = v;
    else if (strcmp(a, "--tokenizer") == 0) mp.tokenizer_path = v;
    else if (strcmp(a, "-p") == 0) prompt = v;
    else if (strcmp(a, "-n") == 0) gp.max_tokens = atoll(v);
    else if (strcmp(a, "--temp") == 0) gp.sampling.temperature = (float)atof(v);
    else if (strcmp(a, "-s") == 0) gp.sampling.seed = atoll(v);
    else if (strcmp(a, "-t") == 0) mp.n_threads = atoi(v);
    else return usage(argv[0]);
    ++i;
  }
  if (!model_path || !prompt) return usage(argv[0]);

  pllm_model* model = NULL;
  pllm_session* session = NULL;
  if (pllm_model_load(model_path, &mp, &model) != PLLM_OK) return fail("loading the model");
  int rc = 1;
  if (pllm_session_create(model, NULL, &session) != PLLM_OK) {
    fail("creating a session");
    goto done;
  }
  if (chat) {
    pllm_chat_message turn = {{"user", 4}, {prompt, strlen(prompt)}};
    if (pllm_session_set_chat(session, &turn, 1, 1, NULL) != PLLM_OK) {
      fail("rendering the chat");
      goto done;
    }
  } else {
    if (pllm_session_append_text(session, prompt, strlen(prompt),
                                 PLLM_TOKENIZE_ADD_SPECIAL | PLLM_TOKENIZE_PARSE_SPECIAL) != PLLM_OK) {
      fail("reading the prompt");
      goto done;
    }
    pllm_session_info si;
    pllm_model_info mi;
    pllm_session_get_info(session, &si);
    pllm_model_get_info(model, &mi);
    if (si.n_tokens == 0 && mi.bos >= 0) pllm_session_append_tokens(session, &mi.bos, 1); /* start from BOS */
    gp.echo_prompt = 1; /* print the prompt, and continue its text */
  }
  gp.on_token = on_token;
  pllm_generate_result r;
  if (pllm_session_generate(session, &gp, &r) != PLLM_OK) {
    fail("generating");
    goto done;
  }
  fputc('\n', stdout);
  fprintf(stderr, "prefill: %lld tok, %.1f tok/s | decode: %lld tok, %.1f tok/s\n", (long long)r.prompt_tokens,
          r.prefill_tokens_per_s, (long long)r.generated_tokens, r.decode_tokens_per_s);
  rc = 0;
done:
  pllm_session_free(session);
  pllm_model_free(model);
  return rc;
}
