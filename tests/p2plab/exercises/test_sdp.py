"""The exercises of "Offer and answer": solutions pass, mistakes get their hint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import ModuleType

import pytest

from p2plab.exercises import AS_TEXT, NOT_TRIED
from p2plab.exercises import sdp as check
from p2plab.peer import Peer

from .conftest import load_solutions


@dataclass(frozen=True)
class Descriptions:
    """An offer and the answer to it, from two real peers."""

    offer: str
    answer: str


@pytest.fixture(scope="module")
def solutions() -> ModuleType:
    """The worked solutions of the lesson."""
    return load_solutions("03_offer_answer")


@pytest.fixture
async def sdp() -> AsyncIterator[Descriptions]:
    """The offer and answer of two loopback peers, as in the lesson."""
    caller = Peer(ice_servers=[], policy="loopback")
    callee = Peer(ice_servers=[], policy="loopback")
    offer = await caller.create_offer()
    answer = await callee.accept_offer(offer)
    yield Descriptions(offer, answer)
    await caller.close()
    await callee.close()


def port_of_media(offer: str) -> int:
    """The UDP port on the offer's m= line."""
    line = next(line for line in offer.splitlines() if line.startswith("m="))
    return int(line.split()[1])


async def test_every_solution_passes_its_check(
    sdp: Descriptions, solutions: ModuleType
) -> None:
    """Each worked solution, run on this run's descriptions, is right."""
    verdicts = [
        check.ports(solutions.ports(sdp.answer), sdp.answer),
        check.candidate_port(solutions.candidate_port(sdp.offer), sdp.offer),
        check.answer_setup(solutions.answer_setup(sdp.answer), sdp.answer),
        check.dtls_client(solutions.dtls_client(sdp.answer), sdp.answer),
        check.candidate_count(
            solutions.candidate_count(check.LAPTOP_OFFER), check.LAPTOP_OFFER
        ),
        check.fingerprint_hashes(solutions.fingerprint_hashes(sdp.offer), sdp.offer),
        check.ice_credentials(solutions.ice_credentials, sdp.offer),
        check.ice_credentials(solutions.ice_credentials, sdp.answer),
    ]
    assert all(verdicts), [str(v) for v in verdicts]
    assert solutions.dtls_client(sdp.answer) == "bob"
    assert solutions.candidate_count(check.LAPTOP_OFFER) == 3


async def test_placeholders_are_not_tried(sdp: Descriptions) -> None:
    """Left as ``...``, every exercise is "not tried yet", stub function included."""

    def stub(text: str) -> object:
        return ...

    verdicts = [
        check.ports(..., sdp.answer),
        check.candidate_port(..., sdp.offer),
        check.answer_setup(..., sdp.answer),
        check.dtls_client(..., sdp.answer),
        check.candidate_count(..., check.LAPTOP_OFFER),
        check.fingerprint_hashes(..., sdp.offer),
        check.ice_credentials(..., sdp.offer),
        check.ice_credentials(stub, sdp.offer),
    ]
    assert [v.message for v in verdicts] == [NOT_TRIED] * len(verdicts)


async def test_ports_mistakes(sdp: Descriptions) -> None:
    """One port, text, a swap, the message size or one wrong port each get a hint."""
    udp = port_of_media(sdp.answer)
    assert check.ports((udp, 5000), sdp.answer)
    assert check.ports([float(udp), 5000.0], sdp.answer)

    def message(answer: object) -> str:
        return check.ports(answer, sdp.answer).message

    assert "give both, as a pair" in message(5000)
    assert "give both, as a pair" in message(udp)
    assert "but text" in message((str(udp), "5000"))
    assert "wrong order" in message((5000, udp))
    assert "a size in bytes" in message((udp, 262144))
    assert "has a line of its own" in message((udp, 5001))
    assert "second field of the m= line" in message((udp + 1, 5000))
    assert "a pair of numbers" in message("5000")
    assert str(udp) not in message((udp + 1, 5001))


async def test_candidate_port_mistakes(sdp: Descriptions) -> None:
    """The SCTP port, the priority, the component, text and address:port are hinted."""
    udp = port_of_media(sdp.offer)
    assert check.candidate_port(udp, sdp.offer)
    assert "that is the SCTP port" in check.candidate_port(5000, sdp.offer).message
    priority = check.candidate_port(2130706431, sdp.offer)
    assert "priority" in priority.message
    assert "count the fields" in check.candidate_port(1, sdp.offer).message
    assert AS_TEXT == check.candidate_port(str(udp), sdp.offer).message
    joined = check.candidate_port(f"127.0.0.1:{udp}", sdp.offer)
    assert "the port alone" in joined.message
    assert str(udp) not in check.candidate_port(udp + 1, sdp.offer).message


async def test_setup_and_dtls_client_mistakes(sdp: Descriptions) -> None:
    """The offer's actpass, a whole line, roles for names and the wrong name."""
    assert "an answer must pick" in check.answer_setup("actpass", sdp.answer).message
    assert "only the word" in check.answer_setup("a=setup:active", sdp.answer).message
    assert "strip the spaces" in check.answer_setup(" active", sdp.answer).message
    assert "lower case" in check.answer_setup("ACTIVE", sdp.answer).message
    assert "lower case" in check.answer_setup(" Active ", sdp.answer).message
    assert "answers active" in check.answer_setup("active", sdp.answer).message
    assert "not of the offer" in check.answer_setup("passive", sdp.answer).message

    assert "give a name" in check.dtls_client("client", sdp.answer).message
    wrong = check.dtls_client("alice", sdp.answer)
    assert "Who wrote the answer?" in wrong.message and "bob" not in wrong.message
    assert check.dtls_client("Bob", sdp.answer)


def test_candidate_count_mistakes() -> None:
    """Counting end-of-candidates, Alice's one candidate, or nothing gets a hint."""
    laptop = check.LAPTOP_OFFER
    assert "end-of-candidates" in check.candidate_count(4, laptop).message
    assert "for each interface" in check.candidate_count(1, laptop).message
    assert AS_TEXT == check.candidate_count("3", laptop).message
    assert "look for lines" in check.candidate_count(0, laptop).message
    assert "count the lines" in check.candidate_count(2, laptop).message
    assert check.candidate_count(3, laptop)


async def test_fingerprint_hash_mistakes(sdp: Descriptions) -> None:
    """One name, whole fingerprints, other spellings and another order are hinted."""
    assert "more than one" in check.fingerprint_hashes("sha-256", sdp.offer).message
    whole = [
        line.split(":", 1)[1] for line in sdp.offer.splitlines() if "finger" in line
    ]
    assert "before the hex bytes" in check.fingerprint_hashes(whole, sdp.offer).message
    spelt = ["SHA256", "SHA384", "SHA512"]
    assert "with the dash" in check.fingerprint_hashes(spelt, sdp.offer).message
    turned = ["sha-512", "sha-384", "sha-256"]
    assert "in the order" in check.fingerprint_hashes(turned, sdp.offer).message
    assert check.fingerprint_hashes(("sha-256", "sha-384", "sha-512"), sdp.offer)


async def test_ice_credentials_mistakes(
    sdp: Descriptions, solutions: ModuleType
) -> None:
    """Calling it, errors, hard-coded values, prefixes, order and \\r get a hint."""
    right: tuple[str, str] = solutions.ice_credentials(sdp.offer)

    def hard_coded(text: str) -> tuple[str, str]:
        return right

    def with_prefixes(text: str) -> tuple[str, str]:
        lines = text.splitlines()
        return (
            next(x for x in lines if x.startswith("a=ice-ufrag")),
            next(x for x in lines if x.startswith("a=ice-pwd")),
        )

    def swapped(text: str) -> tuple[str, str]:
        ufrag, pwd = solutions.ice_credentials(text)
        return pwd, ufrag

    def split_on_newline(text: str) -> tuple[str, ...]:
        lines = text.split("\n")
        return tuple(
            next(x.split(":", 1)[1] for x in lines if x.startswith(prefix))
            for prefix in ("a=ice-ufrag", "a=ice-pwd")
        )

    def broken(text: str) -> tuple[str, str]:
        raise KeyError("ice")

    def message(answer: object) -> str:
        return check.ice_credentials(answer, sdp.offer).message

    assert "without calling it" in message(right)
    assert "raised an error" in message(broken)
    assert "wrong for another one" in message(hard_coded)
    assert "drop the a=ice-ufrag:" in message(with_prefixes)
    assert "wrong order" in message(swapped)
    assert "\\r\\n" in message(split_on_newline)
    assert all(value not in message(swapped) for value in right)
