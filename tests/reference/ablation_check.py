"""Checks that a tiny model of FAMILY exercises each of its family features: with
any one feature switched off, the reference logits must move by far more than the
1e-4 tolerance of the C++ comparison (so matching the reference proves pocketllm
implements that feature). Exits 1 naming the features that do not matter.

usage: ablation_check.py FAMILY HF_DIR
"""
import sys

import numpy as np

from reference_model import Reference

IDS = [1, 5, 9, 33, 2, 70, 12, 8, 3, 44, 60, 7]

ABLATIONS = {
    "llama": {"llama3 rope scaling": {"rope_scaling": None}},
    "qwen2": {"q/k/v biases": {"_no_bias": True}},
    "qwen3": {"q/k norms": {"_no_qk_norm": True}},
    "gemma2": {"attention soft-capping": {"attn_logit_softcapping": None},
               "final soft-capping": {"final_logit_softcapping": None},
               "sliding window": {"sliding_window": 10 ** 6}},
    "gemma3": {"q/k norms": {"_no_qk_norm": True},
               "sliding window": {"sliding_window": 10 ** 6},
               "local rope base": {"rope_local_base_freq": 1000.0},
               "linear rope scaling": {"rope_scaling": None},
               "query_pre_attn_scalar": {"query_pre_attn_scalar": 16}},
    "phi3": {"partial rotary": {"partial_rotary_factor": 1.0, "rope_scaling": None},
             "longrope": {"rope_scaling": None},
             "sliding window": {"sliding_window": None}},
}


def main():
    family, folder = sys.argv[1], sys.argv[2]
    base = Reference(folder).logits(IDS)
    weak = []
    for name, overrides in ABLATIONS[family].items():
        d = float(np.max(np.abs(Reference(folder, overrides).logits(IDS) - base)))
        print(f"{family}: without {name}: max |logit change| = {d:.3g}")
        if not d > 1e-2:
            weak.append(name)
    if weak:
        print("features with no effect on the tiny model: " + ", ".join(weak))
        sys.exit(1)


if __name__ == "__main__":
    main()
