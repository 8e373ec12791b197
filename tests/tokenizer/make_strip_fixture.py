"""Records what Hugging Face's `tokenizers` (PyPI, pinned in scripts/requirements.txt)
makes of texts next to special tokens whose added-token flags strip whitespace
(lstrip / rstrip), for test_special_strip.cpp:

  spm   - ../shared's Mistral-7B tokenizer.json (SentencePiece-style BPE) with Phi-3's
          added tokens and flags, taken from ../shared's ggml-vocab-phi-3.gguf (ids,
          texts, special or not): every added token but <unk>, <s>, <|endoftext|> takes
          the whitespace after it (rstrip), </s> included.
  qwen3 - ../shared's Qwen3 tokenizer.json with <|im_end|> set to lstrip and
          <|im_start|> to rstrip (a byte-level BPE case of both flags).
  phi3_gguf - Phi-3 itself: its tokenizer.json rebuilt from ggml-vocab-phi-3.gguf (the
          vocabulary, merges from the SentencePiece scores as transformers' converter
          orders them, the added tokens and flags above), first checked against that
          GGUF's own Hugging Face test vectors. pocketllm reads the GGUF, which stores no
          flags: it must derive them from the family, as llama.cpp does.

The fixture holds the json variants' added-token patch (the C++ test builds the same
tokenizer.json from it) and the ids of every case. Run from the repo root:
  $(bash scripts/venv.sh) tests/tokenizer/make_strip_fixture.py
"""
import json
import os
import tempfile

import gguf
import tokenizers

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "tokenizers")
OUT = os.path.join(os.path.dirname(__file__), "fixtures", "special_strip.json")

PHI3_CASES = [
        "<|user|>\nHello there<|end|>\n<|assistant|>\nHi!<|end|>\n",
        "<s><|system|>\nYou are helpful.<|end|>\n<|user|>\n  two spaces<|end|>\n<|assistant|>\n",
        "Text </s>\n\nmore text",
        "<|endoftext|>\n keeps its newline",
        "a <unk>\n b",
        "tabs<|end|>\t\t\nafter",
        "unicode<|end|>\u3000\u00a0 wide and no-break spaces",
        "<|end|>",
        "  <|user|>  \n  ",
        "line\n<|placeholder1|>\n\nx",
]
CASES = {
    "spm": PHI3_CASES,
    "phi3_gguf": PHI3_CASES,
    "qwen3": [
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
        "text   <|im_end|>  after",
        "<|im_start|>   \n\tsystem",
        "a\u3000<|im_end|>b",
        "<|im_end|><|im_end|>",
    ],
}


def phi3_patch():
    r = gguf.GGUFReader(os.path.join(SHARED, "llamacpp", "ggml-vocab-phi-3.gguf"))
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    patch = []
    for i, (text, t) in enumerate(zip(tokens, types)):
        if i >= 3 and i < 32000:
            continue  # the Llama-2 pieces, already in the base tokenizer.json
        if t not in (2, 3, 4):  # unknown, control, user-defined: the added tokens
            continue
        patch.append({
            "id": i, "content": text, "special": t != 4, "lstrip": False,
            "rstrip": text not in ("<unk>", "<s>", "<|endoftext|>"), "normalized": False, "single_word": False,
        })
    return os.path.join(SHARED, "hf", "lenml-llama2_mistral-7b-vocab", "tokenizer.json"), patch


def qwen3_patch():
    path = os.path.join(SHARED, "hf", "qwen3", "tokenizer.json")
    added = json.load(open(path, encoding="utf-8"))["added_tokens"]
    patch = []
    for a in added:
        if a["content"] in ("<|im_end|>", "<|im_start|>"):
            a = dict(a, lstrip=a["content"] == "<|im_end|>", rstrip=a["content"] == "<|im_start|>")
            patch.append(a)
    return path, patch


def phi3_from_gguf(patch):
    """Phi-3's tokenizer.json from its GGUF vocabulary (Llama-2's plus the added tokens)."""
    r = gguf.GGUFReader(os.path.join(SHARED, "llamacpp", "ggml-vocab-phi-3.gguf"))
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    scores = r.fields["tokenizer.ggml.scores"].contents()
    vocab = {t: i for i, t in enumerate(tokens) if i < 32000}  # Llama-2's, <unk> <s> </s> included
    # A merge for every split of a piece into two pieces, ordered by the merged piece's
    # score (higher first), ties by the parts' ids: the order transformers' converter uses.
    merges = []
    for piece, i in vocab.items():
        local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend((a, b, scores[i]) for a, b in local)
    merges.sort(key=lambda m: m[2], reverse=True)
    tj = json.load(open(os.path.join(SHARED, "hf", "lenml-llama2_mistral-7b-vocab", "tokenizer.json"), encoding="utf-8"))
    tj["model"]["vocab"] = vocab
    tj["model"]["merges"] = [a + " " + b for a, b, _ in merges]
    tj["added_tokens"] = sorted(patch, key=lambda p: p["id"])
    tj["post_processor"] = None
    return tj


def check_against_gguf_vectors(tok):
    base = os.path.join(SHARED, "llamacpp", "ggml-vocab-phi-3.gguf")
    texts = open(base + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
    want = open(base + ".out", encoding="utf-8").read().split("\n")
    for text, ids in zip(texts, want):
        got = tok.encode(text, add_special_tokens=False).ids
        if got != [int(x) for x in ids.split()]:
            raise SystemExit("rebuilt Phi-3 tokenizer.json disagrees with the GGUF's vectors on %r" % text)
    return len(texts)


def apply_patch(base_path, patch):
    """The base tokenizer.json with its added tokens replaced or extended by `patch` (by id)."""
    tj = json.load(open(base_path, encoding="utf-8"))
    by_id = {a["id"]: a for a in tj.get("added_tokens") or []}
    for p in patch:
        by_id[p["id"]] = p
    tj["added_tokens"] = [by_id[i] for i in sorted(by_id)]
    return tj


def main():
    fixture = {"generator": "tests/tokenizer/make_strip_fixture.py", "tokenizers": tokenizers.__version__, "variants": {}}
    for name in ("spm", "qwen3", "phi3_gguf"):
        base, patch = qwen3_patch() if name == "qwen3" else phi3_patch()
        tj = phi3_from_gguf(patch) if name == "phi3_gguf" else apply_patch(base, patch)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tokenizer.json")
            json.dump(tj, open(path, "w", encoding="utf-8"), ensure_ascii=False)
            tok = tokenizers.Tokenizer.from_file(path)
        entry = {}
        if name == "phi3_gguf":
            entry["base"] = "llamacpp/ggml-vocab-phi-3.gguf"
            entry["checked_vectors"] = check_against_gguf_vectors(tok)
        else:
            entry = {"base": os.path.relpath(base, SHARED), "patch": patch}
        entry["cases"] = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in CASES[name]]
        fixture["variants"][name] = entry
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
