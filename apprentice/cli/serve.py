"""`apprentice serve`: any model spec as an OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import argparse
import os

from apprentice.cli import command


def _cmd_serve(args: argparse.Namespace) -> int:
    from apprentice.errors import ApprenticeError
    from apprentice.serve import serve
    from apprentice.tools import TOOL_NAMES

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if unknown := [t for t in tools if t not in TOOL_NAMES]:  # one error line before the model loads
        raise ApprenticeError(f"unknown tool '{unknown[0]}' in --tools; choose from: {', '.join(TOOL_NAMES)}")
    serve(args.model, host=args.host, port=args.port, api_key=args.api_key or None, name=args.name,
          allow_remote=args.allow_remote, log_level=args.log_level, tools=tools)
    return 0


@command("serve")
def _serve_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="serve a model as an OpenAI-compatible endpoint",
        description="Serve a model spec (local, local:PATH, adapter:NAME, openai:...) at /v1/chat/completions "
                    "and /v1/models. Clients: openai:NAME@http://HOST:PORT/v1, or the official OpenAI client. "
                    "Requests with 'tools' get OpenAI tool calls (the model writes them in the ReAct text "
                    "protocol); the model id NAME+STRATEGY (e.g. student+react) runs that strategy here with "
                    "the server's --tools and returns its answer with the run's trace id.",
    )
    p.add_argument("--model", default="local", help="model spec (default: local, the embedded model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--api-key", default=os.environ.get("APPRENTICE_API_KEY"),
                   help="require 'Authorization: Bearer KEY'. Prefer the APPRENTICE_API_KEY environment "
                        "variable, the default: a key on the command line is visible to every user in ps")
    p.add_argument("--name", help="model id clients ask for (default: from the spec, e.g. the adapter name)")
    p.add_argument("--tools", default="calculator",
                   help="comma-separated tools that NAME+STRATEGY models run with (default: calculator; "
                        "web_search reaches the network, remember/recall/retrieve this user's data)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host without --api-key")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=_cmd_serve)
