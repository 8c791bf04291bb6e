"""AES-GCM used wrongly, on purpose, to see what each mistake gives away.

GCM is counter mode with a tag: AES, run over the key, the nonce and a block
counter, makes a keystream, and the ciphertext is the plaintext XORed with
it. The tag is then computed over the ciphertext. Two rules follow, and this
module breaks each of them so that a lesson can show the cost:

* **Check the tag before using any plaintext.** :func:`open_unchecked`
  decrypts without the check. A ciphertext with one bit flipped then opens
  to a plaintext with the same bit flipped: whoever sits on the path edits
  the message without knowing the key.
* **Never seal two messages with the same key and nonce.** They share a
  keystream, so XORing the two ciphertexts cancels it (:func:`xor`): what
  is left is the XOR of the two plaintexts. Knowing one message then gives
  the other (:func:`recover`).

None of this is used by the chat itself; :mod:`p2plab.sealing` keeps both
rules.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .sealing import NONCE_SIZE, TAG_SIZE

__all__ = ["ciphertext_of", "keystream", "open_unchecked", "recover", "xor"]

# With a 12-byte nonce, GCM's counter block is the nonce then a 4-byte
# counter. Block 1 is kept for the tag; the message starts at block 2.
_FIRST_MESSAGE_BLOCK = (2).to_bytes(4, "big")


def ciphertext_of(sealed: bytes) -> bytes:
    """Return the ciphertext of a sealed message: everything but the tag.

    Raises:
        ValueError: If ``sealed`` is shorter than a tag.
    """
    if len(sealed) < TAG_SIZE:
        raise ValueError(
            f"a sealed message ends with a {TAG_SIZE}-byte tag; "
            f"this one has {len(sealed)} bytes in all"
        )
    return sealed[:-TAG_SIZE]


def xor(first: bytes, second: bytes) -> bytes:
    """Return the bytes of ``first`` XOR ``second``, as long as the shorter one."""
    return bytes(a ^ b for a, b in zip(first, second, strict=False))


def keystream(plaintext: bytes, sealed: bytes) -> bytes:
    """Return the keystream that sealed ``plaintext`` into ``sealed``.

    Anyone who knows one plaintext and its ciphertext gets the keystream of
    that key and nonce, as far as the plaintext reaches.
    """
    return xor(plaintext, ciphertext_of(sealed))


def recover(known_plaintext: bytes, known_sealed: bytes, other_sealed: bytes) -> bytes:
    """Open ``other_sealed`` without the key, from a known message and its seal.

    This works only because both were sealed with the same key and nonce,
    which the chat never does. The result is as long as the shorter of the
    two messages: past the known one's end, the keystream is unknown.

    Args:
        known_plaintext: A message the attacker knows or guessed.
        known_sealed: That message, sealed.
        other_sealed: Another message sealed with the same key and nonce.
    """
    return xor(keystream(known_plaintext, known_sealed), ciphertext_of(other_sealed))


def open_unchecked(key: bytes, nonce: bytes, sealed: bytes) -> bytes:
    """Decrypt a sealed message the way GCM does, but skip the tag check.

    :func:`~p2plab.sealing.unseal` refuses an altered message; this returns
    whatever the altered ciphertext decrypts to, to show what the tag
    protects against.
    """
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a GCM nonce is {NONCE_SIZE} bytes, not {len(nonce)}")
    counter = modes.CTR(nonce + _FIRST_MESSAGE_BLOCK)
    decryptor = Cipher(algorithms.AES(key), counter).decryptor()
    return decryptor.update(ciphertext_of(sealed)) + decryptor.finalize()
