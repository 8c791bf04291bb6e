"""The server runs with the standard library and websockets only."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("p2plab", "aiortc", "aioice", "cryptography", "ipywidgets", "jupyterlab")


def test_server_imports_and_serves_without_the_lab_dependencies() -> None:
    """The server serves with p2plab, aiortc, cryptography and Jupyter unimportable."""
    script = textwrap.dedent(
        f"""
        import asyncio, importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Block())
        from websockets.asyncio.client import connect
        from p2plab_server import SignalingServer
        from p2plab_server.cli import build_parser

        async def main():
            async with SignalingServer().serve("127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                async with connect(f"ws://127.0.0.1:{{port}}", proxy=None) as ws:
                    await ws.send('{{"type": "lookup", "name": "x"}}')
                    print(await ws.recv())

        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    reply, loaded = result.stdout.splitlines()
    assert '"code":"not-joined"' in reply
    assert loaded == "[]"
