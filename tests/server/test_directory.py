"""Tests for the directory that binds names to public keys."""

from __future__ import annotations

from p2plab_server.directory import Directory


def test_a_free_name_binds_to_the_first_key() -> None:
    """Binding a free name succeeds and the name then returns that key."""
    directory = Directory()
    assert directory.bind("alice", "K1")
    assert directory.get("alice") == "K1"


def test_the_same_key_binds_again() -> None:
    """Binding a name again with the key it holds succeeds."""
    directory = Directory()
    directory.bind("alice", "K1")
    assert directory.bind("alice", "K1")
    assert len(directory) == 1


def test_another_key_cannot_take_a_bound_name() -> None:
    """Binding a bound name to another key fails and keeps the first key."""
    directory = Directory()
    directory.bind("alice", "K1")
    assert not directory.bind("alice", "K2")
    assert directory.get("alice") == "K1"


def test_one_key_may_hold_several_names() -> None:
    """Two names may be bound to the same key."""
    directory = Directory()
    assert directory.bind("alice", "K1")
    assert directory.bind("alice2", "K1")
    assert len(directory) == 2


def test_an_unbound_name_has_no_key() -> None:
    """get returns None and ``in`` is false for a name never bound."""
    directory = Directory()
    assert directory.get("alice") is None
    assert "alice" not in directory
    assert None not in directory
    assert len(directory) == 0


def test_membership_follows_bindings() -> None:
    """A name is ``in`` the directory once bound, whatever its key."""
    directory = Directory()
    directory.bind("alice", "K1")
    directory.bind("alice", "K2")
    assert "alice" in directory
    assert "bob" not in directory
