"""WeChat's callback protocol, shared by the 公众号 and the 企业微信 channels: the settings,
a request checked and read into one :class:`Incoming` value, and the XML of a reply.

A request is refused (:class:`Refused`, with the HTTP status) when its signature is not
ours, its timestamp is more than ``MAX_CLOCK_SKEW_SECONDS`` away (a replayed request),
its body is over ``MAX_BODY_BYTES``, its XML is malformed or declares a DTD or entities
(defusedxml), or its encrypted part does not decrypt with our key to a message for us.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from bot import PROJECT_ROOT

from rasa_server.wechat_crypto import (InvalidMessage, InvalidSignature, MessageCipher,
                                       check_signature, signature)

MAX_BODY_BYTES = 64 * 1024
MAX_CLOCK_SKEW_SECONDS = 300
MODES = ("plain", "compatible", "safe")


class Refused(Exception):
    """A request WeChat did not send (or not for us): answered with ``status``."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def env_file_values(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (comments, ``export`` and quotes allowed)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        key, separator, value = line.strip().removeprefix("export ").partition("=")
        if separator and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("\"'")
    return values


@dataclass(frozen=True)
class WeChatSettings:
    """One account's settings: ``<PREFIX>_TOKEN``, ``_APP_ID`` (WeCom: the CorpID),
    ``_APP_SECRET``, ``_ENCODING_AES_KEY``, ``_ENCRYPT_MODE`` (plain | compatible |
    safe; safe when a key is set), ``_WEB_CHAT_URL`` (the full answer's link)."""

    token: str
    app_id: str = ""
    app_secret: str = ""
    encoding_aes_key: str = ""
    mode: str = "plain"
    web_chat_url: str = ""

    @classmethod
    def from_environment(cls, prefix: str, environ: Optional[Mapping[str, str]] = None
                         ) -> "WeChatSettings":
        """The environment first, then the project's ``.env`` (``WEB_ENV_FILE``: the one
        file the web front reads)."""
        env = os.environ if environ is None else environ
        file_values = env_file_values(Path(env.get("WEB_ENV_FILE") or PROJECT_ROOT / ".env"))

        def value(name: str) -> str:
            return (env.get(f"{prefix}_{name}") or file_values.get(f"{prefix}_{name}") or "").strip()

        key = value("ENCODING_AES_KEY")
        mode = value("ENCRYPT_MODE") or ("safe" if key else "plain")
        if mode not in MODES:
            raise ValueError(f"{prefix}_ENCRYPT_MODE must be one of {', '.join(MODES)}")
        settings = cls(value("TOKEN"), value("APP_ID"), value("APP_SECRET"), key, mode,
                       value("WEB_CHAT_URL"))
        if mode != "plain":
            settings.cipher()  # a malformed key fails at start, not at the first message
        return settings

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def cipher(self) -> MessageCipher:
        return MessageCipher(self.encoding_aes_key, self.app_id)


@dataclass(frozen=True)
class Incoming:
    """One message or event from WeChat, read once."""

    account: str          # ToUserName: our account (公众号 原始ID, WeCom CorpID)
    sender: str           # FromUserName: the candidate's OpenID (WeCom: UserID)
    created: int          # CreateTime, seconds
    kind: str             # MsgType: text, voice, image, location, link, event …
    content: str = ""     # text, or a voice message's Recognition
    msg_id: str = ""      # MsgId (events have none)
    event: str = ""       # subscribe, unsubscribe, CLICK …
    agent_id: str = ""    # WeCom's application

    @property
    def turn_id(self) -> str:
        """The turn's id for exactly-once handling: the MsgId; for an event its sender
        and CreateTime, as WeChat's documentation says to deduplicate."""
        if self.msg_id:
            return f"wx-{self.msg_id}"
        return f"wx-{self.sender}-{self.created}-{self.event}"


def xml_fields(body: bytes) -> dict[str, str]:
    """The children of WeChat's ``<xml>`` root as text (nested elements flattened by
    tag). Raises :class:`Refused` for anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "body too large")
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as error:
        raise Refused(400, f"malformed XML: {type(error).__name__}") from error
    if root.tag != "xml":
        raise Refused(400, "root is not <xml>")
    return {child.tag: (child.text or "").strip() for child in root.iter() if child is not root}


def check_timestamp(timestamp: str, now: Optional[float] = None) -> None:
    now = time.time() if now is None else now
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Refused(403, "timestamp out of range (replayed or forged)")


def read_request(settings: WeChatSettings, args: Mapping[str, str], body: bytes
                 ) -> tuple[Incoming, bool]:
    """The message of a signed POST from WeChat and whether it came encrypted."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    encrypted = args.get("encrypt_type") == "aes" or "msg_signature" in args
    if encrypted and settings.mode == "plain" or not encrypted and settings.mode == "safe":
        raise Refused(403, f"{'encrypted' if encrypted else 'plaintext'} message in "
                           f"{settings.mode} mode")
    try:
        if "signature" in args or not encrypted:
            check_signature(args.get("signature"), settings.token, timestamp, nonce)
        check_timestamp(timestamp)
        fields = xml_fields(body)
        if encrypted:
            check_signature(args.get("msg_signature"), settings.token, timestamp, nonce,
                            fields.get("Encrypt", ""))
            fields = xml_fields(settings.cipher().decrypt(fields.get("Encrypt", "")))
    except InvalidSignature as error:
        raise Refused(403, str(error)) from error
    except InvalidMessage as error:
        raise Refused(400, str(error)) from error
    return incoming_of(fields), encrypted


def incoming_of(fields: Mapping[str, str]) -> Incoming:
    sender, created = fields.get("FromUserName", ""), fields.get("CreateTime", "")
    if not sender or not created.isdigit() or not fields.get("MsgType"):
        raise Refused(400, "FromUserName, CreateTime or MsgType missing")
    kind = fields["MsgType"].lower()
    content = fields.get("Content", "") if kind == "text" else fields.get("Recognition", "")
    return Incoming(fields.get("ToUserName", ""), sender, int(created), kind, content,
                    fields.get("MsgId", ""), fields.get("Event", "").lower(),
                    fields.get("AgentID", ""))


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(incoming: Incoming, text: str, now: Optional[int] = None) -> str:
    """A passive text reply to ``incoming``."""
    return ("<xml><ToUserName>" + cdata(incoming.sender) + "</ToUserName><FromUserName>"
            + cdata(incoming.account) + f"</FromUserName><CreateTime>{now or int(time.time())}"
            "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>" + cdata(text)
            + "</Content></xml>")


def encrypted_xml(settings: WeChatSettings, plain_xml: str) -> str:
    """``plain_xml`` as secure mode's reply: encrypted, signed, with a fresh nonce."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    encrypt = settings.cipher().encrypt(plain_xml.encode("utf-8"))
    return ("<xml><Encrypt>" + cdata(encrypt) + "</Encrypt><MsgSignature>"
            + cdata(signature(settings.token, timestamp, nonce, encrypt))
            + f"</MsgSignature><TimeStamp>{timestamp}</TimeStamp><Nonce>" + cdata(nonce)
            + "</Nonce></xml>")
