"""What asks for a person and when staff are at their desks (data/handoff/handoff.yml),
and the handoff store's whole operations on a real SQLite database."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.dialogue.handoff_request import asks_for_person
from bot.dialogue.staff_hours import within_staff_hours
from bot.web.storage import tables as database
from bot.web.storage.handoff import HandoffConflict, HandoffStore

BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("text", ["转人工", "我要找人工客服", "轉人工！", "找真人", "我要投訴", "人工客服在吗？"])
def test_asking_for_a_person_in_either_script(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize("text", ["证书直邮怎么申请", "人工审核要多久才能出结果呢请问一下谢谢", "", "🙂", "<b>人</b>"])
def test_questions_are_not_requests_for_a_person(text: str) -> None:
    assert not asks_for_person(text)


@pytest.mark.parametrize("moment, open_", [
    (datetime(2026, 12, 7, 10, 0), True),     # a Monday morning
    (datetime(2026, 12, 7, 12, 30), False),   # lunch
    (datetime(2026, 12, 7, 17, 30), False),   # closing time
    (datetime(2026, 12, 6, 10, 0), False),    # a Sunday
    (datetime(2026, 10, 1, 10, 0), False),    # National Day, a Thursday
    (datetime(2026, 10, 10, 10, 0), True),    # a Saturday worked to make up for it
])
def test_staff_hours_follow_china_s_working_days(moment: datetime, open_: bool) -> None:
    assert within_staff_hours(moment.replace(tzinfo=BEIJING)) is open_


@pytest.fixture()
def store(tmp_path) -> HandoffStore:
    path = tmp_path / "tracker.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()
    return HandoffStore(f"sqlite:///{path}")


def audit_actions(store: HandoffStore) -> list[tuple[str, str, str]]:
    with database.own_tables(store.url).connect() as connection:
        rows = connection.execute(sa.select(database.audit_log).order_by(database.audit_log.c.id)).all()
    return [(row.who, row.action, row.target) for row in rows]


def test_one_claim_wins_and_every_change_is_audited(store: HandoffStore) -> None:
    first, new = store.request("s-one", "asked", now=100)
    assert new and store.position(first) == 1
    second, _ = store.request("s-two", "offered", now=101)
    assert store.request("s-one", "asked", now=102) == (first, False)   # asking twice keeps the place
    assert store.position(second) == 2
    store.claim("s-one", "王", "王 (editor)", now=110)
    with pytest.raises(HandoffConflict):
        store.claim("s-one", "李", "李 (editor)", now=111)
    assert store.position(store.active("s-two")) == 1
    with pytest.raises(HandoffConflict):
        store.transfer("s-one", "李", "赵", "李 (editor)")               # only the holder transfers
    assert store.transfer("s-one", "王", "赵", "王 (editor)", now=120).staff == "赵"
    assert store.end("s-one", "赵 (editor)", now=130).state == "ended"
    assert store.active("s-one") is None
    assert audit_actions(store) == [("王 (editor)", "handoff_claim", "s-one"),
                                     ("王 (editor)", "handoff_transfer", "s-one"),
                                     ("赵 (editor)", "handoff_end", "s-one")]


def test_a_desk_that_disappears_gives_its_conversations_back(store: HandoffStore) -> None:
    store.request("s-one", "asked", now=100)
    store.claim("s-one", "王", "王 (editor)", now=100)
    store.seen("王", now=150)
    assert store.release_stale(60, now=200) == []
    released = store.release_stale(60, now=211)
    assert [h.sender_id for h in released] == ["s-one"] and store.active("s-one").state == "queued"
    assert audit_actions(store)[-1] == ("system", "handoff_release", "s-one")


def test_a_left_message_ends_the_wait(store: HandoffStore) -> None:
    store.request("s-one", "asked", now=100)
    ended = store.leave_message("s-one", "13800138000", "请回电", out_of_hours=False, now=500)
    assert ended is not None and store.active("s-one") is None
    assert [m.contact for m in store.left()] == ["13800138000"]
    assert store.leave_message("s-two", "a@b.cn", "留言", out_of_hours=True) is None
    store.mark_done(store.left()[0].id, "王 (editor)")
    assert len(store.left()) == 1


def test_the_dashboard_s_handoff_figures(store: HandoffStore) -> None:
    from bot.web.console.handoff_figures import read_handoff_figures

    for n, (sender, claimed_after, handled) in enumerate([("a", 60, 300), ("b", 400, 100), ("c", None, None)]):
        asked = 1000 + n
        store.request(sender, "asked", now=asked)
        if claimed_after is not None:
            store.claim(sender, "王", "王 (editor)", now=asked + claimed_after)
            store.end(sender, "王 (editor)", now=asked + claimed_after + handled)
    store.leave_message("c", "13800138000", "请回电", out_of_hours=False, now=1500)
    store.leave_message("d", "a@b.cn", "夜里留言", out_of_hours=True, now=1600)
    store.request("late", "asked", now=5000)       # outside the range
    figures = read_handoff_figures(store, 0, 2000)
    assert (figures.requests, figures.answered_within, figures.within_minutes) == (3, 1, 3)
    assert figures.median_wait_seconds == 230 and figures.median_handling_seconds == 200
    assert (figures.left_out_of_hours, figures.left_unclaimed) == (1, 1)
