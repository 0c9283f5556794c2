"""The study's one error, apart from run.py so that the arms on Ray (on_ray.py) raise it without
importing run.py back (run.py calls them)."""

from __future__ import annotations

from ..errors import UserError


class StudyError(UserError, RuntimeError):
    pass
