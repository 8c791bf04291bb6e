"""Tests for the frame a relayed request becomes: spliced when safe, else re-encoded.

Whatever the client wrote, the recipient must get strict UTF-8 JSON whose
``from`` the server set and which holds neither the client's ``to`` nor its
``id``, once each key, with the fields the server checked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from p2plab_server.protocol import ProtocolError, parse, relayed

SENDER = "alice"


def keys_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object from its pairs, failing on a repeated key."""
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key is repeated: {keys}"
    return dict(pairs)


def read_relayed(frame: bytes) -> dict[str, Any]:
    """Parse a relayed frame as a recipient would, strictly."""
    text = frame.decode("utf-8")  # strict: a lone surrogate fails here
    message: dict[str, Any] = json.loads(text, object_pairs_hook=keys_once)
    return message


def expected(request: dict[str, Any]) -> dict[str, Any]:
    """What the recipient should read for a request parsed from a client."""
    fields = {k: v for k, v in request.items() if k not in ("to", "id")}
    return {**fields, "from": SENDER}


def check(frame: bytes) -> bytes:
    """Relay ``frame`` from alice; check what the recipient reads; return it."""
    request = parse(frame)
    out = relayed(frame, request, SENDER)
    assert read_relayed(out) == expected(request)
    return out


def spliced(frame: bytes) -> bytes:
    """The frame with only its opening rewritten, as the fast path should do."""
    return frame.replace(b'"to":"bob"', b'"from":"alice"', 1)


# Frames that open as compact JSON does, with no id: only the opening changes.
FAST = [
    pytest.param(b'{"type":"offer","to":"bob","sdp":"v=0\\r\\n"}', id="offer"),
    pytest.param(b'{"type":"answer","to":"bob","sdp":"v=0"}', id="answer"),
    pytest.param(
        b'{"type":"candidate","to":"bob","candidate":"c","sdpMid":null,'
        b'"sdpMLineIndex":0}',
        id="candidate",
    ),
    pytest.param(b'{"type":"bye","to":"bob"}', id="bye-ends-after-to"),
    pytest.param(b'{"type":"bye","to":"bob"} \n', id="trailing-whitespace"),
    pytest.param(
        b'{"type":"offer","to":"bob", "sdp" : "v=0" }', id="whitespace-after-to"
    ),
    pytest.param('{"type":"offer","to":"bob","sdp":"café 😀"}'.encode(), id="utf8"),
    pytest.param(
        b'{"type":"offer","to":"bob","sdp":"caf\\u00e9 \\ud83d\\ude00"}',
        id="escapes-in-a-value",
    ),
]


@pytest.mark.parametrize("frame", FAST)
def test_a_canonical_frame_is_passed_on_with_its_opening_rewritten(
    frame: bytes,
) -> None:
    """A compact frame without id goes on as sent, but for to -> from."""
    assert check(frame) == spliced(frame)


# Frames that must be re-encoded: another shape, an id, or a text that could
# say something other than what was parsed. Most open as the fast path likes.
OPEN = b'{"type":"offer","to":"bob",'
FALLBACK = [
    pytest.param(b'{"type": "offer", "to": "bob", "sdp": "v=0"}', id="whitespace"),
    pytest.param(b'{"to":"bob","type":"offer","sdp":"v=0"}', id="key-order"),
    pytest.param(OPEN + b'"sdp":"v=0","id":7}', id="id"),
    pytest.param(OPEN + b'"sdp":"v","i\\u0064":7}', id="escaped-id"),
    pytest.param(OPEN + b'"sdp":"\\",\\"to\\":\\"carol"}', id="quoted-to-in-sdp"),
    pytest.param(OPEN + b'"sdp":"v","to":"carol"}', id="to-twice"),
    pytest.param(OPEN + b'"sdp":"v","to":"bob"}', id="to-twice-same"),
    pytest.param(OPEN + b'"sdp":"v","t\\u006f":"bob"}', id="escaped-to"),
    pytest.param(b'{"type":"offer","to":"b\\u006fb","sdp":"v"}', id="escaped-name"),
    pytest.param(OPEN + b'"type":"answer","sdp":"v"}', id="type-twice"),
    pytest.param(OPEN + b'"sdp":"v","typ\\u0065":"offer"}', id="escaped-type"),
    pytest.param(OPEN + b'"sdp":"\\ud800"}', id="lone-surrogate"),
    pytest.param(OPEN + b'"sdp":"\xed\xa0\x80"}', id="raw-surrogate"),
    pytest.param(b"\xef\xbb\xbf" + OPEN + b'"sdp":"v"}', id="bom"),
    pytest.param('{"type":"offer","to":"bob","sdp":"v"}'.encode("utf-16"), id="utf16"),
]


@pytest.mark.parametrize("frame", FALLBACK)
def test_any_other_frame_is_re_encoded(frame: bytes) -> None:
    """A frame the fast path cannot vouch for is encoded anew from the request."""
    out = check(frame)
    assert out != spliced(frame)
    assert list(read_relayed(out))[-1] == "from"


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type":"offer","to":"bob\\",\\"x\\":\\"","sdp":"v"}',
        b'{"type":"offer","to":"bob","sdp":"v","from":"mallory"}',
        b'{"type":"offer","to":"bob","sdp":"v","fr\\u006fm":"mallory"}',
    ],
    ids=["quote-in-to", "from", "escaped-from"],
)
def test_frames_that_could_forge_the_envelope_are_refused(frame: bytes) -> None:
    """A recipient name with quotes, or any spelling of from, never parses."""
    with pytest.raises(ProtocolError) as refused:
        parse(frame)
    assert refused.value.code == "bad-field"


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", fullmatch=True)
strings = st.text(max_size=20)  # surrogates included
requests = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["offer", "answer"]), "to": names, "sdp": strings}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("candidate"),
            "to": names,
            "candidate": strings,
            "sdpMid": st.none() | strings,
            "sdpMLineIndex": st.none() | st.integers(0, 9),
        }
    ),
    st.fixed_dictionaries({"type": st.just("bye"), "to": names}),
)


@given(
    requests,
    st.none() | st.integers() | strings,
    st.booleans(),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_every_way_of_writing_a_request_relays_correctly(
    request: dict[str, Any],
    msg_id: int | str | None,
    ascii_only: bool,
    compact: bool,
    order: Any,
) -> None:
    """Any key order, spacing, escaping and id: the recipient reads the request."""
    if request["to"] == SENDER:
        request["to"] = "bob"
    if msg_id is not None:
        request["id"] = msg_id
    items = list(request.items())
    order.shuffle(items)
    text = json.dumps(
        dict(items),
        ensure_ascii=ascii_only,
        separators=(",", ":") if compact else None,
    )
    try:
        frame = text.encode("utf-8")
    except UnicodeEncodeError:
        frame = text.encode("utf-8", "surrogatepass")
    check(frame)
