"""The PEP 517 build backend of this package (pyproject.toml's backend-path).

The package is two pure-Python files over a library installed by CMake, so a wheel
is a zip of them plus the metadata PEP 427 asks for. Keeping the backend here lets
`pip install bindings/python` work offline: pip's isolated build environment needs
nothing from an index (a setuptools backend would have to be downloaded).
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = "pocketllm"


def _project():
    text = open(os.path.join(_HERE, "pyproject.toml"), encoding="utf-8").read()
    section = text.split("[project]", 1)[1].split("\n[", 1)[0]
    get = lambda key: re.search(rf'^{key}\s*=\s*"([^"]*)"', section, re.M).group(1)  # noqa: E731
    return get("name"), get("version"), get("description"), get("requires-python")


def _metadata():
    name, version, summary, python = _project()
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
            f"License: Apache-2.0\nRequires-Python: {python}\n")


def _sources():
    folder = os.path.join(_HERE, _PACKAGE)
    return sorted(f"{_PACKAGE}/{f}" for f in os.listdir(folder) if f.endswith(".py"))


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, _, _ = _project()
    dist_info = f"{name}-{version}.dist-info"
    wheel_name = f"{name}-{version}-py3-none-any.whl"
    files = [(p, open(os.path.join(_HERE, p), "rb").read()) for p in _sources()]
    files.append((f"{dist_info}/METADATA", _metadata().encode()))
    files.append((f"{dist_info}/WHEEL",
                  b"Wheel-Version: 1.0\nGenerator: pocketllm build_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = "\n".join([_record_line(p, d) for p, d in files] + [f"{dist_info}/RECORD,,"]) + "\n"
    files.append((f"{dist_info}/RECORD", record.encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            entry = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16  # rw-r--r--
            z.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    name, version, _, _ = _project()
    base = f"{name}-{version}"
    paths = ["pyproject.toml", "build_backend.py", "README.md"] + _sources()
    with tarfile.open(os.path.join(sdist_directory, base + ".tar.gz"), "w:gz") as tar:
        for p in paths:
            tar.add(os.path.join(_HERE, p), arcname=f"{base}/{p}")
        info = _metadata().encode()
        entry = tarfile.TarInfo(f"{base}/PKG-INFO")
        entry.size = len(info)
        tar.addfile(entry, io.BytesIO(info))
    return base + ".tar.gz"
