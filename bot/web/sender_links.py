"""Links to a conversation that do not carry a WeChat id.

A WeChat conversation's sender is ``wx-<OpenID>`` (``wecom-<UserID>``): staff see it masked
(bot.lang.privacy.shown_sender), and its link names it by an encrypted reference,
``ref-<token>`` (Fernet, keyed by ``SECRET_KEY``), so the OpenID is in no address, history
or referrer either. The web chat's random session ids are linked as they are.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import cached_property

from bot import datafiles

REFERENCE_PREFIX = "ref-"


class SenderLinks:
    """The path part of a conversation's link, and the sender it names."""

    def __init__(self, secret_key: str | None):
        # without a staff password (no SECRET_KEY) there is no console to link from
        self._secret = (secret_key or os.urandom(32).hex()).encode()

    @cached_property
    def _fernet(self):
        from cryptography.fernet import Fernet

        key = hashlib.sha256(b"sender-links\0" + self._secret).digest()
        return Fernet(base64.urlsafe_b64encode(key))

    @staticmethod
    def _hidden(sender_id: str) -> bool:
        return any(sender_id.startswith(prefix) for prefix in datafiles.channel_texts()["channel_names"])

    def path_part(self, sender_id: str) -> str:
        if not self._hidden(sender_id):
            return sender_id
        return REFERENCE_PREFIX + self._fernet.encrypt(sender_id.encode()).decode()

    def sender(self, path_part: str) -> str | None:
        """The sender a link names; None for a reference that is not ours."""
        if not path_part.startswith(REFERENCE_PREFIX):
            return None if self._hidden(path_part) else path_part
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(path_part[len(REFERENCE_PREFIX):].encode()).decode()
        except (InvalidToken, ValueError, UnicodeDecodeError):
            return None
