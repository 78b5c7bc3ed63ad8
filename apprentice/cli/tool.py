"""`apprentice tool NAME INPUT`: run one tool by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from apprentice.cli import command


def _cmd_tool(args: argparse.Namespace) -> int:
    from apprentice.tools import ToolContext, run_tool

    context = ToolContext(docs_dir=Path(args.docs) if args.docs else None)
    print(run_tool(args.name, " ".join(args.input), context))
    return 0


@command("tool")
def _tool_parser(sub) -> None:
    from apprentice.tools import TOOL_NAMES

    p = sub.add_parser("tool", help="run one tool by hand")
    p.add_argument("name", choices=list(TOOL_NAMES))
    p.add_argument("input", nargs="+", help="the tool's input")
    p.add_argument("--docs", help="folder of documents for the retrieve tool")
    p.set_defaults(func=_cmd_tool)
