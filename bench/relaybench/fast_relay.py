"""Experiment: a protocol-1 relay whose forwarding path parses nothing.

This is a benchmark prototype, not part of the server, and it stands alone:
it imports nothing from ``p2plab_server``, so that it keeps measuring the
same thing while the server changes. It speaks protocol 1 as the benchmark
uses it (``join`` with a name and a key, ``welcome``, ``joined`` and ``left``
announcements, relayed ``offer``/``answer``/``candidate``/``bye``), and it
relays in one of two ways:

* ``--path forward`` (the default): a relayed frame that starts exactly as
  compact JSON from the client library does, ``{"type":"offer","to":"bob",``,
  is forwarded as bytes. The type and recipient are read from that fixed
  prefix, ``{"type":"offer","from":"alice",`` is written in its place, and the
  rest of the frame passes through untouched: no UTF-8 decoding, no JSON
  parsing, no re-encoding. Any other frame takes the parse path.
* ``--path splice``: every frame is parsed and checked as the p2plab server
  does, but a valid relayed frame that starts with that prefix is not
  re-encoded: the same splice as above is made on the bytes it came in.
  Parsing has already refused any frame with a ``from`` or ``id`` field, or
  with text that is not UTF-8, so this keeps every check the server makes;
* ``--path parse``: every frame is decoded, parsed, checked and re-encoded,
  as the p2plab server does.

``--lean`` tries two ways to hold less memory per connection: it forgets the
handshake's HTTP headers once the connection is open (websockets keeps the
request and response for the connection's life) and turns off websockets'
keepalive, which runs one task per connection; a server that did this would
need one task that pings every connection in turn instead.

What the forward path gives up, and why the benchmark only measures it:

* the rest of the frame is not validated: a client can send its recipient
  malformed JSON, invalid UTF-8 in a text frame, or fields the protocol
  refuses, where the parse path answers with an error;
* a frame that holds the key ``"from"`` or ``"id"`` anywhere takes the parse
  path, since forwarding it verbatim could let a client forge the sender
  (JSON decoders keep the last of two equal keys).

Run it as ``python -m relaybench.fast_relay --port P`` with bench/ on the
path; the benchmark does that itself.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import signal
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["Relay"]

MAX_FRAME = 64 * 1024
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
RELAYED = {"offer": ("sdp",), "answer": ("sdp",), "bye": ()}
RELAYED["candidate"] = ("candidate", "sdpMid", "sdpMLineIndex")

# The prefix compact JSON gives every relayed request.
FAST_PREFIX = re.compile(
    rb'\{"type":"(offer|answer|candidate|bye)","to":"'
    rb'([A-Za-z0-9][A-Za-z0-9_.-]{0,31})",'
)


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def _splice(frame: bytes, msg: dict[str, Any], sender: str) -> bytes | None:
    """Rewrite a parsed, valid relay frame's prefix; None if it has another shape.

    A repeated key would make the text say one thing and the parsed request
    another, so the prefix must agree with what was parsed and ``"to"`` may
    not appear again.
    """
    match = FAST_PREFIX.match(frame)
    if match is None or match[1].decode() != msg["type"]:
        return None
    rest = frame[match.end() :]
    if match[2].decode() != msg["to"] or b'"to"' in rest:
        return None
    return b'{"type":"' + match[1] + b'","from":"' + sender.encode() + b'",' + rest


class Relay:
    """A minimal protocol-1 relay with a choice of forwarding path."""

    def __init__(self, path: str, lean: bool = False) -> None:
        self.forward = path == "forward"
        self.splice = path in ("forward", "splice")
        self.lean = lean
        self.online: dict[str, ServerConnection] = {}

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one client until it closes."""
        name: str | None = None
        tag = b""
        if self.lean and ws.request is not None and ws.response is not None:
            ws.request.headers.clear()
            ws.response.headers.clear()
        try:
            while True:
                frame = await ws.recv(decode=False)
                if tag and self.forward and await self._forward(tag, frame):
                    continue
                try:
                    msg = json.loads(frame)
                except ValueError:
                    await self._error(ws, "bad-json")
                    continue
                if name is None:
                    name = await self._join(ws, msg)
                    tag = b"" if name is None else name.encode()
                else:
                    await self._relay(ws, name, msg, frame)
        except ConnectionClosed:
            pass
        finally:
            if name is not None and self.online.get(name) is ws:
                del self.online[name]
                broadcast(self.online.values(), _encode({"type": "left", "name": name}))

    async def _join(self, ws: ServerConnection, msg: Any) -> str | None:
        name, key = msg.get("name"), msg.get("key")
        if msg.get("type") != "join" or not isinstance(key, str):
            await self._error(ws, "not-joined")
            return None
        if not isinstance(name, str) or not NAME.fullmatch(name) or name in self.online:
            await self._error(ws, "bad-field")
            return None
        peers = sorted(self.online)
        others = list(self.online.values())
        self.online[name] = ws
        await ws.send(_encode({"type": "welcome", "name": name, "peers": peers}))
        digest = hashlib.sha256(key.encode()).hexdigest()
        joined = {"type": "joined", "name": name, "key": key, "fingerprint": digest}
        broadcast(others, _encode(joined))
        return name

    async def _relay(
        self, ws: ServerConnection, sender: str, msg: Any, frame: bytes
    ) -> None:
        kind = msg.get("type")
        fields = RELAYED.get(kind) if isinstance(kind, str) else None
        target = self.online.get(msg.get("to", ""))
        if fields is None or set(msg) != {"type", "to", *fields}:
            await self._error(ws, "bad-field")
        elif target is None or target is ws:
            await self._error(ws, "unknown-peer")
        elif self.splice and (spliced := _splice(frame, msg, sender)) is not None:
            await target.send(spliced, text=True)
        else:
            out = {"type": kind, "from": sender}
            out.update((field, msg[field]) for field in fields)
            await target.send(_encode(out))

    async def _forward(self, tag: bytes, frame: bytes) -> bool:
        """Forward ``frame`` unparsed; False if it needs the parse path."""
        match = FAST_PREFIX.match(frame)
        if match is None or len(frame) > MAX_FRAME:
            return False
        rest = frame[match.end() :]
        if b'"from"' in rest or b'"id"' in rest or match[2] == tag:
            return False
        target = self.online.get(match[2].decode())
        if target is None:
            return False  # the parse path answers with the error
        out = b'{"type":"' + match[1] + b'","from":"' + tag + b'",' + rest
        try:
            await target.send(out, text=True)
        except ConnectionClosed:
            return False
        return True

    async def _error(self, ws: ServerConnection, code: str) -> None:
        await ws.send(_encode({"type": "error", "code": code, "message": code}))


async def _serve(port: int, path: str, lean: bool) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    relay = Relay(path, lean)
    async with serve(
        relay.handle,
        "127.0.0.1",
        port,
        compression=None,
        max_size=16 * MAX_FRAME,
        ping_interval=None if lean else 20,
    ):
        print(f"relay prototype listening on ws://127.0.0.1:{port}", flush=True)
        await stop


def main() -> None:
    """Run the prototype on 127.0.0.1 until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="relay-path prototype")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--path", choices=["forward", "splice", "parse"], default="forward"
    )
    parser.add_argument("--lean", action="store_true")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.path, args.lean))


if __name__ == "__main__":
    main()
