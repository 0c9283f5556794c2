"""Where selfmine keeps what it downloads or converts ($SELFMINE_HOME), and whether the model hub answers.
Shared by the engine (models) and datasets (benchmarks from the hub)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse


def selfmine_home() -> Path:
    return Path(os.environ.get("SELFMINE_HOME", Path.home() / ".cache" / "selfmine")).expanduser()


def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False
