"""The run's ledger: one SQLite file in the run directory, the only state stages share."""

from .records import Attempt, Pair, PairView, Problem
from .store import Ledger

__all__ = ["Attempt", "Ledger", "Pair", "PairView", "Problem"]
