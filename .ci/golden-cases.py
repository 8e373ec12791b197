#!/usr/bin/python3
"""Writes stories260K's golden runs (llama2.c, golden.json) as files the CI scripts feed
to the executables under test: caseN.prompt, caseN.n (tokens to generate: llama2.c's -n
counts positions from BOS, so a case generates len(generated_ids)), caseN.want (run.c's
stdout, which examples/c/chat.c reproduces) and caseN.text (the same without the newline
run.c adds after the generation: `pocketllm run` prints the model's text alone).
Usage: golden-cases.py GOLDEN_JSON OUT_DIR"""
import json
import sys

golden, out = sys.argv[1], sys.argv[2]
for i, c in enumerate(json.load(open(golden))["cases"]):
    open(f"{out}/case{i}.prompt", "w").write(c["prompt"])
    open(f"{out}/case{i}.n", "w").write(str(len(c["generated_ids"])))
    want = c["run_c_cli_stdout"]
    assert want.endswith("\n"), "run.c ends its output with a newline"
    open(f"{out}/case{i}.want", "w").write(want)
    open(f"{out}/case{i}.text", "w").write(want[:-1])
