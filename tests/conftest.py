from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data in use: the copy shipped in the package unless SELFMINE_DATA_DIR names another."""
    from selfmine.datasets import data_dir as resolve

    return resolve(None)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from selfmine.engine.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_engine(tiny_model):
    from selfmine.engine.hf import HFEngine

    return HFEngine(str(tiny_model), batch_size=8)
