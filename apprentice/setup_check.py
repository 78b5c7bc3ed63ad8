"""Run by ``make install``: fail the set-up early, in one line, if a core piece did not install."""

from __future__ import annotations

import sys

from apprentice.errors import ApprenticeError
from apprentice.models import embedded_model_path

__all__ = ["main"]


def main() -> int:
    """Check the embedded model and the compiled engine are importable and present."""
    try:
        path = embedded_model_path()
        import llama_cpp  # noqa: F401  (compiled at install time)
        import torch
    except (ApprenticeError, ImportError) as exc:
        print(f"error: set-up incomplete: {exc}", file=sys.stderr)
        return 1
    print(f"apprentice ready: embedded model {path.name}, llama.cpp {llama_cpp.__version__}, torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
