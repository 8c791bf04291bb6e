"""What the benchmark clients say to each server, and how they read replies.

Both servers relay the same thing: an SDP offer (or answer) of about 2 KB
from one named client to another. The sequence number and send time of each
message ride inside the SDP's ``o=`` line, where a real SDP carries its
session id and version, so neither server sees a field it would not see in
real use. Frames are built by pasting those two numbers between a prefix and
a suffix that are JSON-encoded once per client, so that building a frame costs
the load generator next to nothing.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["DIALECTS", "Dialect", "Received", "sdp_template"]

# Stands where the sequence number and timestamp go; JSON leaves it unchanged.
MARK = "@SEQ_TS@"

# A stand-in for a base64 SPKI DER RSA-2048 public key in protocol-1 joins:
# the same length (294 bytes of DER) and first byte as a real one, which is
# all a protocol-1 server checks. Protocol 2 verifies the key and a signature,
# so those joins use a real key (see signed_join).
FAKE_KEY = base64.b64encode(bytes([0x30, 0x82, 0x01, 0x22]) + bytes(290)).decode()


def sdp_template(size: int = 1800) -> str:
    """Return a data-channel SDP offer of about ``size`` characters.

    It has the lines an aiortc offer has, with enough host candidates to
    reach the size, and :data:`MARK` in its ``o=`` line.
    """
    head = [
        "v=0",
        f"o=- {MARK} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic:WMS *",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=sctp-port:5000",
        "a=max-message-size:65536",
    ]
    tail = [
        "a=end-of-candidates",
        "a=ice-ufrag:q7Xm",
        "a=ice-pwd:3vKp9sLq2WnZr8TbYc4HdJf6",
        "a=fingerprint:sha-256 "
        + ":".join(f"{(i * 73 + 11) % 256:02X}" for i in range(32)),
        "a=setup:actpass",
    ]
    candidates: list[str] = []
    while len("\r\n".join(head + candidates + tail)) < size:
        i = len(candidates)
        candidates.append(
            f"a=candidate:{7351 + i * 97} 1 udp {2130706431 - i * 256} "
            f"127.0.0.1 {40000 + i * 13} typ host"
        )
    return "\r\n".join(head + candidates + tail) + "\r\n"


@dataclass(frozen=True)
class Received:
    """One relayed message as the receiving client read it."""

    sender: str
    seq: int
    sent_ns: int


@functools.cache
def _signing_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed_join(challenge: str, name: str) -> dict[str, str]:
    """Return the fields a protocol-2 join adds: room, key, challenge, signature.

    The bytes signed come from the server package's own
    ``p2plab_server.proof.signed_message``, so this follows the protocol as
    that package defines it. One RSA key serves every benchmark client.
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from p2plab_server.proof import signed_message
    from p2plab_server.protocol import DEFAULT_ROOM

    key = _signing_key()
    message = signed_message(base64.b64decode(challenge), DEFAULT_ROOM, name)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = key.sign(message, pss, hashes.SHA256())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "room": DEFAULT_ROOM,
        "key": base64.b64encode(der).decode(),
        "challenge": challenge,
        "signature": base64.b64encode(signature).decode(),
    }


def _stamp(sdp: str) -> tuple[int, int]:
    origin = sdp.split("\r\n", 2)[1]
    _, seq, sent_ns, _ = origin.split(" ", 3)
    return int(seq), int(sent_ns)


class Dialect:
    """How clients of one server connect, send and read.

    Attributes:
        name: The server kind this dialect talks to.
        heartbeat: Seconds between client heartbeats, or None.
    """

    name = ""
    heartbeat: float | None = None

    def url(self, port: int, client: str) -> str:
        """Return the WebSocket URL for ``client``."""
        raise NotImplementedError

    async def probe(self, port: int) -> None:
        """Learn, once per server, what the handshake needs."""

    async def open(self, ws: ClientConnection, client: str) -> None:
        """Finish the protocol's handshake after the WebSocket opened."""
        raise NotImplementedError

    def frame_parts(self, kind: str, recipient: str, sdp: str) -> tuple[str, str]:
        """Return the text before and after the stamp of an ``kind`` frame."""
        raise NotImplementedError

    def read(self, frame: str | bytes) -> Received | str:
        """Read one frame: a relayed message, or the type of anything else."""
        raise NotImplementedError

    def expected_broadcasts(self, clients: int) -> int:
        """Return how many presence frames ``clients`` joins cause in all."""
        return 0

    def heartbeat_frame(self) -> str:
        """Return the frame a client sends every :attr:`heartbeat` seconds."""
        raise NotImplementedError


class P2plabDialect(Dialect):
    """The p2plab protocol: ``join`` then ``offer``/``answer`` with ``to``.

    Protocol 1 joins with a name and a key. Protocol 2 (its server greets
    every connection with a ``hello`` carrying a challenge) also names a
    room and signs the challenge; :meth:`probe` finds out which one the
    server speaks.
    """

    name = "p2plab"

    def __init__(self) -> None:
        super().__init__()
        self.version: str | None = None

    def url(self, port: int, client: str) -> str:
        return f"ws://127.0.0.1:{port}/"

    async def probe(self, port: int) -> None:
        if self.version is not None:
            return
        async with connect(self.url(port, ""), compression=None, proxy=None) as ws:
            try:
                greeting = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            except TimeoutError:
                self.version = "1"  # protocol 1 servers speak when spoken to
                return
        if greeting.get("type") != "hello":
            raise RuntimeError(f"unexpected greeting from the server: {greeting}")
        self.version = str(greeting.get("version", "2"))

    async def open(self, ws: ClientConnection, client: str) -> None:
        join: dict[str, Any] = {"type": "join", "name": client, "key": FAKE_KEY}
        if self.version != "1":
            hello = json.loads(await ws.recv())
            join.update(signed_join(hello["challenge"], client))
        await ws.send(json.dumps(join))
        # Presence frames about earlier joins may come first; the welcome is
        # the answer to this join.
        for _ in range(100_000):
            reply = json.loads(await ws.recv())
            if reply["type"] == "welcome":
                return
            if reply["type"] == "error":
                raise RuntimeError(f"join of {client} refused: {reply}")
        raise RuntimeError(f"no welcome for {client}")

    def frame_parts(self, kind: str, recipient: str, sdp: str) -> tuple[str, str]:
        text = json.dumps(
            {"type": kind, "to": recipient, "sdp": sdp}, separators=(",", ":")
        )
        before, after = text.split(MARK)
        return before, after

    def read(self, frame: str | bytes) -> Received | str:
        # Presence frames are the bulk at connect time; skip them unparsed.
        if isinstance(frame, str) and frame.startswith('{"type":"joined"'):
            return "joined"
        msg: dict[str, Any] = json.loads(frame)
        if msg["type"] == "error":
            return f"error {msg.get('code')}"
        if msg["type"] not in ("offer", "answer"):
            return str(msg["type"])
        return Received(msg["from"], *_stamp(msg["sdp"]))

    def expected_broadcasts(self, clients: int) -> int:
        return clients * (clients - 1) // 2


class PeerjsDialect(Dialect):
    """The PeerJS protocol: ``OPEN``, then ``OFFER``/``ANSWER`` with ``dst``."""

    name = "peerjs"
    heartbeat = 5.0

    def url(self, port: int, client: str) -> str:
        return (
            f"ws://127.0.0.1:{port}/peerjs?key=peerjs&id={client}"
            f"&token=t{client}&version=1.5.5"
        )

    async def open(self, ws: ClientConnection, client: str) -> None:
        reply = json.loads(await ws.recv())
        if reply.get("type") != "OPEN":
            raise RuntimeError(f"peerjs refused {client}: {reply}")

    def frame_parts(self, kind: str, recipient: str, sdp: str) -> tuple[str, str]:
        # The payload a PeerJS DataConnection sends with its offer.
        payload = {
            "sdp": {"type": kind, "sdp": sdp},
            "type": "data",
            "connectionId": f"dc_{recipient}",
        }
        text = json.dumps(
            {"type": kind.upper(), "dst": recipient, "payload": payload},
            separators=(",", ":"),
        )
        before, after = text.split(MARK)
        return before, after

    def read(self, frame: str | bytes) -> Received | str:
        msg: dict[str, Any] = json.loads(frame)
        if msg.get("type") not in ("OFFER", "ANSWER"):
            return str(msg.get("type"))
        return Received(msg["src"], *_stamp(msg["payload"]["sdp"]["sdp"]))

    def heartbeat_frame(self) -> str:
        return '{"type":"HEARTBEAT"}'


class PrototypeDialect(P2plabDialect):
    """Protocol 1, spoken to the relay prototype's forward path."""

    name = "prototype"


class PrototypeSpliceDialect(P2plabDialect):
    """Protocol 1, spoken to the relay prototype's splice path."""

    name = "prototype-splice"


class PrototypeLeanDialect(P2plabDialect):
    """Protocol 1, spoken to the relay prototype's forward path, lean."""

    name = "prototype-lean"


class PrototypeParseDialect(P2plabDialect):
    """Protocol 1, spoken to the relay prototype's parse path."""

    name = "prototype-parse"


#: Dialect of each server kind; make one per server run.
DIALECTS: dict[str, type[Dialect]] = {
    d.name: d
    for d in (
        P2plabDialect,
        PeerjsDialect,
        PrototypeDialect,
        PrototypeSpliceDialect,
        PrototypeParseDialect,
        PrototypeLeanDialect,
    )
}
