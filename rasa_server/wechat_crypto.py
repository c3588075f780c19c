"""WeChat's message signatures and encryption (公众号 and 企业微信 use the same scheme).

Signature: SHA-1 of the sorted, concatenated strings (token, timestamp, nonce, and the
``Encrypt`` text in secure mode). Encryption: AES-256-CBC with the key the 43-character
EncodingAESKey decodes to and its first 16 bytes as IV, PKCS#7 padding to 32-byte blocks;
the plaintext is 16 random bytes, the message length (4 bytes, network order), the
message and the receiver's id (the AppID, or WeCom's CorpID). The cipher and the padding
are the ``cryptography`` package's; only the framing is WeChat's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_BITS = 256  # WeChat pads to 32-byte blocks, not AES's 16
RANDOM_BYTES = 16


class InvalidSignature(Exception):
    """The request is not signed with our token."""


class InvalidMessage(Exception):
    """The encrypted text does not decrypt to a message for us (wrong key, tampered,
    another receiver's)."""


def signature(*parts: str) -> str:
    """WeChat's signature of ``parts``: SHA-1 hex of their sorted concatenation."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_signature(expected: str | None, *parts: str) -> None:
    """Raise :class:`InvalidSignature` unless ``expected`` signs ``parts``."""
    if not expected or not hmac.compare_digest(expected.lower(), signature(*parts)):
        raise InvalidSignature("signature does not match")


class MessageCipher:
    """Encrypts and decrypts messages for one receiver with one EncodingAESKey."""

    def __init__(self, encoding_aes_key: str, receiver_id: str):
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("EncodingAESKey is not 43 base64 characters") from error
        if len(encoding_aes_key) != 43 or len(key) != 32:
            raise ValueError("EncodingAESKey is not 43 base64 characters")
        self._key = key
        self.receiver_id = receiver_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, message: bytes, random_prefix: bytes | None = None) -> str:
        """The base64 ``Encrypt`` text of ``message``."""
        prefix = random_prefix if random_prefix is not None else os.urandom(RANDOM_BYTES)
        plain = prefix + struct.pack(">I", len(message)) + message + self.receiver_id.encode()
        padder = padding.PKCS7(BLOCK_BITS).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside an ``Encrypt`` text addressed to our receiver id."""
        try:
            data = base64.b64decode(encrypted, validate=True)
            decryptor = self._cipher().decryptor()
            padded = decryptor.update(data) + decryptor.finalize()
            unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
            plain = unpadder.update(padded) + unpadder.finalize()
        except (binascii.Error, ValueError) as error:
            raise InvalidMessage(f"cannot decrypt: {error}") from error
        if len(plain) < RANDOM_BYTES + 4:
            raise InvalidMessage("too short")
        (length,) = struct.unpack(">I", plain[RANDOM_BYTES:RANDOM_BYTES + 4])
        body = plain[RANDOM_BYTES + 4:]
        if length > len(body) or body[length:] != self.receiver_id.encode():
            raise InvalidMessage("not addressed to this receiver")
        return body[:length]
