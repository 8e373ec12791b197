"""Splits a model.safetensors into two shards and writes model.safetensors.index.json,
the layout transformers' save_pretrained uses for large models (standard library only).

usage: shard_safetensors.py IN.safetensors OUT_DIR
"""
import json
import os
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    return header, data[8 + n :]


def write(path, tensors, payload):
    header, blob, offset = {}, bytearray(), 0
    for name, info in tensors:
        begin, end = info["data_offsets"]
        chunk = payload[begin:end]
        header[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + len(chunk)]}
        blob += chunk
        offset += len(chunk)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(blob))


def main():
    src, out = sys.argv[1], sys.argv[2]
    header, payload = read(src)
    header.pop("__metadata__", None)
    names = sorted(header)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for i, part in enumerate(halves):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        write(os.path.join(out, shard), [(n, header[n]) for n in part], payload)
        weight_map.update({n: shard for n in part})
    total = sum(header[n]["data_offsets"][1] - header[n]["data_offsets"][0] for n in names)
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    main()
