"""Worked answers to the exercises of lesson 08, two kernels."""

from __future__ import annotations

from p2plab_server.protocol import CLOSE_REPLACED

from p2plab import ChatClient, ChatPane, Identity, bot, get_network


def network_threads() -> int:
    """One network thread in each kernel, and a chat has two kernels."""
    kernels = ("alice", "bob")
    return len(kernels) * 1


def takeover_code() -> int:
    """The server closes the older connection of the same key with 4001."""
    return CLOSE_REPLACED


def server_saw() -> set[str]:
    """Names, public keys and SDP: no session key, no text, no nonce."""
    return {"a", "b", "c"}


def bot_on_class_server() -> str:
    """Ask for a bot on a server elsewhere: it is refused before any traffic.

    The address below is reserved and never resolves; nothing is sent to it,
    since the client is never started.
    """
    client = ChatClient(
        "alice", Identity.generate(2048), "ws://classroom.invalid:8765", partner="bob"
    )
    pane = ChatPane("alice", "bob")
    pane.attach(client, get_network().submit)
    return bot.start_partner(pane, passphrase="unused").status
