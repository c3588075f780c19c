"""The staff dashboard (bot.web.console.dashboard, bot.web.console.dashboard_figures, bot.web.console.charts):
the figures per day from logged turns and ratings, the chart geometry, and the page as
inline SVG over a real SQLite tracker store in Rasa's schema (no script, no CDN)."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.console.charts import bar_chart, line_chart, nice_maximum, ranking_chart
from bot.web.console.dashboard import DEFAULT_DAYS
from bot.stats import nearest_rank_percentile
from bot.web.console.dashboard_figures import dashboard_figures
from bot.web.storage.ratings import Rating
from bot.web.storage.store import ConsoleStore
from bot.web.storage.conversations import LoggedTurn, LogMessage
from tests.test_web_feedback import bot, settings_for, user, write_events

TEXTS = ui_texts()
CST = timezone(timedelta(hours=8))
PASSWORD = "feedback-pw-1234"  # tests.test_web_feedback.settings_for's


def at(day: int, hour: int, second: float = 0.0) -> float:
    return datetime(2025, 9, day, hour, tzinfo=CST).timestamp() + second


def turn(sender: str, number: int, asked: float, kind: str | None, latency: float = 0.5,
         topic: str | None = None) -> LoggedTurn:
    question = LogMessage(sender, "user", "问", asked, turn=number)
    replies = (LogMessage(sender, "bot", "答", asked + latency, kind=kind, turn=number, topic=topic),) if kind else ()
    return LoggedTurn(sender, number, question, replies, None)


# ------------------------------------------------------------------ figures


def test_percentile_is_the_nearest_rank() -> None:
    assert nearest_rank_percentile([], 95) is None
    assert nearest_rank_percentile([5.0], 95) == 5.0
    values = [float(n) for n in range(1, 101)]
    assert nearest_rank_percentile(values, 95) == 95.0 and nearest_rank_percentile(values, 50) == 50.0
    assert nearest_rank_percentile([1.0, 2.0, 100.0], 95) == 100.0


def test_figures_per_day_in_the_display_time_zone() -> None:
    turns = [
        turn("a", 1, at(1, 9), "faq_answer", 0.2, "ask_fees"),
        turn("a", 2, at(1, 9, 30), "fallback", 0.4),
        turn("b", 1, at(1, 23, 59 * 60), "did_you_mean", 1.0, "ask_fees"),   # 23:59 CST: still 1 September
        turn("b", 2, at(2, 0, 30), "deadline", 3.0, "ask_application_deadline"),  # 00:00:30 CST: 2 September
        turn("c", 1, at(2, 10), None),                                        # no reply
        turn("d", 1, at(5, 10), "faq_answer", 9.0),                           # after the range
    ]
    ratings = [Rating("a", 1, "up", None, None, at(1, 10)), Rating("b", 2, "down", "unclear", None, at(2, 1)),
               Rating("a", 2, "down", "other", None, at(2, 2)), Rating("x", 1, "up", None, None, at(9, 1))]
    figures = dashboard_figures(turns, ratings, date(2025, 9, 1), date(2025, 9, 3), CST)
    first, second, third = figures.days
    assert [d.day for d in figures.days] == [date(2025, 9, 1), date(2025, 9, 2), date(2025, 9, 3)]
    assert (first.conversations, first.turns, first.answered, first.did_you_mean, first.fallback) == (2, 3, 1, 1, 1)
    assert (second.conversations, second.turns, second.answered, second.did_you_mean, second.fallback) == (2, 2, 1, 0, 0)
    assert (first.thumbs_up, first.thumbs_down, second.thumbs_up, second.thumbs_down) == (1, 0, 0, 2)
    assert first.p95_latency_ms == pytest.approx(1000.0) and second.p95_latency_ms == pytest.approx(3000.0)
    assert third == type(third)(date(2025, 9, 3)), "a quiet day is there, with zeros and no latency"
    assert first.share(first.answered) == pytest.approx(1 / 3) and third.share(0) is None
    assert figures.conversations == 3 and figures.turns == 5
    assert figures.total("thumbs_down") == 2 and figures.share("answered") == pytest.approx(2 / 5)
    assert figures.top_topics == (("ask_fees", 2), ("ask_application_deadline", 1))
    assert figures.p95_latency_ms == pytest.approx(3000.0)


# ------------------------------------------------------------------ charts


def test_nice_maxima() -> None:
    assert [nice_maximum(v) for v in (0, 0.3, 1, 3, 7, 10, 11, 420)] == [1, 0.5, 1, 5, 10, 10, 20, 500]


def test_a_line_breaks_where_a_value_is_missing() -> None:
    chart = line_chart("t", ["a", "b", "c", "d"], [("rate", "line-x", [0.5, None, 1.0, 0.0])], top_value=1.0)
    [line] = chart.lines
    assert len(line.segments) == 2 and len(line.points) == 3
    xs = [p.x for p in line.points]
    assert xs == sorted(xs) and xs[0] == chart.left and xs[-1] == chart.right
    ys = {p.label.split()[0]: p.y for p in line.points}
    assert ys["d"] == chart.bottom and ys["c"] == chart.top and ys["a"] == (chart.top + chart.bottom) / 2
    assert [tick.text for tick in chart.x_ticks] == ["a", "b", "c", "d"]


def test_bars_are_grouped_and_scaled() -> None:
    chart = bar_chart("t", ["d1", "d2"], [("up", "bar-up", [2, 0]), ("down", "bar-down", [1, 4])])
    assert len(chart.bars) == 4
    heights = {bar.label: bar.height for bar in chart.bars}
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.label == "d2 down 4" and heights["d2 up 0"] == 0
    assert heights["d1 up 2"] == pytest.approx(heights["d2 down 4"] / 2, abs=0.2)
    assert [tick.text for tick in chart.y_ticks][-1] == "5", "the axis ends on a round number"
    ranking = ranking_chart("t", [("邮费", 10), ("直邮", 5)])
    assert ranking.bars[0].width == pytest.approx(2 * ranking.bars[1].width, abs=0.2)
    assert [tick.text for tick in ranking.y_ticks] == ["邮费", "直邮"]


# ------------------------------------------------------------------ the page


@pytest.fixture()
def tracker_db(tmp_path: Path) -> Path:
    today = datetime.now(CST).replace(hour=12, minute=0, second=0, microsecond=0).timestamp()
    write_events(tmp_path / "tracker.db", {
        "alice-000001": [(today - 2 * 86400, user("什么是证书直邮？")),
                         (today - 2 * 86400 + 0.25, bot("直邮是……", kind="faq_answer", entry_id="direct_mail_what",
                                                         score=0.96, topic="ask_direct_mail")),
                         (today - 2 * 86400 + 60, user("食堂吃什么")),
                         (today - 2 * 86400 + 60.5, bot("抱歉", kind="fallback"))],
        "bob-0000001": [(today - 86400, user("邮费谁出")),
                        (today - 86400 + 2.0, bot("您是想问", kind="did_you_mean", topic="ask_fees"))],
        "old-0000001": [(today - 90 * 86400, user("很久以前的问题")),
                        (today - 90 * 86400 + 1, bot("答", kind="faq_answer", topic="ask_fees"))],
    })
    ConsoleStore(f"sqlite:///{tmp_path / 'tracker.db'}").save_rating(Rating("alice-000001", 2, "down", "off_topic", None, time.time()))
    return tmp_path / "tracker.db"


@pytest.fixture()
def staff(tracker_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tracker_db, display_timezone="Asia/Shanghai")),
                    follow_redirects=False) as client:
        assert client.post("/staff/login", data={"password": PASSWORD}).status_code == 303
        yield client


def total(page: str, name: str) -> str:
    return re.search(rf'<dd data-total="{name}">([^<]*)</dd>', page).group(1)


def test_the_dashboard_shows_the_last_30_days_as_inline_svg(staff: TestClient) -> None:
    response = staff.get("/staff/dashboard")
    assert response.status_code == 200
    page = response.text
    today = datetime.now(CST).date()
    assert f'value="{today - timedelta(days=DEFAULT_DAYS - 1)}"' in page and f'value="{today}"' in page
    assert total(page, "conversations") == "2" and total(page, "turns") == "3", "90 days ago is outside"
    assert total(page, "answered") == "33%" and total(page, "fallback") == "33%"
    assert total(page, "p95_latency") == "2000 ms"
    assert page.count("<svg ") == 5 and page.count('role="img"') == 5
    for title in TEXTS["dashboard"]["charts"].values():
        assert f"<figcaption>{title}</figcaption>" in page
    assert "<polyline" in page and "<rect" in page
    assert "证书直邮" in page and "邮费" in page, "top topics by name"
    rows = re.findall(r'<tr data-day="([0-9-]+)">(.*?)</tr>', page, flags=re.S)
    assert len(rows) == DEFAULT_DAYS
    two_days_ago = dict(rows)[str(today - timedelta(days=2))]
    assert re.findall(r'<td class="number">([^<]*)</td>', two_days_ago) == ["1", "2", "1", "0", "1", "0", "0", "500"]
    assert re.findall(r'<td class="number">([^<]*)</td>', dict(rows)[str(today)])[5:7] == ["0", "1"], \
        "the thumbs down on the day it was given"
    assert "<script src=\"http" not in page and "cdn" not in page.lower()
    assert re.findall(r'<script[^>]*src="([^"]+)"', page) == ["/static/staff.js"]


def test_a_chosen_range(staff: TestClient) -> None:
    today = datetime.now(CST).date()
    page = staff.get("/staff/dashboard", params={"date_from": str(today - timedelta(days=100)),
                                                  "date_to": str(today - timedelta(days=80))}).text
    assert total(page, "turns") == "1" and len(re.findall(r"<tr data-day=", page)) == 21
    only_from = staff.get("/staff/dashboard", params={"date_from": str(today - timedelta(days=1))}).text
    assert total(only_from, "turns") == "1" and len(re.findall(r"<tr data-day=", only_from)) == 2


@pytest.mark.parametrize("params, notice", [
    ({"date_from": "yesterday"}, TEXTS["staff"]["bad_date"]),
    ({"date_from": "2025-09-10", "date_to": "2025-09-01"}, TEXTS["dashboard"]["reversed_range"]),
    ({"date_from": "2000-01-01", "date_to": "2025-09-01"}, TEXTS["dashboard"]["range_cut"].format(days=366)),
])
def test_a_bad_range_is_said_and_a_sensible_one_shown(staff: TestClient, params: dict[str, str], notice: str) -> None:
    page = staff.get("/staff/dashboard", params=params)
    assert page.status_code == 200 and notice in page.text
    assert page.text.count("<svg ") == 5


def test_no_tracker_store_is_said(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path / "absent.db")), follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        page = client.get("/staff/dashboard")
    assert page.status_code == 200 and "无法读取对话记录" in page.text


def test_the_dashboard_is_for_staff(tracker_db: Path) -> None:
    with TestClient(create_app(settings_for(tracker_db)), follow_redirects=False) as client:
        response = client.get("/staff/dashboard")
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")
