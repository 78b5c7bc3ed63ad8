"""The command line: a thin layer over the library. Bad input is one ``error:`` line and exit 2."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from apprentice.errors import ApprenticeError

__all__ = ["main", "make_parser", "parse_options", "add_option_flag", "positive_int", "output_file", "COMMANDS"]

#: name -> register(subparsers). Each module of this package registers its command with
#: :func:`command`; :func:`make_parser` imports them all, so a new command is a new file.
COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {}


def command(name: str):
    """Register a parser-building function for the subcommand ``name``."""
    def wrap(fn):
        COMMANDS[name] = fn
        return fn
    return wrap


def add_option_flag(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """``--option KEY=VALUE`` (repeatable), read back with :func:`parse_options`; the help lists each
    strategy's options from its config class."""
    from apprentice.graphs.registry import options_help

    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a strategy setting{scope}, repeatable (samples=5, verifier=rules). {options_help()}. "
                             "A name the strategy does not take, or a bad value, is an error that lists its "
                             "options with their types and defaults")


def add_constrain_flag(parser: argparse.ArgumentParser) -> None:
    """``--constrain auto|off|steps|answer``: grammar-constrained decoding of local models."""
    from apprentice.agents.grammar import CONSTRAIN_MODES

    parser.add_argument("--constrain", choices=CONSTRAIN_MODES, default="auto",
                        help="grammar-constrained decoding for local llama.cpp models: steps = every ReAct step "
                             "well formed (an allowed tool, a calculator expression it reads, an answer in the "
                             "task's format) and solver replies ending in their answer line; answer = answers "
                             "only; off = free text; auto (default) = steps where the engine can")


#: The ``jsonl`` task's options -> (flag, default, help): how a question file of one's own is read.
FIELD_FLAGS = {
    "question_field": ("--question-field", "question", "field with the question"),
    "answer_field": ("--answer-field", "answer", "field with the gold answer, a value or a list of one"),
    "id_field": ("--id-field", "id", "field with the item id (else a hash)"),
    "kind": ("--answer-kind", "text", "how the answers are checked"),
}


def add_field_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of :data:`FIELD_FLAGS`, read back with :func:`field_options`."""
    from apprentice.tasks.jsonl import KINDS

    g = parser.add_argument_group("a question file of your own (--task jsonl)")
    for name, (flag, default, text) in FIELD_FLAGS.items():
        g.add_argument(flag, dest=name, default=default, help=f"{text} (default {default})",
                       choices=KINDS if name == "kind" else None)


def field_options(args: argparse.Namespace) -> dict:
    """The ``jsonl`` task's options from :func:`add_field_flags`."""
    return {name: getattr(args, name) for name in FIELD_FLAGS}


def parse_options(pairs: Sequence[str]) -> dict:
    """``["samples=5", "method=dfs"]`` -> ``{"samples": 5, "method": "dfs"}`` (numbers and
    true/false are converted); a pair without ``=`` is an error."""
    options: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ApprenticeError(f"bad --option {pair!r}; use KEY=VALUE, e.g. --option samples=5")
        text = value.strip()
        converted: object = {"true": True, "false": False}.get(text.lower(), text)
        for kind in (int, float):
            try:
                converted = kind(text)
                break
            except ValueError:
                continue
        options[key.strip().replace("-", "_")] = converted
    return options


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more (``--max-steps -1`` is a mistake, not a request)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def output_file(text: str) -> str:
    """argparse type: a file to write, in a folder that exists (checked before any work is done)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if not path.parent.is_dir():
        missing = "is not a folder" if path.parent.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"cannot write {text}: folder {path.parent} {missing}")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as our one-line ``error:`` and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        raise ApprenticeError(f"{self.prog}: {message}")


def make_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(prog="apprentice", description="Multi-step LLM reasoning that teaches itself.")
    parser.add_argument("--version", action="version", version="apprentice 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    for register in COMMANDS.values():
        register(sub)
    for name in _STORE_COMMANDS:  # every command that reads or writes a store takes it by URL
        sub.choices[name].add_argument(
            "--db", metavar="URL", help="the store of traces, threads and memory (default APPRENTICE_DB, else the "
                                        "home's SQLite files): sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    return parser


@contextlib.contextmanager
def _store_from(url: str | None) -> Iterator[None]:
    """``--db URL`` for the command's length: checked first (one line when malformed), then ``APPRENTICE_DB``, so
    traces, threads, memory and any process the command starts (Ray workers, a server) use that store."""
    if not url:
        yield
        return
    from apprentice.db import store_url

    store_url(url)
    before = os.environ.get("APPRENTICE_DB")
    os.environ["APPRENTICE_DB"] = url
    try:
        yield
    finally:  # main() also runs in-process (tests, notebooks): the caller's environment comes back as it was
        if before is None:
            os.environ.pop("APPRENTICE_DB", None)
        else:
            os.environ["APPRENTICE_DB"] = before


#: The commands that touch a store (``traces`` declares its own ``--db``).
_STORE_COMMANDS = ("ask", "chat", "batch", "serve", "eval", "harvest", "distill")


def _untranslated_user_error(exc: Exception) -> str | None:
    """The message of a mistake in input or environment that no command turned into an
    :class:`ApprenticeError` (text that is not UTF-8, a path that cannot be opened); None for a bug."""
    extra = _EXTRAS.get((getattr(exc, "name", None) or "").split(".")[0]) if isinstance(exc, ImportError) else None
    if extra:
        return (f"this command needs the optional '{extra}' dependencies ({exc.name} is not installed): "
                f"pip install 'apprentice[{extra}]' (make install installs everything)")
    if isinstance(exc, UnicodeEncodeError) and exc.reason == "surrogates not allowed":
        return "text that is not valid UTF-8 (check the terminal's encoding, or the file's)"
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return None


#: Modules of the optional dependency groups (pyproject.toml) -> the extra that installs them.
_EXTRAS = {"trl": "train", "bitsandbytes": "train", "accelerate": "train", "datasets": "train", "ray": "ray",
           "fastapi": "serve", "starlette": "serve", "uvicorn": "serve"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``apprentice`` console script."""
    from apprentice.secrets import redact

    try:
        args = make_parser().parse_args(argv)
        with _store_from(getattr(args, "db", None)):
            return args.func(args)
    except ApprenticeError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)  # an error may quote the input or a server's reply
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, the traceback on request
        message = _untranslated_user_error(exc)
        if message:
            print(f"error: {redact(message)}", file=sys.stderr)
            return ApprenticeError.exit_code
        if os.environ.get("APPRENTICE_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {redact(str(exc))} (set APPRENTICE_DEBUG=1 for a "
              "traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
