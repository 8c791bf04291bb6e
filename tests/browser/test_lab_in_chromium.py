"""The lab as a student uses it: two notebooks side by side in a real browser.

JupyterLab serves a copy of ``notebooks/``; Chromium opens ``alice.ipynb``
and ``bob.ipynb`` side by side, runs every cell of both, waits for the two
chat panes to connect, then types a message into each pane and checks that
it shows up in the other one. Both Run Alls start at once, so Alice's
notebook may start the partner bot while Bob's opens: the bot either stays
away or hands Bob over, and no cell of either notebook shows an error.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import CHROMIUM, NOTEBOOKS, JupyterLab

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing (install it: apt-get install chromium)",
)

# Seconds allowed for each step (a healthy run takes about 10 s in all), and
# for the whole test, start-up and shutdown included.
APP_READY = 15.0
KERNELS_READY = 20.0
CONNECTED = 15.0
DELIVERED = 5.0
WHOLE_TEST = 90

# Promises are not awaited in page.evaluate(), which has no timeout: their
# results land in window.p2plab, read by wait_for_function(), which has one.
RESTORED = """() => {
    window.p2plab = {opened: {}};
    window.jupyterapp.restored.then(() => { window.p2plab.restored = true; });
}"""

OPEN = """({path, mode}) => {
    const options = mode ? {mode} : {};
    window.jupyterapp.commands
        .execute('docmanager:open', {path, factory: 'Notebook', options})
        .then(panel => { window.p2plab.opened[path] = panel.id; });
}"""

# The notebook's own session kernel: the toolbar's idle circle turns idle
# before the kernel exists, and a Run All sent then is lost.
KERNEL_STATUS = """(id) => {
    const panel = Array.from(window.jupyterapp.shell.widgets('main'))
        .find(widget => widget.id === id);
    const kernel = panel?.sessionContext?.session?.kernel;
    return kernel ? `${kernel.connectionStatus}/${kernel.status}` : 'no kernel';
}"""

RUN_ALL = """(id) => {
    // Not awaited: a notebook may wait for its partner before it finishes.
    window.jupyterapp.commands.execute('notebook:run-all-cells', {widgetId: id});
}"""

SHOW_PANE = """(id) => {
    const pane = document.querySelector(`[id="${id}"] .p2plab-pane`);
    if (pane) pane.scrollIntoView({block: 'start'});
}"""

LOOPBACK = "127.0.0.1"

STATE_CONNECTED = re.compile(r"^\s*connected\b")


def _note_outside(url: str, outside: list[str]) -> None:
    """Add ``url`` to ``outside`` if it is on the network but not on 127.0.0.1."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOOPBACK:
        outside.append(url)


def _open(page: Any, path: str, mode: str | None = None) -> str:
    """Open notebook ``path`` in JupyterLab; return its panel's id."""
    page.evaluate(OPEN, {"path": path, "mode": mode})
    opened = page.wait_for_function(
        "(path) => window.p2plab.opened[path]", arg=path, timeout=APP_READY * 1000
    )
    return str(opened.json_value())


def _wait_for_kernels(page: Any, panels: dict[str, str]) -> None:
    """Wait until the kernel behind each panel is connected and idle."""
    deadline = time.monotonic() + KERNELS_READY
    for name, panel in panels.items():
        status = page.evaluate(KERNEL_STATUS, panel)
        while status != "connected/idle":
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{name}'s kernel not ready in {KERNELS_READY:g} s: {status}"
                )
            time.sleep(0.1)
            status = page.evaluate(KERNEL_STATUS, panel)


def _pane(page: Any, panel: str) -> Any:
    """Return the chat pane inside the notebook panel with id ``panel``."""
    return page.locator(f'[id="{panel}"] .p2plab-pane')


def _no_errors(page: Any, panels: dict[str, str]) -> None:
    """Check that no cell of either notebook shows an error or a stderr line."""
    for name, panel in panels.items():
        outputs = f'[id="{panel}"] .jp-OutputArea-output[data-mime-type='
        # The same selector finds the printed facts: it does look at outputs.
        printed = page.locator(outputs + '"application/vnd.jupyter.stdout"]')
        assert printed.count() > 0, f"no printed output found in {name}'s notebook"
        shown = page.locator(outputs + '"application/vnd.jupyter.stderr"]')
        texts = shown.all_inner_texts()
        assert not texts, f"{name}'s notebook shows errors: {texts}"


def _wire(panes: dict[str, Any], name: str) -> None:
    """Turn on the wire in ``name``'s pane; its messages then show their nonces."""
    from playwright.sync_api import expect

    pane = panes[name]
    pane.locator(".p2plab-wire").click()
    expect(pane.locator(".p2plab-transcript .p2plab-wire-line").first).to_contain_text(
        re.compile(r"on the wire: nonce [0-9a-f]{24} · \d+ bytes · "),
        timeout=DELIVERED * 1000,
    )


def _send_and_check(panes: dict[str, Any], sender: str, receiver: str) -> None:
    """Type a message into ``sender``'s pane; check both transcripts show it.

    The sender's box must empty too: that is how a student sees it was sent.
    """
    from playwright.sync_api import expect

    text = f"hello {receiver}, this is {sender} ({secrets.token_hex(4)})"
    line = f"{sender}: {text}"
    box = panes[sender].locator(".p2plab-input input")
    box.fill(text)
    box.press("Enter")
    timeout = DELIVERED * 1000
    expect(panes[receiver].locator(".p2plab-transcript")).to_contain_text(
        line, timeout=timeout
    )
    expect(panes[sender].locator(".p2plab-transcript")).to_contain_text(
        line, timeout=timeout
    )
    expect(box).to_have_value("", timeout=timeout)


def _burst(panes: dict[str, Any], sender: str, receiver: str, typed: bool) -> None:
    """Send ten messages one after another; check all arrive once, in order, whole.

    Each next message is typed once the box has emptied, as a person sees it:
    the kernel empties it after Enter, and characters typed before that are
    wiped (see the limitations in the docs).
    """
    from playwright.sync_api import expect

    tag = secrets.token_hex(3)
    texts = [f"burst {tag} #{i:02d}" for i in range(10)]
    box = panes[sender].locator(".p2plab-input input")
    for text in texts:
        if typed:
            box.press_sequentially(text, delay=15)
        else:
            box.fill(text)
        box.press("Enter")
        expect(box).to_have_value("", timeout=DELIVERED * 1000)
    transcript = panes[receiver].locator(".p2plab-transcript")
    expect(transcript).to_contain_text(texts[-1], timeout=DELIVERED * 1000)
    received = re.findall(rf"{sender}: (burst {tag} #\d\d)\b", transcript.inner_text())
    assert received == texts, f"sent {texts}, received {received}"
    expect(box).to_have_value("", timeout=DELIVERED * 1000)


@pytest.mark.timeout(WHOLE_TEST)
def test_alice_and_bob_chat_in_chromium(
    jupyter_lab: JupyterLab, chromium_page: Any, tmp_path: Path
) -> None:
    """Alice and Bob, side by side in Chromium, connect and exchange a message."""
    from playwright.sync_api import expect

    page = chromium_page
    for name in ("alice", "bob"):
        source = NOTEBOOKS / f"{name}.ipynb"
        assert source.exists(), f"{source} is missing"
    # The whole folder, as ``p2plab lab`` serves it, minus local leftovers.
    leftovers = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(NOTEBOOKS, jupyter_lab.root, ignore=leftovers, dirs_exist_ok=True)

    # Every request the page makes must stay on the lab's own address.
    outside: list[str] = []
    page.on("request", lambda request: _note_outside(request.url, outside))

    started = time.monotonic()
    steps: list[tuple[str, float]] = []
    screenshot = tmp_path / "lab.png"
    panels: dict[str, str] = {}
    try:
        page.goto(f"{jupyter_lab.url}/lab?token={jupyter_lab.token}")
        page.wait_for_function("() => !!window.jupyterapp", timeout=APP_READY * 1000)
        page.evaluate(RESTORED)
        page.wait_for_function("() => window.p2plab.restored", timeout=APP_READY * 1000)
        steps.append(("lab restored", time.monotonic() - started))

        panels["alice"] = _open(page, "alice.ipynb")
        panels["bob"] = _open(page, "bob.ipynb", mode="split-right")
        _wait_for_kernels(page, panels)
        steps.append(("kernels idle", time.monotonic() - started))

        for panel in panels.values():
            page.evaluate(RUN_ALL, panel)
        panes = {name: _pane(page, panel) for name, panel in panels.items()}
        deadline = time.monotonic() + CONNECTED
        for name, pane in panes.items():
            left = max(deadline - time.monotonic(), 0.1)
            expect(
                pane.locator(".p2plab-state"),
                f"{name}'s pane did not say connected within {CONNECTED:g} s",
            ).to_have_text(STATE_CONNECTED, timeout=left * 1000)
        steps.append(("both connected", time.monotonic() - started))

        _send_and_check(panes, "alice", "bob")
        steps.append(("alice -> bob", time.monotonic() - started))
        _send_and_check(panes, "bob", "alice")
        steps.append(("bob -> alice", time.monotonic() - started))
        _burst(panes, "alice", "bob", typed=True)
        steps.append(("10 typed quickly", time.monotonic() - started))
        _burst(panes, "bob", "alice", typed=False)
        steps.append(("10 pasted and sent at once", time.monotonic() - started))
        _wire(panes, "bob")
        steps.append(("wire shown", time.monotonic() - started))
        _no_errors(page, panels)
        assert not outside, f"the page asked for other hosts: {outside}"
    except BaseException:
        print(f"screenshot of the failed run: {screenshot}")
        print(f"server and JupyterLab logs: {jupyter_lab.log.parent}")
        raise
    finally:
        print("timings: " + ", ".join(f"{step} {t:.1f} s" for step, t in steps))
        try:
            # Run All leaves each notebook scrolled to its last cell.
            for panel in panels.values():
                page.evaluate(SHOW_PANE, panel)
            page.screenshot(path=str(screenshot))
        except Exception as exc:  # the test's own error, if any, matters more
            print(f"no screenshot: {exc}")
