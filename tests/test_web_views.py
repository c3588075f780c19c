"""bot.web.console.search.HitView and bot.web.console.log.regression_case_yaml alone: a retrieval hit as staff see it, a logged question as a case."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml

from bot.datafiles import ui_texts
from bot.knowledge.corpus import Citation
from bot.retrieval.engine import Hit
from bot.web.storage.conversations import Conversation, LogMessage
from bot.web.console.log import regression_case_yaml
from bot.web.console.search import HitView

CST = timezone(timedelta(hours=8))
CASE_TEXTS = ui_texts()["staff"]["regression_case"]

DATED = Citation(passage_id="gz-mail-faq-2025/p03", document_id="gz-mail-faq-2025", title="证书直邮问答",
                 issuer="广东省人事考试局", published=date(2025, 8, 6), region="广东", source_url="https://example.cn/a")
UNDATED = Citation(passage_id="cpta-ecert-faq/p01", document_id="cpta-ecert-faq", title="电子证书问答",
                   issuer="人事考试中心", published=None, region="全国", source_url=None)


def entry_hit(**overrides: object) -> Hit:
    values: dict = dict(kind="entry", id="direct_mail_what", score=0.456789, matched_text="什么是证书直邮",
                        question="什么是证书直邮？请拨13812345678", answer="直邮就是……身份证440106199001011234",
                        topic="direct_mail", region="广东", citations=[DATED, UNDATED], similarity=0.99237)
    values.update(overrides)
    return Hit(**values)


def test_a_hit_is_masked_and_rounded() -> None:
    view = HitView.of(entry_hit())
    assert (view.kind, view.id, view.topic, view.region) == ("entry", "direct_mail_what", "direct_mail", "广东")
    assert (view.score, view.similarity) == (0.4568, 0.9924)
    assert "13812345678" not in view.question and "138****5678" in view.question
    assert "440106199001011234" not in view.answer and view.answer.endswith("1234")
    assert view.citations == (DATED, UNDATED)
    with pytest.raises(FrozenInstanceError):
        view.score = 1.0  # type: ignore[misc]


def test_a_passage_hit_has_empty_question_and_answer() -> None:
    view = HitView.of(entry_hit(kind="passage", id=DATED.passage_id, question=None, answer=None, topic=None,
                                matched_text="邮寄到 13812345678 的家里", citations=[DATED]))
    assert (view.question, view.answer, view.topic) == ("", "", None)
    assert view.matched_text == "邮寄到 138****5678 的家里"


def test_the_json_of_a_hit_keeps_the_api_keys_and_dates() -> None:
    body = HitView.of(entry_hit()).as_json()
    assert list(body) == ["kind", "id", "score", "similarity", "question", "answer", "matched_text",
                          "topic", "region", "citations"]
    assert body["citations"] == [
        {"passage_id": "gz-mail-faq-2025/p03", "document_id": "gz-mail-faq-2025", "title": "证书直邮问答",
         "issuer": "广东省人事考试局", "published": "2025-08-06", "region": "广东",
         "source_url": "https://example.cn/a"},
        {"passage_id": "cpta-ecert-faq/p01", "document_id": "cpta-ecert-faq", "title": "电子证书问答",
         "issuer": "人事考试中心", "published": None, "region": "全国", "source_url": None},
    ]


def at(hour: int, minute: int) -> float:
    return datetime(2025, 9, 1, hour, minute, tzinfo=CST).timestamp()


def conversation() -> Conversation:
    sender = "alice-2025"
    return Conversation(sender, [
        LogMessage(sender, "user", "邮费多少钱", at(5, 0)),
        LogMessage(sender, "bot", "邮费是……", at(5, 0), kind="faq_answer", entry_id="postage_fee", score=0.91),
        LogMessage(sender, "user", "今天中午吃什么", at(5, 5)),
        LogMessage(sender, "bot", "抱歉……", at(5, 5), kind="fallback"),
        LogMessage(sender, "user", "直邮哪天截止", at(6, 30)),
        LogMessage(sender, "bot", "请问名单是哪天公示的？", at(6, 30)),
        LogMessage(sender, "bot", "截止日期是……", at(6, 30), kind="deadline", procedure="gd_direct_mail"),
    ])


def pasted(text: str) -> dict:
    cases = yaml.safe_load("cases:\n" + text)["cases"]
    assert len(cases) == 1
    return cases[0]


def test_an_answered_question_becomes_a_case_expecting_its_entry() -> None:
    text = regression_case_yaml(conversation(), 1, CASE_TEXTS, CST)
    assert text is not None
    assert pasted(text) == {"id": "logged-20250901-alice202-1", "turns": ["邮费多少钱"], "expect": "postage_fee"}
    assert CASE_TEXTS["header"].format(sender_id="alice-2025", turn=1, time="2025-09-01 05:00:00") in text
    assert CASE_TEXTS["answered"].format(received="postage_fee") in text


def test_a_fallback_names_the_earlier_turns() -> None:
    text = regression_case_yaml(conversation(), 2, CASE_TEXTS, CST)
    assert text is not None and pasted(text)["expect"] == "fallback"
    assert CASE_TEXTS["earlier_turns"].format(turns="邮费多少钱") in text


def test_the_last_structured_reply_of_a_turn_is_what_it_answered() -> None:
    text = regression_case_yaml(conversation(), 3, CASE_TEXTS, CST)
    assert text is not None
    case = pasted(text)
    assert case["expect"] == "deadline:gd_direct_mail"
    assert case["id"] == "logged-20250901-alice202-3", "the day in the display time zone (UTC's is 31 August)"
    assert CASE_TEXTS["earlier_turns"].format(turns=CASE_TEXTS["turn_separator"].join(["邮费多少钱", "今天中午吃什么"])) in text


@pytest.mark.parametrize("turn", [0, 4])
def test_a_turn_the_conversation_does_not_have_is_none(turn: int) -> None:
    assert regression_case_yaml(conversation(), turn, CASE_TEXTS, CST) is None
