"""Moved: judging code benchmark samples is the code domain's, in `tasks/code_score.py`. These names stay
importable from here for code written against the old place."""

from ..tasks.code_score import MAX_TIMEOUT_S, _job, canonical_check, score, time_limits

__all__ = ["MAX_TIMEOUT_S", "_job", "canonical_check", "score", "time_limits"]
