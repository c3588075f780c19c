"""The 公众号 (WeChat Official Account) channel, named in credentials.yml as
``rasa_server.wechat.WeChatInput``: ``GET /webhooks/wechat/webhook`` answers WeChat's URL
check, ``POST`` the candidates' messages (plaintext or secure mode: wechat_protocol).

WeChat waits five seconds for a reply, then sends the same message again (three tries
in all) and shows the candidate "该公众号暂时无法提供服务" when none is answered. Each
request runs the turn, by its MsgId, in a task of its own that outlives the request, and
waits ``REPLY_WAIT_SECONDS`` for it. A retry carries the same id: Rasa's handling
(rasa_server.exactly_once) waits for the turn under the conversation's lock and answers
from the stored reply, on whichever instance the retry lands, so a turn runs once and
its reply is the same on every try. When the last try finds the turn still running, the
answer goes out later through the customer-service message API where the account may
use it (wechat_late), or the candidate is told to send any message to get it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_server.wechat_crypto import InvalidSignature, check_signature
from rasa_server.wechat_handoff import StaffReplies, pause_for_a_person, paused_turn
from rasa_server.wechat_late import LateAnswers
from rasa_server.wechat_protocol import (Incoming, Refused, WeChatSettings, check_timestamp,
                                         encrypted_xml, read_request, text_reply_xml)

logger = logging.getLogger(__name__)

REPLY_WAIT_SECONDS = 4.0         # of WeChat's five, the rest for the network
LAST_TRY_AFTER_SECONDS = 9       # WeChat's third try comes ten seconds after CreateTime
STILL_HEARD_SECONDS = 30.0       # how long a try WeChat gave up may still be answered
MAX_REPLY_BYTES = 2000           # a passive text reply holds 2048 bytes
TURN_KINDS = ("text", "voice")
WELCOME_INTENT = "/greet"        # the welcome and the topics, as the greet rule says them


class CollectingWholeMessages(OutputChannel):
    """Keeps each bot message whole (text, buttons and custom together)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    @classmethod
    def name(cls) -> Text:
        return "wechat-collector"

    async def send_response(self, recipient_id: Text, message: dict[str, Any]) -> None:
        self.messages.append(dict(message))


def channel_texts() -> dict[str, Any]:
    from bot.dialogue.channel_text import texts

    return texts()


def as_plain_text(messages: list[dict[str, Any]], web_chat_url: str) -> str:
    from bot.dialogue.channel_text import plain_text

    return plain_text(messages, MAX_REPLY_BYTES, web_chat_url or None)


class WeChatInput(InputChannel):
    """公众号 messages as Rasa turns; settings from ``WECHAT_*`` (docs/WECHAT.md)."""

    ENV_PREFIX = "WECHAT"
    SENDER_PREFIX = "wx-"

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> InputChannel:
        return cls(WeChatSettings.from_environment(cls.ENV_PREFIX))

    def __init__(self, settings: WeChatSettings) -> None:
        self.settings = settings
        self.late = LateAnswers(settings, self.ENV_PREFIX)

    def sender_id(self, incoming: Incoming) -> str:
        return self.SENDER_PREFIX + incoming.sender

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Where Rasa sends a staff member's reply during a live handoff
        (``output_channel=wechat``: rasa_server.wechat_handoff)."""
        return StaffReplies(self.late.api, MAX_REPLY_BYTES)

    # ------------------------------------------------------------------ HTTP

    def url_check(self, request: Request) -> HTTPResponse:
        """WeChat's GET: echo ``echostr`` when the signature is ours."""
        args = {k: request.args.get(k, "") for k in ("signature", "timestamp", "nonce", "echostr")}
        try:
            check_signature(args["signature"], self.settings.token, args["timestamp"], args["nonce"])
            check_timestamp(args["timestamp"])
        except InvalidSignature:
            return response.text("forbidden", status=403)
        except Refused as refused:
            return response.text(refused.reason, status=refused.status)
        return response.text(args["echostr"])

    def reply(self, incoming: Incoming, text: str, encrypted: bool) -> HTTPResponse:
        body = text_reply_xml(incoming, text)
        if encrypted:
            body = encrypted_xml(self.settings, body)
        return response.text(body, content_type="application/xml; charset=utf-8")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint(f"{self.name()}_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.settings.configured})

        @blueprint.route("/webhook", methods=["GET"])
        async def url_check(request: Request) -> HTTPResponse:
            if not self.settings.configured:
                return response.text("not configured", status=404)
            return self.url_check(request)

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.configured:
                return response.text("not configured", status=404)
            args = {k: request.args.get(k, "") for k in request.args}
            try:
                incoming, encrypted = read_request(self.settings, args, request.body or b"")
            except Refused as refused:
                logger.warning("%s request refused: %s", self.name(), refused.reason)
                return response.text(refused.reason, status=refused.status)
            text = await self.answer(request.app.ctx.agent, on_new_message, incoming)
            if text is None:
                return response.text("success")  # WeChat's "no reply", never retried
            return self.reply(incoming, text, encrypted)

        return blueprint

    # ------------------------------------------------------------------ turns

    def turn_text(self, incoming: Incoming) -> tuple[Optional[str], Optional[str]]:
        """(text for the assistant, or a reply of the channel's own) of a message."""
        texts = channel_texts()
        if incoming.kind == "event":
            return (WELCOME_INTENT, None) if incoming.event in ("subscribe", "enter_agent") \
                else (None, None)
        if incoming.kind not in TURN_KINDS:
            return None, texts["ask_to_type"]
        if not incoming.content.strip():
            return None, texts["voice_without_text" if incoming.kind == "voice" else "ask_to_type"]
        from rasa_server.channels import as_text

        return as_text(incoming.content), None

    async def answer(self, agent: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     incoming: Incoming) -> Optional[str]:
        """The reply text to ``incoming`` (None: no reply), after any answer kept from
        an earlier turn that missed WeChat's last try."""
        text, own_reply = self.turn_text(incoming)
        sender_id = self.sender_id(incoming)
        if text is None:
            reply, replied = own_reply, own_reply is not None
        else:
            handoff = await paused_turn(agent, sender_id, incoming.turn_id)
            asked = not handoff.paused and await pause_for_a_person(agent, sender_id, text)
            reply, replied = await self.run_turn(agent, on_new_message, incoming,
                                                 await self.chosen_option(agent, sender_id, text))
            if asked:
                return channel_texts()["handoff_queued"]
            if handoff.paused:  # a person has the conversation: never the assistant's reply
                return handoff.reply(MAX_REPLY_BYTES)
        if not replied:
            return reply
        try:
            kept = await self.late.kept_answers(agent, sender_id)
        except Exception as error:  # noqa: BLE001 - the reply matters more; kept for later
            logger.error("kept answers of %s not read: %s", sender_id, error)
            kept = None
        if kept:
            from bot.dialogue.channel_text import cut_to_bytes

            return cut_to_bytes(kept + "\n\n" + (reply or ""), MAX_REPLY_BYTES).strip()
        return reply

    async def run_turn(self, agent: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                       incoming: Incoming, text: str) -> tuple[Optional[str], bool]:
        """(reply, whether it is the turn's own) of ``incoming``'s turn, run in a task of
        its own: its reply when it finishes in time; None on a try WeChat will repeat;
        on the last try the late answer's notice (wechat_late)."""
        sender_id = self.sender_id(incoming)
        collector = CollectingWholeMessages()
        message = UserMessage(text, collector, sender_id, input_channel=self.name(),
                              message_id=incoming.turn_id)
        turn = asyncio.ensure_future(on_new_message(message))
        done, _ = await asyncio.wait({turn}, timeout=REPLY_WAIT_SECONDS)
        if done:
            return self.finished(turn, collector, text), True
        if time.time() - incoming.created < LAST_TRY_AFTER_SECONDS:
            # WeChat stops listening at five seconds and tries again, and that try is
            # answered; should this one still be heard, it gets the reply too, never
            # the "success" that would stop WeChat's retries
            done, _ = await asyncio.wait({turn}, timeout=STILL_HEARD_SECONDS)
            return (self.finished(turn, collector, text), True) if done else (None, False)
        notice = await self.late.answer_later(agent, sender_id, incoming.turn_id, turn,
                                              lambda: self.finished(turn, collector, text))
        return notice, False

    def finished(self, turn: asyncio.Future, collector: CollectingWholeMessages,
                 text: str) -> str:
        """The reply of a finished turn as WeChat text; "unavailable" if it failed."""
        from rasa_server.channels import unavailable_message

        if turn.exception() is not None:
            logger.error("WeChat turn failed: %r", turn.exception())
            return as_plain_text([unavailable_message(text)], self.settings.web_chat_url)
        messages = collector.messages or [unavailable_message(text)]
        return as_plain_text(messages, self.settings.web_chat_url)

    async def chosen_option(self, agent: Any, sender_id: str, text: str) -> str:
        """A number answers the numbered options of the last reply: its question."""
        if not text.strip().isdigit():  # full-width digits too
            return text
        from rasa.shared.core.events import BotUttered, UserUttered

        from bot.dialogue.channel_text import chosen_option

        try:
            tracker = await agent.tracker_store.retrieve(sender_id)
        except Exception:  # noqa: BLE001 - the turn itself reports a store that is down
            return text
        for event in reversed(list(tracker.events) if tracker else []):
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered) and event.data.get("buttons"):
                return chosen_option(text, event.data["buttons"]) or text
        return text
