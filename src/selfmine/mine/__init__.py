"""Self-mining: propose -> solve -> judge -> pair, one file per step, meeting in the ledger."""

from .loop import format_stats, mine
from .loop import settings as mining_settings

__all__ = ["format_stats", "mine", "mining_settings"]
