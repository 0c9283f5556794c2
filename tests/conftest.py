from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR = Path(os.environ.get("SELFMINE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "humaneval").exists():
        pytest.skip(f"benchmark data not found at {DATA_DIR} (set SELFMINE_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from selfmine.engine.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_engine(tiny_model):
    from selfmine.engine.hf import HFEngine

    return HFEngine(str(tiny_model), batch_size=8)
