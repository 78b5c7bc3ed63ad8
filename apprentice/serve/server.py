"""Running the app: the loopback-by-default bind policy and uvicorn."""

from __future__ import annotations

import ipaddress
import sys

from apprentice.errors import ApprenticeError

__all__ = ["check_bind", "is_loopback", "serve"]


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


def serve(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    name: str | None = None,
    allow_remote: bool = False,
    log_level: str = "info",
) -> None:
    """Load ``model`` and serve it until interrupted (blocking)."""
    check_bind(host, api_key, allow_remote)
    if not 0 < port < 65536:
        raise ApprenticeError(f"--port must be between 1 and 65535, got {port}")
    import uvicorn

    from apprentice.serve.app import create_app

    app = create_app(model, name=name, api_key=api_key)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {model} as {app.state.served_name!r} on http://{shown}:{port}/v1"
          f"{' (API key required)' if api_key else ''}", file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    except OSError as exc:
        raise ApprenticeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
