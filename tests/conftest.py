"""Shared fixtures: every test gets its own APPRENTICE_HOME; the real embedded model is shared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One llama.cpp/torch thread: two spinning threads collapse when anything else shares the 2 cores.
os.environ.setdefault("APPRENTICE_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def converted_models(tmp_path_factory):
    """One cache of converted base models for the whole session (the GGUF->safetensors
    conversion takes 25-40 s); each test still has its own APPRENTICE_HOME."""
    if "APPRENTICE_MODELS" not in os.environ:
        os.environ["APPRENTICE_MODELS"] = str(tmp_path_factory.mktemp("models"))
    return Path(os.environ["APPRENTICE_MODELS"])


@pytest.fixture(autouse=True)
def apprentice_home(tmp_path, monkeypatch) -> Path:
    """Point APPRENTICE_HOME at a fresh temporary directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("APPRENTICE_HOME", str(home))
    return home


@pytest.fixture
def register_adapter_x(apprentice_home):
    """``register(created_at, prompt="student")``: the registry entry ``x`` as resume keys read it (its record, and
    files where weights would be, not a model); called again, ``x`` trained again under its name."""
    folder = apprentice_home / "adapters" / "x"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"w")
    (folder / "adapter_config.json").write_text("{}")

    def register(created_at: float, prompt: str = "student") -> None:
        (folder / "apprentice.json").write_text(json.dumps({"name": "x", "base": "local", "kind": "sft",
                                                            "created_at": created_at, "react_prompt": prompt}))

    return register


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


@pytest.fixture
def serve_app():
    """Start ``create_app(...)`` under uvicorn on a free loopback port; returns the /v1 URL."""
    import threading
    import time

    import uvicorn

    from apprentice.serve import create_app

    servers = []

    def start(model, **kwargs) -> str:
        server = uvicorn.Server(uvicorn.Config(create_app(model, **kwargs), host="127.0.0.1", port=0,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def the_users_home_is_left_alone():
    """No test trains into the real default home (a test that undid its monkeypatches once trained an adapter
    there): what the session adds to its adapters, datasets or training runs fails it. (Its stores are left out
    of the check: the user may be chatting while the tests run.)"""
    home = Path("~/.local/share/apprentice").expanduser()

    def entries() -> set[Path]:
        return {p for sub in ("adapters", "datasets", "runs") for p in (home / sub).glob("*")}
    before = entries()
    yield
    added = sorted(str(p) for p in entries() - before)
    assert not added, f"tests wrote into the user's home: {added[:5]}"
