"""Answers that miss WeChat's last try (about 15 s after the message).

Where the account may use the customer-service message API (a verified service account;
``<PREFIX>_CUSTOMER_SERVICE=1`` with the AppSecret; for 企业微信 its application message
API, with ``WECOM_AGENT_ID``), the answer is sent through it when the turn finishes. Otherwise, or when that send fails (outside the 48-hour window, over the
rate limit, WeChat unreachable), the turn is kept in ``wechat_undelivered`` in the tracker
database every instance shares, and the reply to the candidate's next message, whatever it
says, starts with that answer (``answer_pending`` tells them so); the message itself is
answered too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Callable, Optional

logger = logging.getLogger(__name__)

LATE_TURN_WAIT_SECONDS = 120.0
API_TIMEOUT_SECONDS = 5.0
TOKEN_MARGIN_SECONDS = 300        # refresh a token this long before WeChat expires it
TOKEN_ERRORS = {40001, 40014, 42001}   # invalid or expired access token: fetch a new one


class CustomerServiceError(Exception):
    """WeChat did not take the message (its errcode, or why it was not reached)."""

    def __init__(self, problem: str, errcode: Optional[int] = None):
        super().__init__(problem)
        self.errcode = errcode


class CustomerServiceApi:
    """``/cgi-bin/message/custom/send`` with a cached access token (``/cgi-bin/stable_token``),
    refreshed before it expires and again when WeChat says it is no longer valid."""

    def __init__(self, app_id: str, app_secret: str, base_url: str):
        self.app_id, self.app_secret = app_id, app_secret
        self.base_url = base_url.rstrip("/")
        self._token: Optional[str] = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.request(method, self.base_url + path, **kwargs) as reply:
                    body = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise CustomerServiceError(f"WeChat API not reached: {type(error).__name__}") from error
        if not isinstance(body, dict):
            raise CustomerServiceError("WeChat API answered no JSON object")
        return body

    SEND_PATH = "/cgi-bin/message/custom/send"

    async def fetch_token(self) -> dict[str, Any]:
        """getStableAccessToken (normal mode): every instance of the cluster gets the same
        token while it is valid, where ``/cgi-bin/token`` would invalidate the token the
        other instances hold each time one of them asks."""
        return await self._call("POST", "/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret,
            "force_refresh": False})

    def payload(self, openid: str, text: str) -> dict[str, Any]:
        return {"touser": openid, "msgtype": "text", "text": {"content": text}}

    async def access_token(self, renew: bool = False) -> str:
        async with self._lock:
            if renew or not self._token or time.time() > self._expires - TOKEN_MARGIN_SECONDS:
                body = await self.fetch_token()
                if not body.get("access_token"):
                    raise CustomerServiceError(f"no token: {body.get('errmsg')}", body.get("errcode"))
                self._token = str(body["access_token"])
                self._expires = time.time() + float(body.get("expires_in") or 7200)
            return self._token

    async def send_text(self, openid: str, text: str) -> None:
        payload = self.payload(openid, text)
        for renew in (False, True):
            token = await self.access_token(renew)
            body = await self._call("POST", self.SEND_PATH,
                                    params={"access_token": token}, json=payload)
            errcode = int(body.get("errcode") or 0)
            if errcode == 0:
                return
            if errcode not in TOKEN_ERRORS:
                break
        raise CustomerServiceError(f"errcode {errcode}: {body.get('errmsg')}", errcode)


class WeComMessageApi(CustomerServiceApi):
    """企业微信's application messages: ``/cgi-bin/gettoken`` with the CorpID and the
    application's Secret, ``/cgi-bin/message/send`` to a member with the AgentId; the
    same token cache and error codes."""

    SEND_PATH = "/cgi-bin/message/send"

    def __init__(self, corp_id: str, secret: str, base_url: str, agent_id: int):
        super().__init__(corp_id, secret, base_url)
        self.agent_id = agent_id

    async def fetch_token(self) -> dict[str, Any]:
        # WeCom gives the same token to every caller while it is valid
        return await self._call("GET", "/cgi-bin/gettoken",
                                params={"corpid": self.app_id, "corpsecret": self.app_secret})

    def payload(self, user_id: str, text: str) -> dict[str, Any]:
        return {"touser": user_id, "msgtype": "text", "agentid": self.agent_id,
                "text": {"content": text}}


def message_api(settings: Any, prefix: str) -> Optional[CustomerServiceApi]:
    """The account's API for messages outside the reply (``<PREFIX>_CUSTOMER_SERVICE=1``
    with the AppSecret; WeCom also needs ``WECOM_AGENT_ID``), or None."""
    if os.environ.get(f"{prefix}_CUSTOMER_SERVICE") != "1" or not settings.app_secret:
        return None
    if prefix != "WECOM":
        return CustomerServiceApi(settings.app_id, settings.app_secret,
                                  os.environ.get(f"{prefix}_API_BASE", "https://api.weixin.qq.com"))
    agent_id = os.environ.get("WECOM_AGENT_ID", "").strip()
    if not agent_id.isdigit():
        logger.error("WECOM_CUSTOMER_SERVICE=1 without a numeric WECOM_AGENT_ID: not used")
        return None
    return WeComMessageApi(settings.app_id, settings.app_secret,
                           os.environ.get("WECOM_API_BASE", "https://qyapi.weixin.qq.com"),
                           int(agent_id))


def _undelivered_table(agent: Any) -> Optional[tuple[Any, Any]]:
    """(engine, table) of ``wechat_undelivered`` in the SQL tracker store, created once."""
    import sqlalchemy as sa

    store = agent.tracker_store
    while hasattr(store, "_tracker_store"):  # Rasa's fail-safe and awaitable wrappers
        store = store._tracker_store
    engine = getattr(store, "engine", None)
    if engine is None:
        logger.error("the tracker store is not SQL: late WeChat answers cannot be kept")
        return None
    table = getattr(engine, "wechat_undelivered", None)
    if table is None:
        table = sa.Table("wechat_undelivered", sa.MetaData(),
                         sa.Column("turn_id", sa.String(160), primary_key=True),
                         sa.Column("sender_id", sa.String(255), index=True, nullable=False),
                         sa.Column("created", sa.Float, nullable=False))
        table.metadata.create_all(engine, checkfirst=True)
        engine.wechat_undelivered = table
    return engine, table


class LateAnswers:
    """What happens to a turn still running at WeChat's last try."""

    def __init__(self, settings: Any, prefix: str):
        self.api = message_api(settings, prefix)
        self.prefix = prefix

    async def answer_later(self, agent: Any, sender_id: str, turn_id: str, turn: Any,
                           reply_of: Callable[[], str]) -> Optional[str]:
        """The reply for WeChat's last try; None when the answer will follow by the API."""
        from bot.dialogue.channel_text import texts

        if self.api is None:
            self.keep_undelivered(agent, sender_id, turn_id)
            return texts()["answer_pending"]
        asyncio.ensure_future(self._send_when_done(agent, sender_id, turn_id, turn, reply_of))
        return None

    async def _send_when_done(self, agent: Any, sender_id: str, turn_id: str, turn: Any,
                              reply_of: Callable[[], str]) -> None:
        await asyncio.wait({turn}, timeout=LATE_TURN_WAIT_SECONDS)
        try:
            await self.api.send_text(sender_id.split("-", 1)[1], reply_of())  # type: ignore[union-attr]
            logger.info("late answer of %s sent by the customer-service API", turn_id)
        except CustomerServiceError as error:
            logger.warning("late answer of %s not sent (%s): kept for the next message",
                           turn_id, error)
            self.keep_undelivered(agent, sender_id, turn_id)

    def keep_undelivered(self, agent: Any, sender_id: str, turn_id: str) -> None:
        import sqlalchemy as sa

        found = _undelivered_table(agent)
        if found is None:
            return
        engine, table = found
        try:
            with engine.begin() as db:
                db.execute(table.insert().values(turn_id=turn_id, sender_id=sender_id,
                                                 created=time.time()))
        except sa.exc.IntegrityError:
            pass  # already kept (another try of the same turn)

    async def kept_answers(self, agent: Any, sender_id: str) -> Optional[str]:
        """The finished answers kept for this sender, taken once (on one instance), as
        text to put before the reply to their next message; None when there are none."""
        found = _undelivered_table(agent)
        if found is None:
            return None
        kept = self._kept_turns(found, sender_id)
        return await self._take_finished(agent, found, sender_id, kept) if kept else None

    @staticmethod
    def _kept_turns(found: tuple[Any, Any], sender_id: str) -> list[str]:
        import sqlalchemy as sa

        engine, table = found
        with engine.connect() as db:
            return [row[0] for row in db.execute(
                sa.select(table.c.turn_id).where(table.c.sender_id == sender_id)
                .order_by(table.c.created))]

    @staticmethod
    async def _take_finished(agent: Any, found: tuple[Any, Any], sender_id: str,
                             turn_ids: list[str]) -> Optional[str]:
        from bot.dialogue.channel_text import plain_text, texts

        from rasa_server.exactly_once import stored_reply
        from rasa_server.wechat import MAX_REPLY_BYTES

        engine, table = found
        tracker = await agent.tracker_store.retrieve(sender_id)
        events = list(tracker.events) if tracker else []
        messages: list[dict[str, Any]] = []
        for turn_id in turn_ids:
            replies = stored_reply(events, turn_id)
            if replies is None:
                continue  # still running
            with engine.begin() as db:
                if db.execute(table.delete().where(table.c.turn_id == turn_id)).rowcount:
                    messages += replies
        if not messages:
            return None
        heading = texts()["pending_heading"]
        return heading + "\n" + plain_text(messages, MAX_REPLY_BYTES // 2)
