#!/usr/bin/env python3
"""Strict, independent GGUF v3 checker (written from the GGUF spec, not from
pocketllm's reader). Exit 0 and print 'ok' when the file is valid and uses only
standard GGML tensor types; otherwise print the problem and exit 1.
Usage: gguf_check.py FILE [--allow-pocketllm]"""
import struct
import sys

GGML = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
        7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
        12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
        24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 30: ("BF16", 1, 2)}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def fail(msg):
    print("invalid: " + msg)
    sys.exit(1)


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        if self.p + n > len(self.d):
            fail("truncated at offset %d" % self.p)
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def scalar(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.scalar("<Q")
        s = self.take(n)
        try:
            return s.decode("utf-8")
        except UnicodeDecodeError:
            fail("string is not UTF-8 at offset %d" % self.p)

    def value(self, t):
        if t in SCALAR:
            return self.scalar(SCALAR[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.scalar("<I"), self.scalar("<Q")
            return [self.value(et) for _ in range(n)]
        fail("unknown value type %d" % t)


def main():
    path = sys.argv[1]
    allow = "--allow-pocketllm" in sys.argv
    data = open(path, "rb").read()
    r = Reader(data)
    if r.take(4) != b"GGUF":
        fail("bad magic")
    if r.scalar("<I") != 3:
        fail("not version 3")
    n_t, n_kv = r.scalar("<Q"), r.scalar("<Q")
    kv = {}
    for _ in range(n_kv):
        k = r.string()
        kv[k] = r.value(r.scalar("<I"))
    align = kv.get("general.alignment", 32)
    if "general.architecture" not in kv:
        fail("no general.architecture")
    tensors = []
    for _ in range(n_t):
        name = r.string()
        nd = r.scalar("<I")
        if not 1 <= nd <= 4:
            fail("%s: %d dims" % (name, nd))
        ne = [r.scalar("<Q") for _ in range(nd)]
        t, off = r.scalar("<I"), r.scalar("<Q")
        tensors.append((name, ne, t, off))
    base = (r.p + align - 1) // align * align
    spans = []
    for name, ne, t, off in tensors:
        if t not in GGML:
            if allow:
                continue
            fail("%s: type %d is not a standard GGML type" % (name, t))
        tname, bs, ts = GGML[t]
        if ne[0] % bs:
            fail("%s: row %d not a multiple of %s block %d" % (name, ne[0], tname, bs))
        n = 1
        for x in ne:
            n *= x
        size = n // bs * ts
        if off % align:
            fail("%s: offset %d not aligned to %d" % (name, off, align))
        if base + off + size > len(data):
            fail("%s: data past end of file" % name)
        spans.append((off, off + size, name))
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        if a[1] > b[0]:
            fail("tensors %s and %s overlap" % (a[2], b[2]))
    print("ok %d tensors %d keys" % (len(tensors), len(kv)))


main()
