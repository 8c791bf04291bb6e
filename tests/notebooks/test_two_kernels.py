"""Alice and Bob in two real kernels, running the real notebooks.

A signaling server runs in this process on 127.0.0.1. Two ipykernel kernels,
each with its own HOME, IPython and Jupyter folders, run the code cells of
``notebooks/alice.ipynb`` and ``notebooks/bob.ipynb``. They share one
P2PLAB_HOME, as two notebooks of one learner on one laptop do: the key store
is the machine's. Alice runs first, alone, so her notebook starts the partner
bot, which plays Bob with Bob's key from that key store; then Bob's notebook
runs, takes the name over from the bot, and calls Alice.

The test then talks to each kernel the way JupyterLab does: it types into a
pane by sending the widget's ``comm_msg`` and watches the other kernel's IOPub
channel for the transcript update, without running any cell there.
"""

from __future__ import annotations

import ast
import html
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from p2plab_server import SignalingServer

from p2plab.network import NetworkThread

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"

# Seconds allowed for each step; a healthy run takes about 6 s in all.
STARTUP = 60.0
CELL = 60.0
CONNECTED = 30.0
DELIVERED = 10.0
BUSY = 3.0

ISOLATED_DIRS = (
    "HOME",
    "IPYTHONDIR",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
)


class Kernel:
    """One ipykernel process, driven like a frontend drives it.

    Args:
        name: Who runs in it, ``"alice"`` or ``"bob"``.
        folder: A private folder for its home, settings and log.
        server_url: The signaling server its notebook should use.
        lab_home: The lab's folder (key store, claims), shared by the kernels.
    """

    def __init__(
        self, name: str, folder: Path, server_url: str, lab_home: Path
    ) -> None:
        self.name = name
        self.log = folder / "kernel.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "PYTHONSTARTUP")
        }
        for var in ISOLATED_DIRS:
            path = folder / var.lower()
            path.mkdir()
            env[var] = str(path)
        env["P2PLAB_SERVER"] = server_url
        env["P2PLAB_HOME"] = str(lab_home)
        # The kernels import p2plab from this checkout, whatever is installed.
        paths = (str(REPO), str(REPO / "server"), env.get("PYTHONPATH", ""))
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)

        self.manager = KernelManager(
            kernel_name="python3", connection_file=str(folder / "kernel.json")
        )
        with open(self.log, "wb") as log:
            self.manager.start_kernel(env=env, cwd=str(NOTEBOOKS), stderr=log)
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=STARTUP)
        except RuntimeError:
            self.shutdown()
            raise

    def run(self, code: str) -> str:
        """Run ``code`` as a cell; return what it printed; fail if it raised."""
        outputs: list[dict[str, Any]] = []
        reply = self.client.execute_interactive(
            code, timeout=CELL, output_hook=outputs.append
        )
        content = reply["content"]
        if content["status"] != "ok":
            trace = "\n".join(content.get("traceback", []))
            pytest.fail(
                f"a cell failed in {self.name}'s kernel:\n{code}\n{trace}\n"
                + self.log_tail()
            )
        return "".join(
            msg["content"]["text"] for msg in outputs if msg["msg_type"] == "stream"
        )

    def log_tail(self, lines: int = 20) -> str:
        """Return the end of what the kernel wrote to stderr, for failure messages."""
        text = self.log.read_text(errors="replace")
        return f"--- {self.name}'s kernel log:\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    def run_notebook(self, path: Path) -> None:
        """Run every code cell of the notebook at ``path``, in order."""
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                self.run(cell.source)

    def value(self, expression: str) -> Any:
        """Evaluate a Python literal expression in the kernel and return it."""
        reply = self.client.execute_interactive(
            "", silent=True, user_expressions={"x": expression}, timeout=CELL
        )
        result = reply["content"]["user_expressions"]["x"]
        assert result["status"] == "ok", f"{expression}: {result.get('evalue')}"
        return ast.literal_eval(result["data"]["text/plain"])

    def send_comm(self, model_id: str, data: dict[str, Any]) -> None:
        """Send a widget message to the kernel, as the browser does."""
        msg = self.client.session.msg("comm_msg", {"comm_id": model_id, "data": data})
        self.client.shell_channel.send(msg)

    def type_message(self, text: str) -> None:
        """Type ``text`` into the pane's box and press Enter, as JupyterLab would.

        The box has ``continuous_update=False``: on Enter the browser sends
        the custom ``submit`` message, then the box's new value.
        """
        model_id = self.value("pane.input.model_id")
        self.send_comm(model_id, {"method": "custom", "content": {"event": "submit"}})
        self.send_comm(
            model_id,
            {"method": "update", "state": {"value": text}, "buffer_paths": []},
        )

    def click_send(self) -> None:
        """Click the pane's Send button, as JupyterLab would."""
        model_id = self.value("pane.send_button.model_id")
        self.send_comm(model_id, {"method": "custom", "content": {"event": "click"}})

    def watch(
        self, stop: Callable[[dict[str, Any]], bool], timeout: float = DELIVERED
    ) -> list[dict[str, Any]]:
        """Read IOPub messages until ``stop(msg)`` is true; return all read.

        Raises:
            AssertionError: If no such message came within ``timeout`` seconds.
        """
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=0.1)
            except Empty:
                continue
            seen.append(msg)
            if stop(msg):
                return seen
        raise AssertionError(
            f"{self.name}'s kernel did not show the expected update in "
            f"{timeout:g} s\n{self.log_tail()}"
        )

    def shutdown(self) -> None:
        """Ask the kernel to shut down, killing it if it does not."""
        self.client.stop_channels()
        self.manager.shutdown_kernel()
        assert not self.manager.is_alive()


def widget_update(model_id: str, contains: str) -> Callable[[dict[str, Any]], bool]:
    """Match the IOPub message that sets widget ``model_id`` to hold ``contains``."""

    def match(msg: dict[str, Any]) -> bool:
        content = msg["content"]
        return (
            msg["msg_type"] == "comm_msg"
            and content.get("comm_id") == model_id
            and contains in str(content["data"].get("state", {}).get("value", ""))
        )

    return match


def status(cell: str, state: str) -> Callable[[dict[str, Any]], bool]:
    """Match the IOPub message saying the kernel is ``state`` for request ``cell``."""

    def match(msg: dict[str, Any]) -> bool:
        return (
            msg["msg_type"] == "status"
            and msg["parent_header"].get("msg_id") == cell
            and msg["content"]["execution_state"] == state
        )

    return match


def printed(messages: list[dict[str, Any]]) -> list[str]:
    """Return the text of every stream output among IOPub ``messages``."""
    return [msg["content"]["text"] for msg in messages if msg["msg_type"] == "stream"]


async def _listen() -> Any:
    return await SignalingServer().serve("127.0.0.1", 0)


async def _close(server: Any) -> None:
    server.close()
    await server.wait_closed()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A signaling server on a free port of 127.0.0.1, in a thread of this process."""
    network = NetworkThread("test-signaling-server")
    server = network.call(_listen())
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        network.call(_close(server))
        network.stop()
        network.loop.close()


@pytest.fixture(scope="module")
def kernels(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Kernel, Kernel]]:
    """Alice's and Bob's kernels, each after running its whole notebook."""
    started: list[Kernel] = []
    lab_home = tmp_path_factory.mktemp("p2plab-home")
    try:
        for name in ("alice", "bob"):
            kernel = Kernel(name, tmp_path_factory.mktemp(name), server_url, lab_home)
            started.append(kernel)
            kernel.run_notebook(NOTEBOOKS / f"{name}.ipynb")
        alice, bob = started
        deadline = time.monotonic() + CONNECTED
        states = ("", "")
        while states != ("connected", "connected"):
            assert time.monotonic() < deadline, (
                f"not connected in {CONNECTED:g} s: {states}\n"
                + "\n".join(kernel.log_tail() for kernel in started)
            )
            time.sleep(0.1)
            states = (
                alice.value("pane.connection_state"),
                bob.value("pane.connection_state"),
            )
        yield alice, bob
    finally:
        for kernel in started:
            kernel.shutdown()


def test_bot_handed_bob_over_to_bobs_notebook(kernels: tuple[Kernel, Kernel]) -> None:
    """The bot Alice started ended when Bob's notebook took the name (code 4001)."""
    alice, bob = kernels

    # The bot hears of the takeover on its own connection, a moment after
    # the two notebooks connected; then its process ends.
    deadline = time.monotonic() + DELIVERED
    while alice.value("partner.status") != "ended":
        assert time.monotonic() < deadline, alice.value("partner.status")
        time.sleep(0.1)
    assert "4001" in alice.value("partner.reason")
    while alice.value("partner.running"):
        assert time.monotonic() < deadline, "the bot's process is still running"
        time.sleep(0.1)
    assert alice.value("reply").startswith("(partner bot) I got 54 bytes")
    assert "state: " in alice.value("pane.connection_log.value")
    assert bob.value("pane.client.signaling.frames[2].message['peers']") == ["alice"]


def test_notebooks_connect(kernels: tuple[Kernel, Kernel]) -> None:
    """Both panes reach "connected" and each shows the other's real fingerprint."""
    alice, bob = kernels
    for me, peer in ((alice, bob), (bob, alice)):
        assert me.value("pane.client.peer_fingerprint") == peer.value(
            "pane.client.identity.fingerprint"
        )
        shown = me.value("pane.fingerprint.value")
        assert html.escape(peer.value("pane.client.identity.fingerprint")) in shown


@pytest.mark.parametrize(("sender", "receiver"), [(0, 1), (1, 0)])
def test_typed_message_reaches_idle_kernel(
    kernels: tuple[Kernel, Kernel], sender: int, receiver: int
) -> None:
    """Text typed into one pane shows in the other while no cell runs there."""
    source, target = kernels[sender], kernels[receiver]
    text = f"hello {target.name}, from {source.name} (idle)"
    transcript = target.value("pane.transcript.model_id")

    source.type_message(text)
    seen = target.watch(widget_update(transcript, html.escape(text)))

    assert printed(seen) == []
    assert target.value("pane.transcript_text()").endswith(f"{source.name}: {text}")
    assert source.value("pane.input.value") == ""


def test_send_button_after_enter_sends_once(kernels: tuple[Kernel, Kernel]) -> None:
    """Enter then a click on Send delivers the text once."""
    alice, bob = kernels
    text = "typed, Enter pressed, then Send clicked"
    transcript = bob.value("pane.transcript.model_id")

    alice.type_message(text)
    alice.click_send()
    bob.watch(widget_update(transcript, html.escape(text)))

    assert bob.value("pane.transcript_text()").count(text) == 1
    assert alice.value("pane.transcript_text()").count(text) == 1


def test_message_arrives_during_busy_cell(kernels: tuple[Kernel, Kernel]) -> None:
    """A message reaches Bob's pane while a long cell is running in Bob's kernel."""
    alice, bob = kernels
    text = "hello bob, while you sleep"
    transcript = bob.value("pane.transcript.model_id")
    cell = bob.client.execute(
        "import time\n"
        "busy = [time.time()]\n"
        f"time.sleep({BUSY})\n"
        "busy.append(time.time())"
    )

    bob.watch(status(cell, "busy"))
    alice.type_message(text)
    during = bob.watch(widget_update(transcript, html.escape(text)))
    after = bob.watch(status(cell, "idle"), timeout=BUSY + DELIVERED)
    reply = bob.client.get_shell_msg(timeout=CELL)

    assert reply["parent_header"]["msg_id"] == cell
    assert not any(map(status(cell, "idle"), during)), "delivered after the cell"
    assert printed(during + after) == []
    start, end = bob.value("busy")
    (arrived,) = bob.value(f"[x.time for x in pane.lines if x.text == {text!r}]")
    assert start < arrived < end
