"""The run report: HTML (self-contained) and markdown."""

from .build import build_report

__all__ = ["build_report"]
