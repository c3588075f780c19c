"""Async client for the two Rasa endpoints the chat page needs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(Exception):
    """Rasa could not be reached (connection refused, timeout)."""


class RasaBadResponse(Exception):
    """Rasa answered, but not with the expected JSON."""


class RasaClient:
    """Talks to Rasa's REST channel and its HTTP API (``--enable-api``)."""

    def __init__(self, base_url: str, token: str | None = None, timeout_seconds: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = httpx.Timeout(timeout_seconds, connect=5.0)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        params = dict(kwargs.pop("params", {}) or {})
        if self.token:
            params["token"] = self.token
        try:
            # one short-lived client per call: no pool tied to an event loop that may be gone
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
                response = await client.request(method, self.base_url + path, params=params, **kwargs)
        except httpx.TransportError as error:  # refused, timed out, reset, protocol error
            raise RasaUnavailable(str(error) or type(error).__name__) from error
        if response.status_code in (502, 503, 504):
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise RasaBadResponse(f"Rasa answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as error:
            raise RasaBadResponse("Rasa answered with something that is not JSON") from error

    async def send_message(self, sender_id: str, text: str) -> list[Any]:
        """``POST /webhooks/rest/webhook`` → the raw list of reply messages."""
        replies = await self._request("POST", "/webhooks/rest/webhook", json={"sender": sender_id, "message": text})
        if not isinstance(replies, list):
            raise RasaBadResponse("REST channel reply is not a list")
        return replies

    async def fetch_tracker_events(self, sender_id: str) -> list[Any]:
        """``GET /conversations/<id>/tracker`` → its event list (empty for a new id)."""
        tracker = await self._request("GET", f"/conversations/{quote(sender_id, safe='')}/tracker")
        if not isinstance(tracker, dict):
            raise RasaBadResponse("tracker is not a JSON object")
        events = tracker.get("events") or []
        return events if isinstance(events, list) else []
