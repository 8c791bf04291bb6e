"""The whole path across processes: a server, and Alice and Bob as two processes."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from typing import Any

from p2plab_server.relay import SignalingServer

from p2plab.demo import SCRIPT


async def _run_pair() -> tuple[list[bytes], dict[str, list[dict[str, Any]]]]:
    """Run Alice and Bob as child processes through a recording server."""
    frames: list[bytes] = []

    def record(conn: int, direction: str, frame: str | bytes) -> None:
        if direction == "<":
            frames.append(frame.encode() if isinstance(frame, str) else frame)

    reports: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": []}
    async with SignalingServer(observer=record).serve("127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        procs = {}
        for role, partner in (("alice", "bob"), ("bob", "alice")):
            procs[role] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "p2plab.demo",
                "--child",
                role,
                url,
                partner,
                stdout=asyncio.subprocess.PIPE,
            )
            if role == "alice":
                for _ in range(200):
                    if frames:
                        break
                    await asyncio.sleep(0.05)
        try:
            outs = await asyncio.wait_for(
                asyncio.gather(*(p.communicate() for p in procs.values())), 60
            )
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.kill()
        for role, (out, _err) in zip(procs, outs, strict=True):
            assert procs[role].returncode == 0, f"{role} failed"
            reports[role] = [json.loads(line) for line in out.splitlines()]
    return frames, reports


def test_two_processes_exchange_sealed_messages() -> None:
    """Alice and Bob, in separate processes, open each other's sealed messages."""
    _frames, reports = asyncio.run(_run_pair())
    for role, partner in (("alice", "bob"), ("bob", "alice")):
        opened = [
            r["text"]
            for r in reports[role]
            if r["kind"] == "message" and "received and opened" in r["text"]
        ]
        assert len(opened) == len(SCRIPT[partner])
        for line, report in zip(SCRIPT[partner], opened, strict=True):
            assert repr(line) in report
    secrets = {role: reports[role][-1] for role in reports}
    assert secrets["alice"]["session_key"] == secrets["bob"]["session_key"]


def test_server_never_sees_plaintext_session_key_or_private_key() -> None:
    """No chat text, session key or private key appears in any frame the server read."""
    frames, reports = asyncio.run(_run_pair())
    seen = b"\n".join(frames)
    assert frames, "the server recorded nothing"
    assert b'"type":"offer"' in seen and b'"type":"answer"' in seen

    secrets = {role: reports[role][-1] for role in reports}
    key = bytes.fromhex(secrets["alice"]["session_key"])
    needles = [key, key.hex().encode(), base64.b64encode(key)]
    for lines in SCRIPT.values():
        for line in lines:
            needles.append(line.encode())
            needles.append(json.dumps(line).encode())
    for role in secrets:
        private = base64.b64decode(secrets[role]["private_key"])
        # Any 32-byte window of the private key, raw or in base64, is a leak.
        needles += [private[i : i + 32] for i in range(0, len(private) - 32, 32)]
        needles += [base64.b64encode(private)[i : i + 44] for i in range(0, 1600, 44)]
    leaked = [n for n in needles if n in seen]
    assert leaked == []
    # The public keys were published, as they should be.
    for role in secrets:
        assert secrets[role]["public_key"].encode() in seen


def test_demo_command_completes_and_passes_its_audit() -> None:
    """``p2plab demo`` runs to the end on loopback and reports nothing leaked."""
    result = subprocess.run(
        [sys.executable, "-m", "p2plab.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in (
        "made an RSA-3072 key pair",
        "joined room lab and published a public key",
        "with a signature of the server's challenge",
        "relayed an offer",
        "relayed an answer",
        "candidate",
        "data channel open",
        "wrapped it with RSA-OAEP",
        "sealed and sent",
        "received and opened",
        "both sides hold the same session key: True",
    ):
        assert step in out, step
    assert "FOUND" not in out
