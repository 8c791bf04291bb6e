"""Worked answers to the exercises of ``notebooks/06-key-wrapping.ipynb``."""

from __future__ import annotations

import base64
import json
import math

from p2plab.identity import Identity
from p2plab.wrapping import unwrap_key


def oaep_capacity() -> int:
    """k - 2·hLen - 2 with k = 256 bytes (RSA-2048) and hLen = 32 (SHA-256)."""
    return 2048 // 8 - 2 * 32 - 2


def unwrapped(frame: str, bob: Identity) -> bytes:
    """Parse the wrapped-key frame, decode its base64 blob, open it with Bob's key."""
    blob = base64.b64decode(json.loads(frame)["wrapped"])
    return unwrap_key(blob, bob.private_key)


def wrapped_chars() -> int:
    """The blob is 512 bytes; base64 writes 171 groups of 3 bytes as 4 characters."""
    return 4 * math.ceil((4096 // 8) / 3)
