"""Reference renderer for the differential tests: python jinja2 set up as transformers does.

Input (argv[1]): JSON array of {"template": str, "context": object}.
Output (stdout): JSON array of {"rendered": str} or {"error": str}, one per input.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    env = make_env()
    out = []
    for job in jobs:
        try:
            out.append({"rendered": env.from_string(job["template"]).render(**job["context"])})
        except Exception as e:  # noqa: BLE001 - any failure is an expected "error" outcome
            out.append({"error": f"{type(e).__name__}: {e}"})
    sys.stdout.write(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
