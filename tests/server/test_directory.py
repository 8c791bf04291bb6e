"""Tests for the SQLite directory that binds names to public keys, room by room."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from p2plab_server.directory import MEMORY, Directory, default_path


@pytest.fixture
def directory() -> Directory:
    """An in-memory directory."""
    return Directory()


def test_a_free_name_binds_to_the_first_key(directory: Directory) -> None:
    """Binding a free name succeeds and the name then returns that key."""
    assert directory.bind("lab", "alice", "K1")
    assert directory.get("lab", "alice") == "K1"


def test_the_same_key_binds_again(directory: Directory) -> None:
    """Binding a name again with the key it holds succeeds."""
    directory.bind("lab", "alice", "K1")
    assert directory.bind("lab", "alice", "K1")
    assert len(directory) == 1


def test_another_key_cannot_take_a_bound_name(directory: Directory) -> None:
    """Binding a bound name to another key fails and keeps the first key."""
    directory.bind("lab", "alice", "K1")
    assert not directory.bind("lab", "alice", "K2")
    assert directory.get("lab", "alice") == "K1"


def test_one_key_may_hold_several_names(directory: Directory) -> None:
    """Two names may be bound to the same key."""
    assert directory.bind("lab", "alice", "K1")
    assert directory.bind("lab", "alice2", "K1")
    assert len(directory) == 2


def test_an_unbound_name_has_no_key(directory: Directory) -> None:
    """get returns None for a name never bound, and the directory is empty."""
    assert directory.get("lab", "alice") is None
    assert len(directory) == 0


def test_each_room_binds_its_names_apart(directory: Directory) -> None:
    """The same name binds to different keys in two rooms, each kept apart."""
    assert directory.bind("lab", "alice", "K1")
    assert directory.bind("room2", "alice", "K2")
    assert directory.get("lab", "alice") == "K1"
    assert directory.get("room2", "alice") == "K2"
    assert directory.get("room3", "alice") is None
    assert len(directory) == 2


def test_memory_is_the_default_and_is_private_to_each_directory() -> None:
    """Two in-memory directories share nothing."""
    first, second = Directory(), Directory(MEMORY)
    first.bind("lab", "alice", "K1")
    assert second.get("lab", "alice") is None
    assert first.path == second.path == ":memory:"


def test_a_file_keeps_bindings_across_a_reopen(tmp_path: Path) -> None:
    """Bindings written to a file are there when the file is opened again."""
    path = tmp_path / "nested" / "server.sqlite3"
    with Directory(path) as directory:
        directory.bind("lab", "alice", "K1")
    with Directory(path) as directory:
        assert directory.get("lab", "alice") == "K1"
        assert not directory.bind("lab", "alice", "K2")
        assert directory.bind("lab", "alice", "K1")
    assert path.is_file()


def test_racing_binds_from_many_connections_have_one_winner(tmp_path: Path) -> None:
    """Threads, each with its own connection to one file, race for a name; one wins."""
    path = tmp_path / "server.sqlite3"
    Directory(path).close()
    count = 16
    start = threading.Barrier(count)
    results: dict[int, bool] = {}

    def contender(index: int) -> None:
        with Directory(path) as directory:
            start.wait(timeout=10)
            results[index] = directory.bind("lab", "alice", f"K{index}")

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    winners = [index for index, won in results.items() if won]
    assert len(results) == count
    assert len(winners) == 1
    with Directory(path) as directory:
        assert directory.get("lab", "alice") == f"K{winners[0]}"
        assert len(directory) == 1


def test_a_directory_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer server is refused with a message, not misread."""
    path = tmp_path / "server.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(sqlite3.DatabaseError, match="schema version 99.*upgrade"):
        Directory(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A file that is not SQLite raises sqlite3.DatabaseError."""
    path = tmp_path / "server.sqlite3"
    path.write_bytes(b"not a database, just text " * 100)
    with pytest.raises(sqlite3.DatabaseError):
        Directory(path)


def test_a_folder_that_cannot_be_made_is_an_operational_error(tmp_path: Path) -> None:
    """A path under a regular file raises sqlite3.OperationalError naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(sqlite3.OperationalError, match="cannot create the folder"):
        Directory(blocker / "server.sqlite3")


def test_the_default_path_follows_p2plab_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """default_path is $P2PLAB_HOME/server.sqlite3, else ~/.p2plab/server.sqlite3."""
    monkeypatch.setenv("P2PLAB_HOME", str(tmp_path))
    assert default_path() == tmp_path / "server.sqlite3"
    monkeypatch.delenv("P2PLAB_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".p2plab" / "server.sqlite3"
