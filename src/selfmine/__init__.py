"""selfmine: a base model mines its own (broken, fixed) code pairs, trains on them, and measures the gain."""

__version__ = "0.1.0"
