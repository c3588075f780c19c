"""Staff console against the real servers: retrieval search, conversation log (paged) and
unanswered questions from a tracker store, CSV export (login: tests/test_web_staff_auth.py;
the inbox that replaced the unanswered page: tests/test_web_inbox.py).

The tracker store is the real one: the SQLite file Rasa writes for the ``servers``
fixture (tests/conftest.py). The ``conversations`` fixture fills it by really chatting,
through the web front (masked before Rasa) and, for the numbers a candidate could send
through another channel, straight to Rasa's REST channel (stored unmasked, so the
console's own masking is what is tested). The search tests use the real
``bot.retrieval.engine`` engine over ``models/index``. The paging tests copy those real
rows into a bigger tracker store (many conversations, one very long one).
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from starlette.testclient import TestClient

from bot.lang.privacy import mask_sensitive
from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.storage.tables import own_tables, question_key, read_only_engine
from bot.web.console.log import CONVERSATION_PAGE_SIZE, LOG_PAGE_SIZE
from bot.web.console.search import SEARCH_RESULT_COUNT
from bot.web.storage.tracker_events import PREVIEW_MESSAGES, UNANSWERED_KINDS, TrackerLog
from tests.conftest import RunningServers
# The clients of the login tests; their ``tracker_db`` here is this module's: the real one.
from tests.test_web_staff_auth import PASSWORD, anonymous, make_settings, staff  # noqa: F401 - fixtures

pytestmark = pytest.mark.servers

TEXTS = ui_texts()

FAQ_QUESTION = "什么是证书直邮？"
OFF_TOPIC = "今天中午二食堂吃什么"  # asked by alice and (with "？") by bob: one question, twice (and by no other test)
NUMBERS_MESSAGE = "<script>alert('x')</script><img src=x onerror=alert(1)> 我的手机13812345678，身份证440106199001011234"
FORMULA_MESSAGE = '=HYPERLINK("http://evil")'


@dataclass
class Turn:
    sender_id: str
    text: str
    custom: dict[str, Any]


@dataclass
class Chatted:
    """What the ``conversations`` fixture said and what the real assistant answered."""

    alice: str
    bob: str
    carol: str
    turns: list[Turn] = field(default_factory=list)

    def reply(self, sender_id: str, text: str) -> dict[str, Any]:
        return next(turn.custom for turn in self.turns if turn.sender_id == sender_id and turn.text == text)


def reply_custom(messages: list[dict[str, Any]]) -> dict[str, Any]:
    customs = [message["custom"] for message in messages if message.get("custom")]
    assert len(customs) == 1, messages
    return customs[0]


@pytest.fixture(scope="module")
def conversations(servers: RunningServers) -> Chatted:
    """Three real conversations, one after the other (alice oldest, carol newest)."""
    tag = uuid.uuid4().hex[:12]
    chatted = Chatted(alice=f"alice-{tag}", bob=f"bob-{tag}", carol=f"carol-{tag}")
    with httpx.Client(timeout=120) as http:
        for sender_id, texts in ((chatted.alice, [FAQ_QUESTION, OFF_TOPIC]),
                                 (chatted.bob, [OFF_TOPIC + "？", "证书能寄到外省吗？😀"])):
            for text in texts:  # the candidate's way in: the web front
                response = http.post(f"{servers.web_url}/api/chat", json={"session_id": sender_id, "message": text})
                assert response.status_code == 200, response.text
                chatted.turns.append(Turn(sender_id, text, reply_custom(response.json()["messages"])))
        for text in (NUMBERS_MESSAGE, FORMULA_MESSAGE):  # another channel: Rasa REST, unmasked
            response = http.post(f"{servers.rasa_url}/webhooks/rest/webhook",
                                 json={"sender": chatted.carol, "message": text})
            assert response.status_code == 200, response.text
            chatted.turns.append(Turn(chatted.carol, text, reply_custom(response.json())))
    return chatted


@pytest.fixture(scope="module")
def tracker_db(servers: RunningServers) -> Path:
    return servers.tracker_db


@pytest.fixture(scope="module")
def engine() -> Any:
    """The real retrieval engine (fails with "run make index" when the index is missing)."""
    from bot.retrieval.engine import load_engine

    return load_engine()


# ------------------------------------------------------------------ search


def test_search_shows_hits_with_scores_and_citations(staff: TestClient, engine: Any) -> None:
    staff.app.state.web.retrieval.set_engine(engine)
    query = "什么是证书直邮"
    page = staff.get("/staff", params={"q": query})
    assert page.status_code == 200
    expected = engine.search(query, SEARCH_RESULT_COUNT)
    assert expected and expected[0].kind == "entry"
    shown = [page.text.index(f'data-hit-id="{hit.id}"') for hit in expected]
    assert shown == sorted(shown), "hits in the engine's order"
    assert page.text.count('class="hit ') == len(expected)
    assert TEXTS["staff"]["copy_answer"] in page.text and TEXTS["staff"]["score"] in page.text
    assert expected[0].question in page.text
    assert expected[0].citations and expected[0].citations[0].title in page.text


def test_search_query_is_escaped(staff: TestClient, engine: Any) -> None:
    staff.app.state.web.retrieval.set_engine(engine)
    page = staff.get("/staff", params={"q": "证书直邮<script>alert(1)</script>"}).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_search_json(staff: TestClient, engine: Any) -> None:
    staff.app.state.web.retrieval.set_engine(engine)
    body = staff.get("/staff/api/search", params={"q": "证书直邮"}).json()
    assert body["hits"]
    assert [hit["id"] for hit in body["hits"]] == [hit.id for hit in engine.search("证书直邮", SEARCH_RESULT_COUNT)]
    for hit in body["hits"]:
        assert {"kind", "id", "score", "citations"} <= set(hit)
        assert 0 <= hit["score"] <= 1
        assert hit["citations"]
        assert all(citation["title"] and citation["issuer"] for citation in hit["citations"])


def test_search_failure_is_reported_not_crashed(tracker_db: Path) -> None:
    app = create_app(make_settings(tracker_db))

    class BrokenEngine:
        def search(self, *args: Any, **kwargs: Any) -> list[Any]:
            raise RuntimeError("index manifest mismatch")

    app.state.web.retrieval.set_engine(BrokenEngine())
    with TestClient(app, follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        page = client.get("/staff", params={"q": "直邮"})
        assert page.status_code == 200 and "index manifest mismatch" in page.text
        assert client.get("/staff/api/search", params={"q": "直邮"}).status_code == 503


# ------------------------------------------------------------------ conversation log


def senders_shown(page: str, chatted: Chatted) -> set[str]:
    """Which of the fixture's conversations a log page lists."""
    return {sender for sender in (chatted.alice, chatted.bob, chatted.carol) if f'data-sender-id="{sender}"' in page}


def test_log_groups_by_conversation_newest_first(staff: TestClient, conversations: Chatted) -> None:
    page = staff.get("/staff/log").text
    order = [page.index(f'data-sender-id="{sender}"')
             for sender in (conversations.carol, conversations.bob, conversations.alice)]
    assert order == sorted(order)
    assert FAQ_QUESTION in page
    bob = staff.get(f"/staff/log/{conversations.bob}").text
    assert "证书能寄到外省吗？😀" in bob  # emoji survive the tracker store


def test_log_text_search_and_date_filter(staff: TestClient, conversations: Chatted) -> None:
    by_text = staff.get("/staff/log", params={"q": "食堂"}).text
    assert senders_shown(by_text, conversations) == {conversations.alice, conversations.bob}
    tracker_log = staff.app.state.web.store.events
    for sender in (conversations.alice, conversations.bob, conversations.carol):
        conversation = tracker_log.conversation(sender)
        first_day = datetime.fromtimestamp(conversation.started, tracker_log.timezone).date()
        last_day = datetime.fromtimestamp(conversation.last_activity, tracker_log.timezone).date()
        that_day = staff.get("/staff/log", params={"date_from": str(first_day), "date_to": str(first_day)}).text
        assert f'data-sender-id="{sender}"' in that_day
        before = staff.get("/staff/log", params={"date_to": str(first_day - timedelta(days=1))}).text
        after = staff.get("/staff/log", params={"date_from": str(last_day + timedelta(days=1))}).text
        assert f'data-sender-id="{sender}"' not in before and f'data-sender-id="{sender}"' not in after
    bad = staff.get("/staff/log", params={"date_from": "yesterday"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text


def test_log_masks_numbers_and_escapes_html(staff: TestClient, conversations: Chatted, tracker_db: Path) -> None:
    connection = sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True)
    stored = " ".join(data for (data,) in connection.execute(
        "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (conversations.carol,)))
    connection.close()
    assert "13812345678" in stored, "sent straight to Rasa, the numbers are stored unmasked"
    page = staff.get(f"/staff/log/{conversations.carol}").text
    assert "13812345678" not in page and "440106199001011234" not in page
    assert "138****5678" in page and "**************1234" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror" in page


def test_unknown_conversation_is_404(staff: TestClient) -> None:
    assert staff.get("/staff/log/nobody-here").status_code == 404


def test_missing_tracker_db_is_reported(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "absent.db"))
    with TestClient(app, follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        page = client.get("/staff/log")
        assert page.status_code == 200 and "无法读取对话记录" in page.text
        assert client.get("/staff/export/unanswered.csv").status_code == 503


def test_tracker_db_is_opened_read_only(staff: TestClient, tracker_db: Path, conversations: Chatted) -> None:
    own_tables(staff.app.state.web.settings.tracker_db_url)  # the console's tables, made on first use
    before = tracker_db.read_bytes()
    for page in ("/staff/log", f"/staff/log/{conversations.alice}", "/staff/inbox", "/staff/dashboard"):
        assert staff.get(page).status_code == 200
    assert tracker_db.read_bytes() == before
    engine = read_only_engine(staff.app.state.web.store.events.database_url)
    with engine.connect() as connection, pytest.raises(sqlalchemy.exc.OperationalError):
        connection.execute(sqlalchemy.text("DELETE FROM events"))


# ------------------------------------------------------------------ unanswered


def test_unanswered_ranked_by_normalised_frequency(staff: TestClient, conversations: Chatted) -> None:
    chatted = conversations
    assert chatted.reply(chatted.alice, FAQ_QUESTION)["kind"] == "faq_answer"
    for sender, text in ((chatted.alice, OFF_TOPIC), (chatted.bob, OFF_TOPIC + "？"),
                         (chatted.carol, NUMBERS_MESSAGE), (chatted.carol, FORMULA_MESSAGE)):
        assert chatted.reply(sender, text)["kind"] == "fallback", f"off-topic {text!r} gets the fallback"
    questions = staff.app.state.web.store.events.unanswered_questions()
    ours = {chatted.alice, chatted.bob, chatted.carol}
    listed = {question.normalised_text: question for question in questions if ours & set(question.sender_ids)}
    expected: dict[str, dict[str, int]] = {}
    for turn in chatted.turns:  # exactly the turns the assistant did not answer confidently
        if turn.custom["kind"] in UNANSWERED_KINDS:
            counts = expected.setdefault(question_key(mask_sensitive(turn.text)), {kind: 0 for kind in UNANSWERED_KINDS})
            counts[turn.custom["kind"]] += 1
    assert set(listed) == set(expected)
    for key, counts in expected.items():
        assert (listed[key].fallback_count, listed[key].did_you_mean_count) == (counts["fallback"], counts["did_you_mean"])
    off_topic = listed[question_key(OFF_TOPIC)]  # with and without "？" merged
    assert (off_topic.count, off_topic.fallback_count) == (2, 2)
    assert sorted(off_topic.sender_ids) == sorted([chatted.alice, chatted.bob])
    assert off_topic.example_text == OFF_TOPIC + "？"  # the latest wording
    assert questions.index(off_topic) < questions.index(listed[question_key(mask_sensitive(NUMBERS_MESSAGE))])
    page = staff.get("/staff/inbox", params={"kind": "fallback"}).text  # the page that replaced it
    assert OFF_TOPIC + "？" in page and "138****5678" in page and "13812345678" not in page
    assert f'href="/staff/log/{chatted.alice}?turn=2#turn-2"' in page


def test_csv_exports_have_bom_and_masked_text(staff: TestClient, conversations: Chatted) -> None:
    chatted = conversations
    unanswered = staff.get("/staff/export/unanswered.csv")
    assert unanswered.status_code == 200
    assert unanswered.headers["content-type"].startswith("text/csv")
    assert "attachment" in unanswered.headers["content-disposition"]
    assert unanswered.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(unanswered.content.decode("utf-8-sig"))))
    assert rows[0] == TEXTS["csv"]["unanswered_headers"]
    off_topic = [row for row in rows[1:] if row[0] == OFF_TOPIC + "？"]
    assert len(off_topic) == 1 and off_topic[0][1:4] == ["2", "2", "0"]
    assert set(off_topic[0][5].split()) == {chatted.alice, chatted.bob}
    text = unanswered.content.decode("utf-8-sig")
    assert "13812345678" not in text and "138****5678" in text
    assert "440106199001011234" not in text and "**************1234" in text
    assert "'=HYPERLINK" in text  # formula neutralised for Excel

    conversations_csv = staff.get("/staff/export/conversations.csv", params={"q": "食堂"})
    assert conversations_csv.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(conversations_csv.content.decode("utf-8-sig"))))
    assert rows[0] == TEXTS["csv"]["conversation_headers"]
    assert {chatted.alice, chatted.bob} <= {row[0] for row in rows[1:]}
    assert chatted.carol not in {row[0] for row in rows[1:]}
    tracker_log = staff.app.state.web.store.events
    question, answer = tracker_log.conversation(chatted.alice).messages[:2]

    def shown(timestamp: float) -> str:  # the time as staff read it, in the display zone
        return datetime.fromtimestamp(timestamp, tracker_log.timezone).strftime("%Y-%m-%d %H:%M:%S")

    role_user, role_bot = TEXTS["csv"]["role_user"], TEXTS["csv"]["role_bot"]
    assert [chatted.alice, shown(question.timestamp), role_user, FAQ_QUESTION, "", "", ""] in rows
    reply = chatted.reply(chatted.alice, FAQ_QUESTION)
    assert [chatted.alice, shown(answer.timestamp), role_bot, answer.text,
            "faq_answer", reply["entry_id"], f"{reply['score']:.3f}"] in rows

    everything = staff.get("/staff/export/conversations.csv").content.decode("utf-8-sig")
    assert "13812345678" not in everything and "440106199001011234" not in everything
    carol = [row for row in csv.reader(io.StringIO(everything)) if row[0] == chatted.carol]
    assert [row[3] for row in carol if row[2] == role_user] == [mask_sensitive(NUMBERS_MESSAGE), "'" + FORMULA_MESSAGE]


# ------------------------------------------------------------------ regression-case export


def exported_case(text: str) -> dict[str, Any]:
    """The exported YAML pasted under ``cases:``, as the case file loader reads it."""
    import yaml

    cases = yaml.safe_load("cases:\n" + text)["cases"]
    assert len(cases) == 1
    return cases[0]


def export(client: TestClient, sender_id: str, turn: int | str | None = None):
    params = {"sender_id": sender_id} if turn is None else {"sender_id": sender_id, "turn": turn}
    return client.get("/staff/api/regression-case", params=params)


def test_regression_case_export_requires_login(anonymous: TestClient, conversations: Chatted) -> None:
    assert export(anonymous, conversations.alice, 1).status_code == 401


def test_regression_case_export_of_an_answered_question(staff: TestClient, conversations: Chatted,
                                                        tmp_path: Path) -> None:
    from bot.knowledge.cases import load_case_file

    answered = conversations.reply(conversations.alice, FAQ_QUESTION)
    assert answered["kind"] == "faq_answer"
    response = export(staff, conversations.alice, 1)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    case = exported_case(response.text)
    assert set(case) == {"id", "turns", "expect"} and case["id"].startswith("logged-")
    assert case["turns"] == [FAQ_QUESTION] and case["expect"] == answered["entry_id"]
    assert f"  # 小助手当时的回复：{answered['entry_id']}。" in response.text
    assert "核对 expect" in response.text
    (tmp_path / "staff.yml").write_text("cases:\n" + response.text, encoding="utf-8")
    problems: list[str] = []
    loaded = load_case_file(tmp_path / "staff.yml", {answered["entry_id"]}, set(), problems)
    assert problems == [] and loaded[0].expect == answered["entry_id"]


def test_regression_case_export_of_a_fallback_names_the_earlier_turns(staff: TestClient,
                                                                      conversations: Chatted) -> None:
    assert conversations.reply(conversations.alice, OFF_TOPIC)["kind"] == "fallback"
    response = export(staff, conversations.alice, 2)
    case = exported_case(response.text)
    assert case["turns"] == [OFF_TOPIC] and case["expect"] == "fallback"
    assert "小助手当时的回复：fallback。" in response.text
    assert f"考生还说过：{FAQ_QUESTION}" in response.text


def test_regression_case_export_is_masked_plain_text(staff: TestClient, conversations: Chatted) -> None:
    response = export(staff, conversations.carol, 1)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    case = exported_case(response.text)
    assert "13812345678" not in response.text and "138****5678" in case["turns"][0]
    assert "440106199001011234" not in response.text
    assert case["turns"][0].startswith("<script>")  # kept as text, served as text/plain
    formula = exported_case(export(staff, conversations.carol, 2).text)
    assert formula["turns"] == [FORMULA_MESSAGE]


@pytest.mark.parametrize("turn, status", [(None, 400), ("0", 400), ("abc", 400), ("3", 404)])
def test_regression_case_export_rejects_bad_requests(staff: TestClient, conversations: Chatted,
                                                     turn: str | None, status: int) -> None:
    response = export(staff, conversations.alice, turn)
    assert response.status_code == status
    assert response.json()["message"]


@pytest.mark.parametrize("params", [{"turn": "1"}, {"sender_id": "nobody-here", "turn": "1"}])
def test_regression_case_export_without_a_known_conversation(staff: TestClient, params: dict[str, str]) -> None:
    response = staff.get("/staff/api/regression-case", params=params)
    assert response.status_code in (400, 404) and response.json()["message"]


def test_regression_case_export_of_a_deadline(staff: TestClient, servers: RunningServers) -> None:
    sender = f"dora-{uuid.uuid4().hex[:12]}"
    response = httpx.post(f"{servers.web_url}/api/chat", timeout=120,
                          json={"session_id": sender, "message": "名单2025年9月1日公示，直邮哪天截止"})
    assert reply_custom(response.json()["messages"])["kind"] == "deadline"
    assert exported_case(export(staff, sender, 1).text)["expect"] == "deadline:gd_direct_mail"


def test_log_and_inbox_pages_link_to_the_export(staff: TestClient, conversations: Chatted) -> None:
    alice = conversations.alice
    page = staff.get(f"/staff/log/{alice}").text
    assert f'href="/staff/api/regression-case?sender_id={alice}&amp;turn=1"' in page
    assert f'href="/staff/api/regression-case?sender_id={alice}&amp;turn=2"' in page
    assert "导出为回归用例" in page
    inbox = staff.get("/staff/inbox").text
    # the most recent asking of the off-topic question is bob's first one
    assert f'href="/staff/api/regression-case?sender_id={conversations.bob}&amp;turn=1"' in inbox


# ------------------------------------------------------------------ paging over a big tracker store

COPIES = 2 * LOG_PAGE_SIZE + 23   # conversations copied from alice's and bob's
LONG_TURNS = 130                  # of the long conversation: 260 messages, three pages
LONG = "long-conversation-0001"


@pytest.fixture(scope="module")
def big_tracker(conversations: Chatted, tracker_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tracker store made of the real rows Rasa wrote for alice and bob: copied under
    :data:`COPIES` new sender ids one minute apart, and bob's turns repeated into one
    conversation of :data:`LONG_TURNS` questions (the first half three days earlier)."""
    source = sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True)
    rows = {sender: source.execute("SELECT type_name, timestamp, intent_name, action_name, data FROM events "
                                   "WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
            for sender in (conversations.alice, conversations.bob)}
    source.close()
    path = tmp_path_factory.mktemp("big") / "tracker.db"
    target = sqlite3.connect(path)
    target.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name "
                   "VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
    target.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")
    insert = "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES (?, ?, ?, ?, ?, ?)"
    start = time.time() - 3600
    for n in range(COPIES):
        original = rows[conversations.alice if n % 2 else conversations.bob]
        first = original[0][1]
        target.executemany(insert, [(f"copy-{n:04d}", kind, start + n * 60 + (at - first), intent, action, data)
                                    for kind, at, intent, action, data in original])
    bob = rows[conversations.bob]
    bob_turn = [row for row in bob if row[0] in ("user", "bot")][:2]  # bob's first question and its answer
    for n in range(LONG_TURNS):
        at = start - (3 * 86400 if n < LONG_TURNS // 2 else 0) + n * 10
        target.executemany(insert, [(LONG, kind, at + i, intent, action, data)
                                    for i, (kind, _, intent, action, data) in enumerate(bob_turn)])
    target.commit()
    target.close()
    return path


@pytest.fixture()
def big_staff(big_tracker: Path) -> TestClient:
    client = TestClient(create_app(make_settings(big_tracker)), follow_redirects=False)
    assert client.post("/staff/login", data={"password": PASSWORD}).status_code == 303
    return client


def shown_senders(page: str) -> list[str]:
    return re.findall(r'<section class="conversation" data-sender-id="([^"]+)"', page)


def test_the_log_is_paged_newest_first(big_staff: TestClient) -> None:
    total = COPIES + 1
    pages = [big_staff.get("/staff/log", params={"page": str(n)}).text for n in (1, 2, 3)]
    listed = [shown_senders(page) for page in pages]
    assert [len(senders) for senders in listed] == [LOG_PAGE_SIZE, LOG_PAGE_SIZE, total - 2 * LOG_PAGE_SIZE]
    everyone = [sender for senders in listed for sender in senders]
    assert len(set(everyone)) == total
    copies = [sender for sender in everyone if sender.startswith("copy-")]
    assert copies == sorted(copies, reverse=True), "most recent activity first, across pages"
    assert TEXTS["paging"]["total"].format(total=total, first=1, last=LOG_PAGE_SIZE) in pages[0]
    assert TEXTS["paging"]["total"].format(total=total, first=101, last=total) in pages[2]
    assert 'rel="next" href="/staff/log?page=2"' in pages[0] and 'rel="prev"' not in pages[0]
    assert 'rel="prev" href="/staff/log?page=2"' in pages[2] and 'rel="next"' not in pages[2]
    for page in pages:  # a page shows the first messages of each conversation, not all of them
        assert page.count('<li class="log-') <= LOG_PAGE_SIZE * PREVIEW_MESSAGES
    long_section = re.search(rf'data-sender-id="{LONG}">.*?</section>', "".join(pages), flags=re.S).group(0)
    assert f"{2 * LONG_TURNS} {TEXTS['staff']['messages']}" in long_section
    assert shown_senders(big_staff.get("/staff/log", params={"page": "9"}).text) == []
    assert shown_senders(big_staff.get("/staff/log", params={"page": "x"}).text) == listed[0]


def test_the_log_pages_keep_the_filters(big_staff: TestClient) -> None:
    day = datetime.now().astimezone().date()
    first = big_staff.get("/staff/log", params={"q": "食堂", "date_from": str(day - timedelta(days=1))}).text
    matching = COPIES  # every copy asked about the canteen; the long conversation's half today too
    assert TEXTS["paging"]["total"].format(total=matching + 1, first=1, last=LOG_PAGE_SIZE) in first
    assert f'href="/staff/log?q=%E9%A3%9F%E5%A0%82&amp;date_from={day - timedelta(days=1)}&amp;page=2"' in first
    last = big_staff.get("/staff/log", params={"q": "食堂", "date_from": str(day - timedelta(days=1)), "page": "3"}).text
    assert len(shown_senders(last)) == matching + 1 - 2 * LOG_PAGE_SIZE
    assert "page=2" in last and "q=%E9%A3%9F%E5%A0%82" in last


def user_turns_on(page: str) -> list[int]:
    return [int(turn) for turn in re.findall(r'<li class="log-user[^"]*" id="turn-(\d+)">', page)]


def test_a_long_conversation_is_paged_with_its_turn_numbers(big_staff: TestClient) -> None:
    pages = [big_staff.get(f"/staff/log/{LONG}", params={"page": str(n)}).text for n in (1, 2, 3)]
    assert [page.count('<li class="log-') for page in pages] == [CONVERSATION_PAGE_SIZE, CONVERSATION_PAGE_SIZE,
                                                                  2 * LONG_TURNS - 2 * CONVERSATION_PAGE_SIZE]
    assert user_turns_on(pages[0]) == list(range(1, 51))
    assert user_turns_on(pages[1]) == list(range(51, 101)), "numbered as in the whole conversation"
    assert f'href="/staff/api/regression-case?sender_id={LONG}&amp;turn=51"' in pages[1]
    assert TEXTS["paging"]["total"].format(total=2 * LONG_TURNS, first=201, last=2 * LONG_TURNS) in pages[2]
    assert f'rel="prev" href="/staff/log/{LONG}?page=2"' in pages[2]
    to_turn = big_staff.get(f"/staff/log/{LONG}", params={"turn": "120"}).text
    assert 'id="turn-120"' in to_turn and user_turns_on(to_turn)[0] == 101, "the page showing that question"
    assert user_turns_on(big_staff.get(f"/staff/log/{LONG}", params={"turn": "999"}).text)[0] == 1
    past = big_staff.get(f"/staff/log/{LONG}", params={"page": "7"})
    assert past.status_code == 200 and TEXTS["paging"]["past_the_end"] in past.text


def test_turns_keep_their_numbers_in_a_date_range(big_tracker: Path) -> None:
    log = TrackerLog(f"sqlite:///{big_tracker}", datetime.now().astimezone().tzinfo)
    today = datetime.now().astimezone().date()
    long_turns = [turn for turn in log.turns(today - timedelta(days=1), None) if turn.sender_id == LONG]
    assert [turn.turn for turn in long_turns] == list(range(LONG_TURNS // 2 + 1, LONG_TURNS + 1))
    whole = log.conversation(LONG)
    assert whole.exchange(LONG_TURNS // 2 + 1)[0].text == long_turns[0].question.text
    assert log.user_turns(LONG) == LONG_TURNS
    assert log.message_offset(LONG, 51) == 100 and log.message_offset(LONG, LONG_TURNS + 1) is None


def test_the_export_is_not_paged(big_staff: TestClient) -> None:
    rows = list(csv.reader(io.StringIO(big_staff.get("/staff/export/conversations.csv").content.decode("utf-8-sig"))))
    assert len({row[0] for row in rows[1:]}) == COPIES + 1
    assert sum(1 for row in rows[1:] if row[0] == LONG) == 2 * LONG_TURNS
