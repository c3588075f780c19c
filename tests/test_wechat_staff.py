"""Staff see WeChat conversations like the others: the log and the exports show the
channel and a masked OpenID, never the OpenID in full (bot.lang.privacy.shown_sender),
and link to a conversation by an encrypted reference (bot.web.sender_links)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from bot.lang.privacy import shown_sender
from tests.test_web_exports import START, download, logged_in

OPENID = "oe651d7c869694219a3a3b8b7f22"


def test_a_wechat_sender_is_shown_as_its_channel_and_a_masked_id():
    assert shown_sender("wx-" + OPENID) == "公众号 oe65…7f22"
    assert shown_sender("wecom-zhangsan") == "企业微信 zh…"
    assert shown_sender("web-0123456789abcdef") == "web-0123456789abcdef"


def test_the_log_and_the_export_never_show_the_openid_in_full(tmp_path: Path):
    path = tmp_path / "tracker.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255),"
                       " timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
    connection.executemany("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", [
        ("wx-" + OPENID, "user", START, json.dumps({"text": "什么是证书直邮？", "input_channel": "wechat"})),
        ("wx-" + OPENID, "bot", START + 1, json.dumps({"text": "证书直邮是……", "data": {"custom": {
            "kind": "faq_answer", "entry_id": "direct_mail_what", "score": 0.93}}}))])
    connection.commit()
    connection.close()
    with logged_in(path) as staff:
        log = staff.get("/staff/log").text
        [link] = set(re.findall(r'href="(/staff/log/[^"?#]+)"', log))
        conversation = staff.get(link)
        forged = staff.get(link[:-4] + "AAAA")
        rows = download(staff, "/staff/export/conversations.csv")
    assert conversation.status_code == 200 and "证书直邮是" in conversation.text
    assert forged.status_code == 404
    for page in (log, conversation.text):
        assert "公众号 oe65…7f22" in page
        assert OPENID not in page            # neither as text nor in a link's address
    assert {row[0] for row in rows[1:]} == {"公众号 oe65…7f22"}
