"""The whole assistant over Rasa's REST channel: real action server, real Rasa server,
real SQLite tracker store (started by the `servers` fixture in conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from bot.text import is_traditional
from tests.conftest import post_json

pytestmark = pytest.mark.servers
QUESTIONS = yaml.safe_load((Path(__file__).parent / "data" / "rest_questions.yml").read_text(
    encoding="utf-8"))["questions"]


def say(rasa_url: str, sender: str, text: str) -> tuple[str, dict]:
    """Send one message; return the reply text and its structured `custom` part."""
    status, messages = post_json(f"{rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
    assert status == 200, messages
    texts = [m["text"] for m in messages if m.get("text")]
    customs = [m["custom"] for m in messages if m.get("custom")]
    return "\n".join(texts), (customs[-1] if customs else {})


def case_id(case: dict) -> str:
    return " / ".join(case.get("turns") or [case["text"]])[:40]


@pytest.mark.parametrize("case", QUESTIONS, ids=case_id)
def test_candidate_questions_get_the_right_answer_or_the_fallback(rasa_url, case):
    sender = uuid.uuid4().hex
    for turn in case.get("turns") or [case["text"]]:
        text, custom = say(rasa_url, sender, turn)
    if case["expected"] is None:
        assert custom.get("kind") == "fallback", (text, custom)
        assert "18558892138" in text or "cpta.com.cn" in text or "rsj.gz.gov.cn" in text
        return
    assert custom.get("kind") == "faq_answer", (text, custom)
    assert custom["entry_id"] == case["expected"], (text, custom)
    assert custom["sources"] and "来源" in text or "來源" in text
    for fact in case.get("facts", []):
        assert fact in text, (fact, text)


def test_traditional_question_gets_a_traditional_answer(rasa_url):
    text, custom = say(rasa_url, uuid.uuid4().hex, "電子證書下載頁面是空白的，怎麼回事？")
    assert custom.get("kind") == "faq_answer"
    assert is_traditional(text), text


def test_follow_up_keeps_the_region(rasa_url):
    sender = uuid.uuid4().hex
    say(rasa_url, sender, "我在河南考的二建")
    text, custom = say(rasa_url, sender, "证书邮寄费用谁出？")
    assert custom.get("entry_id") == "henan_mail_fee", (text, custom)


def test_one_turn_deadline(rasa_url):
    text, custom = say(rasa_url, uuid.uuid4().hex, "广东的，名单2024年9月27日公示，直邮最晚哪天申请？")
    assert custom.get("kind") == "deadline"
    assert "2024年10月18日（星期五）" in text
    assert "第二百零一条" in text


def test_deadline_form_asks_one_thing_at_a_time_and_rejects_impossible_dates(rasa_url):
    sender = uuid.uuid4().hex
    text, _ = say(rasa_url, sender, "帮我算一下截止日期")
    assert "哪一项期限" in text
    text, _ = say(rasa_url, sender, "计算河南纸质证书预约邮寄期")
    assert "考后核查结果发布日期" in text
    text, _ = say(rasa_url, sender, "2025年2月30日")
    assert "不存在" in text
    text, custom = say(rasa_url, sender, "2025年3月3日")
    assert custom.get("kind") == "deadline"
    assert "2025年4月2日（星期三）" in text


def test_deadline_form_can_be_cancelled(rasa_url):
    sender = uuid.uuid4().hex
    say(rasa_url, sender, "帮我算一下截止日期")
    text, _ = say(rasa_url, sender, "算了")
    assert "取消" in text


@pytest.mark.parametrize("message", ["", "   ", "😀😀😀", "<script>alert(1)</script>", "证" * 10_000,
                                     "\x00\x01\x02"])
def test_bad_messages_get_a_sane_reply(rasa_url, message):
    status, messages = post_json(f"{rasa_url}/webhooks/rest/webhook",
                                 {"sender": uuid.uuid4().hex, "message": message})
    assert status < 500
    if status == 200:
        assert all("Traceback" not in (m.get("text") or "") for m in messages)


def test_malformed_json_is_a_client_error_and_the_server_lives_on(rasa_url):
    status, _ = post_json(f"{rasa_url}/webhooks/rest/webhook", b"{not json")
    assert 400 <= status < 500
    text, custom = say(rasa_url, uuid.uuid4().hex, "电子证书加注过期了怎么办")
    assert custom.get("entry_id") == "annotation_expired", (text, custom)
