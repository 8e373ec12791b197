"""Independent numpy forward pass of the supported families, written from the
published Hugging Face model definitions (LlamaForCausalLM, Qwen2/Qwen3ForCausalLM,
Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM), in float64, over a whole
sequence at once (no KV cache). Reads an HF folder (config.json + one
model.safetensors, F32/F16).

usage: reference_model.py HF_DIR IDS(comma-separated) N_GREEDY [CONFIG_OVERRIDES_JSON]
prints JSON {"logits": [[...] per position], "greedy": [ids]}
"""
import json
import math
import os
import sys

import numpy as np

from tiny_io import read_safetensors


def rms_norm(x, w, eps, one_plus):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * ((1.0 + w) if one_plus else w)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def longrope(cfg, base, dim, seq_len):
    """transformers' longrope: per-pair divisors (short up to the original context,
    long beyond) and a scale of cos/sin; returns (inv_freq, attention_factor)."""
    rs = cfg["rope_scaling"]
    orig = cfg.get("original_max_position_embeddings", cfg["max_position_embeddings"])
    factor = cfg["max_position_embeddings"] / orig
    af = rs.get("attention_factor") or (1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(orig)))
    use_long = seq_len > orig or cfg.get("_long_factors")  # the override mimics a long context
    ext = np.array(rs["long_factor"] if use_long else rs["short_factor"], dtype=np.float64)
    return 1.0 / (ext * base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)), af


def rope_inv_freq(base, dim, scaling):
    inv = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    if not scaling:
        return inv
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":
        factor, lo, hi = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > old / lo, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / hi) & (wavelen <= old / lo)
        return np.where(medium, smoothed, scaled)
    if kind == "default":
        return inv
    raise ValueError(f"rope scaling {kind} not in the reference")


def apply_rope(x, inv_freq, mscale=1.0):
    """x: [T, heads, rot] with HF's rotate_half pairing (i, i + rot/2)."""
    t = np.arange(x.shape[0], dtype=np.float64)
    freqs = np.outer(t, inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = mscale * np.cos(emb)[:, None, :], mscale * np.sin(emb)[:, None, :]
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


class Reference:
    def __init__(self, folder, overrides=None):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.cfg.update(overrides or {})  # ablation checks switch single features off
        self.w = read_safetensors(os.path.join(folder, "model.safetensors"))
        c = self.cfg
        self.mt = c["model_type"]
        self.gemma = self.mt in ("gemma2", "gemma3_text")
        self.n_layers = c["num_hidden_layers"]
        self.hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        if self.gemma:
            pattern = c.get("sliding_window_pattern", 2 if self.mt == "gemma2" else 6)
            self.layer_types = c.get("layer_types") or [
                "sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(self.n_layers)]
        elif self.mt == "phi3" and c.get("sliding_window"):
            self.layer_types = ["sliding_attention"] * self.n_layers
        else:
            self.layer_types = ["full_attention"] * self.n_layers
        self.rot = int(self.hd * c.get("partial_rotary_factor", 1.0))
        theta = c.get("rope_theta", 10000.0)
        scaling = c.get("rope_scaling") or {}
        if scaling.get("rope_type", scaling.get("type")) in ("longrope", "su"):
            self.inv_freq_global = None  # depends on the sequence length
        else:
            self.inv_freq_global = rope_inv_freq(theta, self.rot, c.get("rope_scaling"))
        # Gemma 3's sliding layers: their own base, never scaled.
        self.inv_freq_local = rope_inv_freq(c["rope_local_base_freq"], self.rot, None) \
            if self.mt == "gemma3_text" else self.inv_freq_global

    def norm(self, x, name):
        return rms_norm(x, self.w[name], self.eps, self.gemma)

    def attention(self, x, i):
        c, p, hd = self.cfg, f"model.layers.{i}.self_attn.", self.hd
        T = x.shape[0]
        nh, nkv = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"])
        if self.mt == "phi3":
            qkv = x @ self.w[p + "qkv_proj.weight"].T
            q, k, v = np.split(qkv, [nh * hd, nh * hd + nkv * hd], axis=-1)
        else:
            q, k, v = (x @ self.w[p + n + "_proj.weight"].T for n in "qkv")
            if p + "q_proj.bias" in self.w and not c.get("_no_bias"):
                q, k, v = q + self.w[p + "q_proj.bias"], k + self.w[p + "k_proj.bias"], v + self.w[p + "v_proj.bias"]
        q, k, v = q.reshape(T, nh, hd), k.reshape(T, nkv, hd), v.reshape(T, nkv, hd)
        if self.mt in ("qwen3", "gemma3_text") and not c.get("_no_qk_norm"):
            q, k = self.norm(q, p + "q_norm.weight"), self.norm(k, p + "k_norm.weight")
        sliding = self.layer_types[i] == "sliding_attention"
        inv, mscale = self.inv_freq_local if sliding else self.inv_freq_global, 1.0
        if inv is None:
            inv, mscale = longrope(c, c.get("rope_theta", 10000.0), self.rot, T)
        r = self.rot
        q = np.concatenate([apply_rope(q[..., :r], inv, mscale), q[..., r:]], axis=-1)
        k = np.concatenate([apply_rope(k[..., :r], inv, mscale), k[..., r:]], axis=-1)
        k, v = np.repeat(k, nh // nkv, axis=1), np.repeat(v, nh // nkv, axis=1)
        scale = c["query_pre_attn_scalar"] ** -0.5 if self.gemma else hd ** -0.5
        scores = np.einsum("qhd,khd->hqk", q, k) * scale
        if self.gemma and c.get("attn_logit_softcapping"):
            cap = c["attn_logit_softcapping"]
            scores = np.tanh(scores / cap) * cap
        qi, ki = np.arange(T)[:, None], np.arange(T)[None, :]
        visible = ki <= qi
        if sliding:
            visible &= ki > qi - c["sliding_window"]
        scores = np.where(visible[None], scores, -np.inf)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        out = np.einsum("hqk,khd->qhd", probs, v).reshape(T, nh * hd)
        return out @ self.w[p + "o_proj.weight"].T

    def mlp(self, x, i):
        p = f"model.layers.{i}.mlp."
        if self.mt == "phi3":
            gate, up = np.split(x @ self.w[p + "gate_up_proj.weight"].T, 2, axis=-1)
        else:
            gate, up = x @ self.w[p + "gate_proj.weight"].T, x @ self.w[p + "up_proj.weight"].T
        act = gelu_tanh(gate) if self.gemma else silu(gate)
        return (act * up) @ self.w[p + "down_proj.weight"].T

    def logits(self, ids):
        c = self.cfg
        x = self.w["model.embed_tokens.weight"][np.array(ids)]
        if self.gemma:
            x = x * math.sqrt(c["hidden_size"])
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            if self.gemma:
                h = self.norm(self.attention(self.norm(x, p + "input_layernorm.weight"), i),
                              p + "post_attention_layernorm.weight")
                x = x + h
                h = self.norm(self.mlp(self.norm(x, p + "pre_feedforward_layernorm.weight"), i),
                              p + "post_feedforward_layernorm.weight")
                x = x + h
            else:
                x = x + self.attention(self.norm(x, p + "input_layernorm.weight"), i)
                x = x + self.mlp(self.norm(x, p + "post_attention_layernorm.weight"), i)
        x = self.norm(x, "model.norm.weight")
        head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])
        out = x @ head.T
        if self.gemma and c.get("final_logit_softcapping"):
            cap = c["final_logit_softcapping"]
            out = np.tanh(out / cap) * cap
        return out

    def greedy(self, ids, n):
        ids, out = list(ids), []
        for _ in range(n):
            nxt = int(np.argmax(self.logits(ids)[-1]))
            out.append(nxt)
            ids.append(nxt)
        return out


def main():
    ref = Reference(sys.argv[1], json.loads(sys.argv[4]) if len(sys.argv) > 4 else None)
    ids = [int(t) for t in sys.argv[2].split(",")]
    print(json.dumps({"logits": ref.logits(ids).tolist(), "greedy": ref.greedy(ids, int(sys.argv[3]))}))


if __name__ == "__main__":
    main()
