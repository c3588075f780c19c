"""Replies of the one renderer as plain text, for channels that show nothing else
(WeChat's 公众号 and 企业微信): the answer first, the counting method of a deadline only
when there is room, sources as short lines, quick replies as numbered options the
candidate answers with the number, all within the platform's byte limit.

Works on the messages as Rasa's output channels get them (``text``, ``buttons``,
``custom`` of docs/CONTRACTS.md), so it formats what the actions said, never decides it.
Wording in ``data/channels.yml``.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from bot import datafiles
from bot.lang.text import is_traditional, to_traditional

ENCODING = "utf-8"


def texts() -> dict[str, Any]:
    return datafiles.channel_texts()


def _custom(message: dict[str, Any]) -> dict[str, Any]:
    custom = message.get("custom")
    return custom if isinstance(custom, dict) else {}


def source_lines(sources: Iterable[Any]) -> list[str]:
    """``来源：`` and one short line per document."""
    t = texts()
    lines = [t["source_item"].format(title=s.get("title", ""), date=s.get("date", ""))
             for s in sources if isinstance(s, dict) and s.get("title")]
    return [t["source_heading"], *lines] if lines else []


def message_parts(message: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(what must be said, what may be left out for room) of one message."""
    custom = _custom(message)
    answer = custom.get("answer")
    if custom.get("kind") not in ("faq_answer", "deadline", "staff_answer") or not isinstance(answer, str):
        return [str(message.get("text") or "").strip()], []
    must = [answer.strip()]
    if custom.get("region_note"):
        must.append(str(custom["region_note"]))
    optional: list[str] = []
    details = custom.get("details")
    if isinstance(details, dict) and isinstance(details.get("lines"), list):
        optional.append("\n".join(str(line) for line in details["lines"]))
    sources = source_lines(custom.get("sources") or [])
    if sources:
        must.append("\n".join(sources))
    if custom.get("region"):
        must.append(texts()["applies_line"].format(region=custom["region"]))
    return must, optional


def options_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The quick replies of the last message that has any (what a number answers)."""
    for message in reversed(messages):
        buttons = message.get("buttons")
        if isinstance(buttons, list) and buttons:
            return [b for b in buttons if isinstance(b, dict) and b.get("title")]
    return []


def option_lines(options: list[dict[str, Any]]) -> list[str]:
    t = texts()
    if not options:
        return []
    return [t["options_heading"], *(t["option_item"].format(number=n, title=o["title"])
                                    for n, o in enumerate(options, 1))]


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest start of ``text`` within ``limit`` UTF-8 bytes (whole characters)."""
    return text.encode(ENCODING)[:max(limit, 0)].decode(ENCODING, errors="ignore")


def byte_length(text: str) -> int:
    return len(text.encode(ENCODING))


def plain_text(messages: list[dict[str, Any]], max_bytes: int,
               full_answer_url: Optional[str] = None) -> str:
    """The reply as one plain text of at most ``max_bytes`` UTF-8 bytes, in the script
    of the reply. Too long, the counting method goes first, then the answer is shortened
    at a character and the link to the web chat (when configured) is added."""
    t = texts()
    must: list[str] = []
    optional: list[str] = []
    for message in messages:
        said, may = message_parts(message)
        must += [part for part in said if part]
        optional += may
    script = to_traditional if is_traditional("".join(must)) else (lambda text: text)
    options = script("\n".join(option_lines(options_of(messages))))
    full = script("\n\n".join(part for part in (*must[:1], *optional, *must[1:], options) if part))
    if byte_length(full) <= max_bytes:
        return full
    tail = [t["shortened"].strip()]
    if full_answer_url:
        tail.append(t["full_answer_link"].format(url=full_answer_url))
    tail_text = script("\n".join(tail))
    fixed = byte_length("\n\n".join(part for part in (tail_text, options) if part)) + 1
    body = cut_to_bytes(script("\n\n".join(must)), max_bytes - fixed).rstrip()
    shortened = "\n".join(part for part in (body, tail_text) if part)
    return cut_to_bytes("\n\n".join(part for part in (shortened, options) if part), max_bytes)


def chosen_option(text: str, options: list[dict[str, Any]]) -> Optional[str]:
    """The payload of the option a candidate chose by sending its number (``2``, ``２``),
    or None."""
    number = text.strip().translate({0xFF10 + n: str(n) for n in range(10)})
    if number.isdigit() and 1 <= int(number) <= len(options):
        payload = options[int(number) - 1].get("payload") or options[int(number) - 1]["title"]
        return str(payload)
    return None
