"""A fake Hugging Face Hub on 127.0.0.1 for pocketllm's download tests (no internet).

It speaks what huggingface_hub and pocketllm ask of the real Hub, as documented in
huggingface_hub's file_download.py / hf_api.py:
  GET  /api/models/OWNER/NAME/revision/REV      {"id", "sha", "siblings": [{"rfilename"}], "gated", "private"}
  GET  /api/models/OWNER/NAME/tree/REV[/PATH]   [{"type": "file", "path", "size", "oid", "lfs": {...}}]
  HEAD /OWNER/NAME/resolve/REV/FILE             small file: 200, ETag "<git blob sha1>", Content-Length
                                                LFS file: 302 to its content, X-Linked-Etag "<sha256>", X-Linked-Size
                                                both: X-Repo-Commit; errors carry X-Error-Code / X-Error-Message
  GET  the same                                 the content (small) or the same 302 (LFS)
  GET  /cdn-lfs/SHA256                          LFS content, with Range (206) — on this host ("same" mode) or on
                                                a second server on another port ("other" mode, the real Hub's CDN)
Gated repos want "Authorization: Bearer T" with T a token granted access (401 without a token or with an
unknown one, 403 for a known token not granted). A CONNECT proxy can run beside them.

Test hooks, on the hub server only:
  GET  /_log            every request so far: server, method, path, authorization, range
  POST /_log/clear
  POST /_faults         a JSON list applied in order to matching requests, each {"match": substring of the path,
                        "method": "GET"|"HEAD"|"*", "times": N (-1 = always), and one action: "status" (+ "headers"),
                        "cut_after" (bytes, then the connection is dropped), "corrupt", "throttle" (bytes/s),
                        "ignore_range", "no_length" (no size in HEAD, body without Content-Length)}

usage: fake_hub.py CONFIG.json [--tls CERT KEY] [--cdn same|other] [--proxy]
CONFIG: {"tokens": {"TOKEN": ["owner/gated", ...]},
         "repos": {"owner/name": {"sha": "<40 hex>", "revisions": {"v1": "<40 hex>"}, "gated": false,
                                  "files": {"path/in/repo": {"src": "/abs/file"} | {"text": "..."}, "lfs": bool}}}}
Prints one JSON line {"hub": PORT, "cdn": PORT, "proxy": PORT} once listening; runs until killed.
"""
import hashlib
import json
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
LOG = []
FAULTS = []
STATE = {}


def load_repos(config):
    repos = {}
    for repo_id, r in config["repos"].items():
        files = {}
        for path, spec in r["files"].items():
            data = open(spec["src"], "rb").read() if "src" in spec else spec["text"].encode()
            files[path] = {
                "data": data,
                "lfs": bool(spec.get("lfs", False)),
                "sha256": hashlib.sha256(data).hexdigest(),
                "git": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                "weak_etag": bool(spec.get("weak_etag", False)),
            }
        revisions = {"main": r["sha"], r["sha"]: r["sha"]}
        for name, commit in r.get("revisions", {}).items():
            revisions[name] = revisions[commit] = commit
        repos[repo_id] = {"revisions": revisions, "gated": bool(r.get("gated", False)), "files": files}
    return repos


def take_fault(method, path):
    with LOCK:
        for f in FAULTS:
            if f.get("times", 1) == 0 or f["match"] not in path:
                continue
            if f.get("method", "*") not in ("*", method):
                continue
            if f.get("times", 1) > 0:
                f["times"] = f.get("times", 1) - 1
            return f
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name_tag = "hub"

    def log_message(self, *args):
        pass

    # ---- helpers ----
    def record(self):
        with LOCK:
            LOG.append({
                "server": self.server_name_tag,
                "method": self.command,
                "path": self.path,
                "authorization": self.headers.get("Authorization", ""),
                "range": self.headers.get("Range", ""),
            })

    def reply(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, message, extra=None, head=False):
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        headers.update(extra or {})
        self.reply(status, json.dumps({"error": message}).encode(), headers, head)

    def base_url(self, which):
        scheme = "https" if STATE["tls"] else "http"
        return f"{scheme}://127.0.0.1:{STATE[which]}"

    # ---- content with Range and faults ----
    def send_content(self, data, head, etag_headers, fault):
        if fault and "status" in fault:
            return self.reply(fault["status"], b"fault", fault.get("headers", {}), head)
        no_length = bool(fault and fault.get("no_length"))
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and not (fault and fault.get("ignore_range")):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                return self.reply(416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
        body = data[start:]
        if fault and fault.get("corrupt") and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self.send_response(206 if start else 200)
        for k, v in etag_headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if fault and "cut_after" in fault:
            self.wfile.write(body[: fault["cut_after"]])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        rate = fault.get("throttle") if fault else None
        step = 16384 if not rate else max(1024, rate // 20)
        for i in range(0, len(body), step):
            try:
                self.wfile.write(body[i : i + step])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            if rate:
                time.sleep(step / rate)

    # ---- Hub routes ----
    def route(self, head):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        fault = take_fault(self.command, url.path)
        if parts[:1] == ["cdn-lfs"] and len(parts) == 2:
            return self.serve_cdn(parts[1], head, fault)
        if self.server_name_tag != "hub":
            return self.reply(404, b"not here", {}, head)
        if fault and "status" in fault and not any(k in fault for k in ("cut_after", "corrupt")):
            return self.reply(fault["status"], b"fault", fault.get("headers", {}), head)
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
            return self.serve_api(f"{parts[2]}/{parts[3]}", parts[4], parts[5], "/".join(parts[6:]), head)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.serve_resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), head, fault)
        return self.error(404, "NotFound", f"no route {url.path}", head=head)

    def find_repo(self, repo_id, rev, head):
        """(repo, commit of rev), or (None, None) after an error answer."""
        repo = STATE["repos"].get(repo_id)
        if repo is None:
            self.error(404, "RepoNotFound", f"Repository Not Found for url: {self.path}.", head=head)
            return None, None
        if rev not in repo["revisions"]:
            self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
            return None, None
        return repo, repo["revisions"][rev]

    def serve_api(self, repo_id, kind, rev, sub, head):
        repo, commit = self.find_repo(repo_id, rev, head)
        if repo is None:
            return
        if kind == "revision":
            body = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                    "gated": "manual" if repo["gated"] else False,
                    "siblings": [{"rfilename": p} for p in sorted(repo["files"])]}
        else:
            body = []
            for p, f in sorted(repo["files"].items()):
                if sub and not p.startswith(sub + "/"):
                    continue
                e = {"type": "file", "path": p, "size": len(f["data"]), "oid": f["git"]}
                if f["lfs"]:
                    e["lfs"] = {"oid": f["sha256"], "size": len(f["data"]), "pointerSize": 134}
                body.append(e)
        self.reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)

    def serve_resolve(self, repo_id, rev, path, head, fault):
        repo, sha = self.find_repo(repo_id, rev, head)
        if repo is None:
            return
        commit = {"X-Repo-Commit": sha}
        if repo["gated"]:
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else None
            granted = STATE["tokens"].get(token) if token else None
            if token is None:
                return self.error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access "
                                  "to it and be authenticated to access it. Please log in.", commit, head)
            if granted is None:
                return self.error(401, "Unauthorized", "Invalid credentials in Authorization header", commit, head)
            if repo_id not in granted:
                return self.error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in "
                                  "the authorized list.", commit, head)
        f = repo["files"].get(path)
        if f is None:
            return self.error(404, "EntryNotFound", f"{path} does not exist on \"{rev}\"", commit, head)
        no_length = bool(fault and fault.get("no_length"))
        if f["lfs"]:
            where = self.base_url("cdn") if STATE["cdn_mode"] == "other" else ""
            headers = dict(commit)
            headers.update({"Location": f"{where}/cdn-lfs/{f['sha256']}?expires=1",
                            "X-Linked-Etag": f"\"{f['sha256']}\"", "ETag": f"\"{f['git']}\""})
            if not no_length:
                headers["X-Linked-Size"] = str(len(f["data"]))
            return self.reply(302, b"", headers, head)
        etag = f"W/\"{f['git']}\"" if f["weak_etag"] else f"\"{f['git']}\""
        headers = dict(commit)
        headers["ETag"] = etag
        return self.send_content(f["data"], head, headers, fault)

    def serve_cdn(self, sha, head, fault):
        for repo in STATE["repos"].values():
            for f in repo["files"].values():
                if f["sha256"] == sha:
                    return self.send_content(f["data"], head, {"ETag": f"\"{sha}\""}, fault)
        return self.reply(404, b"no such object", {}, head)

    # ---- verbs ----
    def do_HEAD(self):
        self.route(True)

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                return self.reply(200, json.dumps(LOG).encode(), {"Content-Type": "application/json"})
        self.route(False)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with LOCK:
            if self.path == "/_log/clear":
                LOG.clear()
            elif self.path == "/_faults":
                FAULTS[:] = json.loads(body or b"[]")
            else:
                return self.reply(404)
        self.reply(200, b"ok")


class CdnHandler(Handler):
    server_name_tag = "cdn"


class ProxyHandler(BaseHTTPRequestHandler):
    """CONNECT tunnels only (what an HTTPS client asks of an HTTP proxy)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_CONNECT(self):
        with LOCK:
            LOG.append({"server": "proxy", "method": "CONNECT", "path": self.path, "authorization": "", "range": ""})
        host, port = self.path.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        conns = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(conns, [], [], 30)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            self.close_connection = True


def serve(handler, tls_ctx):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    if tls_ctx:
        srv.socket = tls_ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main():
    args = sys.argv[1:]
    config = json.load(open(args[0]))
    tls_ctx = None
    if "--tls" in args:
        i = args.index("--tls")
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(args[i + 1], args[i + 2])
    STATE.update(repos=load_repos(config), tokens=config.get("tokens", {}), tls=tls_ctx is not None,
                 cdn_mode=args[args.index("--cdn") + 1] if "--cdn" in args else "same")
    STATE["hub"] = serve(Handler, tls_ctx)
    STATE["cdn"] = serve(CdnHandler, tls_ctx)
    STATE["proxy"] = serve(ProxyHandler, None) if "--proxy" in args else 0
    print(json.dumps({"hub": STATE["hub"], "cdn": STATE["cdn"], "proxy": STATE["proxy"]}), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
