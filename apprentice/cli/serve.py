"""`apprentice serve`: any model spec as an OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import argparse
import os

from apprentice.cli import command


def _cmd_serve(args: argparse.Namespace) -> int:
    from apprentice.serve import serve

    serve(args.model, host=args.host, port=args.port, api_key=args.api_key or None, name=args.name,
          allow_remote=args.allow_remote, log_level=args.log_level)
    return 0


@command("serve")
def _serve_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="serve a model as an OpenAI-compatible endpoint",
        description="Serve a model spec (local, local:PATH, adapter:NAME, openai:...) at /v1/chat/completions "
                    "and /v1/models. Clients: openai:NAME@http://HOST:PORT/v1, or the official OpenAI client.",
    )
    p.add_argument("--model", default="local", help="model spec (default: local, the embedded model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--api-key", default=os.environ.get("APPRENTICE_API_KEY"),
                   help="require 'Authorization: Bearer KEY'. Prefer the APPRENTICE_API_KEY environment "
                        "variable, the default: a key on the command line is visible to every user in ps")
    p.add_argument("--name", help="model id clients ask for (default: from the spec, e.g. the adapter name)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host without --api-key")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=_cmd_serve)
