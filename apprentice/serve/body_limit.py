"""A cap on request bodies, enforced as the bytes arrive: a declared ``Content-Length`` over the cap is
refused before a byte of the body is read, and a chunked body is cut off as soon as it passes the cap.
Either way the answer is a 413 in OpenAI's error shape, and the server never holds more than the cap
(uvicorn stops reading a body nobody consumes past 64 KB, and discards what follows a response)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apprentice.serve.protocol import error_body

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """A request body past the cap. An ``HTTPException``, so FastAPI's body reading passes it on to the
    app's error handler unchanged (any other error there becomes a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: this server accepts at most {limit} bytes")


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen, started = 0, False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The rest of the body, if the client sends it, is discarded by the server as it arrives; closing
        # instead would reset the connection under a client still sending, which then never sees the 413.
        response = JSONResponse(error_body(BodyTooLarge(self.max_bytes).detail, code="request_too_large"),
                                status_code=413)
        await response(scope, receive, send)
