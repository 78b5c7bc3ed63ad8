"""An OTLP/HTTP traces endpoint on 127.0.0.1 for tests and benchmarks: the standard library's HTTP server decoding
each ``POST /v1/traces`` protobuf body with opentelemetry-proto's ExportTraceServiceRequest, as a collector does;
any other path or content type is a 404. A subclass takes each decoded request in :meth:`OTLPReceiver.take`."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OTLPReceiver"]


class OTLPReceiver(ABC):
    """Listens on a free loopback port from construction until :meth:`close`; ``base_url`` is the collector's
    base (``http://127.0.0.1:PORT``), ``traces_url`` its ``/v1/traces`` endpoint."""

    def __init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
                    self.send_error(404)
                    return
                started = time.thread_time()
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.take(request, body, time.thread_time() - started)  # before the reply: a flush waits for it
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                """Quiet: a test's or a benchmark's output is not the place for an access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.traces_url = self.base_url + "/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @abstractmethod
    def take(self, request: ExportTraceServiceRequest, body: bytes, decode_cpu_s: float) -> None:
        """One decoded export request (its raw body, the CPU seconds decoding it took)."""

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
