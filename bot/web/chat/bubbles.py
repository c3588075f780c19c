"""Bot messages in the shape the chat page renders, from Rasa's replies or tracker events.

See docs/CONTRACTS.md, "Bot messages over Rasa's REST channel".

A *bubble* is a dict::

    {"role": "user" | "bot", "text": str, "buttons": [{"title", "payload"}],
     "custom": dict | None, "timestamp": float | None}

All text is masked with :func:`bot.lang.privacy.mask_sensitive`; nothing is HTML-escaped
here (the page renders text nodes, the staff templates autoescape).
"""

from __future__ import annotations

from typing import Any, Iterable

from bot.lang.privacy import mask_sensitive
from bot.rasa_client import RestReply
from bot.web.storage.conversations import DELIVERY_METADATA_KEY, STAFF_METADATA_KEY



def _clean_buttons(raw_buttons: Any) -> list[dict[str, str]]:
    buttons: list[dict[str, str]] = []
    if not isinstance(raw_buttons, list):
        return buttons
    for button in raw_buttons:
        if not isinstance(button, dict):
            continue
        title = str(button.get("title") or button.get("payload") or "").strip()
        payload = str(button.get("payload") or title).strip()
        if title and payload:
            buttons.append({"title": mask_sensitive(title), "payload": mask_sensitive(payload)})
    return buttons


def _clean_custom(raw_custom: Any) -> dict[str, Any] | None:
    if not isinstance(raw_custom, dict):
        return None
    custom = dict(raw_custom)
    if isinstance(custom.get("answer"), str):
        custom["answer"] = mask_sensitive(custom["answer"])
    sources = custom.get("sources")
    custom["sources"] = [source for source in sources if isinstance(source, dict)] if isinstance(sources, list) else []
    return custom


def bot_bubble(text: Any, buttons: Any = None, custom: Any = None, timestamp: float | None = None) -> dict[str, Any]:
    """One assistant bubble with cleaned fields."""
    return {
        "role": "bot",
        "text": mask_sensitive(str(text)) if text is not None else "",
        "buttons": _clean_buttons(buttons),
        "custom": _clean_custom(custom),
        "timestamp": timestamp,
    }


def user_bubble(text: str, timestamp: float | None = None) -> dict[str, Any]:
    """One candidate bubble (masked)."""
    return {"role": "user", "text": mask_sensitive(text), "buttons": [], "custom": None, "timestamp": timestamp}


def bubbles_from_reply(reply: RestReply, timestamp: float | None = None) -> list[dict[str, Any]]:
    """A REST reply (read by :func:`bot.rasa_client.parse_rest_reply`) → bubbles."""
    return [bot_bubble(message.text, list(message.buttons), message.custom, timestamp)
            for message in reply.messages]


def bubbles_from_tracker_events(events: Iterable[Any]) -> list[dict[str, Any]]:
    """Rasa tracker events (``GET /conversations/<id>/tracker``) → bubbles in order."""
    bubbles: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        timestamp = event.get("timestamp") if isinstance(event.get("timestamp"), (int, float)) else None
        if kind == "user":
            text = event.get("text")
            if isinstance(text, str) and text.strip():
                bubbles.append(user_bubble(text, timestamp))
        elif kind == "bot":
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            text = event.get("text")
            custom = data.get("custom")
            if text is None and not custom and not data.get("buttons"):
                continue
            if text is None and isinstance(custom, dict):
                text = custom.get("answer") or ""
            bubble = bot_bubble(text or "", data.get("buttons"), custom, timestamp)
            metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
            if metadata.get(STAFF_METADATA_KEY):  # a staff member's message: the widget names them
                bubble["staff"] = str(metadata[STAFF_METADATA_KEY])
            if metadata.get(DELIVERY_METADATA_KEY):  # a WeChat candidate gets it with their next message
                bubble["delivery"] = str(metadata[DELIVERY_METADATA_KEY])
            bubbles.append(bubble)
    return bubbles
