"""Runs sent as OpenTelemetry traces over OTLP/HTTP to Phoenix, Langfuse, Jaeger or any collector (one span
tree a run: :mod:`apprentice.traces.spans`).

After the fact, ``apprentice traces export --otlp URL`` calls :func:`export_runs`; live, the runner calls
:func:`export_live` as each run finishes, which sends it when APPRENTICE_OTLP_ENDPOINT (or the standard
OTEL_EXPORTER_OTLP_ENDPOINT) is set. The SDK (~90 ms to import) is imported only when something is sent.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from apprentice.errors import ApprenticeError
from apprentice.traces.records import Run
from apprentice.traces.spans import RunTracer

__all__ = ["ENDPOINT_VARS", "OtlpExport", "export_live", "export_runs", "live_endpoint", "shutdown_live",
           "traces_url"]

#: Where live export sends runs; the first one set wins: ours, the standard per-signal URL (taken as it is),
#: the standard base URL.
ENDPOINT_VARS = ("APPRENTICE_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_TRACES_PATH = "/v1/traces"
# one export, retries included, unless OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT says otherwise; live export's is
# shorter, since a process's exit waits for its last batch (a collector that is down costs it ~1 s, once)
_TIMEOUT_S = 5.0
_LIVE_TIMEOUT_S = 2.0
_BATCH = 512  # spans per request after the fact
_EXIT_WAIT_S = 5.0  # at most, for a collector that answers slowly


def traces_url(url: str, *, exact: bool = False) -> str:
    """The OTLP/HTTP traces URL of ``url``: a collector's base URL gets ``/v1/traces`` added; one that ends
    with it already (or any one when ``exact``, as the standard per-signal variable wants) is kept.

    Raises:
        ApprenticeError: ``url`` is not an http(s) URL with a host.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range
        ok = False
    if not ok:
        raise ApprenticeError(f"not an OTLP/HTTP URL: {url!r}; give one like http://127.0.0.1:6006/v1/traces "
                              "(Phoenix) or http://127.0.0.1:4318 (an OpenTelemetry collector)")
    if exact or parts.path.rstrip("/").endswith(_TRACES_PATH):
        return text
    return text.rstrip("/") + _TRACES_PATH


def live_endpoint() -> str | None:
    """The traces URL that live export sends to, from :data:`ENDPOINT_VARS`; None when none is set or
    OTEL_SDK_DISABLED=true.

    Raises:
        ApprenticeError: the variable's value is not an http(s) URL (the message names the variable).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    for name in ENDPOINT_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return traces_url(value, exact=name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            except ApprenticeError as exc:
                raise ApprenticeError(f"{name}: {exc}") from None
    return None


@dataclass
class OtlpExport:
    """What :func:`export_runs` sent, and where."""

    runs: int
    spans: int
    url: str


def export_runs(runs: Iterable[Run], url: str) -> OtlpExport:
    """Send ``runs`` to the OTLP/HTTP endpoint ``url`` now, :data:`_BATCH` spans a request.

    Raises:
        ApprenticeError: ``url`` is not an http(s) URL, or the endpoint cannot be reached or refuses the spans
            (one line: the URL, the reason, and how many runs had gone before).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    url = traces_url(url)
    memory = InMemorySpanExporter()
    tracer = _tracer(SimpleSpanProcessor(memory))
    otlp = OTLPSpanExporter(endpoint=url, timeout=_timeout(_TIMEOUT_S))
    sent = OtlpExport(0, 0, url)
    pending = 0
    try:
        with _EXPORTER_LOG.collecting():
            for run in runs:
                tracer.emit(run)
                pending += 1
                if len(memory.get_finished_spans()) >= _BATCH:
                    _send(otlp, memory, sent, pending)
                    pending = 0
            _send(otlp, memory, sent, pending)
    finally:
        otlp.shutdown()
        tracer.provider.shutdown()
    return sent


def _send(otlp: Any, memory: Any, sent: OtlpExport, runs: int) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = memory.get_finished_spans()
    memory.clear()
    if not spans:
        return
    if otlp.export(spans) is not SpanExportResult.SUCCESS:
        before = f" ({sent.runs} runs were sent before)" if sent.runs else ""
        raise ApprenticeError(f"cannot send traces to {sent.url}: {_EXPORTER_LOG.failure(sent.url)}{before}")
    sent.runs += runs
    sent.spans += len(spans)


def export_live(store: Any, run_id: str) -> None:
    """Send a finished run to the live endpoint, if one is set: the runner calls this as each run ends.

    It never raises and never waits on the network: the spans go to a batch processor that sends them from
    its own thread; a failure is one warning line per endpoint, and the run stays in ``traces.db``.
    """
    url = None
    try:
        url = live_endpoint()
        if url is not None:
            _live_tracer(url).emit(store.get(run_id))
    except Exception as exc:  # noqa: BLE001 - exporting must never fail a run
        _warn_once(url or "the OTLP endpoint", str(exc))


def shutdown_live(timeout_s: float = _EXIT_WAIT_S) -> None:
    """Send what live export still holds (waiting at most ``timeout_s`` for each endpoint) and close it; it
    runs at exit, and the next finished run opens live export again."""
    with _LIVE_LOCK:
        tracers = list(_LIVE.values())
        _LIVE.clear()
    for tracer in tracers:  # the SDK's own shutdown has no time limit that holds: wait on it from here
        closing = threading.Thread(target=tracer.provider.shutdown, name="apprentice-otlp-close", daemon=True)
        closing.start()
        closing.join(timeout_s)


_LIVE: dict[str, RunTracer] = {}
_LIVE_LOCK = threading.Lock()
_WARNED: set[str] = set()


def _live_tracer(url: str) -> RunTracer:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with _LIVE_LOCK:
        if url not in _LIVE:
            _EXPORTER_LOG.live_url = url
            _LIVE[url] = _tracer(BatchSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=_timeout(_LIVE_TIMEOUT_S))))
        return _LIVE[url]


def _tracer(processor: Any) -> RunTracer:
    _EXPORTER_LOG.install()
    return RunTracer(processor)


def _timeout(ours: float) -> float | None:
    """``ours``, shorter than the exporter's 10 s, unless the standard variables set one (the exporter reads them)."""
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") or os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT"):
        return None
    return ours


def _warn_once(url: str, reason: str) -> None:
    if url in _WARNED:
        return
    _WARNED.add(url)
    print(f"warning: runs are not reaching {url}: {reason}; they are still kept in traces.db "
          "(apprentice traces export --otlp URL sends them later)", file=sys.stderr, flush=True)


atexit.register(shutdown_live)


class _ExporterLog(logging.Handler):
    """What the OTLP exporter logs (retries, failures), kept instead of printed: a thread inside
    :meth:`collecting` reads its failure back with :meth:`failure`; a live one becomes one warning line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.live_url = "the OTLP endpoint"
        self._recent: dict[int, list[str]] = {}
        self._failures: dict[int, list[str]] = {}
        self._quiet: set[int] = set()
        self._installed = False

    def emit(self, record: logging.LogRecord) -> None:
        me = threading.get_ident()
        recent = self._recent.setdefault(me, [])
        recent[:] = [*recent[-4:], record.getMessage()]
        if record.levelno < logging.ERROR:  # a retry: it may still go through
            return
        if me in self._quiet:
            self._failures[me] = list(recent)
        else:
            _warn_once(self.live_url, _reason(recent, self.live_url))
        recent.clear()

    def install(self) -> None:
        """Take the exporter's log (once): nothing of it reaches the terminal as log lines or tracebacks."""
        if not self._installed:
            self._installed = True
            logger = logging.getLogger("opentelemetry.exporter.otlp")
            logger.setLevel(logging.WARNING)
            logger.addHandler(self)
            logger.propagate = False

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """This thread's export failures go to :meth:`failure`, not to the terminal."""
        me = threading.get_ident()
        self._quiet.add(me)
        try:
            yield
        finally:
            self._quiet.discard(me)
            self._failures.pop(me, None)

    def failure(self, url: str) -> str:
        """Why this thread's last export to ``url`` failed, in a few words."""
        return _reason(self._failures.pop(threading.get_ident(), []), url)


_EXPORTER_LOG = _ExporterLog()
_HTTP_STATUS = re.compile(r"code: (\d{3}), reason: ([^\n]*)")
_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")


def _reason(messages: list[str], url: str) -> str:
    """``HTTP 404 Not Found``, ``Connection refused``, ...: the exporter's messages in a few words, or, where
    they do not say (a refused connection that was not retried only logs "timeout, max retries or shutdown"),
    what connecting to ``url``'s host and port says."""
    text = " ".join(messages)
    if status := _HTTP_STATUS.search(text):
        return f"HTTP {status[1]} {status[2]}".strip()
    if error := _OS_ERROR.search(text):
        return error[1].strip()
    return _unreachable(url) or (messages[-1][:200] if messages else "the exporter gave no reason")


def _unreachable(url: str) -> str | None:
    """Why nothing answers at the host and port of ``url``; None when something does."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), 2):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
