"""Serve any model spec as an OpenAI-compatible chat-completions endpoint (``apprentice serve``)."""

from apprentice.serve.app import create_app, served_name
from apprentice.serve.server import check_bind, is_loopback, listen, remote_warning, serve

__all__ = ["check_bind", "create_app", "is_loopback", "listen", "remote_warning", "serve", "served_name"]
