"""Dequantizes raw GGML rows with the PyPI gguf package (gguf.quants.dequantize),
the independent oracle for pocketllm's row codecs (test_gguf_oracle.cpp).

usage: gguf_dequantize.py MANIFEST.json
MANIFEST: [{"type": "Q4_K", "n": elements, "in": raw bytes file, "out": f32 file}, ...]
Each output file gets the n dequantized values as little-endian float32.
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        qtype = GGMLQuantizationType[job["type"]]
        raw = np.fromfile(job["in"], dtype=np.uint8)
        if qtype in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
            # dequantize() views these by element type, not as bytes
            raw = raw.view(np.float32 if qtype == GGMLQuantizationType.F32 else np.float16)
        with np.errstate(all="ignore"):  # the inf / NaN scales are on purpose
            out = np.asarray(dequantize(raw, qtype), dtype=np.float32).reshape(-1)
        if out.size != job["n"]:
            sys.exit(f"{job['type']}: gguf returned {out.size} values, expected {job['n']}")
        out.astype("<f4").tofile(job["out"])


if __name__ == "__main__":
    main()
