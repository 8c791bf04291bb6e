"""Tests for the health report: the ``health`` message and ``GET /health``."""

from __future__ import annotations

import json

from p2plab_server.protocol import PROTOCOL_VERSION
from websockets.asyncio.client import connect

from .clients import TIMEOUT, Lab, http_get, receive, send, wait_until
from .conftest import assert_conforms


def port_of(lab: Lab) -> int:
    """Return the port a lab's server listens on."""
    return int(lab.uri.rsplit(":", 1)[1])


async def test_a_client_may_ask_for_health_before_joining(lab: Lab) -> None:
    """``health`` needs no join and is answered with the counts and the id."""
    await lab.join("alice", room="one")
    await lab.join("bob", room="one")
    await lab.join("carol", room="two")
    stranger = await lab.connect()
    await send(stranger, {"type": "health", "id": "h"})
    reply = await receive(stranger)
    assert set(reply) == {"type", "version", "rooms", "users", "uptime", "id"}
    assert (reply["type"], reply["version"]) == ("health", PROTOCOL_VERSION)
    assert (reply["rooms"], reply["users"], reply["id"]) == (2, 3, "h")
    assert isinstance(reply["uptime"], float) and reply["uptime"] >= 0


async def test_get_health_answers_json_over_plain_http(lab: Lab) -> None:
    """GET /health on the server's port is a 200 with the health message as JSON."""
    await lab.join("alice")
    status, headers, body = await http_get(port_of(lab), "/health")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    assert_conforms(body)
    report = json.loads(body)
    assert (report["type"], report["rooms"], report["users"]) == ("health", 1, 1)


async def test_the_report_follows_users_as_they_come_and_go(lab: Lab) -> None:
    """Users and rooms in the report rise on joins and fall on leaves."""
    port = port_of(lab)
    assert json.loads((await http_get(port, "/health"))[2])["users"] == 0
    alice = await lab.join("alice")
    await lab.join("bob", room="other")
    report = json.loads((await http_get(port, "/health"))[2])
    assert (report["rooms"], report["users"]) == (2, 2)
    await alice.close()
    await wait_until(lambda: lab.server.users == 1, "alice to leave")
    report = json.loads((await http_get(port, "/health"))[2])
    assert (report["rooms"], report["users"]) == (1, 1)


async def test_a_query_string_is_ignored(lab: Lab) -> None:
    """A probe that adds a query string still gets the report."""
    status, _, body = await http_get(port_of(lab), "/health?probe=1")
    assert status == 200
    assert json.loads(body)["type"] == "health"


async def test_every_other_path_opens_a_websocket(lab: Lab) -> None:
    """A WebSocket on /anything is served as on /, starting with hello."""
    async with connect(f"{lab.uri}/lab/alice", proxy=None, open_timeout=TIMEOUT) as ws:
        assert (await receive(ws))["type"] == "hello"


async def test_plain_http_elsewhere_is_refused_by_websockets(lab: Lab) -> None:
    """A plain GET / is not a WebSocket handshake: an HTTP error, not a crash."""
    status, _, _ = await http_get(port_of(lab), "/")
    assert status >= 400
