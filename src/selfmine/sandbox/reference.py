"""Plain Python as the reference the judge must agree with: a program and its asserts run in one fresh
interpreter, each assert after the program in the same namespace, with one outcome per assert.

The judge splits the two into processes and sends values across (worker/__init__.py); this is what a user
without a judge would run, so a verdict that differs from it is the judge's to explain. Used by the fidelity
corpus (tests/test_judge_fidelity.py) and by `scripts/judge_vs_plain.py` on model-written programs. It is
no sandbox itself: `launcher` (`sandboxed()`, the judge's own) puts one around it for code nobody has read.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence

from .isolation import HASH_SEED, PYTHON_FLAGS, Launcher, best_launcher, interpreter, popen_kwargs

# Runs in a fresh interpreter, started as the sandbox's is under bubblewrap (its flags, and an environment
# of PYTHONHASHSEED alone, so a set of strings iterates in the same order): reads {"code", "asserts"} as
# JSON on stdin, runs the program as the judge loads it, as the module `solution` (its `if __name__ ==
# "__main__":` block does not run), then each assert in the same namespace, and writes one outcome per
# assert as JSON to its own stdout (what the program prints goes to stderr).
RUNNER = r"""
import json, os, sys
job = json.loads(sys.stdin.read())
out = os.fdopen(os.dup(1), "w")
sys.stdout = sys.stderr
scope = {"__name__": "solution"}
try:
    exec(compile(job["code"], "solution.py", "exec"), scope)
except BaseException as e:
    out.write(json.dumps({"load_error": "%s: %s" % (type(e).__name__, e)}))
    out.flush()
    os._exit(0)
outcomes = []
for i, test in enumerate(job["asserts"]):
    try:
        exec(compile(test, "test_%d.py" % i, "exec"), scope)
    except AssertionError:
        outcomes.append("failed")
    except BaseException:
        outcomes.append("error")
    else:
        outcomes.append("passed")
out.write(json.dumps({"outcomes": outcomes}))
out.flush()
os._exit(0)
"""

PLAIN_ENV = {"PYTHONHASHSEED": HASH_SEED}


def sandboxed() -> Launcher:
    """The judge's own launcher (bubblewrap, else unshare), to run the reference in for code nobody has
    read; SystemExit in one line where this machine has only rlimits, which isolate nothing."""
    launcher = best_launcher()
    if launcher.mode == "rlimits":
        raise SystemExit("the plain-Python reference runs model-written code only in an isolating sandbox")
    return launcher


def run_plain(code: str, asserts: Sequence[str], *, timeout: float, launcher: Launcher | None = None) -> dict:
    """{"outcomes": ["passed" | "failed" | "error", ...]} per assert, {"load_error": "Type: message"} where
    the program does not load, {"timeout": true} past `timeout` seconds, or {"crash": stderr tail} where
    the interpreter died without an answer (a program that ends its process)."""
    payload = json.dumps({"code": code, "asserts": list(asserts)})  # ensure_ascii: lone surrogates survive
    # the judge's own interpreter (3.11.2 ran except* unlike 3.11.7), as the sandbox starts it
    command = launcher.command("-c", RUNNER) if launcher else [interpreter(), *PYTHON_FLAGS, "-c", RUNNER]
    where = popen_kwargs(launcher) if launcher else {"env": PLAIN_ENV}
    try:
        proc = subprocess.run(command, input=payload, capture_output=True, text=True, timeout=timeout, **where)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        return {"crash": proc.stderr[-2000:]}
    return result if isinstance(result, dict) else {"crash": proc.stdout[-2000:]}
