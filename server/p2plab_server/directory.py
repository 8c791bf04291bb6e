"""The directory: which public key each name is bound to, room by room.

A name is bound, within a room, to the first public key that joins with it,
and stays bound, online or not: that is what stops a second student from
taking over a name already in use. The bindings live in SQLite (the standard
library's :mod:`sqlite3`): in a file, so that a restarted server remembers
every one, or in memory (``":memory:"``) for the servers the tests and the
demo start.

The directory keeps one SQLite connection and is used from the event loop's
thread. Each call is one statement on an indexed table: a few microseconds
for a lookup or a repeated bind, and for a new binding in a file the time the
disk takes to confirm the write (0.4 ms on the machine this was written on).
That is short enough to run on the loop, once per join, without handing the
calls to a thread pool. Binding is a single ``INSERT ... ON CONFLICT DO
NOTHING``, atomic in SQLite itself: when several joins race for a free name,
in this process or in several processes sharing the file, exactly one key
wins.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from types import TracebackType

__all__ = ["MEMORY", "Directory", "default_path"]

#: The path that keeps the directory in memory, forgotten at exit.
MEMORY = ":memory:"

# The schema version this module reads and writes (SQLite's user_version).
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
    room     TEXT NOT NULL,
    name     TEXT NOT NULL,
    key      TEXT NOT NULL,
    bound_at REAL NOT NULL,
    PRIMARY KEY (room, name)
) WITHOUT ROWID
"""


def lab_home() -> Path:
    """Return the lab's folder: ``$P2PLAB_HOME``, else ``~/.p2plab``.

    The server keeps its directory there, and the library its key store,
    its pid files and the log of a server it started.
    """
    return Path(os.environ.get("P2PLAB_HOME") or Path.home() / ".p2plab")


def default_path() -> Path:
    """Return where ``p2plab-server`` keeps its directory unless told.

    ``server.sqlite3`` in :func:`lab_home`: beside the lab's key store.
    """
    return lab_home() / "server.sqlite3"


class Directory:
    """Bindings of (room, name) to public keys (base64 SPKI DER).

    Args:
        path: The SQLite file, created with its folder if missing, or
            :data:`MEMORY` for a directory that lives as long as this object.

    Raises:
        sqlite3.Error: If the file or its folder cannot be created or opened,
            or the file is not a p2plab directory of a version this server
            knows.
    """

    def __init__(self, path: str | os.PathLike[str] = MEMORY) -> None:
        self.path = str(path)
        if self.path != MEMORY:
            folder = Path(self.path).parent
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise sqlite3.OperationalError(
                    f"cannot create the folder {folder}: {exc.strerror}"
                ) from None
        # Autocommit: every statement is its own transaction. The timeout is
        # how long a write waits for another process that holds the file.
        # The directory may be made on one thread and used on another (a
        # notebook's network thread), but by one thread at a time.
        self._db = sqlite3.connect(
            self.path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._open()
        except sqlite3.Error:
            self._db.close()
            raise

    def _open(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path} holds a directory of schema version {version}; "
                f"this server reads version {_SCHEMA_VERSION}: upgrade p2plab"
            )
        if self.path != MEMORY:
            # Readers never wait for a writer, and a write is one append.
            self._db.execute("PRAGMA journal_mode=WAL")
        if version < _SCHEMA_VERSION:
            self._db.execute(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def bind(self, room: str, name: str, key: str) -> bool:
        """Bind ``name`` in ``room`` to ``key`` if it is free or bound to ``key``.

        Returns:
            True if ``name`` is now bound to ``key``; False if it is bound to
            another key.
        """
        self._db.execute(
            "INSERT INTO bindings (room, name, key, bound_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (room, name) DO NOTHING",
            (room, name, key, time.time()),
        )
        return self._key(room, name) == key

    def get(self, room: str, name: str) -> str | None:
        """Return the key bound to ``name`` in ``room``, or None."""
        return self._key(room, name)

    def _key(self, room: str, name: str) -> str | None:
        # bind() reads through here rather than get(), so that a subclass
        # that changes what lookups answer (the malicious-server lessons)
        # does not change which key a name is bound to.
        row = self._db.execute(
            "SELECT key FROM bindings WHERE room = ? AND name = ?", (room, name)
        ).fetchone()
        return None if row is None else str(row[0])

    def __len__(self) -> int:
        """Return the number of bindings, in every room."""
        count: int = self._db.execute("SELECT COUNT(*) FROM bindings").fetchone()[0]
        return count

    def close(self) -> None:
        """Close the SQLite connection; the directory is unusable afterwards."""
        self._db.close()

    def __enter__(self) -> Directory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
