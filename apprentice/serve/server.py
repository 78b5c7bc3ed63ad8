"""Running the app: the loopback-by-default bind policy and uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Sequence

from apprentice.errors import ApprenticeError
from apprentice.serve.app import SERVER_TOOLS, create_app

__all__ = ["check_bind", "is_loopback", "listen", "remote_warning", "serve"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None, allow_remote: bool = False) -> None:
    """Refuse to listen beyond this machine without a key, unless ``allow_remote`` says so.

    Raises:
        ApprenticeError: ``host`` is not loopback, no ``api_key`` and no ``allow_remote``.
    """
    if not is_loopback(host) and not api_key and not allow_remote:
        raise ApprenticeError(
            f"refusing to serve on {host} without --api-key (anyone on the network could use the model); "
            "pass --api-key KEY, or --allow-remote to serve without one"
        )


def remote_warning(host: str, api_key: str | None) -> str | None:
    """The warning line for a bind beyond this machine: without a key anyone may use the model; with
    one, the key and every conversation still cross the network in plain HTTP."""
    if is_loopback(host):
        return None
    if not api_key:
        return (f"warning: serving on {host} without an API key: anyone who can reach this port can use "
                "the model")
    return (f"warning: serving on {host} over plain HTTP: the API key and every conversation cross the "
            "network unencrypted; put a TLS-terminating proxy in front beyond a trusted network")


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, made before the model loads or anything is printed, so a
    busy port or a bad address is one ``error:`` line.

    Raises:
        ApprenticeError: the address cannot be bound.
    """
    if not 0 < port < 65536:
        raise ApprenticeError(f"--port must be between 1 and 65535, got {port}")
    address = host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)  # as uvicorn chooses
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        sock.bind((address, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ApprenticeError(f"cannot listen on {host}:{port}: {(exc.strerror or str(exc)).lower()}") from None
    return sock


def serve(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    name: str | None = None,
    allow_remote: bool = False,
    log_level: str = "info",
    tools: Sequence[str] = SERVER_TOOLS,
) -> None:
    """Load ``model`` and serve it (and each strategy over it, with ``tools``) until interrupted (blocking).

    Raises:
        ApprenticeError: a refused bind (see :func:`check_bind`), a busy port, a model that fails to load.
    """
    check_bind(host, api_key, allow_remote)
    sock = listen(host, port)
    import uvicorn

    try:
        app = create_app(model, name=name, api_key=api_key, tools=tools)
        if warning := remote_warning(host, api_key):
            print(warning, file=sys.stderr, flush=True)
        shown = f"[{host}]" if ":" in host else host
        print(f"serving {model} as {app.state.served_name!r} on http://{shown}:{port}/v1"
              f"{' (API key required)' if api_key else ''}", file=sys.stderr, flush=True)
        # a stream still open 10 s after SIGTERM is cut off (and its generation cancelled)
        config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=10)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
