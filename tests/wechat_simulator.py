"""A WeChat server, as the published callback protocol describes it, for the tests.

Written from WeChat's documentation (消息加解密说明, 被动回复用户消息, 企业微信回调), not from
rasa_server's code: it signs a request (SHA-1 of the sorted token, timestamp, nonce and,
in secure mode, the ``Encrypt`` text), encrypts the message (AES-256-CBC, key = base64 of
the EncodingAESKey + "=", IV = its first 16 bytes; plaintext = 16 random bytes, the length
in 4 network-order bytes, the XML, the AppID; PKCS#7 padding to 32-byte blocks), POSTs the
XML and waits five seconds. Without a reply in time it tries again with the same message,
three tries in all; then the candidate sees "该公众号暂时无法提供服务". A reply is checked as
WeChat checks it: "success" or empty is no reply; anything else must be the reply XML
(in secure mode signed and encrypted for our AppID), or the candidate sees the error.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

WAIT_SECONDS = 5.0
TRIES = 3
PLATFORM_ERROR = "该公众号暂时无法提供服务"


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class Aes:
    """WeChat's message encryption with one EncodingAESKey and receiver id."""

    def __init__(self, encoding_aes_key: str, receiver_id: str):
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.receiver_id = receiver_id.encode()

    def encrypt(self, data: bytes, random16: Optional[bytes] = None) -> str:
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(data)) + data + self.receiver_id
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

    def decrypt(self, text: str) -> bytes:
        dec = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = dec.update(base64.b64decode(text)) + dec.finalize()
        plain = plain[:-plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        assert plain[20 + length:] == self.receiver_id, "reply encrypted for another receiver"
        return plain[20:20 + length]


def cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


@dataclass
class Delivery:
    """What WeChat made of one message: the reply shown, how many tries it took."""

    tries: int = 0
    reply: Optional[str] = None          # the text the candidate sees
    platform_error: bool = False         # "该公众号暂时无法提供服务"
    statuses: list = field(default_factory=list)


class WeChatServer:
    """One 公众号 (or WeCom application: ``wecom=True``) and its followers."""

    def __init__(self, webhook_url: str, token: str, app_id: str, aes_key: str,
                 account: str = "gh_simulated01", secure: bool = False, wecom: bool = False):
        self.url, self.token, self.app_id = webhook_url, token, app_id
        self.aes = Aes(aes_key, app_id)
        self.account, self.secure, self.wecom = account, secure or wecom, wecom
        self._msg_id = int(time.time() * 1000) * 1000 + secrets.randbelow(1000)

    def next_msg_id(self) -> str:
        self._msg_id += 1
        return str(self._msg_id)

    # ------------------------------------------------------------ messages
    def message(self, openid: str, kind: str, created: Optional[int] = None, **fields: str) -> str:
        created = created or int(time.time())
        parts = [f"<ToUserName>{cdata(self.account)}</ToUserName>",
                 f"<FromUserName>{cdata(openid)}</FromUserName>",
                 f"<CreateTime>{created}</CreateTime>", f"<MsgType>{cdata(kind)}</MsgType>"]
        parts += [f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items()]
        if kind != "event":
            parts.append(f"<MsgId>{fields.get('MsgId') or self.next_msg_id()}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, openid: str, content: str, **kw) -> str:
        return self.message(openid, "text", Content=content, **kw)

    # ------------------------------------------------------------ HTTP
    def request(self, xml: str, timestamp: Optional[str] = None, token: Optional[str] = None,
                aes: Optional[Aes] = None) -> tuple[str, bytes]:
        """(query string, body) of one signed (and in secure mode encrypted) POST."""
        timestamp = timestamp or str(int(time.time()))
        nonce, token = str(secrets.randbelow(10**9)), token or self.token
        query = {"timestamp": timestamp, "nonce": nonce}
        if not self.wecom:
            query["signature"] = sign(token, timestamp, nonce)
            query["openid"] = "simulated"
        body = xml.encode()
        if self.secure:
            encrypt = (aes or self.aes).encrypt(body)
            query["encrypt_type"] = "aes"
            query["msg_signature"] = sign(token, timestamp, nonce, encrypt)
            body = (f"<xml><ToUserName>{cdata(self.account)}</ToUserName>"
                    f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>").encode()
        return urllib.parse.urlencode(query), body

    def post(self, query: str, body: bytes, timeout: float = WAIT_SECONDS) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.url}?{query}", data=body,
                                         headers={"Content-Type": "text/xml"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def deliver(self, xml: str, openid: str, lost_tries: int = 0) -> Delivery:
        """WeChat's delivery: up to three tries, each given five seconds. The reply to
        each of the first ``lost_tries`` tries is lost on the way: WeChat tries again
        when its five seconds are over, as it does for a reply that came too late."""
        delivery = Delivery()
        for attempt in range(TRIES):
            delivery.tries += 1
            query, body = self.request(xml)
            started = time.monotonic()
            try:
                status, reply = self.post(query, body)
            except (TimeoutError, urllib.error.URLError, OSError) as error:
                delivery.statuses.append(type(error).__name__)
                continue
            delivery.statuses.append(status)
            if attempt < lost_tries:
                time.sleep(max(0.0, WAIT_SECONDS - (time.monotonic() - started)))
                continue
            if status != 200:
                continue
            if reply.strip() in (b"", b"success"):
                return delivery
            delivery.reply = self.read_reply(reply, openid)
            delivery.platform_error = delivery.reply is None
            return delivery
        delivery.platform_error = True
        return delivery

    def read_reply(self, body: bytes, openid: str) -> Optional[str]:
        """The reply's text, or None when WeChat would refuse it (the platform error)."""
        try:
            root = ET.fromstring(body)
            if self.secure:
                timestamp, nonce = root.findtext("TimeStamp"), root.findtext("Nonce")
                encrypt = root.findtext("Encrypt")
                if root.findtext("MsgSignature") != sign(self.token, timestamp, nonce, encrypt):
                    return None
                root = ET.fromstring(self.aes.decrypt(encrypt))
            if (root.findtext("ToUserName") != openid or root.findtext("FromUserName") != self.account
                    or root.findtext("MsgType") != "text" or not root.findtext("CreateTime").isdigit()):
                return None
            content = root.findtext("Content")
            return content if content and len(content.encode()) <= 2048 else None
        except (ET.ParseError, AssertionError, ValueError, TypeError, AttributeError):
            return None

    def url_check(self, echostr: str, token: Optional[str] = None) -> tuple[int, str]:
        """The GET WeChat sends when the URL is saved on the platform."""
        timestamp, nonce, token = str(int(time.time())), str(secrets.randbelow(10**9)), token or self.token
        if self.wecom:
            sent = self.aes.encrypt(echostr.encode())
            query = {"msg_signature": sign(token, timestamp, nonce, sent), "timestamp": timestamp,
                     "nonce": nonce, "echostr": sent}
        else:
            query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp,
                     "nonce": nonce, "echostr": echostr}
        try:
            with urllib.request.urlopen(f"{self.url}?{urllib.parse.urlencode(query)}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
