"""Sealing a running battle's secret seed into the GM's resumable export.

A running battle's public log has no seed (it is secret until the end), so a battle moved
between servers carries its seed sealed: readable only by a server holding the same
``EXPORT_KEY`` setting, and bound to the battle's commitment so it cannot be moved to another
log. A player who gets the file learns nothing about future dice; nobody can change the seed
without the key (and then the commitment check of the import still refuses a different seed).

Construction (standard library only): encrypt-then-MAC. From the 32-byte key two subkeys are
derived, ``k_enc = HMAC-SHA256(key, "tvtt-seal-enc")`` and ``k_mac = HMAC-SHA256(key,
"tvtt-seal-mac")``; a random 16-byte nonce; keystream block ``i`` is ``HMAC-SHA256(k_enc,
nonce || i)`` (a PRF in counter mode), XORed with the plaintext (``"<seed>:<salt hex>"``); the
tag is ``HMAC-SHA256(k_mac, "tvtt-seal-v1" || aad || nonce || ciphertext)`` where ``aad`` is
the commitment digest. The token is ``"v1." + base64url(nonce || ciphertext || tag)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_PREFIX = "v1."
_NONCE = 16
_TAG = 32


class SealError(ValueError):
    """The sealed seed is malformed, from another key, or not this battle's."""


def _subkeys(key: bytes) -> tuple[bytes, bytes]:
    enc = hmac.new(key, b"tvtt-seal-enc", hashlib.sha256).digest()
    mac = hmac.new(key, b"tvtt-seal-mac", hashlib.sha256).digest()
    return enc, mac


def _keystream(k_enc: bytes, nonce: bytes, n: int) -> bytes:
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hmac.new(k_enc, nonce + block.to_bytes(4, "big"), hashlib.sha256).digest()
        block += 1
    return bytes(out[:n])


def _tag(k_mac: bytes, aad: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    return hmac.new(k_mac, b"tvtt-seal-v1" + aad + nonce + ciphertext, hashlib.sha256).digest()


def seal(key: bytes, plaintext: str, aad: str) -> str:
    """Encrypt and authenticate `plaintext`, bound to `aad` (the commitment digest)."""
    k_enc, k_mac = _subkeys(key)
    nonce = secrets.token_bytes(_NONCE)
    data = plaintext.encode()
    ciphertext = bytes(
        a ^ b for a, b in zip(data, _keystream(k_enc, nonce, len(data)), strict=True)
    )
    tag = _tag(k_mac, aad.encode(), nonce, ciphertext)
    return _PREFIX + base64.urlsafe_b64encode(nonce + ciphertext + tag).decode()


def unseal(key: bytes, token: str, aad: str) -> str:
    """Inverse of `seal`; `SealError` when the token was not sealed with this key for `aad`."""
    if not token.startswith(_PREFIX):
        raise SealError("not a sealed seed of this server's format")
    try:
        raw = base64.urlsafe_b64decode(token[len(_PREFIX) :].encode())
    except ValueError:
        raise SealError("the sealed seed is not base64") from None
    if len(raw) < _NONCE + _TAG + 1:
        raise SealError("the sealed seed is too short")
    nonce, ciphertext, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
    k_enc, k_mac = _subkeys(key)
    if not hmac.compare_digest(tag, _tag(k_mac, aad.encode(), nonce, ciphertext)):
        raise SealError("the sealed seed was made by another server or for another battle")
    stream = _keystream(k_enc, nonce, len(ciphertext))
    return bytes(a ^ b for a, b in zip(ciphertext, stream, strict=True)).decode()


def export_key(setting: str) -> bytes:
    """The key from the ``EXPORT_KEY`` setting (any string; hashed to 32 bytes), or a random
    per-process key when unset (then only this process can resume its exports)."""
    if setting:
        return hashlib.sha256(b"tvtt-export-key" + setting.encode()).digest()
    return _PROCESS_KEY


_PROCESS_KEY = secrets.token_bytes(32)
