"""The health report, as a ``health`` message and as ``GET /health``.

A teacher, a monitoring probe or a load balancer can ask the server how it is
without speaking the protocol: a plain HTTP ``GET /health`` on the server's
own port answers with the report as JSON, and closes. A client already
connected can send ``{"type": "health"}`` and gets the same report as a
message. The report holds counts only, never a name, a room or a key.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .protocol import PROTOCOL_VERSION, encode

__all__ = ["HEALTH_PATH", "HealthEndpoint", "report"]

#: The HTTP path of the health report. Every other path opens a WebSocket.
HEALTH_PATH = "/health"


def report(rooms: int, users: int, uptime: float) -> dict[str, Any]:
    """Build the ``health`` message.

    Args:
        rooms: Rooms with at least one user online.
        users: Users online, all rooms together.
        uptime: Seconds since the server started.
    """
    return {
        "type": "health",
        "version": PROTOCOL_VERSION,
        "rooms": rooms,
        "users": users,
        "uptime": round(uptime, 1),
    }


class HealthEndpoint:
    """Answer ``GET /health`` during the opening handshake; let the rest through.

    Args:
        current: Returns the report at the time of the request.

    An instance is called with each handshake request, before the WebSocket
    handshake is accepted::

        response = endpoint(request)  # a Response for /health, else None
    """

    def __init__(self, current: Callable[[], dict[str, Any]]) -> None:
        self.current = current

    def __call__(self, request: Request) -> Response | None:
        """Answer ``/health`` with the report; None lets a WebSocket handshake on."""
        if urlsplit(request.path).path != HEALTH_PATH:
            return None
        body = encode(self.current()).encode()
        headers = Headers(
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("Connection", "close"),
            ]
        )
        return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, body)
