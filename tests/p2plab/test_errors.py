"""Tests for p2plab.errors: one root, a documented tree, useful attributes."""

from __future__ import annotations

import inspect

import pytest

from p2plab import errors
from p2plab.errors import (
    ChatError,
    ClosedByUser,
    ConnectError,
    DecryptionError,
    InternalsMoved,
    P2PLabError,
    PeerGone,
    ReplayError,
    SignalingClosed,
    SignalingError,
    UnwrapError,
)

# Each exception with the class it derives from directly.
TREE = {
    P2PLabError: Exception,
    SignalingError: P2PLabError,
    SignalingClosed: P2PLabError,
    ConnectError: P2PLabError,
    ChatError: P2PLabError,
    DecryptionError: ChatError,
    ReplayError: ChatError,
    UnwrapError: ChatError,
    PeerGone: P2PLabError,
    ClosedByUser: P2PLabError,
    InternalsMoved: P2PLabError,
}


@pytest.mark.parametrize("cls", list(TREE), ids=lambda cls: cls.__name__)
def test_each_error_has_its_place_in_the_tree(cls: type[Exception]) -> None:
    """Every exception derives directly from the parent the docs give it."""
    assert cls.__bases__ == (TREE[cls],)
    assert issubclass(cls, P2PLabError)


def test_the_module_exports_exactly_the_tree() -> None:
    """errors.__all__ names every exception class the module defines, and no more."""
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert set(errors.__all__) == defined == {cls.__name__ for cls in TREE}


@pytest.mark.parametrize("cls", list(TREE), ids=lambda cls: cls.__name__)
def test_the_module_docstring_draws_every_error(cls: type[Exception]) -> None:
    """Each exception appears in the tree drawn in the module docstring."""
    assert errors.__doc__ is not None
    assert cls.__name__ in errors.__doc__
    assert cls.__doc__


def test_you_closed_it_is_not_the_peer_left() -> None:
    """ClosedByUser and PeerGone are separate branches: neither catches the other."""
    assert not issubclass(ClosedByUser, PeerGone)
    assert not issubclass(PeerGone, ClosedByUser)


def test_signaling_error_carries_code_message_and_ref() -> None:
    """SignalingError keeps the server's code, message and ref, and shows them."""
    error = SignalingError("name-taken", "pick another name", "join")
    assert (error.code, error.message, error.ref) == (
        "name-taken",
        "pick another name",
        "join",
    )
    assert "name-taken" in str(error)
    assert "pick another name" in str(error)


def test_signaling_error_ref_is_optional() -> None:
    """A SignalingError without a ref has ref None."""
    assert SignalingError("bad-json", "not JSON").ref is None


def test_a_chat_failure_is_caught_as_chat_error() -> None:
    """Catching ChatError catches decryption, replay and unwrap failures alike."""
    for cls in (DecryptionError, ReplayError, UnwrapError):
        with pytest.raises(ChatError):
            raise cls("refused")
