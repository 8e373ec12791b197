"""Writes a tiny random model of one family as a Hugging Face folder (config.json +
model.safetensors, HF names and conventions) and as a GGUF file the way llama.cpp's
converter lays it out (GGUF names, <arch>.* keys, llama Q/K rows interleaved,
Llama 3 rope_freqs, gemma norms stored as 1 + w, phi3 fused attn_qkv / ffn_up).

usage: make_tiny_models.py FAMILY OUT_DIR   ->  OUT_DIR/hf/, OUT_DIR/model.gguf
"""
import json
import math
import os
import sys

import numpy as np

from tiny_io import write_gguf, write_safetensors

COMMON = dict(vocab_size=96, hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=100.0)

FAMILIES = {
    # head_dim 16 != 48 / 4, Llama 3 rope scaling, tied embeddings
    "llama": dict(model_type="llama", tie_word_embeddings=True,
                  rope_scaling=dict(rope_type="llama3", factor=4.0, low_freq_factor=1.0, high_freq_factor=2.0,
                                    original_max_position_embeddings=16)),
    "qwen2": dict(model_type="qwen2", tie_word_embeddings=False, head_dim=12),
    "qwen3": dict(model_type="qwen3", tie_word_embeddings=True),
    "gemma2": dict(model_type="gemma2", query_pre_attn_scalar=16, attn_logit_softcapping=1.5,
                   final_logit_softcapping=10.0, sliding_window=3, hidden_activation="gelu_pytorch_tanh",
                   num_hidden_layers=4),
    "gemma3": dict(model_type="gemma3_text", query_pre_attn_scalar=32, sliding_window=3, num_hidden_layers=6,
                   rope_theta=1000.0, rope_local_base_freq=50.0, rope_scaling=dict(rope_type="linear", factor=2.0),
                   hidden_activation="gelu_pytorch_tanh", attn_logit_softcapping=None, final_logit_softcapping=None),
    # LongRoPE: contexts up to 64 use the short factors (the C++ test runs n_ctx = 64)
    "phi3": dict(model_type="phi3", tie_word_embeddings=False, partial_rotary_factor=0.75, sliding_window=5,
                 hidden_act="silu", original_max_position_embeddings=64,
                 rope_scaling=dict(type="longrope", short_factor=[1.0, 1.5, 2.0, 3.0, 1.2, 4.0],
                                   long_factor=[2.0, 3.0, 5.0, 7.0, 9.0, 11.0])),
}


def make_config(family):
    cfg = dict(COMMON)
    cfg.update(FAMILIES[family])
    return cfg


def make_hf_weights(cfg, rng):
    d, f, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    mt = cfg["model_type"]
    gemma = mt.startswith("gemma")

    def mat(rows, cols):
        return rng.standard_normal((rows, cols)) / math.sqrt(cols)

    def norm(n):  # HF gemma stores w of (1 + w); the others store the scale itself
        return 0.2 * rng.standard_normal(n) + (0.0 if gemma else 1.0)

    w = {"model.embed_tokens.weight": rng.standard_normal((cfg["vocab_size"], d)),
         "model.norm.weight": norm(d)}
    if not cfg.get("tie_word_embeddings", gemma):
        w["lm_head.weight"] = mat(cfg["vocab_size"], d)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(d)
        w[p + "post_attention_layernorm.weight"] = norm(d)
        w[p + "self_attn.o_proj.weight"] = mat(d, q)
        w[p + "mlp.down_proj.weight"] = mat(d, f)
        if mt == "phi3":
            w[p + "self_attn.qkv_proj.weight"] = mat(q + 2 * kv, d)
            w[p + "mlp.gate_up_proj.weight"] = mat(2 * f, d)
        else:
            w[p + "self_attn.q_proj.weight"] = mat(q, d)
            w[p + "self_attn.k_proj.weight"] = mat(kv, d)
            w[p + "self_attn.v_proj.weight"] = mat(kv, d)
            w[p + "mlp.gate_proj.weight"] = mat(f, d)
            w[p + "mlp.up_proj.weight"] = mat(f, d)
        if mt == "qwen2":
            for n, size in (("q", q), ("k", kv), ("v", kv)):
                w[p + f"self_attn.{n}_proj.bias"] = 0.5 * rng.standard_normal(size)
        if mt in ("qwen3", "gemma3_text"):
            w[p + "self_attn.q_norm.weight"] = norm(hd)
            w[p + "self_attn.k_norm.weight"] = norm(hd)
        if gemma:
            w[p + "pre_feedforward_layernorm.weight"] = norm(d)
            w[p + "post_feedforward_layernorm.weight"] = norm(d)
    return w


# ---- GGUF as llama.cpp's converter writes it ----

GGUF_ARCH = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma2": "gemma2", "gemma3_text": "gemma3",
             "phi3": "phi3"}


def gguf_layer_name(mt, hf):
    table = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
        "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
        "self_attn.v_proj.bias": "attn_v.bias",
        "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
        "self_attn.qkv_proj.weight": "attn_qkv.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.gate_up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
    }
    if mt.startswith("gemma"):
        table.update({"post_attention_layernorm.weight": "post_attention_norm.weight",
                      "pre_feedforward_layernorm.weight": "ffn_norm.weight",
                      "post_feedforward_layernorm.weight": "post_ffw_norm.weight"})
    return table[hf]


def interleave_rows(w, n_heads, head_dim):
    """HF's half-split rows of each head -> GGUF llama's interleaved (2i, 2i+1) pairs."""
    rest = w.shape[1:]
    return w.reshape(n_heads, 2, head_dim // 2, *rest).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_freqs(cfg):
    rs, hd = cfg["rope_scaling"], cfg["head_dim"]
    factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], \
        rs["original_max_position_embeddings"]
    out = []
    for i in range(0, hd, 2):
        freq = 1.0 / cfg["rope_theta"] ** (i / hd)
        wavelen = 2 * math.pi / freq
        if wavelen < old / hi:
            out.append(1.0)
        elif wavelen > old / lo:
            out.append(factor)
        else:
            smooth = (old / wavelen - lo) / (hi - lo)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out)


def write_family_gguf(cfg, w, path):
    mt = cfg["model_type"]
    arch = GGUF_ARCH[mt]
    hd = cfg["head_dim"]
    a = arch + "."
    md = {"general.architecture": arch, "general.name": "tiny-" + arch,
          a + "context_length": cfg["max_position_embeddings"], a + "embedding_length": cfg["hidden_size"],
          a + "feed_forward_length": cfg["intermediate_size"], a + "block_count": cfg["num_hidden_layers"],
          a + "attention.head_count": cfg["num_attention_heads"],
          a + "attention.head_count_kv": cfg["num_key_value_heads"],
          a + "attention.layer_norm_rms_epsilon": float(cfg["rms_norm_eps"]),
          a + "rope.freq_base": float(cfg["rope_theta"]),
          a + "attention.key_length": hd, a + "attention.value_length": hd,
          a + "rope.dimension_count": int(hd * cfg.get("partial_rotary_factor", 1.0))}
    if mt.startswith("gemma"):
        md[a + "attention.sliding_window"] = cfg["sliding_window"]
        if cfg.get("attn_logit_softcapping"):
            md[a + "attn_logit_softcapping"] = float(cfg["attn_logit_softcapping"])
        if cfg.get("final_logit_softcapping"):
            md[a + "final_logit_softcapping"] = float(cfg["final_logit_softcapping"])
        if cfg["query_pre_attn_scalar"] != hd:  # llama.cpp would assume head_dim here
            md[a + "attention.scale"] = float(cfg["query_pre_attn_scalar"] ** -0.5)
    if mt == "gemma3_text":
        md[a + "rope.freq_base_swa"] = float(cfg["rope_local_base_freq"])
        if cfg.get("rope_scaling"):
            md[a + "rope.scaling.type"] = "linear"
            md[a + "rope.scaling.factor"] = float(cfg["rope_scaling"]["factor"])
    if mt == "phi3":
        md[a + "attention.sliding_window"] = cfg["sliding_window"]
        if cfg.get("rope_scaling"):  # llama.cpp's converter: attn factor key + factor tensors
            orig = cfg["original_max_position_embeddings"]
            scale = cfg["max_position_embeddings"] / orig
            md[a + "rope.scaling.attn_factor"] = math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0
            md[a + "rope.scaling.original_context_length"] = orig
    t = {}
    for name, arr in w.items():
        if name == "model.embed_tokens.weight":
            g = "token_embd.weight"
        elif name == "model.norm.weight":
            g = "output_norm.weight"
        elif name == "lm_head.weight":
            g = "output.weight"
        else:
            _, _, layer, rest = name.split(".", 3)
            g = f"blk.{layer}." + gguf_layer_name(mt, rest)
        if mt == "llama" and g.endswith(("attn_q.weight", "attn_k.weight")):
            heads = cfg["num_attention_heads"] if "attn_q" in g else cfg["num_key_value_heads"]
            arr = interleave_rows(arr, heads, hd)
        if mt.startswith("gemma") and g.endswith("norm.weight"):
            arr = arr + 1.0
        t[g] = arr
    if mt == "phi3" and cfg.get("rope_scaling"):
        t["rope_factors_long.weight"] = np.array(cfg["rope_scaling"]["long_factor"])
        t["rope_factors_short.weight"] = np.array(cfg["rope_scaling"]["short_factor"])
    if mt == "llama" and cfg.get("rope_scaling"):
        t["rope_freqs.weight"] = llama3_rope_freqs(cfg)
    write_gguf(path, md, t)


def main():
    family, out = sys.argv[1], sys.argv[2]
    cfg = make_config(family)
    rng = np.random.default_rng(sorted(FAMILIES).index(family) + 7)
    w = make_hf_weights(cfg, rng)
    os.makedirs(os.path.join(out, "hf"), exist_ok=True)
    write_safetensors(os.path.join(out, "hf", "model.safetensors"), w)
    with open(os.path.join(out, "hf", "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    write_family_gguf(cfg, w, os.path.join(out, "model.gguf"))


if __name__ == "__main__":
    main()
