"""Rewrites a phi3 Hugging Face folder with its fused projections split: qkv_proj
into q_proj / k_proj / v_proj and gate_up_proj into gate_proj / up_proj (same
weights, same config). Tests quantize both and expect the same model.

usage: unfuse_phi3.py HF_IN HF_OUT
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from tiny_io import read_safetensors, write_safetensors  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    hd = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    q, kv, ffn = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd, cfg["intermediate_size"]
    out = {}
    for name, arr in read_safetensors(os.path.join(src, "model.safetensors")).items():
        if name.endswith("self_attn.qkv_proj.weight"):
            p = name[: -len("qkv_proj.weight")]
            out[p + "q_proj.weight"], out[p + "k_proj.weight"], out[p + "v_proj.weight"] = \
                arr[:q], arr[q:q + kv], arr[q + kv:q + 2 * kv]
        elif name.endswith("mlp.gate_up_proj.weight"):
            p = name[: -len("gate_up_proj.weight")]
            out[p + "gate_proj.weight"], out[p + "up_proj.weight"] = arr[:ffn], arr[ffn:]
        else:
            out[name] = arr
    os.makedirs(dst, exist_ok=True)
    write_safetensors(os.path.join(dst, "model.safetensors"), out)
    shutil.copy(os.path.join(src, "config.json"), os.path.join(dst, "config.json"))


if __name__ == "__main__":
    main()
