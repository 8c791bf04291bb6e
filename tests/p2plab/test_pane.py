"""The chat pane: events from the network thread in, typed text out."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import pytest

from p2plab import ChatClient, ChatPane, Event, Identity
from p2plab.network import NetworkThread
from p2plab.pane import ENTER_WAIT, Line
from p2plab.signaling import Backoff

if TYPE_CHECKING:
    from conftest import RestartableServer, RunningServer

Until = Callable[..., Awaitable[None]]

# No server listens here; these clients are never started.
NOWHERE = "ws://127.0.0.1:9"
TIMEOUT = 5.0

# Short waits between attempts to reconnect, so that restarts take little time.
FAST = Backoff(first=0.02, cap=0.1)

# The colour of the "reconnecting" badge.
ORANGE = "#bc4c00"


class RecordingClient(ChatClient):
    """A chat client whose ``send`` only records the text it was given."""

    def __init__(self, identity: Identity) -> None:
        super().__init__("alice", identity, NOWHERE, partner="bob")
        self.sent: list[str] = []

    async def send(self, text: str) -> Event:
        self.sent.append(text)
        return Event("message", "recorded", {"sender": self.name, "text": text})


@pytest.fixture
def network() -> Iterator[NetworkThread]:
    """A network thread of the test's own, stopped and closed at teardown."""
    thread = NetworkThread("test-pane-network")
    yield thread
    thread.stop()
    thread.loop.close()


def wait_for(predicate: object, what: str) -> None:
    """Poll ``predicate()`` until it is true, for at most TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def in_thread(*events: Event, pane: ChatPane) -> None:
    """Hand ``events`` to ``pane`` from another thread, as the network does."""
    worker = threading.Thread(target=lambda: [pane.handle(e) for e in events])
    worker.start()
    worker.join(TIMEOUT)
    assert not worker.is_alive()


def test_events_from_another_thread_fill_the_pane() -> None:
    """States, messages and errors sent from a thread show in the widgets."""
    pane = ChatPane("alice", "bob")

    in_thread(
        Event("state", "bob is not here yet; waiting", {"state": "waiting"}),
        Event("state", "chatting with bob", {"state": "connected"}),
        Event("message", "opened #1", {"sender": "bob", "text": "hi <alice>"}),
        Event("message", "sealed #1", {"sender": "alice", "text": "hi", "sent": True}),
        Event("error", "a message failed authentication"),
        Event("step", "data channel open"),
        pane=pane,
    )

    assert [state for _, state, _ in pane.states] == ["offline", "waiting", "connected"]
    assert pane.connection_state == "connected"
    assert "<b>connected</b>" in pane.state.value
    assert pane.transcript_text() == (
        "bob: hi <alice>\nalice: hi\n!: a message failed authentication"
    )
    assert "hi &lt;alice&gt;" in pane.transcript.value
    assert "data channel open" in pane.connection_log.value


def test_lines_carry_their_arrival_time() -> None:
    """Each transcript line records when it reached the pane."""
    pane = ChatPane("bob", "alice")
    before = time.time()

    in_thread(Event("message", "opened", {"sender": "alice", "text": "hi"}), pane=pane)

    (line,) = pane.lines
    assert (line.sender, line.text) == ("alice", "hi")
    assert before <= line.time <= time.time()


def test_waiting_pane_says_what_to_do() -> None:
    """While waiting, the pane says who is missing, that it connects, and the bot."""
    pane = ChatPane("alice", "bob")

    pane.handle(Event("state", "bob is not here yet", {"state": "waiting"}))
    hint = pane.hint.value
    pane.handle(Event("state", "chatting with bob", {"state": "connected"}))

    assert "bob is not here yet" in hint
    assert "connects by itself" in hint
    assert "partner bot can play bob" in hint
    assert pane.hint.value == ""


def test_fingerprints_are_shown(
    alice_id: Identity, bob_id: Identity, network: NetworkThread
) -> None:
    """The pane shows our fingerprint at once and the peer's once it is known."""
    pane = ChatPane("alice", "bob")
    client = ChatClient("alice", alice_id, NOWHERE, partner="bob")
    pane.attach(client, network.submit)

    assert alice_id.fingerprint in pane.fingerprint.value
    assert "(no peer yet)" in pane.fingerprint.value
    client.peer_fingerprint = bob_id.fingerprint
    in_thread(Event("step", "looked up bob's public key"), pane=pane)
    assert bob_id.fingerprint in pane.fingerprint.value
    assert pane.client is client


def press_enter(pane: ChatPane, value: str | None = None) -> None:
    """Do what the browser does on Enter: "submit", then the new value if any."""
    pane.input._handle_custom_msg({"event": "submit"}, [])
    if value is not None:
        pane.input.set_state({"value": value})


def test_enter_in_the_box_sends_the_text(
    alice_id: Identity, network: NetworkThread
) -> None:
    """Text synced keystroke by keystroke is sent once on Enter; the box empties."""
    pane = ChatPane("alice", "bob")
    client = RecordingClient(alice_id)
    pane.attach(client, network.submit)

    # This is what ipywidgets does with the browser's "update" messages.
    pane.input.set_state({"value": "hello"})
    pane.input.set_state({"value": "hello bob"})
    assert client.sent == []
    press_enter(pane)
    wait_for(lambda: client.sent, "the text to reach the client")
    pane.send_button.click()  # the box is empty again: nothing more is sent
    press_enter(pane)

    assert client.sent == ["hello bob"]
    assert pane.input.value == ""
    assert pane.lines == []


def test_enter_then_the_new_value_sends_at_once(
    alice_id: Identity, network: NetworkThread
) -> None:
    """The value that follows Enter is sent without waiting, and only once."""
    pane = ChatPane("alice", "bob")
    client = RecordingClient(alice_id)
    pane.attach(client, network.submit)

    press_enter(pane, "first")
    press_enter(pane, "second")
    wait_for(lambda: len(client.sent) == 2, "both messages")
    time.sleep(2 * ENTER_WAIT)
    assert client.sent == ["first", "second"]
    assert pane.input.value == ""


def test_a_refused_send_gives_the_text_back(
    alice_id: Identity, network: NetworkThread
) -> None:
    """When a send fails, the refusal names the text and the box gets it back."""
    pane = ChatPane("alice", "bob")
    pane.attach(ChatClient("alice", alice_id, NOWHERE, partner="bob"), network.submit)

    press_enter(pane, "keep me")
    wait_for(lambda: pane.lines, "the refusal")

    assert pane.transcript_text().startswith("!: not sent: 'keep me': no open chat")
    wait_for(lambda: pane.input.value == "keep me", "the text to come back")


def test_leaving_the_box_keeps_the_draft(
    alice_id: Identity, network: NetworkThread
) -> None:
    """Typed text is not sent until Enter or Send, whatever the focus does."""
    pane = ChatPane("alice", "bob")
    client = RecordingClient(alice_id)
    pane.attach(client, network.submit)

    pane.input.set_state({"value": "half-typed draf"})
    time.sleep(0.2)
    assert client.sent == []
    assert pane.input.value == "half-typed draf"
    pane.send_button.click()
    wait_for(lambda: client.sent, "the draft to be sent by the button")
    assert client.sent == ["half-typed draf"]


def test_blank_text_is_not_sent(alice_id: Identity, network: NetworkThread) -> None:
    """Enter on an empty or whitespace-only box sends nothing."""
    pane = ChatPane("alice", "bob")
    client = RecordingClient(alice_id)
    pane.attach(client, network.submit)

    pane.input.set_state({"value": "   "})
    press_enter(pane)
    time.sleep(0.2)
    assert client.sent == []


def test_send_without_a_chat_shows_why(
    alice_id: Identity, network: NetworkThread
) -> None:
    """Sending before a chat is open shows a red line saying why, not an exception."""
    pane = ChatPane("alice", "bob")
    pane.attach(ChatClient("alice", alice_id, NOWHERE, partner="bob"), network.submit)

    press_enter(pane, "too early")
    wait_for(lambda: pane.lines, "the refusal")

    assert pane.transcript_text() == "!: not sent: 'too early': no open chat (offline)"


def test_pane_without_client_refuses_to_send() -> None:
    """A pane that has no client says so when something is typed."""
    pane = ChatPane("alice")

    press_enter(pane, "anyone?")

    assert pane.transcript_text().startswith("!: not connected")


def test_two_writers_lose_no_lines() -> None:
    """Two threads writing at once leave every line in the transcript."""
    pane = ChatPane("alice", "bob")
    count = 300

    def write(sender: str) -> None:
        for i in range(count):
            pane.handle(Event("message", "", {"sender": sender, "text": str(i)}))

    workers = [threading.Thread(target=write, args=(who,)) for who in ("bob", "eve")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(TIMEOUT)

    assert len(pane.lines) == 2 * count
    for who in ("bob", "eve"):
        assert [line.text for line in pane.lines if line.sender == who] == [
            str(i) for i in range(count)
        ]


def test_pane_never_prints(
    capfd: pytest.CaptureFixture[str], alice_id: Identity, network: NetworkThread
) -> None:
    """Events, sends and refusals go into widgets, never to stdout or stderr."""
    pane = ChatPane("alice", "bob")
    pane.attach(ChatClient("alice", alice_id, NOWHERE, partner="bob"), network.submit)

    in_thread(
        Event("state", "waiting", {"state": "waiting"}),
        Event("message", "", {"sender": "bob", "text": "hi"}),
        Event("error", "refused"),
        pane=pane,
    )
    press_enter(pane, "not yet")
    wait_for(lambda: len(pane.lines) == 3, "the refusal")

    assert capfd.readouterr() == ("", "")


def test_state_history_is_kept_and_logged() -> None:
    """Every state stays in the history and in the log, in order, with its detail."""
    pane = ChatPane("alice", "bob")

    for state, detail in (
        ("joining", "connecting to the server"),
        ("waiting", "bob is not here yet"),
        ("connecting", "answering bob"),
        ("connected", "chatting with bob"),
    ):
        pane.handle(Event("state", detail, {"state": state}))

    assert [state for _, state, _ in pane.states] == [
        "offline",
        "joining",
        "waiting",
        "connecting",
        "connected",
    ]
    log = pane.connection_log.value
    positions = [
        log.index(f"state: {detail}")
        for detail in ("connecting to the server", "bob is not here yet", "answering")
    ]
    assert positions == sorted(positions)


# The wire view.

NONCE = bytes.fromhex("000000020000000000000007")
SEALED = bytes(range(40))


def test_wire_line_gives_nonce_size_and_a_cut_ciphertext() -> None:
    """A line's wire text has the nonce, the ciphertext's size, and its ends in hex."""
    line = Line("bob", "hello", 0.0, nonce=NONCE, ciphertext=SEALED)
    short = Line("bob", "", 0.0, nonce=NONCE, ciphertext=bytes(range(12)))

    assert line.wire == (
        "nonce 000000020000000000000007 · 40 bytes · 0001020304050607…24252627"
    )
    assert short.wire.endswith("· 12 bytes · 000102030405060708090a0b")
    assert Line("!", "refused", 0.0).wire == ""


def test_the_wire_toggle_shows_how_each_message_travelled() -> None:
    """Off, the transcript shows text only; on, each message also shows its wire."""
    pane = ChatPane("alice", "bob")
    pane.handle(
        Event(
            "message",
            "opened #7",
            {"sender": "bob", "text": "hi", "nonce": NONCE, "ciphertext": SEALED},
        )
    )
    pane.handle(Event("error", "a message failed authentication"))
    hidden = pane.transcript.value

    pane.wire.value = True
    shown = pane.transcript.value
    pane.wire.value = False

    assert "on the wire" not in hidden and NONCE.hex() not in hidden
    assert shown.count("on the wire: ") == 1
    assert f"nonce {NONCE.hex()} · 40 bytes · 0001020304050607…24252627" in shown
    assert pane.transcript.value == hidden
    assert pane.wire.description == "show the wire"
    assert "p2plab-wire" in pane.wire._dom_classes


async def test_a_real_chat_shows_its_wire_and_both_fingerprints(
    server: RunningServer,
    clients: list[ChatClient],
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """In a real chat the wire shows each message's own nonce and sealed size."""
    alice = ChatClient("alice", alice_id, server.url, partner="bob", backoff=None)
    bob = ChatClient("bob", bob_id, server.url, partner="alice", backoff=None)
    clients.extend([alice, bob])
    pane = ChatPane("alice", "bob")
    pane.attach(alice, loop_submit(asyncio.get_running_loop()))
    await alice.start()
    await bob.start()
    await alice.wait_ready(TIMEOUT)
    pane.wire.value = True

    sent = await bob.send("ciphertext, please")
    await until(lambda: pane.lines, what="bob's message")
    mine = await alice.send("and back")
    await until(lambda: pane.lines[-1].delivered, what="bob's receipt")

    received, own = pane.lines
    assert received.nonce == sent.data["nonce"]
    assert received.ciphertext == sent.data["ciphertext"]
    assert len(received.ciphertext) == len("ciphertext, please") + 16
    assert own.nonce == mine.data["nonce"] and own.nonce != received.nonce
    for line in pane.lines:
        assert f"on the wire: {line.wire}" in pane.transcript.value
    assert alice_id.fingerprint in pane.fingerprint.value
    assert bob_id.fingerprint in pane.fingerprint.value


def test_repr_names_the_chat_only() -> None:
    """The text form of a pane is stable: no times, keys or states in it."""
    assert repr(ChatPane("alice", "bob")) == "<ChatPane alice ↔ bob>"
    assert repr(ChatPane("carol")) == "<ChatPane carol>"


# Losing the server.


def test_reconnecting_shows_its_colour_and_when_it_retries() -> None:
    """A "reconnecting" state gets its own colour and a hint with the next attempt."""
    pane = ChatPane("alice", "bob")

    pane.handle(Event("state", "waiting", {"state": "waiting"}))
    pane.handle(
        Event(
            "state",
            "the signaling server is unreachable",
            {"state": "reconnecting", "attempt": 3, "delay": 0.8},
        )
    )
    hint = pane.hint.value
    badge = pane.state.value
    pane.handle(Event("state", "back on the server", {"state": "waiting"}))

    assert ORANGE in badge and "<b>reconnecting</b>" in badge
    assert "unreachable; retrying in 0.8 s (attempt 3)" in hint
    assert "An open chat keeps working" in hint
    assert "bob is not here yet" in pane.hint.value


def test_server_news_during_a_chat_keeps_the_badge_and_shows_a_hint() -> None:
    """While chatting, server news changes the hint only; the rejoin clears it."""
    pane = ChatPane("alice", "bob")
    pane.handle(Event("state", "chatting with bob", {"state": "connected"}))

    pane.handle(Event("server", "shutting down", {"server": "shutdown"}))
    shutdown = pane.hint.value
    pane.handle(
        Event("server", "unreachable", {"server": "reconnecting", "attempt": 1})
    )
    retrying = pane.hint.value
    assert pane.connection_state == "connected"
    pane.handle(Event("server", "back", {"server": "joined", "peers": ["bob"]}))

    assert "shutting down" in shutdown and "reconnects by itself" in shutdown
    assert "unreachable; retrying (attempt 1)" in retrying
    assert pane.hint.value == ""
    assert [state for _, state, _ in pane.states] == ["offline", "connected"]
    assert "server: unreachable" in pane.connection_log.value


def test_leaving_the_server_for_good_during_a_chat_says_what_to_do() -> None:
    """Off the server for good, the pane says the chat goes on and how to rejoin."""
    pane = ChatPane("alice", "bob")
    pane.handle(Event("state", "chatting with bob", {"state": "connected"}))

    pane.handle(Event("server", "gave up", {"server": "offline"}))

    assert "this chat goes on peer to peer" in pane.hint.value
    assert "run the cell" in pane.hint.value


def loop_submit(
    loop: asyncio.AbstractEventLoop,
) -> Callable[[Coroutine[Any, Any, Any]], Future[Any]]:
    """Return a submit function that runs coroutines on ``loop``."""
    return lambda coro: asyncio.run_coroutine_threadsafe(coro, loop)


@pytest.fixture
async def clients() -> AsyncIterator[list[ChatClient]]:
    """A list to put chat clients in; each is closed at teardown."""
    made: list[ChatClient] = []
    yield made
    for client in made:
        await client.close()


async def test_a_waiting_pane_shows_reconnecting_then_waits_again(
    restartable: RestartableServer,
    clients: list[ChatClient],
    alice_id: Identity,
    until: Until,
) -> None:
    """With the server gone the pane says it retries; once back, it waits again."""
    client = ChatClient("alice", alice_id, restartable.url, partner="bob", backoff=FAST)
    clients.append(client)
    pane = ChatPane("alice", "bob")
    pane.attach(client, loop_submit(asyncio.get_running_loop()))
    await client.start()
    assert pane.connection_state == "waiting"

    await restartable.stop()
    await until(lambda: pane.connection_state == "reconnecting", what="the badge")
    assert ORANGE in pane.state.value
    assert "The signaling server is unreachable; retrying in" in pane.hint.value

    await restartable.start()
    await until(lambda: pane.connection_state == "waiting", what="the recovery")
    assert "bob is not here yet" in pane.hint.value
    assert client.signaling.connected


async def test_a_chatting_pane_stays_connected_while_the_server_is_away(
    restartable: RestartableServer,
    clients: list[ChatClient],
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """The badge stays "connected", the hint says it retries, and messages arrive."""
    alice = ChatClient("alice", alice_id, restartable.url, partner="bob", backoff=FAST)
    bob = ChatClient("bob", bob_id, restartable.url, partner="alice", backoff=FAST)
    clients.extend([alice, bob])
    pane = ChatPane("alice", "bob")
    pane.attach(alice, loop_submit(asyncio.get_running_loop()))
    await alice.start()
    await bob.start()
    await alice.wait_ready(TIMEOUT)

    await restartable.stop()
    await until(lambda: "unreachable" in pane.hint.value, what="the hint")
    await bob.send("the server is down, but this arrives")
    await until(lambda: pane.lines, what="bob's message")
    assert pane.connection_state == "connected"
    assert pane.transcript_text() == "bob: the server is down, but this arrives"

    await restartable.start()
    await until(lambda: pane.hint.value == "", what="the hint to clear")
    assert pane.connection_state == "connected"
    assert alice.signaling.connected
