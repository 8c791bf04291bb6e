"""The server runs with the standard library and websockets only."""

from __future__ import annotations

import asyncio
import sys
import textwrap

from websockets.asyncio.client import connect

from .clients import TIMEOUT, Key, join_request, receive, send

BLOCKED = ("p2plab", "aiortc", "aioice", "cryptography", "ipywidgets", "jupyterlab")

# Run in a child process: block the lab's dependencies, serve on a free port,
# print it, serve until stdin closes, then print which blocked modules loaded.
SERVER = textwrap.dedent(
    f"""
    import asyncio, importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ImportError("blocked: " + name)
            return None

    sys.meta_path.insert(0, Block())
    from p2plab_server import SignalingServer
    from p2plab_server.cli import build_parser

    async def main():
        async with SignalingServer().serve("127.0.0.1", 0) as server:
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.to_thread(sys.stdin.read)

    asyncio.run(main())
    print(sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}))
    """
)


async def test_server_checks_signed_joins_without_the_lab_dependencies(
    keys: tuple[Key, Key],
) -> None:
    """With cryptography and p2plab unimportable, the server still proves joins."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT))
        url = f"ws://127.0.0.1:{port}"
        async with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
            challenge = (await receive(ws))["challenge"]
            await send(ws, {"type": "lookup", "name": "x"})
            assert (await receive(ws))["code"] == "not-joined"
            forged = {
                **join_request(keys[1], challenge, "alice"),
                "key": keys[0].public,
            }
            await send(ws, forged)
            assert (await receive(ws))["code"] == "bad-signature"
            await send(ws, join_request(keys[0], challenge, "alice"))
            assert (await receive(ws))["type"] == "welcome"
        proc.stdin.close()
        stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "[]"
