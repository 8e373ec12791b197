"""The real huggingface_hub against the cache pocketllm shares with it (run with
the venv's python; HF_HUB_CACHE / HF_ENDPOINT / HF_HUB_OFFLINE come from the caller).

  find REPO FILE...      offline: hf_hub_download(local_files_only=True) of each file,
                         snapshot_download(local_files_only=True), scan_cache_dir()'s view
  download REPO FILE...  online: hf_hub_download of each file
  snapshot REPO          online: snapshot_download
Prints one JSON object.
"""
import json
import sys

from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download


def main():
    cmd, repo, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = {}
    if cmd == "find":
        out["files"] = {f: hf_hub_download(repo, f, local_files_only=True) for f in files}
        out["snapshot"] = snapshot_download(repo, local_files_only=True)
        info = scan_cache_dir()
        out["warnings"] = [str(w) for w in info.warnings]
        for r in info.repos:
            if r.repo_id == repo:
                out["scan"] = {"size_on_disk": r.size_on_disk, "nb_files": r.nb_files,
                               "refs": sorted(ref for rev in r.revisions for ref in rev.refs),
                               "files": sorted(f.file_name for rev in r.revisions for f in rev.files)}
    elif cmd == "download":
        out["files"] = {f: hf_hub_download(repo, f) for f in files}
    elif cmd == "snapshot":
        out["snapshot"] = snapshot_download(repo)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
