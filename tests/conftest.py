"""Shared fixtures: every test gets its own APPRENTICE_HOME; the real embedded model is shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def apprentice_home(tmp_path, monkeypatch) -> Path:
    """Point APPRENTICE_HOME at a fresh temporary directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("APPRENTICE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def local_model():
    """The real embedded model (SmolLM2-135M GGUF through llama.cpp), loaded once."""
    from apprentice.models import load_chat_model

    return load_chat_model("local", max_tokens=128)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip when it is not beside the checkout."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
