"""The one client of Rasa's HTTP endpoints and the one reader of its REST replies.

Used by the web front (:class:`AsyncRasaClient`), the regression runner and the
benchmark (:class:`RasaClient`, which keeps its connection alive). Both speak to the same
three endpoints: the REST channel (``POST /webhooks/rest/webhook``), a conversation's
tracker (``GET /conversations/<id>/tracker``) and ``GET /status``. A reply is read by
:func:`parse_rest_reply` into a :class:`RestReply`, whatever the caller does with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

REST_PATH = "/webhooks/rest/webhook"
NOT_A_REPLY = "REST reply is not a list"  # the problem of a JSON body that is no reply
CONNECT_TIMEOUT_SECONDS = 5.0


class RasaUnavailable(Exception):
    """Rasa could not be reached (connection refused, timeout) or said it is unavailable."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


class RasaBadResponse(Exception):
    """Rasa answered, but not with what the endpoint promises."""

    def __init__(self, problem: str, detail: str = ""):
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem = problem


@dataclass(frozen=True)
class BotMessage:
    """One assistant message of a REST reply: its text, quick replies and ``custom`` data
    (docs/CONTRACTS.md) when the action sent any."""

    text: str
    buttons: tuple[dict[str, Any], ...] = ()
    custom: dict[str, Any] | None = None


@dataclass(frozen=True)
class RestReply:
    """Everything Rasa said to one message."""

    messages: tuple[BotMessage, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The texts of the reply, one per line."""
        return "\n".join(m.text for m in self.messages if m.text)

    @property
    def custom(self) -> dict[str, Any]:
        """The last structured data of the reply ({} without any)."""
        customs = [m.custom for m in self.messages if m.custom is not None]
        return customs[-1] if customs else {}

    @property
    def empty(self) -> bool:
        """No message with text: the candidate would see nothing."""
        return not any(m.text.strip() for m in self.messages)


def _buttons(raw: Any) -> tuple[dict[str, Any], ...]:
    return tuple(b for b in raw if isinstance(b, dict)) if isinstance(raw, list) else ()


def parse_rest_reply(raw: Any) -> RestReply:
    """Rasa's REST reply list → messages, pairing each ``custom`` item with the text
    before it (``utter_message(text=…, json_message=…)`` arrives as two items).

    A ``custom`` with no text message before it becomes its own message whose text is
    ``custom.answer`` (or empty); ``image`` items are ignored (the widget shows text
    only); anything that is not a list of objects is an empty reply."""
    messages: list[BotMessage] = []
    if not isinstance(raw, list):
        return RestReply()
    for item in raw:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom") if isinstance(item.get("custom"), dict) else None
        if isinstance(item.get("text"), str):
            messages.append(BotMessage(item["text"], _buttons(item.get("buttons")), custom))
        elif custom is not None:
            last = messages[-1] if messages else None
            if last is not None and last.custom is None:
                messages[-1] = BotMessage(last.text, last.buttons or _buttons(item.get("buttons")),
                                          custom)
            else:
                answer = custom.get("answer")
                messages.append(BotMessage(answer if isinstance(answer, str) else "",
                                           _buttons(item.get("buttons")), custom))
        elif item.get("buttons"):
            messages.append(BotMessage("", _buttons(item.get("buttons")), None))
    return RestReply(tuple(messages))


class _Endpoints:
    """What both clients share: the URLs, the token and how a response is judged."""

    def __init__(self, base_url: str, token: str | None = None, timeout_seconds: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = httpx.Timeout(timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS)

    def params(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    @staticmethod
    def tracker_path(sender_id: str) -> str:
        return f"/conversations/{quote(sender_id, safe='')}/tracker"

    @staticmethod
    def message_body(sender_id: str, text: str, message_id: str | None = None
                     ) -> dict[str, str]:
        """The REST body; ``message_id`` names the turn, so Rasa answers a retry of it
        from the stored reply instead of running it twice (rasa_server.exactly_once)."""
        body = {"sender": sender_id, "message": text}
        return {**body, "message_id": message_id} if message_id else body

    @staticmethod
    def judge(response: httpx.Response) -> Any:
        """The JSON body, or the exception saying what is wrong with the response."""
        if response.status_code in (502, 503, 504):
            raise RasaUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise RasaBadResponse(f"HTTP {response.status_code}", response.text[:200])
        try:
            return response.json()
        except ValueError as error:
            raise RasaBadResponse("invalid JSON") from error

    @staticmethod
    def replies(body: Any) -> RestReply:
        if not isinstance(body, list):
            raise RasaBadResponse(NOT_A_REPLY)
        return parse_rest_reply(body)

    @staticmethod
    def json_object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RasaBadResponse("not a JSON object")
        return body


def _unavailable(error: httpx.TransportError) -> RasaUnavailable:
    return RasaUnavailable(type(error).__name__ + (f": {error}" if str(error) else ""))


class RasaClient(_Endpoints):
    """A blocking client with one kept-alive connection (one per thread: the regression
    runner, each simulated user of the benchmark)."""

    def __init__(self, base_url: str, token: str | None = None, timeout_seconds: float = 30.0):
        super().__init__(base_url, token, timeout_seconds)
        self._http = httpx.Client(base_url=self.base_url, timeout=self.timeout, trust_env=False)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, params=self.params(), **kwargs)
        except httpx.TransportError as error:
            raise _unavailable(error) from error
        return self.judge(response)

    def send(self, sender_id: str, text: str, message_id: str | None = None) -> RestReply:
        """One message over the REST channel (a turn of its own unless ``message_id``
        names one Rasa already stored)."""
        return self.replies(self._request("POST", REST_PATH,
                                          json=self.message_body(sender_id, text, message_id)))

    def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker (``latest_message``, ``events`` …)."""
        return self.json_object(self._request("GET", self.tracker_path(sender_id)))

    def status(self) -> dict[str, Any]:
        """``GET /status``: the loaded model and its fingerprint."""
        return self.json_object(self._request("GET", "/status"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RasaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRasaClient(_Endpoints):
    """The same for asyncio (the web front): one connection pool per application,
    opened with :meth:`open` in the app's lifespan; without it each call opens its own."""

    def __init__(self, base_url: str, token: str | None = None, timeout_seconds: float = 30.0):
        super().__init__(base_url, token, timeout_seconds)
        self._http: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout,
                                       trust_env=False)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("params", self.params())
        try:
            if self._http is not None:
                response = await self._http.request(method, path, **kwargs)
            else:
                async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout,
                                             trust_env=False) as http:
                    response = await http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise _unavailable(error) from error
        return self.judge(response)

    async def send(self, sender_id: str, text: str, message_id: str | None = None
                   ) -> RestReply:
        """One message over the REST channel (a turn of its own unless ``message_id``
        names one Rasa already stored)."""
        return self.replies(await self._request(
            "POST", REST_PATH, json=self.message_body(sender_id, text, message_id)))

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker (``latest_message``, ``events`` …)."""
        return self.json_object(await self._request("GET", self.tracker_path(sender_id)))

    async def status(self) -> dict[str, Any]:
        """``GET /status``: the loaded model and its fingerprint."""
        return self.json_object(await self._request("GET", "/status"))

    async def log_user_message(self, sender_id: str, text: str) -> None:
        """``POST /conversations/<id>/messages``: the candidate's message stored without the
        assistant answering it (a person has the conversation). It comes with its
        ``parse_data`` (no intent: the assistant does not read it), so Rasa skips its NLU
        pipeline: 25 of the 31 ms of Rasa's CPU such a message cost, on the event loop that
        every other candidate's turn waits for."""
        unread = {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": []}
        await self._request("POST", self.tracker_path(sender_id).removesuffix("/tracker") + "/messages",
                            params={**self.params(), "include_events": "NONE"},
                            json={"text": text, "sender": "user", "parse_data": unread})

    async def append_events(self, sender_id: str, events: list[dict[str, Any]],
                            output_channel: str | None = None) -> None:
        """``POST /conversations/<id>/tracker/events``: Rasa's own events appended
        (``pause``, ``resume``, a staff member's ``bot`` message). With ``output_channel``
        Rasa also sends the bot events to that channel first and stores nothing when it
        fails (Rasa's ``execute_side_effects``)."""
        params = {**self.params(), "include_events": "NONE"}
        if output_channel is not None:
            params.update(output_channel=output_channel, execute_side_effects="true")
        await self._request("POST", self.tracker_path(sender_id) + "/events", params=params, json=events)
