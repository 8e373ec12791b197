#!/usr/bin/python3
"""Seed corpora for the harnesses: small hand-made inputs written here, plus real files
copied from ../shared/data at run time (never committed). Usage: make_seeds.py OUT_DIR SHARED_DATA"""
import json, os, shutil, struct, sys

out, shared = sys.argv[1], sys.argv[2]


def put(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def copy(harness, rel, name=None, limit=None):
    src = os.path.join(shared, rel)
    if os.path.exists(src):
        with open(src, "rb") as f:
            data = f.read()
        put(harness, name or os.path.basename(rel), data[:limit] if limit else data)


# --- GGUF: every value type, a nested array, two small tensors (F32 and Q8_0-sized).
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, align=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, payload in kvs:
        out += gstr(k) + struct.pack("<I", t) + payload
    off, blobs = 0, []
    for name, dims, ttype, data in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ttype, off)
        blobs.append((off, data))
        off += (len(data) + align - 1) // align * align
    out += b"\0" * (-len(out) % align)
    for o, data in blobs:
        out += data + b"\0" * (-len(data) % align)
    return out


kvs = [("general.architecture", 8, gstr("llama")), ("general.alignment", 4, struct.pack("<I", 32)),
       ("u8", 0, b"\x07"), ("i8", 1, b"\xff"), ("u16", 2, b"\x01\x02"), ("i16", 3, b"\xfe\xff"),
       ("i32", 5, struct.pack("<i", -3)), ("f32", 6, struct.pack("<f", 1.5)), ("b", 7, b"\x01"),
       ("u64", 10, struct.pack("<Q", 1 << 40)), ("i64", 11, struct.pack("<q", -1)), ("f64", 12, struct.pack("<d", 2.5)),
       ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + gstr("<s>") + gstr("a") + gstr("b")),
       ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0, -1, -2)),
       ("nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 4, 2) + struct.pack("<2I", 1, 2))]
put("gguf", "hand_all_types.gguf", gguf(kvs, [("a.weight", [4, 2], 0, struct.pack("<8f", *range(8))),
                                               ("q.weight", [32], 8, b"\x00\x3c" + bytes(range(32)))]))
# pocketllm's own types (weights/dtype.cpp): a padded per-row W4 (PL_W4_ROW: f16 row scale
# + 16 bytes per 32 weights, 40 weights -> 34 bytes a row) and a tiled W4 g32 (PL_W4_G32_T16,
# 16 rows of 32: 16 * 18 bytes).
put("gguf", "hand_pocketllm_types.gguf",
    gguf(kvs[:2], [("p.weight", [40, 2], 1027, bytes(range(68))), ("t.weight", [32, 16], 1030, bytes(288))]))
put("gguf", "hand_empty.gguf", gguf([], []))
for f in ("families/llama-tied.gguf", "families/qwen2.gguf"):
    copy("gguf", f)

# --- safetensors: single files (byte 0 = mode), and [0x01][u16 len][index.json][shard].
def st(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


one = st({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
          "h": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}}, bytes(22))
put("safetensors", "single_mmap", b"\x02" + one)
put("safetensors", "single_copy", b"\x00" + one)
index = json.dumps({"metadata": {"total_size": 22}, "weight_map": {"w": "model-00001-of-00002.safetensors",
                                                                    "h": "model-00002-of-00002.safetensors"}}).encode()
put("safetensors", "sharded", b"\x01" + struct.pack("<H", len(index)) + index + one)

# --- llama2.c: a tiny valid checkpoint (dim 8, hidden 16, 1 layer, 2 heads, vocab 4, seq 4) and the real one's header.
dim, hid, layers, heads, kv, vocab, seq = 8, 16, 1, 2, 2, 4, 4
hs = dim // heads
n = vocab * dim + layers * (dim + 3 * dim * dim + dim * dim + dim + 3 * dim * hid) + dim + seq * hs
put("llama2c", "tiny.bin", struct.pack("<7i", dim, hid, layers, heads, kv, vocab, seq) + struct.pack(f"<{n}f", *([0.1] * n)))
put("llama2c", "untied.bin", struct.pack("<7i", dim, hid, layers, heads, kv, -vocab, seq) +
    struct.pack(f"<{n + vocab * dim}f", *([0.2] * (n + vocab * dim))))
copy("llama2c", "models/stories260K/stories260K.bin")

# --- HF config.json
base = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
        "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True}
put("hf_config", "llama.json", json.dumps(base))
put("hf_config", "llama3_rope.json", json.dumps(dict(base, rope_scaling={"rope_type": "llama3", "factor": 8.0})))
put("hf_config", "qwen2.json", json.dumps(dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2")))
put("hf_config", "gemma3.json", json.dumps({"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
                                           "text_config": dict(base, model_type="gemma3_text", head_dim=16)}))

# --- tokenizer.json: tiny BPE (byte-level) and SentencePiece-style ones.
bl = {"version": "1.0", "added_tokens": [{"id": 5, "content": "<|end|>", "special": True, "single_word": False,
                                           "lstrip": False, "rstrip": False, "normalized": False}],
      "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
      "post_processor": None, "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "<|end|>": 5},
                "merges": ["a b", "Ġ ab"], "byte_fallback": False}}
put("tokenizer_json", "bytelevel.json", json.dumps(bl))
spm = {"version": "1.0", "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True}],
       "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
       "pre_tokenizer": None, "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                                            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
       "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
                 "vocab": {"<unk>": 0, "<s>": 1, "<0x41>": 2, "▁": 3, "h": 4, "i": 5, "hi": 6, "▁hi": 7}, "merges": [["h", "i"], ["▁", "hi"]]}}
put("tokenizer_json", "spm.json", json.dumps(spm, ensure_ascii=False))

# --- tokenize: byte 0 = tokenizer/flags, then text.
texts = ["Hello world", "  leading spaces\n\n\ttabs", "<|im_start|>user\nhi<|im_end|>", "<s>[INST] x [/INST]",
         "caf\u00e9 \u4e2d\u6587 \U0001F600", "1234567890 3.14", "don't I'll we've", "\xff\xfe invalid"]
for i, t in enumerate(texts):
    for sel in range(4):
        put("tokenize", f"t{i}_{sel}", bytes([sel | (12 if i % 2 else 0)]) + t.encode("utf-8", "surrogateescape"))
put("tokenize", "invalid_utf8", b"\x09\xc3\x28\xe2\x82\xf0\x9f\x98")

# --- spm_model: the real SentencePiece model, and a two-piece one written by hand
# (protobuf: pieces, trainer_spec {model_type BPE, byte_fallback}, normalizer_spec {identity}).
copy("spm_model", "models/stories260K/tok512.model")
def pb_bytes(field, b):
    return bytes([field << 3 | 2, len(b)]) + b
piece = lambda text, score: pb_bytes(1, pb_bytes(1, text.encode()) + b"\x15" + struct.pack("<f", score))
put("spm_model", "tiny.model", piece("<unk>", 0) + piece("\u2581a", -1) + pb_bytes(2, b"\x18\x02\x98\x02\x01") +
    pb_bytes(3, pb_bytes(1, b"identity")))

# --- grammar: GBNF (then NUL and text to match) and JSON Schemas, as requests send them.
put("grammar", "json_like", 'root ::= object\nobject ::= "{" ws (pair ("," ws pair)*)? "}"\n'
    'pair ::= string ":" ws value\nvalue ::= object | string | [0-9]+ ("." [0-9]+)? | "true" | "false" | "null"\n'
    'string ::= "\\"" ([^"\\\\] | "\\\\" .)* "\\""\nws ::= [ \\t\\n]{0,20}\n\0{"a": [1]}')
put("grammar", "classes", 'root ::= [a-zA-Z_] [a-z0-9\\x41-\\u00FF]{1,8} ("," | [^\\n])? # comment\n\0abc,')
put("grammar", "schema", '{"type":"object","properties":{"name":{"type":"string","maxLength":5},'
    '"tags":{"type":"array","items":{"enum":["a","b"]},"minItems":1,"maxItems":3},'
    '"when":{"type":"string","format":"date"},"n":{"$ref":"#/$defs/n"}},"required":["name"],'
    '"$defs":{"n":{"anyOf":[{"type":"integer"},{"type":"null"}]}}}\0{"name":"x","tags":["a"]}')

# --- jinja: every real template, then hand-made ones exercising limits and odd syntax.
tdir = os.path.join(shared, "chat_templates")
if os.path.isdir(tdir):
    for f in sorted(os.listdir(tdir)):
        if f.endswith(".jinja"):
            copy("jinja", os.path.join("chat_templates", f))
for i, t in enumerate(["{% for i in range(10) %}{{ i }}{% endfor %}", "{{ 'a' * 100 }}",
                       "{% macro f(n) %}{{ f(n - 1) if n else 0 }}{% endmacro %}{{ f(3) }}",
                       "{% set ns = namespace(x=0) %}{% for m in messages %}{% set ns.x = ns.x + 1 %}{% endfor %}{{ ns.x }}",
                       "{{ messages | tojson }}{{ tools | length }}{{ messages[0]['content'] | upper | replace('B', 'c') }}",
                       "{% if x is defined %}{{ x }}{% else %}{{ raise_exception('no') }}{% endif %}",
                       "{{ (messages | selectattr('role', 'equalto', 'user') | list)[-1].content.split(' ') | join('-') }}",
                       "{{ 'x' ~ 1 ~ [1,2][1:] ~ {'a': 1}.items() | list | string }}{%- raw %}{{ }}{% endraw -%}"]):
    put("jinja", f"hand{i}.jinja", t)
put("jinja", "with_ctx", "{{ a.b[0] }}{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}\0" +
    json.dumps({"a": {"b": [1]}, "d": {"x": 1, "y": [2]}}))

# --- server request bodies
for i, b in enumerate([{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "temperature": 0.5, "stream": True},
                       {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "top_p": 0.9, "top_k": 40, "seed": 1},
                       {"prompt": "Once upon", "max_tokens": 4, "stop": ["\n", "."], "n": 1},
                       {"prompt": [1, 2, 3], "max_completion_tokens": 2, "presence_penalty": 0.1, "frequency_penalty": 0.2},
                       {"model": "x", "messages": [], "stream_options": {"include_usage": True}, "logprobs": False}]):
    put("server_request", f"req{i}.json", json.dumps(b))

# --- Hub answers: a model listing, a safetensors index, a name and repo files (one a line)
put("hub_answers", "listing.json", json.dumps({"id": "o/r", "sha": "a" * 40, "gated": False, "siblings": [
    {"rfilename": f} for f in ["README.md", "m-Q4_K_M.gguf", "m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf",
                               "sub/mmproj-f16.gguf", "config.json"]]}))
put("hub_answers", "index.json", json.dumps({"metadata": {"total_size": 8}, "weight_map": {
    "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
put("hub_answers", "names.txt", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K\nm-Q4_K.gguf\nm-Q4_K_M.gguf\n"
    "big/m-Q6_K-00001-of-00003.gguf\nbig/m-Q6_K-00002-of-00003.gguf\nconfig.json\nmodel.safetensors\n"
    "https://cdn-lfs.hf.co:443/x?sig=1\n/relative/path\nW/\"0123abcd\"\n")

# --- JSON request parsing at depth: two bytes of nesting, then the innermost value
for i, (hi, lo, inner) in enumerate([(0, 4, b'"text"'), (0, 5, b'1'), (0, 6, b'[{"type":"text","text":"x"}]'),
                                     (0, 124, b'null'), (0, 128, b'null'), (0, 129, b'1'), (255, 252, b'{}'), (0, 130, b'[1,2]')]):
    put("json_depth", f"depth{i}", bytes([hi, lo]) + inner)

# --- raw HTTP requests: one byte of split sizes (count % 8), those sizes, then the bytes
for i, req in enumerate([
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /v1/completions HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        b"POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        b"\r\nPOST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        b"GET http://h/p?q HTTP/1.1\nX: a\n\n"]):
    put("http_request", f"req{i}", bytes([3, 1, 7, 30]) + req)

# --- C API text entry points: byte 0 = operations, byte 1 = flags, then fields split at
# \x01 (text, then role/content pairs; the first pairs double as stop strings).
for i, (ops, flags, fields) in enumerate([
        (0x0f | 0x40, 0x03, ["Once upon a time", "user", "Lily went to the park", "assistant", " She saw a dog."]),
        (0x0b | 0x80, 0x1b, ["<s>Hello", "system", "be brief", "user", "caf\u00e9 \U0001F600"]),
        (0x06, 0x0c, ["", "user", "", "tool", "x"]),
        (0x09 | 0xc0, 0x11, ["The little dog", ".", ",", "\n"]),
        (0x1f, 0x00, ["\udcff\udcfe invalid", "user", "\udcc3("])]):  # raw bytes ff fe, c3
    data = bytes([ops, flags]) + b"\x01".join(f.encode("utf-8", "surrogateescape") for f in fields)
    put("capi_text", f"seed{i}", data)
put("capi_text", "state_magic", bytes([0x10, 0]) + b"PLLMSESS" + b"\x01\x00\x00\x00\x04\x03\x02\x01\x05\x00\x00\x00llama")
