"""`apprentice chat`: the Textual chat UI (the main job)."""

from __future__ import annotations

import argparse

from apprentice.cli import add_option_flag, command, parse_options


def _cmd_chat(args: argparse.Namespace) -> int:
    from apprentice.models import parse_spec
    from apprentice.tui import run_chat
    from apprentice.tui.sessions import SessionStore

    if args.model is not None:
        parse_spec(args.model)  # a malformed spec or option is one error line, before the screen opens
    from apprentice.graphs.registry import options_for

    options = parse_options(args.option)
    options_for(args.strategy, options)  # options no strategy takes, or bad values, fail here, not at a turn
    sessions = SessionStore()
    sessions.list()  # so is a damaged or unwritable threads.db (the screen would show a traceback)
    sessions.close()
    return run_chat(args.model, args.strategy, options)


@command("chat")
def _chat_parser(sub) -> None:
    from apprentice.graphs import STRATEGIES

    p = sub.add_parser("chat", help="open the chat UI (threads, live reasoning steps, model switching)")
    p.add_argument("--model", default=None,
                   help="model spec (default: student, the trained student shipped with apprentice, where this "
                        "install has one, else local, the embedded base model; ctrl+b switches between them)")
    p.add_argument("--strategy", default="react", choices=list(STRATEGIES),
                   help="reasoning strategy (switch any time with ctrl+t)")
    add_option_flag(p, " for every turn")
    p.set_defaults(func=_cmd_chat)
