"""Issue 35's faults, found by attacking the product as a hostile user would: each case here hung, leaked
or ended as ``internal error:`` before, and is now bounded, refused, or one clear ``error:`` line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APPRENTICE = Path(sys.executable).with_name("apprentice")


def cli(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """Run the installed console script with the test's APPRENTICE_HOME; a hang fails the test."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return subprocess.run([str(APPRENTICE), *args], capture_output=True, text=True, env=env, timeout=timeout)


def assert_one_error_line(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


# -- the calculator finishes on any input ---------------------------------------------------------


def test_a_huge_literal_through_the_console_script_is_one_quick_error_line():
    done = cli("tool", "calculator", "1e999999999", timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    assert_one_error_line(done.stderr, 'cannot evaluate "1e999999999": number literal with an exponent beyond 4000')
