"""Scale-out on Ray. It wraps the judge (and the engine) and never changes what a stage computes: the
driver alone writes the ledger, verdicts come back in input order, and a dead node's batch is judged
again elsewhere (an infrastructure failure, never the program's). Ray is an optional extra: importing
selfmine never imports it; `connect(address)` does."""

from __future__ import annotations

RAY_EXTRA = "pip install -e '.[ray]'"


class RayMissing(RuntimeError):
    """Ray was asked for and is not installed. The message is one line for the user."""


def connect(address: str | None) -> bool:
    """Connect to a Ray cluster (`auto`, `ray://host:port`, `local` for a fresh local one) and route every
    `judge_many` without an explicit pool through it. None: nothing happens (local behaviour)."""
    if not address:
        return False
    from .ray_judge import install

    install(address)
    return True
