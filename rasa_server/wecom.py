"""The 企业微信 (WeCom) application channel, named in credentials.yml as
``rasa_server.wecom.WeComInput`` at ``/webhooks/wecom/webhook``: the 公众号 channel's turn
handling (rasa_server.wechat) with WeCom's callback, which is always encrypted (the
CorpID is the receiver id) and whose URL check sends ``echostr`` encrypted too.
Settings from ``WECOM_*`` (docs/WECHAT.md); late answers wait for the next message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional, Text

from rasa.core.channels.channel import InputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_server.wechat import WeChatInput
from rasa_server.wechat_crypto import InvalidMessage, InvalidSignature, check_signature
from rasa_server.wechat_protocol import Refused, WeChatSettings, check_timestamp


class WeComInput(WeChatInput):
    """企业微信 application messages as Rasa turns."""

    ENV_PREFIX = "WECOM"
    SENDER_PREFIX = "wecom-"

    @classmethod
    def name(cls) -> Text:
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> InputChannel:
        settings = WeChatSettings.from_environment(cls.ENV_PREFIX)
        return cls(replace(settings, mode="safe") if settings.encoding_aes_key else settings)

    def url_check(self, request: Request) -> HTTPResponse:
        """WeCom's GET: ``echostr`` decrypted, when ``msg_signature`` signs it."""
        args = {k: request.args.get(k, "")
                for k in ("msg_signature", "timestamp", "nonce", "echostr")}
        try:
            check_signature(args["msg_signature"], self.settings.token, args["timestamp"],
                            args["nonce"], args["echostr"])
            check_timestamp(args["timestamp"])
            echoed = self.settings.cipher().decrypt(args["echostr"])
        except InvalidSignature:
            return response.text("forbidden", status=403)
        except InvalidMessage:
            return response.text("bad echostr", status=400)
        except Refused as refused:
            return response.text(refused.reason, status=refused.status)
        return response.text(echoed.decode("utf-8", errors="replace"))
