"""Records what SentencePiece itself (Debian's python3-sentencepiece, the library
that wrote the file) makes of ../shared's stories260K tok512.model, for
test_sentencepiece_model.cpp: the special ids, then ids and decoded text of a
set of texts (spaces collapsed by the model's remove_extra_whitespaces, byte
fallback, digits, unicode). Run from the repo root:
  /usr/bin/python3 tests/tokenizer/make_spm_fixture.py
"""
import json
import os

import sentencepiece as spm

HERE = os.path.dirname(__file__)
MODEL = os.path.join(HERE, "..", "..", "..", "shared", "data", "models", "stories260K", "tok512.model")
OUT = os.path.join(HERE, "fixtures", "tok512_model.json")

TEXTS = [
    "Once upon a time, there was a little girl named Lily.",
    "a  b", "  leading", "trailing  ", "   ", "", "a\t\tb", "a \n b", "\n a", "line one\n\nline two",
    "12345 apples and 6 pears", "café naïve 😀 日本語", "Hello <s> world </s>", "x\u3000\u3000y",
    "She said, \"Let's go!\" -- and they went...",
]


def main():
    sp = spm.SentencePieceProcessor(model_file=MODEL)
    cases = []
    for t in TEXTS:
        ids = sp.encode(t)
        cases.append({"text": t, "ids": ids, "decoded": sp.decode(ids)})
    fixture = {
        "generator": "tests/tokenizer/make_spm_fixture.py",
        "sentencepiece": spm.__version__,
        "model": "models/stories260K/tok512.model",
        "n_vocab": sp.vocab_size(), "bos": sp.bos_id(), "eos": sp.eos_id(), "unk": sp.unk_id(), "pad": sp.pad_id(),
        "pieces": {str(i): sp.id_to_piece(i) for i in (0, 1, 2, 3, 13, 259, 403, 511)},
        "cases": cases,
    }
    open(OUT, "w", encoding="utf-8").write(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
