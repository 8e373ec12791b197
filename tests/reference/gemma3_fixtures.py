"""Records tests/real_model/gemma3_reference.json: what independent implementations
say about the real Gemma 3 270M file (scripts/fetch-test-models.sh). Runs outside
CI, by hand; it only RUNS programs built elsewhere (nothing of them is committed):

  --llama-bin DIR   llama.cpp's build/bin (llama-quantize, llama-perplexity, llama-tokenize)
  --greedy TOOL     a ~100-line program against llama.cpp's libllama (not in this repo;
                    docs/REAL_MODEL.md says what it does): per request, tokenize
                    (add_special, parse_special) or render with llama_chat_apply_template,
                    then greedy decoding recording each step's top-1 - top-2 logit margin.
  transformers      (PyPI, scripts/requirements-reference.txt) when importable: the
                    tokenizer transformers builds from the GGUF, and chat renders with
                    transformers' apply_chat_template; a second oracle for token ids.

Both variants are measured: the Q4_K_M file as shipped, and an F32 copy of it made with
llama-quantize --allow-requantize (dequantized Q4_K_M: the same weights, floats) that
pocketllm can read before it reads K-quants. llama.cpp runs with an F32 KV cache and
flash attention off, 2 threads, as pocketllm's defaults compute.

usage: python tests/reference/gemma3_fixtures.py --llama-bin DIR --greedy TOOL [--models DIR]
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "real_model", "gemma3_reference.json")
SHARED_TEMPLATE = os.path.join(os.path.dirname(REPO), "shared", "data", "chat_templates", "gemma-3-it.jinja")
Q4 = "gemma-3-270m-q4_k_m.gguf"
F32 = "derived/gemma-3-270m-f32.gguf"
EVAL_TEXT = "text/eval-debian-docs.txt"
LLAMA_FLAGS = ["-t", "2", "-fa", "off", "-ctk", "f32", "-ctv", "f32"]
PPL_CHUNKS = 16  # of the text's ~238 chunks of 512 tokens: the first 8192 tokens (2 cores, shared)

RAW_PROMPTS = [
    ("capital", "The capital of France is"),
    ("story", "Once upon a time, in a small village by the sea,"),
    ("debian", "The Debian package manager apt"),
    ("code", "def fibonacci(n):\n    "),
    ("list", "Three things to pack for a hike:\n1."),
]
CHATS = [
    ("joke", [{"role": "user", "content": "tell me a joke."}]),
    ("system", [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is Debian?"}]),
    ("multi_turn", [{"role": "user", "content": "Hi!"},
                    {"role": "assistant", "content": "Hello! How can I help you today?"},
                    {"role": "user", "content": "Write a haiku about the sea."}]),
    ("unicode", [{"role": "user", "content": "Translate to French:\n\n  \"Good morning\" \u2014 caf\u00e9 \U0001F600  "}]),
]
TOKENIZE = [
    "Hello world", "tell me a joke.", "  two  spaces, three   and\ttab\n\nnewlines\n\n\n",
    " leading space", "trailing space ", "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600 \u00a0nbsp",
    "12345 3.14159 1,000,000", "def f(x):\n    return x ** 2  # square",
    "<start_of_turn>user\nhi<end_of_turn>\n", "literal <bos> and <eos> text", "\u2581 lower one eighth block",
    "a\r\nb", "<unused0>", "", " ", "\n",
]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ids_sha256(ids):
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def perplexity(bin_dir, model, text):
    r = run([os.path.join(bin_dir, "llama-perplexity"), "-m", model, "-f", text, "-c", "512", "-b", "512",
             "--chunks", str(PPL_CHUNKS), "--no-escape"] + LLAMA_FLAGS)
    out = r.stdout + r.stderr
    running = [float(x) for x in re.findall(r"\[\d+\]([0-9.]+)", out)]
    final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
    return {"n_ctx": 512, "n_chunks": len(running), "running": running,
            "final": float(final.group(1)), "final_err": float(final.group(2))}


def greedy(tool, model, requests):
    with tempfile.TemporaryDirectory() as d:
        req, out = os.path.join(d, "req.json"), os.path.join(d, "out.json")
        with open(req, "w") as f:
            json.dump(requests, f)
        run([tool, model, req, out, "2"])
        with open(out) as f:
            return json.load(f)


def llama_tokenize_file(bin_dir, model, path):
    r = run([os.path.join(bin_dir, "llama-tokenize"), "-m", model, "-f", path, "--ids", "--log-disable",
             "--no-escape"])
    return json.loads(r.stdout.strip().splitlines()[-1])


def hf_oracle(model, chats):
    """transformers' tokenizer built from the GGUF, and its chat renders (None without transformers)."""
    try:
        import gguf
        from transformers import PreTrainedTokenizerFast
        from transformers.integrations.gguf import gguf_tokenizer_mapping as mapping
    except ImportError as e:
        print(f"transformers oracle skipped: {e}", file=sys.stderr)
        return None
    reader = gguf.GGUFReader(model)
    field = lambda k: reader.fields[k].contents() if k in reader.fields else None
    tdict = {name: field("tokenizer." + key) for key, name in mapping.GGUF_TOKENIZER_MAPPING["tokenizer"].items()
             if field("tokenizer." + key) is not None}
    backend, _ = mapping.convert_gguf_tokenizer(field("general.architecture"), tdict)
    with open(SHARED_TEMPLATE) as f:
        template = f.read()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>",
                                  chat_template=template)
    import transformers
    out = {"version": transformers.__version__, "tokenize": [], "chat": []}
    for text in TOKENIZE:
        out["tokenize"].append({"text": text, "ids": tok.encode(text, add_special_tokens=False)})
    for name, msgs in chats:
        rendered = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        out["chat"].append({"name": name, "rendered": rendered,
                            "ids": tok.encode(rendered, add_special_tokens=False)})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--greedy", required=True)
    ap.add_argument("--models", default=os.environ.get("POCKETLLM_MODELS",
                                                       os.path.expanduser("~/.cache/pocketllm/models")))
    ap.add_argument("--only-ppl", action="store_true",
                    help="redo the perplexities and the evaluation text's ids, keep the rest of the existing fixture")
    a = ap.parse_args()
    q4, f32, text = (os.path.join(a.models, p) for p in (Q4, F32, EVAL_TEXT))
    for p in (q4, text):
        if not os.path.exists(p):
            sys.exit(f"{p} missing: run scripts/fetch-test-models.sh and scripts/fetch-test-texts.sh")
    if not os.path.exists(f32):
        os.makedirs(os.path.dirname(f32), exist_ok=True)
        run([os.path.join(a.llama_bin, "llama-quantize"), "--allow-requantize", q4, f32 + ".tmp", "F32"])
        os.replace(f32 + ".tmp", f32)
    if a.only_ppl:
        with open(OUT) as f:
            ref = json.load(f)
        ref["eval_text"]["sha256"] = sha256_file(text)
        for variant, path in (("q4_k_m", q4), ("f32", f32)):
            ref["variants"][variant]["perplexity"] = perplexity(a.llama_bin, path, text)
        ids = llama_tokenize_file(a.llama_bin, q4, text)
        ref["eval_text"].update({"n_tokens": len(ids), "ids_sha256": ids_sha256(ids), "first_ids": ids[:4096]})
        write(ref)
        return

    ref = {
        "about": "llama.cpp (and transformers) on the real Gemma 3 270M file; made by tests/reference/gemma3_fixtures.py",
        "llama_cpp": {"flags": " ".join(LLAMA_FLAGS), "source": "llama.cpp vendored in PyPI llama-cpp-python 0.3.36"},
        "eval_text": {"file": EVAL_TEXT, "sha256": sha256_file(text)},
        "variants": {},
    }
    # Prompts: raw text (BOS added per the vocab), and chats rendered by llama.cpp's built-in "gemma" format.
    requests = [{"name": n, "text": t, "n": 32} for n, t in RAW_PROMPTS]
    requests += [{"name": "chat_" + n, "messages": m, "template": "gemma", "n": 96, "stop_at_eog": True}
                 for n, m in CHATS]
    requests += [{"name": "tok_%d" % i, "text": t, "tokenize_only": True} for i, t in enumerate(TOKENIZE)]
    for variant, path in (("q4_k_m", q4), ("f32", f32)):
        v = {"file": Q4 if variant == "q4_k_m" else F32, "sha256": sha256_file(path)}
        v["perplexity"] = perplexity(a.llama_bin, path, text)
        res = greedy(a.greedy, path, requests)
        v["greedy"] = [r for r in res if not r["name"].startswith(("chat_", "tok_"))]
        v["chat"] = [r for r in res if r["name"].startswith("chat_")]
        if variant == "q4_k_m":
            ref["tokenize"] = [{"text": r["text"], "llama_ids": r["prompt_ids"]} for r in res if r["name"].startswith("tok_")]
            ids = llama_tokenize_file(a.llama_bin, path, text)
            ref["eval_text"].update({"n_tokens": len(ids), "ids_sha256": ids_sha256(ids), "first_ids": ids[:4096]})
        ref["variants"][variant] = v

    hf = hf_oracle(q4, CHATS)
    if hf:
        ref["transformers"] = {"version": hf["version"], "template": "../shared/data/chat_templates/gemma-3-it.jinja"}
        for entry, h in zip(ref["tokenize"], hf["tokenize"]):
            entry["hf_ids"] = h["ids"]
        # The real Gemma 3 template's renders, tokenized by transformers and by llama.cpp
        # (which drops a leading "<bos>" text and adds BOS itself, as its chat code does).
        reqs = [{"name": h["name"], "text": h["rendered"].removeprefix("<bos>"), "tokenize_only": True} for h in hf["chat"]]
        llama_ids = {r["name"]: r["prompt_ids"] for r in greedy(a.greedy, q4, reqs)}
        ref["chat_renders"] = [{"name": h["name"], "messages": dict(CHATS)[h["name"]], "rendered": h["rendered"],
                                "hf_ids": h["ids"], "llama_ids": llama_ids[h["name"]]} for h in hf["chat"]]
    write(ref)


def write(ref):
    with open(OUT + ".tmp", "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
