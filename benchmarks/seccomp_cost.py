"""What installing the judge's seccomp filter costs a freshly forked process (the judge installs it in both
of a program's processes). Baseline: the same fork, no_new_privs set, no filter; a 2-instruction filter
shows how much of the cost is fixed (the kernel compiles and later frees every filter it is given).
Prints the CPU per process of each and the ratio last.

    python benchmarks/seccomp_cost.py [--forks 300]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src" / "selfmine" / "sandbox"))
import worker  # noqa: E402  (the sandbox's worker is a standalone script)

TINY = worker._assemble([(0x20, 0, None, None), (0x06, worker.SECCOMP_RET_ALLOW, None, None)])
TINY_FILTER = (worker._SockFilter * len(TINY))(*[worker._SockFilter(*c) for c in TINY])


def tiny() -> None:
    prog = worker._SockFprog(len(TINY_FILTER), ctypes.cast(TINY_FILTER, ctypes.POINTER(worker._SockFilter)))
    worker._LIBC.prctl(worker.PR_SET_SECCOMP, worker.SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0)


def per_fork(install, forks: int) -> float:
    """CPU microseconds of one forked child that sets no_new_privs, runs `install`, and exits."""
    before = os.times()
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            worker._prctl(worker.PR_SET_NO_NEW_PRIVS, 1)
            if install:
                install()
            os._exit(0)
        os.waitpid(pid, 0)
    after = os.times()
    used = after.children_user + after.children_system - before.children_user - before.children_system
    return used / forks * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forks", type=int, default=300)
    args = ap.parse_args()
    if not worker.SECCOMP_ARCH:
        sys.exit("the judge's filter exists for x86_64 only")
    cases = {"no filter": None, "2-instruction filter": tiny, "the judge's filter": worker._install_seccomp}
    per_fork(None, 20)  # warm-up
    got = {name: min(per_fork(f, args.forks) for _ in range(2)) for name, f in cases.items()}
    for name, us in got.items():
        print(f"{name:22s} {us:7.0f} us of CPU per forked process")
    judge = got["the judge's filter"]
    print(f"ratio (judge's filter / no filter): {judge / got['no filter']:.2f}x")


if __name__ == "__main__":
    main()
