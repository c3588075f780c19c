"""Hostile input for the 公众号 webhook, generated with hypothesis (the soak's fuzz).

Signed text messages with the fuzz's hostile texts must be answered (a reply XML, or
"success" when the turn outlasts WeChat's window) and never crash the channel; forged,
replayed, wrongly encrypted, malformed, huge and entity-laden requests must be refused
with the status WeChat expects (400, 403 or 413), and none of them may be stored.

Written from WeChat's published callback protocol (SHA-1 of the sorted token,
timestamp, nonce and, encrypted, the ``Encrypt`` text), not from the channel's code.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
import urllib.parse

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.quality.soak.fuzz import TEXTS, FuzzResult, answerable

WEBHOOK = "/webhooks/wechat/webhook"
# Refused, with WeChat's statuses: a request WeChat did not sign (403), one it could
# not have sent (400), one too large to read (413).
REFUSED = {"forged": 403, "replayed": 403, "wrong key": 400, "malformed": 400,
           "external entity": 400, "billion laughs": 400, "no sender": 400, "huge": 413}
HOSTILE_BODIES = {
    "malformed": b"<xml><ToUserName>",
    "external entity": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM '
                        b'"file:///etc/passwd">]><xml><FromUserName>{openid}</FromUserName>'
                        b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&e;</Content>"
                        b"<MsgId>1</MsgId></xml>"),
    "billion laughs": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
                       b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><FromUserName>{openid}'
                       b"</FromUserName><Content>&b;</Content></xml>"),
    "no sender": b"<xml><MsgType>text</MsgType><Content>hi</Content></xml>",
    "huge": b"<xml><Content><![CDATA[" + b"a" * 300_000 + b"]]></Content></xml>",
}


def account_environment() -> dict[str, str]:
    """A 公众号 of the soak's own (compatible mode: plaintext and encrypted), for the
    servers it starts."""
    return {"WECHAT_TOKEN": secrets.token_hex(16), "WECHAT_APP_ID": "wxsoak" + secrets.token_hex(5),
            "WECHAT_ENCODING_AES_KEY": base64.b64encode(os.urandom(32)).decode().rstrip("="),
            "WECHAT_ENCRYPT_MODE": "compatible"}


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_safe(text: str) -> bool:
    """Whether ``text`` is characters XML 1.0 allows (else the request is malformed)."""
    return all(c in "\t\n\r" or "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd"
               or c >= "\U00010000" for c in text)


class Account:
    """Signed requests to one 公众号 webhook, as WeChat sends them."""

    def __init__(self, rasa_url: str, token: str):
        self.token = token
        self.http = httpx.Client(base_url=rasa_url, timeout=30, trust_env=False)
        self._msg_id = int(time.time() * 1000) * 1000

    def text(self, openid: str, content: str) -> bytes:
        self._msg_id += 1
        return (f"<xml><ToUserName>{_cdata('gh_soak')}</ToUserName><FromUserName>"
                f"{_cdata(openid)}</FromUserName><CreateTime>{int(time.time())}</CreateTime>"
                f"<MsgType>{_cdata('text')}</MsgType><Content>{_cdata(content)}</Content>"
                f"<MsgId>{self._msg_id}</MsgId></xml>").encode("utf-8", "surrogatepass")

    def post(self, body: bytes, token: str | None = None, timestamp: str | None = None,
             encrypt: str | None = None) -> httpx.Response | None:
        timestamp, nonce = timestamp or str(int(time.time())), str(secrets.randbelow(10**9))
        query = {"timestamp": timestamp, "nonce": nonce, "openid": "soak",
                 "signature": _sign(token or self.token, timestamp, nonce)}
        if encrypt is not None:
            query.update(encrypt_type="aes",
                         msg_signature=_sign(self.token, timestamp, nonce, encrypt))
            body = (f"<xml><ToUserName>gh_soak</ToUserName><Encrypt>{encrypt}</Encrypt>"
                    "</xml>").encode()
        try:
            return self.http.post(f"{WEBHOOK}?{urllib.parse.urlencode(query)}", content=body,
                                  headers={"Content-Type": "text/xml"})
        except httpx.TransportError:
            return None

    def hostile(self, kind: str, openid: str) -> httpx.Response | None:
        message = self.text(openid, "证书直邮怎么申请？")
        if kind == "forged":
            return self.post(message, token="not-the-token")
        if kind == "replayed":
            return self.post(message, timestamp=str(int(time.time()) - 3600))
        if kind == "wrong key":   # encrypted with a key that is not the account's
            return self.post(b"", encrypt=base64.b64encode(os.urandom(96)).decode())
        return self.post(HOSTILE_BODIES[kind].replace(b"{openid}", openid.encode()))

    def close(self) -> None:
        self.http.close()


def fuzz_wechat(rasa_url: str, token: str, examples: int) -> FuzzResult:
    """Hostile texts in signed messages, and hostile requests, to the 公众号 webhook;
    afterwards no refused request may have left a turn in the tracker store."""
    from bot.rasa_client import RasaClient

    result = FuzzResult("rasa " + WEBHOOK)
    account = Account(rasa_url, token)
    refused_senders: list[str] = []
    started = time.perf_counter()

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(text=TEXTS, kind=st.sampled_from(["text"] * 3 + sorted(REFUSED)))
    def check(text: str, kind: str) -> None:
        openid = "osoak" + secrets.token_hex(12)
        if kind != "text":
            response = account.hostile(kind, openid)
            refused_senders.append(openid)
            result.note(*_judge_refused(response, kind), kind)
            return
        response = account.post(account.text(openid, text))
        result.note(*_judge_answer(response, text), text)

    check()
    account.close()
    with RasaClient(rasa_url) as rasa:
        for openid in refused_senders[:200]:
            if any(e["event"] == "user" for e in rasa.tracker("wx-" + openid)["events"]):
                result.note(200, "refused request stored", openid)
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _judge_refused(response: httpx.Response | None, kind: str) -> tuple[int, str | None]:
    if response is None or response.status_code >= 500:
        return (0 if response is None else response.status_code), "server error"
    wanted = REFUSED[kind]
    return response.status_code, (None if response.status_code == wanted
                                  else f"{kind}: {response.status_code}, not {wanted}")


def _judge_answer(response: httpx.Response | None, text: str) -> tuple[int, str | None]:
    if response is None or response.status_code >= 500:
        return (0 if response is None else response.status_code), "server error"
    if not _xml_safe(text):
        return response.status_code, None if response.status_code == 400 else "bad XML accepted"
    body = response.content.strip()
    if response.status_code != 200:
        return response.status_code, f"signed message refused with {response.status_code}"
    if answerable(text) and body != b"success" and b"<Content>" not in body:
        return response.status_code, "empty reply"
    return 200, None

