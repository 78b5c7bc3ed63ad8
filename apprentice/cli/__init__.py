"""The command line: a thin layer over the library. Bad input is one ``error:`` line and exit 2."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence

from apprentice.errors import ApprenticeError

__all__ = ["main", "make_parser", "parse_options", "add_option_flag", "COMMANDS"]

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
    """``--option KEY=VALUE`` (repeatable), read back with :func:`parse_options`."""
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a strategy setting{scope}, repeatable: samples=5, verifier=rules, breadth=3, "
                             "method=dfs, ...")


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``apprentice`` console script."""
    try:
        args = make_parser().parse_args(argv)
        return args.func(args)
    except ApprenticeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("APPRENTICE_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} (set APPRENTICE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
