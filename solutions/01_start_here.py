"""Worked answers to the exercises of lesson 01, Start here."""

from __future__ import annotations

from p2plab.lesson import LessonServer
from p2plab.sealing import TAG_SIZE


def byte_count(server: LessonServer) -> int:
    """The sizes of every frame the server read from alice or wrote to her."""
    return sum(seen.size for seen in server.saw("alice"))


def written_to_bob(server: LessonServer) -> list[str]:
    """The types of the frames the server wrote to bob (direction ">"), in order."""
    return [seen.type for seen in server.saw("bob") if seen.direction == ">"]


def ciphertext_size(text: str) -> int:
    """The text's UTF-8 bytes, plus the 16-byte tag; the nonce travels apart."""
    return len(text.encode("utf-8")) + TAG_SIZE
