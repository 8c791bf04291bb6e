"""The partner bot: a second process that plays the missing partner, and leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2plab import ChatClient, ChatPane, Identity, KeyStore, bot, lesson, open_chat
from p2plab.lab import claim_name
from p2plab.lesson import LessonServer
from p2plab.network import get_network

ALICE = "alice's lab passphrase"
BOB = "bob's lab passphrase"

# Seconds any one wait in these tests may take.
TIMEOUT = 20.0


def wait_for(predicate: Callable[[], object], what: str) -> None:
    """Poll ``predicate()`` until it is true, for at most TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """True if process ``pid`` no longer runs (or is a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lab folder of the test's own: key store, claims and bot logs go there."""
    folder = tmp_path / "lab"
    monkeypatch.setenv("P2PLAB_HOME", str(folder))
    return folder


@pytest.fixture
def server(home: Path) -> Iterator[LessonServer]:
    """A lesson server on loopback; everything is reset and stopped at teardown."""
    lesson.reset()
    yield lesson.start_server()
    lesson.reset()


@pytest.fixture
def alice(server: LessonServer) -> ChatPane:
    """Alice's pane, opened the way alice.ipynb opens it, waiting for Bob."""
    return open_chat("alice", partner="bob", passphrase=ALICE, url=server.url)


def joins(server: LessonServer, name: str) -> int:
    """Count the joins the server read under ``name``."""
    return sum(1 for s in server.saw(name) if s.direction == "<" and s.type == "join")


def test_bot_plays_bob_with_bobs_key_and_answers(
    alice: ChatPane, server: LessonServer, home: Path
) -> None:
    """The bot joins as bob with bob's stored key, connects, and says what it read."""
    partner = bot.start_partner(alice, passphrase=BOB)

    reply = partner.ask("Hi Bob, can you read this?")

    assert partner.status == "playing" and partner.running
    assert "with bob's own key from this machine's key store" in partner.reason
    assert repr(partner).startswith("<PartnerBot bob: playing: ")
    assert reply.startswith("(partner bot) I got 42 bytes of ciphertext with nonce ")
    assert "I hold the session key we share" in reply
    assert reply.endswith("You wrote: 'Hi Bob, can you read this?'")
    stored = KeyStore(home / "keys").load("bob", BOB)
    assert alice.client is not None
    assert alice.client.peer_fingerprint == stored.fingerprint
    assert alice.connection_state == "connected"
    assert alice.lines[-1].sender == "bob" and alice.lines[-1].ciphertext
    assert not any(b"Hi Bob" in s.raw for s in server.seen)


def test_the_real_bob_takes_the_name_over_and_the_bot_ends(
    alice: ChatPane, server: LessonServer, home: Path
) -> None:
    """Bob's own notebook replaces the bot (4001); Alice then chats with Bob."""
    partner = bot.start_partner(alice, passphrase=BOB)
    assert partner.status == "playing"
    pid = partner.process.pid if partner.process else 0
    # Bob arrives once the bot's call is set up (see docs/limitations.md for
    # a Bob who arrives in the middle of it).
    wait_for(lambda: alice.connection_state == "connected", "the bot's chat")

    bob = open_chat("bob", partner="alice", passphrase=BOB, url=server.url)
    wait_for(lambda: not partner.running, "the bot to end")
    wait_for(lambda: bob.connection_state == "connected", "bob to connect")
    lesson.run(alice.client.send("is that you, Bob?"))  # type: ignore[union-attr]
    assert bob.client is not None
    lesson.run(lesson.received(bob.client))

    assert partner.status == "ended"
    assert "handed over" in partner.reason and "4001" in partner.reason
    assert gone(pid)
    assert bob.transcript_text() == "alice: is that you, Bob?"
    assert joins(server, "bob") == 2


def test_bot_stays_away_while_a_notebook_here_has_the_name(
    alice: ChatPane, server: LessonServer
) -> None:
    """Under a notebook's claim on the name, the bot declines and never joins."""
    claim = claim_name(server.url, "lab", "bob")
    assert claim is not None
    try:
        partner = bot.start_partner(alice, passphrase=BOB)
    finally:
        claim.release()

    wait_for(lambda: not partner.running, "the bot's process to end")
    assert partner.status == "declined"
    assert "open in a notebook on this machine" in partner.reason
    assert joins(server, "bob") == 0
    assert partner.ask("anyone?").startswith("(no reply: the bot is declined: ")


def test_bot_is_not_started_when_the_partner_is_online(
    alice: ChatPane, server: LessonServer
) -> None:
    """With Bob online already, no bot process is started."""
    open_chat("bob", partner="alice", passphrase=BOB, url=server.url)
    wait_for(lambda: alice.connection_state == "connected", "alice and bob")

    partner = bot.start_partner(alice, passphrase=BOB)

    assert (partner.status, partner.process) == ("not needed", None)
    assert partner.reason == "bob is online already"


def test_bot_never_starts_against_a_server_elsewhere_unless_asked(
    home: Path,
) -> None:
    """A server that is not on loopback gets no bot, from the API or the CLI."""
    far = "ws://classroom.invalid:8765"  # never contacted: .invalid never resolves
    pane = ChatPane("alice", "bob")
    client = ChatClient("alice", Identity.generate(2048), far, partner="bob")
    pane.attach(client, get_network().submit)

    partner = bot.start_partner(pane, passphrase=BOB)

    assert (partner.status, partner.process) == ("not started", None)
    assert "allow_remote=True" in partner.reason
    command = [sys.executable, "-m", "p2plab.bot", "--url", far]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_running_the_cell_again_replaces_the_bot_and_reset_stops_it(
    alice: ChatPane, server: LessonServer
) -> None:
    """A second start stops the first bot; lesson.reset() stops the second."""
    first = bot.start_partner(alice, passphrase=BOB)
    second = bot.start_partner(alice, passphrase=BOB)
    assert first.status == "stopped" and not first.running
    assert second.status == "playing"
    assert second.ask("still there?").endswith("You wrote: 'still there?'")

    lesson.reset()

    assert second.status == "stopped" and not second.running
    assert second.process is not None and second.process.returncode == 0


def test_opening_the_pane_again_stops_its_bot_before_joining(
    alice: ChatPane, server: LessonServer
) -> None:
    """A second open_chat stops the old pane's bot first: the new pane waits alone."""
    partner = bot.start_partner(alice, passphrase=BOB)
    assert partner.status == "playing"

    again = open_chat("alice", partner="bob", passphrase=ALICE, url=server.url)

    assert partner.status == "stopped" and not partner.running
    assert again.connection_state == "waiting"
    assert again.client is not None
    kinds = [f.message["type"] for f in again.client.signaling.frames]
    assert kinds == ["hello", "join", "welcome"]
    assert bot.start_partner(again, passphrase=BOB).status == "playing"


def test_a_key_store_of_its_own_leaves_the_labs_alone(
    server: LessonServer, home: Path, tmp_path: Path
) -> None:
    """Given a key store, the pane and the bot keep both keys there, not in the lab."""
    keys = KeyStore(tmp_path / "lesson-keys")
    pane = open_chat(
        "alice", partner="bob", passphrase=ALICE, url=server.url, keystore=keys
    )

    partner = bot.start_partner(pane, passphrase=BOB, keystore=keys)

    assert partner.status == "playing"
    assert "with bob's own key from the key store it was given" in partner.reason
    assert pane.client is not None
    wait_for(lambda: pane.connection_state == "connected", "alice and the bot")
    assert pane.client.peer_fingerprint == keys.load("bob", BOB).fingerprint
    assert keys.exists("alice")
    assert not (home / "keys").exists()


def test_a_wrong_passphrase_is_refused_before_joining(
    alice: ChatPane, server: LessonServer, home: Path
) -> None:
    """The bot cannot open bob's key with another passphrase, and says so."""
    KeyStore(home / "keys").load_or_create("bob", BOB, 2048)

    partner = bot.start_partner(alice, passphrase="not bob's")

    assert partner.status == "refused"
    assert "wrong passphrase" in partner.reason
    assert joins(server, "bob") == 0


def start_bot_from(parent_code: str, url: str) -> tuple[subprocess.Popen[str], int]:
    """Run ``parent_code`` in a parent process that starts a bot; return both."""
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code, url, BOB],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    return parent, int(line)


# A parent that starts the bot with its stdin on a pipe, prints the bot's id
# once it joined, then sleeps until it is killed.
PARENT = """
import json, subprocess, sys, time
bot = subprocess.Popen(
    [sys.executable, "-m", "p2plab.bot", "--json", "--url", sys.argv[1]],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
)
bot.stdin.write(json.dumps({"passphrase": sys.argv[2]}) + "\\n")
bot.stdin.flush()
for line in bot.stdout:
    if json.loads(line)["event"] == "joined":
        break
print(bot.pid, flush=True)
time.sleep(60)
"""


def test_bot_ends_when_the_process_that_started_it_is_killed(
    server: LessonServer,
) -> None:
    """Killing the parent with SIGKILL closes the bot's stdin: it leaves and ends."""
    parent, pid = start_bot_from(PARENT, server.url)
    try:
        assert joins(server, "bob") == 1
        parent.send_signal(signal.SIGKILL)
        parent.wait(TIMEOUT)
        wait_for(lambda: gone(pid), "the bot to end")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(TIMEOUT)
        assert parent.stdout is not None
        parent.stdout.close()
    wait_for(lambda: "bob" not in server.relay.online, "the server to see bob leave")


def test_cli_reports_json_lines_and_stops_on_a_stop_line(
    server: LessonServer,
) -> None:
    """``python -m p2plab.bot --json`` says it joined, and ends on ``stop``."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2plab.bot",
            "--json",
            "--url",
            server.url,
            "--name",
            "carol",
            "--partner",
            "dave",
            "--room",
            "r1",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps({"passphrase": "carol's"}) + "\n")
    process.stdin.flush()
    joined = json.loads(process.stdout.readline())
    process.stdin.write("stop\n")
    process.stdin.close()
    ended = json.loads(process.stdout.readline())
    process.stdout.close()

    assert process.wait(TIMEOUT) == 0
    assert joined == {
        "event": "joined",
        "text": "in room r1, with carol's own key from this machine's key store, "
        "until the real carol comes",
    }
    assert ended == {"event": "ended", "text": "stopped by the kernel that started it"}
