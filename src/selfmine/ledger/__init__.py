"""The run's ledger: one SQLite file in the run directory, the only state stages share."""

from .records import MINED_KINDS, Attempt, Pair, PairView, Problem
from .store import Ledger, RunDirBusy, run_dir_lock

__all__ = ["MINED_KINDS", "Attempt", "Ledger", "Pair", "PairView", "Problem", "RunDirBusy", "run_dir_lock"]
