#!/usr/bin/python3
"""Aggregate generation throughput of `pocketllm serve` with 1, 2 and 4 parallel clients.

Starts the server (loopback, --port 0), then for each client count runs that many
threads, each sending chat completions back to back for a fixed number of requests,
and reports completion tokens per second over the wall time (all clients together).

  /usr/bin/python3 bench/server/bench.py BUILD/apps/pocketllm [--np 4] [--requests 12] [--max-tokens 128]
"""
import argparse, json, os, re, subprocess, sys, tempfile, threading, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("--model", default=None)
ap.add_argument("--tokenizer", default=None)
ap.add_argument("--np", type=int, default=4)
ap.add_argument("--ctx", type=int, default=512)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--requests", type=int, default=12, help="requests per client")
ap.add_argument("--max-tokens", type=int, default=128)
ap.add_argument("--clients", default="1,2,4")
a = ap.parse_args()

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data = os.path.join(os.path.dirname(root), "shared", "data", "models", "stories260K")
model = a.model or os.path.join(data, "stories260K.bin")
tok = a.tokenizer or os.path.join(data, "tok512.bin")
tmpl = tempfile.NamedTemporaryFile("w", suffix=".jinja", delete=False)
tmpl.write("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}")
tmpl.close()
cmd = [a.binary, "serve", "-m", model, "--chat-template-file", tmpl.name, "--port", "0", "-np", str(a.np),
       "-c", str(a.ctx), "-t", str(a.threads), "--no-log"]
if tok and model.endswith(".bin"):
    cmd += ["--tokenizer", tok]
srv = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
port = None
for line in srv.stderr:
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if m:
        port = int(m.group(1))
    if "loaded" in line:
        break
threading.Thread(target=lambda: [None for _ in srv.stderr], daemon=True).start()
base = f"http://127.0.0.1:{port}"

def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)

prompts = ["Once upon a time", "The little dog", "Lily wanted to", "Tom and Sue went"]
try:
    post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8})  # warm-up
    print(f"model {os.path.basename(model)}, -np {a.np}, -c {a.ctx}, -t {a.threads}, "
          f"{a.requests} requests/client, max_tokens {a.max_tokens}")
    print("| clients | requests | completion tokens | wall s | aggregate tok/s | per-client tok/s |")
    print("|---|---|---|---|---|---|")
    for n in [int(x) for x in a.clients.split(",")]:
        totals = [0] * n
        def client(i):
            for k in range(a.requests):
                r = post("/v1/chat/completions", {
                    "messages": [{"role": "user", "content": prompts[(i + k) % len(prompts)]}],
                    "max_tokens": a.max_tokens, "temperature": 1.0, "min_p": 0, "top_k": 0, "top_p": 1,
                    "seed": 1000 * i + k})
                totals[i] += r["usage"]["completion_tokens"]
        t0 = time.perf_counter()
        ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in ts: t.start()
        for t in ts: t.join()
        wall = time.perf_counter() - t0
        tot = sum(totals)
        print(f"| {n} | {n * a.requests} | {tot} | {wall:.2f} | {tot / wall:.0f} | {tot / wall / n:.0f} |")
    slots = json.load(urllib.request.urlopen(base + "/slots"))
    print(f"decode steps {slots['decode_steps']}, largest batch {slots['max_batch_rows']} rows")
finally:
    srv.terminate()
    srv.wait()
    os.unlink(tmpl.name)
