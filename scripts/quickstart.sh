#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on a default model:
# the real stories260K from ../shared when it is there. With --real-model: fetches
# the real chat model Gemma 3 270M (scripts/fetch-test-models.sh, 253 MB, cached)
# and asks it "tell me a joke." through `pocketllm chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
if [ "${1:-}" == "--real-model" ]; then
  gemma=$(bash scripts/fetch-test-models.sh)
  echo "tell me a joke." | ./build/apps/pocketllm chat -m "$gemma" -n 128
  exit
fi
MODEL_DIR="$(cd .. && pwd)/shared/data/models/stories260K"
if [ -f "$MODEL_DIR/stories260K.bin" ]; then
  ./build/apps/pocketllm run -m "$MODEL_DIR/stories260K.bin" --tokenizer "$MODEL_DIR/tok512.bin" \
    -p "Once upon a time" -n 120 --temp 0.8 -s 42
else
  cat >&2 <<MSG
No default model found at $MODEL_DIR.
Get a model and pass its path with -m, for example:
  a GGUF file:              ./build/apps/pocketllm run -m model.gguf -p "Hello"
  a Hugging Face folder:    ./build/apps/pocketllm run -m ./TinyLlama-1.1B-Chat-v1.0 -p "Hello"
  a llama2.c checkpoint:    ./build/apps/pocketllm run -m stories15M.bin --tokenizer tokenizer.bin -p "Once"
MSG
  exit 1
fi
