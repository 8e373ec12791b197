"""Records llama.cpp's figures for the GGML-type tests (run offline, never in CI).

Two sets, both from the peaked random model (tests/support/peaked_model.h):

* reference.json (CI: test_llamacpp_reference.cpp): files pocketllm makes
  (`pocketllm quantize --type ... [--pure]`, `pocketllm convert`), remade
  byte-identically in CI (sha256 pinned), and llama.cpp's figures on them.
  llama.cpp's logits are left in WORK/<name>.kld: POCKETLLM_GGUF_TYPES_KLD_DIR=WORK
  makes the test check KL too (the files are too large to commit).
* reference_llama_quantize.json (test_llama_quantize_files.cpp, runs only when
  POCKETLLM_LLAMA_QUANTIZE_DIR points at the files): the same presets made by
  llama.cpp's own llama-quantize from the F16 model, which cannot be shipped.

llama.cpp is not built here: pass the folder of a llama.cpp build's binaries
(llama-perplexity, llama-quantize) and a greedy tool: any program that, given
`MODEL PROMPT N KV THREADS`, decodes N tokens greedily with llama.cpp's API
(llama_decode of the tokenized prompt with BOS, then one token per step, argmax
of llama_get_logits_ith(ctx, -1)) and prints one JSON line
{"prompt_ids": [...], "ids": [...], "margins": [...]} with the gap between the
two largest logits at each step. (The figures in the repo were made with a
60-line C++ program over llama.h; llama.cpp's own tools print no logits.)

usage (with the project venv's python, for the gguf package: bash scripts/venv.sh):
       record_llamacpp.py --build BUILD_DIR --llama-bin DIR --greedy TOOL
                          [--llama-quantize-dir DIR] [--threads 2] [--preload LIB]
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("POCKETLLM_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))
TEXT = "families/text.txt"  # relative to shared/data
N_CTX, CHUNKS = 128, 12
PROMPT, N_PREDICT = "Once upon a time", 32

# name -> pocketllm command after the input and output paths ([] = the F32 model itself).
FLOAT_FILES = {
    "type_F32": [],
    "type_F16": ["convert", "--type", "f16"],
    "type_BF16": ["convert", "--type", "bf16"],
}
PURE_TYPES = {"Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q8_0": "Q8_0", "Q2_K": "Q2_K",
              "Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "Q6_K": "Q6_K", "IQ4_NL": "IQ4_NL",
              "IQ4_XS": "IQ4_XS"}
# Mixes pocketllm makes (its Q6_K and Q8_0 mixes equal the pure files) and those llama-quantize makes.
MIXES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "IQ4_XS", "Q4_0"]
LLAMA_QUANTIZE_MIXES = MIXES + ["Q6_K", "Q8_0", "Q5_0", "IQ4_NL", "Q4_1", "Q5_1"]


def pocketllm_files():
    files = dict(FLOAT_FILES)
    for t, preset in PURE_TYPES.items():
        files["type_" + t] = ["quantize", "--type", preset, "--pure"]
    for mix in MIXES:
        files["mix_" + mix] = ["quantize", "--type", mix]
    return files


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r


def tensor_types(path):
    """Each tensor's type name in a GGUF file, read with the PyPI gguf package (the project venv's python)."""
    from gguf import GGUFReader
    return {t.name: t.tensor_type.name for t in GGUFReader(path).tensors}


def is_float(name):
    return name.endswith(("F32", "F16", "BF16"))


def llama_figures(args, path, name, kld):
    """llama-perplexity's running and final PPL (its logits saved to `kld` for the KL check),
    and the greedy tool's ids and margins."""
    kv = "f32" if is_float(name) else "f16"  # pocketllm's default KV cache for the file
    cmd = [os.path.join(args.llama_bin, "llama-perplexity"), "-m", path, "-f", os.path.join(SHARED, "data", TEXT),
           "-c", str(N_CTX), "-b", str(N_CTX), "--chunks", str(CHUNKS), "-t", str(args.threads),
           "--kl-divergence-base", kld]
    if kv == "f32":
        cmd += ["-ctk", "f32", "-ctv", "f32"]
    env = dict(os.environ, LD_PRELOAD=args.preload) if args.preload else None
    for attempt in range(10):  # llama.cpp's log thread sometimes loses its last lines at exit: run again
        out = run(cmd, env)
        text = out.stdout + out.stderr  # its logger interleaves the two streams
        found = {int(i): float(x) for i, x in re.findall(r"\[(\d+)\]([0-9.]+),", text)}
        final = re.search(r"Final estimate: PPL = ([0-9.]+)", text)
        if final and all(i in found for i in range(1, CHUNKS + 1)):
            break
    else:
        sys.exit(f"no complete output from {' '.join(cmd)}")
    chunks = [found[i] for i in range(1, CHUNKS + 1)]
    final = float(final.group(1))
    g = json.loads(run([args.greedy, path, PROMPT, str(N_PREDICT), kv, str(args.threads)]).stdout)
    return {"kv": kv, "ppl_tolerance": 0.001 if is_float(name) else 0.006, "ppl": final, "ppl_chunks": chunks,
            "greedy_ids": g["ids"], "greedy_margins": g["margins"]}, g["prompt_ids"]


def header(args, model_sha):
    commit = subprocess.run(["git", "-C", os.path.join(args.llama_bin, "..", ".."), "log", "-1", "--format=%H %cd"],
                            capture_output=True, text=True).stdout.strip()
    return {
        "description": "llama.cpp's figures on files made from the peaked random model (tests/support/peaked_model.h); "
                       "recorded by tests/gguf_types/record_llamacpp.py",
        "llama_cpp": f"vendored in llama-cpp-python 0.3.36 ({commit or 'commit unknown'}), CPU backend, "
                     f"{args.threads} threads, AMD Zen 3 (AVX2, no AMX)",
        "model": {"sha256": model_sha},
        "perplexity": {"text": TEXT, "n_ctx": N_CTX, "chunks": CHUNKS,
                       "command": f"llama-perplexity -m FILE -f {TEXT} -c {N_CTX} -b {N_CTX} --chunks {CHUNKS} "
                                  f"-t {args.threads} [-ctk f32 -ctv f32 for float files]"},
        "greedy": {"prompt": PROMPT, "n_predict": N_PREDICT},
        "files": {},
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True, help="pocketllm build folder (apps/pocketllm, tests/make_peaked_model)")
    p.add_argument("--llama-bin", required=True)
    p.add_argument("--greedy", required=True)
    p.add_argument("--work", default="/tmp/pocketllm-gguf-types")
    p.add_argument("--llama-quantize-dir", help="also make llama-quantize's files here and record them")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--preload", help="a library to LD_PRELOAD into llama-perplexity, e.g. one whose destructor sleeps "
                                     "300 ms so llama.cpp's leaked async logger prints its last lines (on a busy machine "
                                     "they are often lost)")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    f32 = os.path.join(args.work, "f32.gguf")
    run([os.path.join(args.build, "tests", "make_peaked_model"), f32])
    ref = header(args, sha256(f32))
    pocketllm = os.path.join(args.build, "apps", "pocketllm")
    for name, make in pocketllm_files().items():
        path = f32
        if make:
            path = os.path.join(args.work, name + ".gguf")
            run([pocketllm, make[0], f32, path] + make[1:])
        entry, prompt_ids = llama_figures(args, path, name, os.path.join(args.work, name + ".kld"))
        ref["greedy"]["prompt_ids"] = prompt_ids
        ref["files"][name] = {"make": make, "sha256": sha256(path), **entry}
        print(f"{name}: PPL {entry['ppl']}", file=sys.stderr)
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")

    if args.llama_quantize_dir:
        os.makedirs(args.llama_quantize_dir, exist_ok=True)
        f16 = os.path.join(args.llama_quantize_dir, "F16.gguf")
        run([pocketllm, "convert", f32, f16, "--type", "f16"])
        lq = header(args, sha256(f32))
        lq["description"] = ("llama.cpp's figures on files its own llama-quantize made from the peaked model's F16 "
                             "conversion (default mixes, no --pure, no imatrix); files not shipped")
        lq["source_f16_sha256"] = sha256(f16)
        for mix in LLAMA_QUANTIZE_MIXES:
            path = os.path.join(args.llama_quantize_dir, mix + ".gguf")
            run([os.path.join(args.llama_bin, "llama-quantize"), f16, path, mix, str(args.threads)])
            entry, prompt_ids = llama_figures(args, path, mix, os.path.join(args.llama_quantize_dir, mix + ".kld"))
            lq["greedy"]["prompt_ids"] = prompt_ids
            lq["files"][mix] = {"make": f"llama-quantize F16.gguf {mix}.gguf {mix}", "sha256": sha256(path),
                                "tensor_types": tensor_types(path), **entry}
            print(f"llama-quantize {mix}: PPL {entry['ppl']}", file=sys.stderr)
        with open(os.path.join(HERE, "reference_llama_quantize.json"), "w") as f:
            json.dump(lq, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
