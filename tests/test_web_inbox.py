"""The staff inbox (bot.web.console.inbox, bot.web.console.inbox_groups): fallbacks, did-you-means with
what the candidate picked, low-confidence answers and thumbs down, grouped by similar
question, with statuses, filters, paging, links and its CSV.

The view models are tested on logged turns built here; the page through Starlette's
test client over a real SQLite tracker store in Rasa's schema, with a keyword encoder
standing in for the sentence encoder where the grouping is not the point (the real
encoder groups in tests/test_clustering.py and in the last test, which chats with the
real servers).
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.storage.store import ConsoleStore
from bot.web.storage.tables import audit_log, own_tables, question_key
from bot.web.console.inbox import INBOX_PAGE_SIZE, QuestionEmbeddings
from bot.web.console.inbox_groups import (InboxFilters, each_alone, group_items, inbox_items, turn_kinds)
from bot.web.storage.ratings import Rating
from bot.web.storage.conversations import LoggedTurn, LogMessage
from tests.conftest import RunningServers, post_json
from tests.test_web_feedback import bot, settings_for, user, write_events

TEXTS = ui_texts()
PASSWORD = "feedback-pw-1234"  # tests.test_web_feedback.settings_for's
VIEWER_PASSWORD = "inbox-viewer-pw-5678"
DAY = 86400
CHECK_QUESTIONS = ["河南补充资格核查是什么时候？", "河南资格核查的流程是什么？"]


class KeywordEncoder:
    """Stands in for the sentence encoder: questions sharing a keyword are the same
    point, any other question a point of its own (a deterministic hash direction)."""

    model_id = "keyword-test-encoder"
    dimension = 64
    KEYWORDS = ("核查", "食堂")

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            keyword = next((k for k in self.KEYWORDS if k in text), text)
            rng = np.random.default_rng(zlib.crc32(keyword.encode()))
            rows.append(rng.normal(size=self.dimension))
        vectors = np.asarray(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class BrokenEncoder:
    model_id, dimension = "broken", 8

    def encode(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("model file missing")


# ------------------------------------------------------------------ view models


def message(role: str, text: str, at: float, turn: int, **fields: Any) -> LogMessage:
    return LogMessage("s-1", role, text, at, turn=turn, **fields)


def logged(turn: int, text: str, reply: LogMessage | None, next_text: str | None = None,
           sender: str = "s-1") -> LoggedTurn:
    question = LogMessage(sender, "user", text, 100.0 + turn, turn=turn)
    following = LogMessage(sender, "user", next_text, 200.0 + turn, turn=turn + 1) if next_text else None
    return LoggedTurn(sender, turn, question, (reply,) if reply else (), following)


def test_why_a_turn_is_in_the_inbox() -> None:
    fallback = message("bot", "抱歉", 1, 1, kind="fallback")
    confident = message("bot", "答", 1, 1, kind="faq_answer", entry_id="e", score=0.95)
    unsure = message("bot", "答", 1, 1, kind="faq_answer", entry_id="e", score=0.5)
    down = Rating("s-1", 1, "down", "unclear", None, 1.0)
    assert turn_kinds(logged(1, "q", fallback), None, 0.59) == ("fallback",)
    assert turn_kinds(logged(1, "q", confident), None, 0.59) == ()
    assert turn_kinds(logged(1, "q", unsure), None, 0.59) == ("low_confidence",)
    assert turn_kinds(logged(1, "q", confident), down, 0.59) == ("thumbs_down",)
    assert turn_kinds(logged(1, "q", unsure), Rating("s-1", 1, "up", None, None, 1.0), 0.59) == ("low_confidence",)
    per_region = message("bot", "各地的规定不同", 1, 1, kind="faq_answer", entry_id="henan_mail_fee", score=0.47,
                         entries=("henan_mail_fee", "gz_paper_mail_fee"))
    assert turn_kinds(logged(1, "寄证书收费不", per_region), None, 0.59) == (), "answered for each region"
    assert turn_kinds(logged(1, "q", message("bot", "你好", 1, 1, kind="smalltalk")), None, 0.59) == ()
    assert turn_kinds(logged(1, "q", None), None, 0.59) == ()


def did_you_mean(turn: int) -> LogMessage:
    return message("bot", "您是想问", 1, turn, kind="did_you_mean", score=0.3, topic="ask_qualification_check",
                   candidates=("check_when", "check_how"), buttons=tuple(CHECK_QUESTIONS))


def test_what_the_candidate_picked_from_a_did_you_mean() -> None:
    picked = logged(1, "核查几时搞", did_you_mean(1), CHECK_QUESTIONS[1])
    typed_alike = logged(1, "核查几时搞", did_you_mean(1), "河南资格核查的流程是什么")  # no "？"
    other = logged(1, "核查几时搞", did_you_mean(1), "算了")
    silent = logged(1, "核查几时搞", did_you_mean(1))
    assert [t.picked for t in (picked, typed_alike, other, silent)] == ["check_how", "check_how", None, None]
    items = list(inbox_items([picked, other, silent], {}, 0.59))
    assert [(i.picked, i.followed_by) for i in items] == [("check_how", None), (None, "算了"), (None, None)]
    assert all(i.topic == "ask_qualification_check" for i in items)


def test_items_are_grouped_by_question_and_the_cluster() -> None:
    fallback = message("bot", "抱歉", 1, 1, kind="fallback")
    turns = [logged(1, "食堂几点开门", fallback, sender="a"), logged(2, "食堂几点开门？", fallback, sender="b"),
             logged(3, "食堂在哪", fallback, sender="c"), logged(4, "公积金怎么取", fallback, sender="a")]
    items = list(inbox_items(turns, {}, 0.59))
    seen: list[list[str]] = []

    def by_keyword(keys: list[str]) -> list[list[int]]:
        seen.append(keys)
        canteen = [i for i, key in enumerate(keys) if "食堂" in key]
        return [canteen] + [[i] for i in range(len(keys)) if i not in canteen]

    groups = group_items(items, {question_key("食堂在哪"): "ignored"}, by_keyword)
    assert seen == [[question_key("食堂几点开门"), question_key("公积金怎么取"), question_key("食堂在哪")]], \
        "distinct questions, most asked first, then the most recently asked"
    canteen, other = groups
    assert [q.text for q in canteen.questions] == ["食堂几点开门？", "食堂在哪"]  # latest wording
    assert [q.count for q in canteen.questions] == [2, 1]
    assert canteen.size == 3 and canteen.latest == 103.0 and canteen.example.sender_id == "c"
    assert canteen.status == "pending", "pending while any question is"
    assert canteen.kind_counts == [("fallback", 3)]
    assert [item.sender_id for item in canteen.conversations] == ["c", "b", "a"]
    assert other.size == 1
    resolved = group_items(items, {question_key("食堂几点开门"): "resolved", question_key("食堂在哪"): "ignored"},
                           by_keyword)[0]
    assert resolved.status == "resolved"
    ignored = group_items(items, {question_key("食堂几点开门"): "ignored", question_key("食堂在哪"): "ignored"},
                          by_keyword)[0]
    assert ignored.status == "ignored"
    assert [len(g.items) for g in group_items(items, {}, each_alone)] == [2, 1, 1]


def test_filters_by_kind_and_topic() -> None:
    fallback = message("bot", "抱歉", 1, 1, kind="fallback")
    items = list(inbox_items([logged(1, "核查几时搞", did_you_mean(1)), logged(2, "食堂", fallback)], {}, 0.59))
    assert [i.text for i in items if InboxFilters(kind="did_you_mean").admits(i)] == ["核查几时搞"]
    assert [i.text for i in items if InboxFilters(topic="ask_qualification_check").admits(i)] == ["核查几时搞"]
    assert [i.text for i in items if InboxFilters(topic="none").admits(i)] == ["食堂"]
    assert len([i for i in items if InboxFilters().admits(i)]) == 2


# ------------------------------------------------------------------ the page over a tracker store


@pytest.fixture()
def tracker_db(tmp_path: Path) -> Path:
    now = time.time() - 3600
    write_events(tmp_path / "tracker.db", {
        "alice-000001": [
            (now, user("今天食堂吃什么")), (now + 1, bot("抱歉……", kind="fallback")),
            (now + 10, user("证书丢了怎么补办")), (now + 11, bot("可以申请补发", kind="faq_answer", entry_id="reissue",
                                                             score=0.95, topic="ask_reissue")),
            (now + 20, user("证书咋弄")), (now + 21, bot("广州考区……", kind="faq_answer", entry_id="gz_paper_mail_fee",
                                                       score=0.47, topic="ask_fees")),
        ],
        "bob-0000001": [
            (now + 100, user("今天食堂吃什么？")), (now + 101, bot("抱歉……", kind="fallback")),
            (now + 110, user("河南第二轮核查几时搞")),
            (now + 111, bot("您是想问", kind="did_you_mean", score=0.3, topic="ask_qualification_check",
                            candidates=["henan_supplementary_check", "henan_check_process"], buttons=CHECK_QUESTIONS)),
            (now + 120, user(CHECK_QUESTIONS[0])),
            (now + 121, bot("补充核查……", kind="faq_answer", entry_id="henan_supplementary_check", score=0.9,
                            topic="ask_qualification_check")),
        ],
        "carol-00001": [
            (now + 200, user("河南的核查啥时候")),
            (now + 201, bot("您是想问", kind="did_you_mean", score=0.3, topic="ask_qualification_check",
                            candidates=["henan_supplementary_check", "henan_check_process"], buttons=CHECK_QUESTIONS)),
            (now + 210, user("算了")), (now + 211, bot("抱歉……", kind="fallback")),
            (now + 220, user("电子证书在哪下载")),
            (now + 221, bot("在……下载", kind="faq_answer", entry_id="ecert_where", score=0.93, topic="ask_ecert_download")),
        ],
        "dave-000001": [(now - 40 * DAY, user("公积金怎么取")), (now - 40 * DAY + 1, bot("抱歉……", kind="fallback"))],
    })
    ConsoleStore(f"sqlite:///{tmp_path / 'tracker.db'}").save_rating(
                Rating("carol-00001", 3, "down", "outdated", "网址打不开了", time.time()))
    return tmp_path / "tracker.db"


def logged_in(tracker_db: Path, password: str = PASSWORD, encoder: Any = None) -> TestClient:
    app = create_app(settings_for(tracker_db, staff_viewer_password=VIEWER_PASSWORD))
    app.state.inbox_embeddings = QuestionEmbeddings(encoder=encoder or KeywordEncoder())
    client = TestClient(app, follow_redirects=False)
    assert client.post("/staff/login", data={"password": password, "name": "小王"}).status_code == 303
    return client


@pytest.fixture()
def staff(tracker_db: Path) -> Iterator[TestClient]:
    with logged_in(tracker_db) as client:
        yield client


def groups_on(page: str) -> list[str]:
    """The sections of the inbox page, one per group."""
    return re.findall(r'<section class="inbox-group".*?</section>', page, flags=re.S)


def group_with(page: str, text: str) -> str:
    [group] = [group for group in groups_on(page) if text in group]
    return group


def test_the_inbox_lists_what_was_not_served_well(staff: TestClient) -> None:
    page = staff.get("/staff/inbox").text
    assert "证书丢了怎么补办" not in page, "a confident answer nobody disliked is not in the inbox"
    canteen = group_with(page, "今天食堂吃什么")
    assert 'data-size="2"' in canteen and TEXTS["inbox"]["kinds"]["fallback"] in canteen
    assert "今天食堂吃什么？" in canteen, "the latest wording of the question"
    check = group_with(page, "河南第二轮核查几时搞")
    assert "河南的核查啥时候" in check, "similar questions in one group"
    assert 'data-size="2"' in check
    assert "<code>henan_supplementary_check</code> ×1" in check and f"{TEXTS['inbox']['picked_none']} ×1" in check
    assert "<q>算了</q>" in check, "what the candidate asked instead of picking"
    assert "资格核查" in check, "its topic, by name"
    unsure = group_with(page, "证书咋弄")
    assert TEXTS["inbox"]["kinds"]["low_confidence"] in unsure
    disliked = group_with(page, "电子证书在哪下载")
    assert TEXTS["chat"]["feedback"]["reasons"]["outdated"] in disliked and "网址打不开了" in disliked
    assert "公积金怎么取" in page, "no date filter: every day"
    assert page.index("今天食堂吃什么") < page.index("公积金怎么取"), "bigger groups first"


def test_each_group_links_to_its_conversations_and_the_annotate_page(staff: TestClient) -> None:
    check = group_with(staff.get("/staff/inbox").text, "河南第二轮核查几时搞")
    assert 'href="/staff/log/carol-00001?turn=1#turn-1"' in check
    assert 'href="/staff/log/bob-0000001?turn=2#turn-2"' in check
    [annotate] = re.findall(r'<form method="get" action="/staff/annotate".*?</form>', check, flags=re.S)
    assert re.findall(r'name="question" value="([^"]*)"', annotate) == ["河南的核查啥时候", "河南第二轮核查几时搞"]
    assert 'name="sender_id" value="carol-00001"' in annotate and 'name="turn" value="1"' in annotate
    conversation = staff.get("/staff/log/carol-00001", params={"turn": "1"}).text
    assert 'id="turn-1"' in conversation and "河南的核查啥时候" in conversation
    assert 'href="/staff/api/regression-case?sender_id=carol-00001&amp;turn=1"' in check


def test_filters_kind_topic_dates_and_status(staff: TestClient, tracker_db: Path) -> None:
    by_kind = staff.get("/staff/inbox", params={"kind": "did_you_mean"}).text
    assert len(groups_on(by_kind)) == 1 and "河南第二轮核查几时搞" in by_kind
    by_topic = staff.get("/staff/inbox", params={"topic": "ask_fees"}).text
    assert len(groups_on(by_topic)) == 1 and "证书咋弄" in by_topic
    no_topic = staff.get("/staff/inbox", params={"topic": "none"}).text
    assert "今天食堂吃什么" in no_topic and "证书咋弄" not in no_topic
    recent = staff.get("/staff/inbox", params={"date_from": time.strftime("%Y-%m-%d", time.localtime(time.time() - 5 * DAY))}).text
    assert "公积金怎么取" not in recent and "今天食堂吃什么" in recent
    assert groups_on(staff.get("/staff/inbox", params={"status": "ignored"}).text) == []
    assert len(groups_on(staff.get("/staff/inbox", params={"status": "all"}).text)) == 6
    bad = staff.get("/staff/inbox", params={"date_from": "last week", "kind": "nonsense", "topic": "<x>"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text


def csrf_token(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def status_form(group: str, status: str) -> dict[str, Any]:
    [form] = [f for f in re.findall(r'<form method="post" action="/staff/inbox/status".*?</form>', group, flags=re.S)
              if f'name="status" value="{status}"' in f]
    fields = re.findall(r'name="([a-z_]+)" value="([^"]*)"', form)
    return {"question": [v for k, v in fields if k == "question"],
            **{k: v.replace("&amp;", "&") for k, v in fields if k != "question"}}


def test_an_editor_ignores_a_group_and_brings_it_back(staff: TestClient, tracker_db: Path) -> None:
    url = f"sqlite:///{tracker_db}"
    page = staff.get("/staff/inbox", params={"kind": "fallback"}).text
    form = status_form(group_with(page, "今天食堂吃什么"), "ignored")
    assert form["question"] == ["今天食堂吃什么？"] and form["next"] == "/staff/inbox?kind=fallback"
    response = staff.post("/staff/inbox/status", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/staff/inbox?kind=fallback"
    assert ConsoleStore(url).question_statuses() == {question_key("今天食堂吃什么"): "ignored"}
    assert "今天食堂吃什么" not in staff.get("/staff/inbox").text
    ignored = staff.get("/staff/inbox", params={"status": "ignored"}).text
    assert len(groups_on(ignored)) == 1 and 'data-status="ignored"' in ignored
    with own_tables(url).connect() as connection:
        [audit] = connection.execute(sa.select(audit_log)).all()
    assert audit.who == "小王 (editor)" and audit.action == "inbox_status" and audit.after == "ignored"
    back = status_form(group_with(ignored, "今天食堂吃什么"), "pending")
    assert staff.post("/staff/inbox/status", data=back).status_code == 303
    assert "今天食堂吃什么" in staff.get("/staff/inbox").text


def test_a_group_stays_pending_while_one_of_its_questions_is(staff: TestClient, tracker_db: Path) -> None:
    ConsoleStore(f"sqlite:///{tracker_db}").set_status("test", ["河南第二轮核查几时搞"], "resolved")
    check = group_with(staff.get("/staff/inbox").text, "河南的核查啥时候")
    assert 'data-status="pending"' in check and TEXTS["inbox"]["statuses"]["resolved"] in check
    ConsoleStore(f"sqlite:///{tracker_db}").set_status("test", ["河南的核查啥时候"], "resolved")
    assert "河南的核查啥时候" not in staff.get("/staff/inbox").text
    assert "河南的核查啥时候" in staff.get("/staff/inbox", params={"status": "resolved"}).text


def test_changing_a_status_needs_an_editor_and_the_csrf_token(tracker_db: Path) -> None:
    with logged_in(tracker_db, VIEWER_PASSWORD) as viewer:
        page = viewer.get("/staff/inbox").text
        assert 'action="/staff/inbox/status"' not in page, "no buttons for viewers"
        assert 'action="/staff/annotate"' in page
        response = viewer.post("/staff/inbox/status", data={"csrf_token": csrf_token(page), "question": "今天食堂吃什么",
                                                            "status": "ignored"})
        assert response.status_code == 403 and response.json()["error"] == "editor_only"
    with logged_in(tracker_db) as editor:
        token = csrf_token(editor.get("/staff/inbox").text)
        assert editor.post("/staff/inbox/status", data={"question": "今天食堂吃什么", "status": "ignored"}).status_code == 403
        for bad in ({"status": "ignored"}, {"question": "今天食堂吃什么", "status": "deleted"}):
            response = editor.post("/staff/inbox/status", data={"csrf_token": token, **bad})
            assert response.status_code == 400 and response.text == TEXTS["inbox"]["bad_status_request"]
        outside = editor.post("/staff/inbox/status", data={"csrf_token": token, "question": "今天食堂吃什么",
                                                           "status": "ignored", "next": "https://evil.example/"})
        assert outside.status_code == 303 and outside.headers["location"] == "/staff/inbox"
    assert ConsoleStore(f"sqlite:///{tracker_db}").question_statuses() == {question_key("今天食堂吃什么"): "ignored"}
    with TestClient(create_app(settings_for(tracker_db)), follow_redirects=False) as anonymous:
        assert anonymous.post("/staff/inbox/status", data={"question": "x", "status": "ignored"}).status_code == 401
        assert anonymous.get("/staff/inbox").status_code == 303


def test_the_inbox_is_paged_keeping_its_filters(tmp_path: Path) -> None:
    now = time.time() - 3600
    write_events(tmp_path / "tracker.db", {f"sender-{n:06d}": [
        (now + n, user(f"第{n}个没人回答的问题{'甲乙丙丁戊己庚辛壬癸'[n % 10]}")), (now + n + 0.5, bot("抱歉", kind="fallback"))]
        for n in range(INBOX_PAGE_SIZE + 5)})
    with logged_in(tmp_path / "tracker.db") as client:
        first = client.get("/staff/inbox", params={"kind": "fallback"}).text
        assert len(groups_on(first)) == INBOX_PAGE_SIZE
        assert TEXTS["paging"]["total"].format(total=25, first=1, last=20) in first
        assert 'href="/staff/inbox?kind=fallback&amp;page=2"' in first
        second = client.get("/staff/inbox", params={"kind": "fallback", "page": "2"}).text
        assert len(groups_on(second)) == 5 and 'href="/staff/inbox?kind=fallback"' in second
        assert set(groups_on(first)).isdisjoint(groups_on(second))
        assert groups_on(client.get("/staff/inbox", params={"page": "99"}).text) == []


def test_without_the_encoder_each_question_is_its_own_group(tracker_db: Path) -> None:
    with logged_in(tracker_db, encoder=BrokenEncoder()) as client:
        page = client.get("/staff/inbox").text
    assert "model file missing" in page
    assert len([g for g in groups_on(page) if "核查" in g]) == 2


def test_no_tracker_store_is_said(tmp_path: Path) -> None:
    with logged_in(tmp_path / "absent.db") as client:
        page = client.get("/staff/inbox")
        assert page.status_code == 200 and "无法读取对话记录" in page.text
        assert client.get("/staff/export/inbox.csv").status_code == 503


def test_the_unanswered_page_redirects_to_the_inbox(staff: TestClient) -> None:
    response = staff.get("/staff/unanswered", params={"date_from": "2026-01-01", "q": "x"})
    assert response.status_code == 301 and response.headers["location"] == "/staff/inbox?date_from=2026-01-01"
    assert staff.get("/staff/unanswered").headers["location"] == "/staff/inbox"
    assert 'href="/staff/inbox"' in staff.get("/staff/log").text, "the console's menu leads to the inbox"


def test_the_inbox_export(staff: TestClient) -> None:
    response = staff.get("/staff/export/inbox.csv", params={"status": "all"})
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    assert response.headers["content-disposition"] == 'attachment; filename="inbox.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == TEXTS["inbox"]["csv_headers"]
    by_question = {row[1]: row for row in rows[1:]}
    assert set(by_question) == {"今天食堂吃什么？", "河南第二轮核查几时搞", "河南的核查啥时候", "证书咋弄",
                                "电子证书在哪下载", "公积金怎么取", "算了"}
    canteen = by_question["今天食堂吃什么？"]
    assert canteen[2:8] == ["2", TEXTS["inbox"]["statuses"]["pending"], "2", "0", "0", "0"]
    assert by_question["河南第二轮核查几时搞"][0] == by_question["河南的核查啥时候"][0], "one group"
    assert by_question["电子证书在哪下载"][7] == "1"
    only_fees = staff.get("/staff/export/inbox.csv", params={"topic": "ask_fees"}).content.decode("utf-8-sig")
    assert [row[1] for row in csv.reader(io.StringIO(only_fees))][1:] == ["证书咋弄"]


# ------------------------------------------------------------------ with the real servers and encoder


@pytest.mark.servers
def test_real_conversations_reach_the_inbox_with_the_pick(servers: RunningServers) -> None:
    tag = uuid.uuid4().hex[:10]
    first, second = f"web-inbox-a-{tag}", f"web-inbox-b-{tag}"
    canteen = f"食堂今天有没有红烧肉{tag[:2]}"

    def say(sender: str, text: str) -> dict[str, Any]:
        status, body = post_json(f"{servers.web_url}/api/chat", {"session_id": sender, "message": text}, timeout=120)
        assert status == 200, body
        [custom] = [m["custom"] for m in body["messages"] if m.get("custom")]
        return {**custom, "buttons": [b["payload"] for m in body["messages"] for b in m["buttons"]]}

    assert say(first, canteen)["kind"] == "fallback"
    assert say(second, canteen + "？")["kind"] == "fallback"
    offered = say(first, "河南第二轮核查几时搞")
    assert offered["kind"] == "did_you_mean" and offered["buttons"], offered
    assert say(first, offered["buttons"][0])["kind"] == "faq_answer"

    app = create_app(settings_for(servers.tracker_db))  # the real encoder
    with TestClient(app, follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        page = client.get("/staff/inbox", params={"status": "all"}).text
    group = group_with(page, canteen + "？")
    assert 'data-size="2"' in group
    assert f"/staff/log/{first}?turn=1#turn-1" in group and f"/staff/log/{second}?turn=1#turn-1" in group
    check = group_with(page, f"/staff/log/{first}?turn=2#turn-2")
    assert f"<code>{offered['candidates'][0]}</code>" in check, "what the candidate picked"
    assert httpx.get(f"{servers.web_url}/healthz").status_code == 200
