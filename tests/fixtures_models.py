"""Costly model fixtures shared by the model tests: the HF conversion of the embedded GGUF and a
real OpenAI-compatible server (llama-cpp-python's) on it. Import the fixtures into a test module."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from apprentice.models import embedded_model_path

__all__ = ["free_port", "hf_home", "hf_folder", "local_1t", "openai_server", "wait_for_server"]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def local_1t():
    """The embedded model through llama.cpp on one thread (its own instance: n_ctx 2048).

    The test machine is shared and oversubscribed; there llama.cpp's spinning worker threads make
    two threads 15-60x slower than one (measured: 64 tokens in 2.3 s on one thread, 33-135 s on two).
    """
    from apprentice.models import load_chat_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPRENTICE_THREADS", "1")
        return load_chat_model("local", n_ctx=2048, max_tokens=64)


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    """An APPRENTICE_HOME kept for the whole module, so the converted model is reused."""
    return tmp_path_factory.mktemp("hf-home")


@pytest.fixture(scope="module")
def hf_folder(hf_home) -> Path:
    """The embedded GGUF converted once (~25 s) to a safetensors folder under ``hf_home``."""
    from apprentice.backends.hf import hf_base_from_gguf

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPRENTICE_HOME", str(hf_home))
        return hf_base_from_gguf(embedded_model_path())


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    """Poll ``url`` until it answers; fail with the server's log if it dies or never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no answer from {url} in {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def openai_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on the embedded GGUF; yields its base URL.

    One thread: on a shared, oversubscribed CPU llama.cpp's spinning worker threads slow down
    many times over, and one thread is what a 2-core test machine can give it anyway.
    """
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = open(log, "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()), "--port", str(port),
         "--host", "127.0.0.1", "--n_ctx", "2048", "--n_threads", "1"],
        stdout=out, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_server(base + "/models", proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
