"""Worked answers to the exercises of lesson 01, Start here."""

from __future__ import annotations

from p2plab.lesson import LessonServer
from p2plab.sealing import TAG_SIZE


def frame_count(server: LessonServer) -> int:
    """Every frame the server read from alice or wrote to her."""
    return len(server.saw("alice"))


def caller(server: LessonServer) -> str:
    """The user the server read the offer from: the caller."""
    offer = next(s for s in server.saw() if s.type == "offer" and s.direction == "<")
    return offer.user


def ciphertext_size(text: str) -> int:
    """The text's UTF-8 bytes, plus the 16-byte tag; the nonce travels apart."""
    return len(text.encode("utf-8")) + TAG_SIZE
