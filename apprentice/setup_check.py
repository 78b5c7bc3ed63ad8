"""Run by ``make install``: fail the set-up early, in one line, if a core piece did not install."""

from __future__ import annotations

import subprocess
import sys

from apprentice.errors import ApprenticeError
from apprentice.models import embedded_model_path

__all__ = ["main"]


#: Decodes a few tokens of the embedded model in a child process: a llama.cpp build whose kernels crash on this
#: CPU (its AMX kernels on virtualized Sapphire Rapids) is found here, not as a segfault in the first chat.
_DECODE = (
    "import sys, llama_cpp\n"
    "llm = llama_cpp.Llama(sys.argv[1], n_ctx=256, n_threads=1, verbose=False)\n"
    "tokens = llm.tokenize(b'<|im_start|>user\\nWhat is 2+3?<|im_end|>\\n<|im_start|>assistant\\n', special=True)\n"
    "print(llm.create_completion(tokens, max_tokens=4, temperature=0)['choices'][0]['text'])\n"
)


def decode_check(path: str) -> str | None:
    """None when llama.cpp decodes the embedded model, else what went wrong in one line."""
    try:
        done = subprocess.run([sys.executable, "-c", _DECODE, path], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "llama.cpp did not finish decoding 4 tokens of the embedded model in 300 s"
    if done.returncode:
        how = f"crashed with signal {-done.returncode}" if done.returncode < 0 else f"exited {done.returncode}"
        tail = "".join(f" ({line})" for line in done.stderr.strip().splitlines()[-1:])
        return (f"llama.cpp {how} decoding the embedded model{tail}; rebuild llama-cpp-python for this CPU: "
                f"rm -rf ~/.cache/apprentice/wheels .venv && make install")
    return None


def main() -> int:
    """Check the embedded model and the compiled engine are importable, present, and decode."""
    try:
        path = embedded_model_path()
        import llama_cpp  # noqa: F401  (compiled at install time)
        import torch
    except (ApprenticeError, ImportError) as exc:
        print(f"error: set-up incomplete: {exc}", file=sys.stderr)
        return 1
    problem = decode_check(str(path))
    if problem:
        print(f"error: set-up incomplete: {problem}", file=sys.stderr)
        return 1
    print(f"apprentice ready: embedded model {path.name}, llama.cpp {llama_cpp.__version__}, torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
