"""Ray itself, imported only when asked for: the one-line error when the extra is missing, and one
connection per process. Apart from the package's `__init__` so the judge's and the engine's actors
(ray_judge.py, ray_engine.py) reach it without importing their own package back."""

from __future__ import annotations

from ..errors import UserError

RAY_EXTRA = "pip install -e '.[ray]'"


class RayMissing(UserError, RuntimeError):
    """Ray was asked for and is not installed. The message is one line for the user."""


def ray_module():
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--ray-address needs Ray, an optional extra: {RAY_EXTRA}") from None
    return ray


def ray_init(address: str):
    """Ray, connected to `address` (`local` starts a fresh local cluster); once per process."""
    ray = ray_module()
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        ray.init(**kwargs) if address == "local" else ray.init(address=address, **kwargs)
    return ray
