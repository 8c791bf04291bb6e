"""``p2plab demo``: Alice and Bob chat in two processes, narrated in a terminal.

The demo starts a signaling server on loopback inside this process, then runs
Alice and Bob as two child processes. Each child reports every protocol step
as one JSON line on its standard output; this process prints them as they
come, beside what the server does. At the end it audits every frame the
server received and shows that no plaintext and no key ever reached it.

To make that audit possible each child reveals, at the very end and only to
this process, the session key and its private key. That is a demonstration
device: a real client never discloses either.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from cryptography.hazmat.primitives import serialization
from p2plab_server.relay import SignalingServer

from .client import ChatClient, Event
from .identity import Identity

__all__ = ["main", "run_demo"]

SCRIPT = {
    "alice": ["Hi Bob, it's Alice. Can the server read this?", "See you tomorrow!"],
    "bob": ["Hello Alice! No: it only saw our public keys and the SDP.", "Bye!"],
}


@dataclass
class ServerLog:
    """Every frame the demo's server read, with a running narration."""

    out: TextIO
    received: list[bytes] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def __call__(self, conn: int, direction: str, frame: str | bytes) -> None:
        raw = frame.encode() if isinstance(frame, str) else frame
        if direction != "<":
            return
        self.received.append(raw)
        msg = json.loads(raw)
        kind = msg.get("type", "?")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        who = self.names.get(conn, "a client")
        if kind == "join":
            self.names[conn] = msg["name"]
            text = (
                f"{msg['name']} joined room {msg['room']} and published a public "
                f"key, with a signature of the server's challenge ({len(raw)} bytes)"
            )
        elif kind == "lookup":
            text = f"{who} looked up {msg['name']}'s public key"
        elif "to" in msg:
            article = "an" if kind[0] in "aeiou" else "a"
            text = (
                f"relayed {article} {kind} from {who} to {msg['to']} ({len(raw)} bytes)"
            )
        else:
            text = f"received a {kind}"
        _say(self.out, "server", text)


def _say(out: TextIO, who: str, text: str) -> None:
    out.write(f"{who:>6} │ {text}\n")
    out.flush()


async def _child(role: str, url: str, partner: str, script: list[str]) -> None:
    """Run one user in a child process; report events as JSON lines."""

    def report(kind: str, text: str, **data: Any) -> None:
        print(json.dumps({"kind": kind, "text": text, **data}), flush=True)

    started = time.perf_counter()
    identity = Identity.generate()
    report(
        "step",
        f"made an RSA-{identity.bits} key pair in "
        f"{(time.perf_counter() - started) * 1000:.0f} ms; "
        f"fingerprint {identity.fingerprint}",
    )
    expected = len(SCRIPT[partner])
    received: list[str] = []
    done = asyncio.Event()

    def on_event(event: Event) -> None:
        if event.kind == "message":
            sent = event.data["sent"]
            verb = "sealed and sent" if sent else "received and opened"
            report(
                "message",
                f"{verb} #{event.data['counter']}: {event.data['text']!r} "
                f"(nonce {event.data['nonce'].hex()}, "
                f"{len(event.data['ciphertext'])} bytes on the wire)",
            )
            if not sent:
                received.append(event.data["text"])
                if len(received) == expected:
                    done.set()
        else:
            report(event.kind, event.text)

    client = ChatClient(role, identity, url, partner=partner, on_event=on_event)
    await client.start()
    await client.wait_ready(15)
    for line in script:
        await client.send(line)
    await asyncio.wait_for(done.wait(), 15)
    assert client.session is not None and client.session.session_key is not None
    secrets = {
        "session_key": client.session.session_key.hex(),
        "public_key": identity.public_b64,
        "private_key": base64.b64encode(
            identity.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ).decode(),
    }
    await asyncio.sleep(0.2)  # let the peer's last message be read before bye
    await client.close()
    report("secrets", "revealed to the demo for its audit", **secrets)


async def _pump(
    role: str, proc: asyncio.subprocess.Process, out: TextIO, secrets: dict[str, Any]
) -> None:
    assert proc.stdout is not None
    async for raw in proc.stdout:
        try:
            msg = json.loads(raw)
        except ValueError:
            _say(out, role, raw.decode(errors="replace").rstrip())
            continue
        if msg["kind"] == "secrets":
            secrets[role] = msg
        else:
            _say(out, role, msg["text"])


async def run_demo(out: TextIO = sys.stdout, timeout: float = 60.0) -> bool:
    """Run the whole demo; return True if the audit found nothing leaked."""
    started = time.perf_counter()
    log = ServerLog(out)
    relay = SignalingServer(observer=log)
    async with relay.serve("127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        _say(out, "server", f"signaling server listening on {url}")
        secrets: dict[str, Any] = {}
        procs = {}
        pumps = []
        for role, partner in (("alice", "bob"), ("bob", "alice")):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "p2plab.demo",
                "--child",
                role,
                url,
                partner,
                stdout=asyncio.subprocess.PIPE,
            )
            procs[role] = proc
            pumps.append(asyncio.create_task(_pump(role, proc, out, secrets)))
            if role == "alice":
                # Let Alice arrive first, so that Bob finds her and calls.
                while "join" not in log.counts:
                    await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(asyncio.gather(*pumps), timeout)
            codes = [await proc.wait() for proc in procs.values()]
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    ok = all(code == 0 for code in codes) and len(secrets) == 2
    if ok:
        ok = _audit(out, log, secrets)
    _say(out, "demo", f"finished in {time.perf_counter() - started:.1f} s")
    return ok


def _audit(out: TextIO, log: ServerLog, secrets: dict[str, Any]) -> bool:
    """Print what the server saw and check that no secret is among it."""
    seen = b"\n".join(log.received)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(log.counts.items()))
    _say(out, "audit", f"the server received {len(log.received)} frames: {summary}")
    what = "names, public keys, join signatures and SDP"
    _say(out, "audit", f"{len(seen)} bytes in all: {what}")

    checks: list[tuple[str, bytes]] = []
    for role, lines in SCRIPT.items():
        checks += [(f"{role}'s message {line!r}", line.encode()) for line in lines]
    key = bytes.fromhex(secrets["alice"]["session_key"])
    checks += [
        ("the session key (raw)", key),
        ("the session key (hex)", key.hex().encode()),
        ("the session key (base64)", base64.b64encode(key)),
    ]
    for role in ("alice", "bob"):
        private = secrets[role]["private_key"].encode()
        checks.append((f"{role}'s private key (any 64-byte piece)", private[64:128]))
    leaked = [what for what, needle in checks if needle in seen]
    same_key = secrets["alice"]["session_key"] == secrets["bob"]["session_key"]
    _say(out, "audit", f"both sides hold the same session key: {same_key}")
    for what, _needle in checks:
        verdict = "FOUND" if what in leaked else "not seen"
        _say(out, "audit", f"{what}: {verdict}")
    public_seen = all(secrets[r]["public_key"].encode() in seen for r in secrets)
    _say(out, "audit", f"public keys seen by the server, as intended: {public_seen}")
    return same_key and not leaked


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``p2plab demo`` (and of the two child processes)."""
    parser = argparse.ArgumentParser(
        prog="p2plab demo",
        description="Alice and Bob chat in two processes through a local "
        "signaling server; every step is narrated, and the run ends with an "
        "audit of everything the server received.",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("ROLE", "URL", "PARTNER"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        help="give up after this many seconds (default 60)",
    )
    args = parser.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):
        # A reader that goes away (`p2plab demo | head`) ends the demo
        # quietly, as it ends any command-line tool.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if args.child:
        role, url, partner = args.child
        asyncio.run(_child(role, url, partner, SCRIPT[role]))
        return 0
    try:
        ok = asyncio.run(run_demo(timeout=args.timeout))
    except TimeoutError:
        print(
            f"p2plab demo: not finished after {args.timeout:g} s; the machine "
            "may be busy: try a longer --timeout",
            file=sys.stderr,
        )
        return 1
    return 0 if ok else 1


def _seconds(text: str) -> float:
    """Read a positive, finite number of seconds for --timeout."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number of seconds"
        )
    return value


if __name__ == "__main__":
    sys.exit(main())
