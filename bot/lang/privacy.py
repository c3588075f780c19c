"""Masking of personal numbers in free text.

Candidates sometimes paste their 身份证 (resident ID card) number or mobile number
into the chat. The web front masks them *before* the text is forwarded to Rasa, so
they never reach the tracker store, and masks again whenever stored text is shown
(the staff log, the history), in case older events predate the masking.

Recognised (ASCII or full-width digits, not part of a longer digit run):

* 18-digit ID numbers, the last character may be ``X``/``x``;
* 15-digit (first-generation) ID numbers;
* mainland mobile numbers ``1[3-9]`` + 9 digits, optionally written with ``+86``/``86``
  and blank or ``-`` separators in the 3-4-4 pattern.

Masks keep the length readable but reveal almost nothing: an ID keeps its last
four characters (``**************123X``), a mobile keeps the 3-digit prefix and
the last four digits (``138****5678``).

Numbers the documents publish as help lines (the ``phone`` of each contact in
``data/faq/contacts.yml``) are public, not personal: they are never masked, so an
answer quoting a hotline stays usable in the web chat and the staff console.
"""

from __future__ import annotations

import functools
import logging
import re

from bot import datafiles

_DIGIT = "[0-9\uff10-\uff19]"
_X = "[Xx\uff38\uff58]"
_SEP = "[ \u3000-]?"

ID_CARD_18 = re.compile(rf"(?<![0-9\uff10-\uff19])(?:{_DIGIT}{{17}}(?:{_DIGIT}|{_X}))(?![0-9\uff10-\uff19A-Za-z])")
ID_CARD_15 = re.compile(rf"(?<![0-9\uff10-\uff19])(?:{_DIGIT}{{15}})(?![0-9\uff10-\uff19A-Za-z])")
MOBILE = re.compile(
    rf"(?<![0-9\uff10-\uff19])"
    rf"(?P<prefix>(?:\+?86{_SEP})?)"
    rf"(?P<number>[1\uff11][3-9\uff13-\uff19]{_DIGIT}{_SEP}{_DIGIT}{{4}}{_SEP}{_DIGIT}{{4}})"
    rf"(?![0-9\uff10-\uff19])"
)

MASK_CHARACTER = "*"


def _mask_id_card(match: re.Match[str]) -> str:
    number = match.group(0)
    return MASK_CHARACTER * (len(number) - 4) + number[-4:]


_FULL_WIDTH_DIGITS = str.maketrans("\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19", "0123456789")

logger = logging.getLogger(__name__)


def _digits(text: str) -> str:
    return "".join(character for character in text.translate(_FULL_WIDTH_DIGITS) if character.isdigit())


@functools.lru_cache(maxsize=1)
def published_numbers() -> frozenset[str]:
    """Digits of the mobile-style numbers published as help lines (``phone`` in
    ``data/faq/contacts.yml``); empty when the file cannot be read."""
    try:
        contacts = datafiles.contacts()
    except Exception as error:  # noqa: BLE001 - masking must keep working: mask everything
        logger.warning("published contact numbers unavailable, masking all numbers: %s", error)
        return frozenset()
    return frozenset(
        _digits(match.group("number"))
        for contact in contacts
        for match in MOBILE.finditer(str(contact.get("phone") or ""))
    )


def _mask_mobile(match: re.Match[str]) -> str:
    if _digits(match.group("number")) in published_numbers():
        return match.group(0)
    digits = [character for character in match.group("number") if not character.isspace() and character != "-"]
    return match.group("prefix") + "".join(digits[:3]) + MASK_CHARACTER * 4 + "".join(digits[-4:])


def mask_sensitive(text: str) -> str:
    """Return ``text`` with ID-card and mobile numbers masked; everything else unchanged."""
    if not text:
        return text
    text = ID_CARD_18.sub(_mask_id_card, text)
    text = ID_CARD_15.sub(_mask_id_card, text)
    return MOBILE.sub(_mask_mobile, text)


def contains_sensitive(text: str) -> bool:
    """True when ``text`` holds something :func:`mask_sensitive` would mask."""
    return mask_sensitive(text) != text


def shown_sender(sender_id: str) -> str:
    """A conversation's sender as staff see it: a WeChat one (``wx-<OpenID>``,
    ``wecom-<UserID>``) as its channel and a masked id, never the id in full; the web
    chat's random session ids as they are."""
    texts = datafiles.channel_texts()
    for prefix, channel in texts["channel_names"].items():
        if sender_id.startswith(prefix):
            user = sender_id[len(prefix):]
            masked = user[:4] + "…" + user[-4:] if len(user) > 10 else user[:2] + "…"
            return texts["shown_sender"].format(channel=channel, masked=masked)
    return sender_id
