"""docs/protocol.md and p2plab_server.protocol describe the same protocol.

The document's tables are read as data and compared with the module's, both
ways, so a change to one without the other fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from p2plab_server import Settings
from p2plab_server.proof import JOIN_CONTEXT, signed_message
from p2plab_server.protocol import (
    CLOSE_CODES,
    CLOSE_REPLACED,
    ERRORS,
    MAX_FRAME,
    MESSAGES,
    OPTIONAL,
    PROTOCOL_VERSION,
    REQUESTS,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

# How the document names the JSON type of each Python type a request may hold.
JSON_TYPES = {
    (str,): "string",
    (str, type(None)): "string or null",
    (int, type(None)): "integer or null",
}


def table(heading: str) -> list[list[str]]:
    """Return the rows of the first table after ``heading``, without its header."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    assert len(rows) > 2, f"no table under {heading!r}"
    return rows[2:]


def names(cell: str) -> set[str]:
    """Return the identifiers written in backticks in a table cell."""
    return set(re.findall(r"`([^`]+)`", cell))


def only_name(cell: str) -> str:
    """Return the single identifier in backticks that a cell holds."""
    (name,) = names(cell)
    return name


def test_the_document_states_this_version() -> None:
    """The document's version line names PROTOCOL_VERSION, which is 2."""
    text = DOC.read_text(encoding="utf-8")
    assert f"Protocol version: `{PROTOCOL_VERSION}`" in text
    assert PROTOCOL_VERSION == "2"


def test_client_requests_match_the_module() -> None:
    """The client-to-server table has REQUESTS' types and required fields, and id."""
    rows = table("### Client to server")
    documented = {only_name(row[0]): names(row[1]) for row in rows}
    assert documented == {kind: set(fields) for kind, fields in REQUESTS.items()}
    for row in rows:
        assert names(row[2]) == {"id"}, row
        assert row[3], row


def test_server_messages_match_the_module() -> None:
    """The server-to-client table has MESSAGES' types, fields and optional fields."""
    rows = table("### Server to client")
    documented = {only_name(row[0]): names(row[1]) for row in rows}
    assert documented == {kind: set(fields) for kind, fields in MESSAGES.items()}
    optional = {only_name(row[0]): names(row[2]) for row in rows}
    assert optional == {kind: set(OPTIONAL.get(kind, ())) for kind in MESSAGES}
    assert set(OPTIONAL) <= set(MESSAGES)


def test_every_field_is_documented_once_with_its_json_type() -> None:
    """The fields table lists every field of every message, requests' types agree."""
    rows = table("### Fields")
    documented = {only_name(row[0]): row[1] for row in rows}
    assert len(documented) == len(rows)
    used = {"type", "id"}
    for fields in REQUESTS.values():
        used |= set(fields)
    for kinds in (MESSAGES, OPTIONAL):
        for message_fields in kinds.values():
            used |= set(message_fields)
    assert set(documented) == used
    for fields in REQUESTS.values():
        for field, types in fields.items():
            expected = types if isinstance(types, tuple) else (types,)
            assert documented[field] == JSON_TYPES[expected], field


def test_error_codes_match_the_module() -> None:
    """The error table has exactly ERRORS' codes, each with the same meaning."""
    documented = {only_name(row[0]): row[1] for row in table("## Error codes")}
    assert documented == ERRORS


def test_close_codes_match_the_module() -> None:
    """The close-code table has exactly CLOSE_CODES, each with the same meaning."""
    documented = {int(row[0]): row[1] for row in table("## Close codes")}
    assert documented == CLOSE_CODES
    assert CLOSE_REPLACED in documented


def test_the_join_bytes_example_is_what_the_module_signs() -> None:
    """The document's worked example of the join bytes is signed_message's output."""
    text = DOC.read_text(encoding="utf-8")
    example = signed_message(bytes(range(32)), "lab", "alice")
    assert example.hex() in text
    assert example.startswith(JOIN_CONTEXT)
    assert f'"{JOIN_CONTEXT[:-1].decode()}" || 0x00' in text


@pytest.mark.parametrize("fact", [f"{MAX_FRAME} bytes", "salt of 32 bytes", "4001"])
def test_the_limits_in_the_text_are_the_modules(fact: str) -> None:
    """The numbers the prose states are the ones the modules use."""
    assert fact in DOC.read_text(encoding="utf-8")


DEFAULTS = Settings()


def prose() -> str:
    """Return the document with every run of white space made one space."""
    return " ".join(DOC.read_text(encoding="utf-8").split())


def test_the_limits_table_states_the_default_settings() -> None:
    """Each row of the limits table gives the default the server really has."""
    rows = {
        row[0]: (row[1], names(row[2]), names(row[3])) for row in table("## Limits")
    }
    assert rows == {
        "frame size": (
            f"{DEFAULTS.max_frame} bytes",
            {"--max-frame"},
            {"too-large"},
        ),
        "frames a connection may send": (
            f"{DEFAULTS.rate:g} a second, in bursts of up to {DEFAULTS.burst}",
            {"--rate", "--burst"},
            {"rate-limited"},
        ),
        "users in one room": (
            f"{DEFAULTS.room_users}",
            {"--room-users"},
            {"room-full"},
        ),
        "users on the server": (
            f"{DEFAULTS.server_users}",
            {"--server-users"},
            {"server-full"},
        ),
        "messages held for one offline user": (
            f"{DEFAULTS.queue}, for {DEFAULTS.hold:g} seconds",
            {"--queue", "--hold"},
            {"queue-full"},
        ),
    }


@pytest.mark.parametrize(
    "fact",
    [
        f"every {DEFAULTS.ping_interval:g} seconds (`--ping-interval`)",
        f"{DEFAULTS.ping_timeout:g} seconds after it was sent (`--ping-timeout`)",
        f"up to {DEFAULTS.close_timeout:g} seconds (`--close-timeout`)",
        f"{DEFAULTS.drop_bound:g} seconds with the defaults",
        f"for {DEFAULTS.hold:g} seconds (`--hold`)",
        f"at most {DEFAULTS.queue} messages for that recipient (`--queue`)",
        f"within the close timeout ({DEFAULTS.close_timeout:g} seconds",
        "reason `the server is shutting down`",
        "reason `keepalive ping timeout`",
    ],
)
def test_the_liveness_and_shutdown_numbers_are_the_servers(fact: str) -> None:
    """The keepalive, hold and shutdown figures in the prose are the defaults."""
    assert fact in prose()
