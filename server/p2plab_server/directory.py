"""The directory: which public key each name is bound to.

A name is bound to the first public key that joins with it and stays bound
for the life of the directory, online or not. A later join with the same name
and another key is refused: that is what stops a second student from taking
over a name that is already in use. This version keeps the bindings in
memory, so a server restart forgets them (see the limitations in the docs).
"""

from __future__ import annotations

__all__ = ["Directory"]


class Directory:
    """Bindings of names to public keys (base64 SPKI DER)."""

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}

    def bind(self, name: str, key: str) -> bool:
        """Bind ``name`` to ``key`` if it is free or already bound to ``key``.

        Returns:
            True if ``name`` is now bound to ``key``; False if it is bound to
            another key.
        """
        bound = self._keys.setdefault(name, key)
        return bound == key

    def get(self, name: str) -> str | None:
        """Return the key bound to ``name``, or None."""
        return self._keys.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def __len__(self) -> int:
        return len(self._keys)
