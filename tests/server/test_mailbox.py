"""Tests for the mailboxes that hold messages for offline users, with no I/O."""

from __future__ import annotations

from p2plab_server.mailbox import Letter, Mailbox, Mailroom


def letter(n: int, deadline: float = 10.0) -> Letter:
    """Return the n-th offer from alice, due at ``deadline``."""
    return Letter("alice", "offer", n, f'{{"seq":{n}}}', deadline)


def test_take_returns_every_letter_oldest_first_and_empties() -> None:
    """Letters come out in the order they went in, and only once."""
    mailbox = Mailbox(capacity=5)
    for n in range(3):
        assert mailbox.put(letter(n))
    assert [item.id for item in mailbox.take()] == [0, 1, 2]
    assert len(mailbox) == 0
    assert mailbox.take() == []


def test_a_full_mailbox_refuses_and_counts_refusals() -> None:
    """Past its capacity a mailbox refuses; ``refused`` resets once one fits."""
    mailbox = Mailbox(capacity=2)
    assert [mailbox.put(letter(n)) for n in range(4)] == [True, True, False, False]
    assert mailbox.refused == 2
    mailbox.take()
    assert mailbox.put(letter(9))
    assert mailbox.refused == 0


def test_expire_removes_only_the_letters_that_are_due() -> None:
    """Letters due by ``now`` come out; later ones stay, and set the deadline."""
    mailbox = Mailbox(capacity=5)
    for n, due in enumerate([1.0, 2.0, 2.0, 3.0]):
        mailbox.put(letter(n, due))
    assert mailbox.expire(0.5) == []
    assert [item.id for item in mailbox.expire(2.0)] == [0, 1, 2]
    assert mailbox.deadline == 3.0
    assert len(mailbox) == 1


def test_an_empty_mailbox_has_no_deadline() -> None:
    """The deadline is None when nothing is held, the head's otherwise."""
    mailbox = Mailbox(capacity=1)
    assert mailbox.deadline is None
    mailbox.put(letter(0, 4.0))
    assert mailbox.deadline == 4.0


# The mailroom: every user's mailbox, and their deadlines.


def test_the_mailroom_keeps_one_mailbox_per_room_and_name() -> None:
    """Letters for bob in two rooms are held apart and taken apart."""
    room = Mailroom(capacity=5)
    room.put(("one", "bob"), letter(1))
    room.put(("two", "bob"), letter(2))
    assert len(room) == 2 and ("one", "bob") in room
    assert [item.id for item in room.take(("one", "bob"))] == [1]
    assert ("one", "bob") not in room and len(room) == 1
    assert room.take(("one", "bob")) == []


def test_a_full_mailbox_in_the_mailroom_refuses() -> None:
    """put is False past the capacity, and the mailbox counts the refusals."""
    room = Mailroom(capacity=1)
    assert room.put(("lab", "bob"), letter(1))
    assert not room.put(("lab", "bob"), letter(2))
    mailbox = room.mailbox(("lab", "bob"))
    assert mailbox is not None and mailbox.refused == 1
    assert room.mailbox(("lab", "zoe")) is None


def test_the_mailroom_expires_due_letters_by_recipient() -> None:
    """expire(now) returns what is due, grouped by recipient, oldest first."""
    room = Mailroom(capacity=5)
    room.put(("lab", "bob"), letter(1, 1.0))
    room.put(("lab", "zoe"), letter(2, 1.0))
    room.put(("lab", "bob"), letter(3, 2.0))
    assert room.deadline == 1.0
    due = room.expire(1.5)
    assert [(address, [i.id for i in items]) for address, items in due] == [
        (("lab", "bob"), [1]),
        (("lab", "zoe"), [2]),
    ]
    assert ("lab", "zoe") not in room and ("lab", "bob") in room
    assert room.deadline == 2.0
    assert room.expire(2.0)[0][1][0].id == 3
    assert len(room) == 0 and room.deadline is None


def test_letters_taken_before_their_deadline_never_expire() -> None:
    """A user who came back took the letters: at the deadline nothing is due."""
    room = Mailroom(capacity=5)
    room.put(("lab", "bob"), letter(1, 1.0))
    room.take(("lab", "bob"))
    room.put(("lab", "bob"), letter(2, 3.0))
    assert room.expire(1.0) == []
    assert [item.id for item in room.take(("lab", "bob"))] == [2]


def test_take_all_empties_the_mailroom() -> None:
    """At shutdown every letter comes out, grouped by recipient, and none stays."""
    room = Mailroom(capacity=5)
    room.put(("lab", "bob"), letter(1))
    room.put(("lab", "zoe"), letter(2))
    everything = room.take_all()
    assert [(address, len(items)) for address, items in everything] == [
        (("lab", "bob"), 1),
        (("lab", "zoe"), 1),
    ]
    assert len(room) == 0 and room.deadline is None and room.expire(99.0) == []
