"""The scripted OpenAI-compatible server of the tests, runnable for benchmarks: a fixed latency per call.

    python benchmarks/fake_openai.py --latency 0.5      # prints its port, serves until killed

The implementation lives in ``tests/fake_openai_server.py`` (one copy for tests and benchmarks).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_openai_server import FakeOpenAIServer, main, reply_for, start_server  # noqa: E402

__all__ = ["FakeOpenAIServer", "main", "reply_for", "start_server"]

if __name__ == "__main__":
    main()
