"""The live handoff's event streams are bounded (bot/web/live_streams.py): per candidate
address and in all, per staff member's desks; a stream over a limit is told why
(``refused``) and closed; a candidate's stream ends with the handoff."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from bot.web.live_streams import StreamSlots
from tests.conftest import RunningServers, run_async
from tests.test_live_handoff import (EventStream, another_web_front, session_id, staff_client,  # noqa: F401
                                     warm)


def test_slots_are_bounded_per_key_and_in_all() -> None:
    slots = StreamSlots(per_key=2, total=3)
    assert slots.take("a") and slots.take("a")
    assert not slots.take("a")            # this address is full
    assert slots.take("b")
    assert not slots.take("c")            # the instance is full
    slots.give_back("a")
    assert slots.take("c") and slots.open_streams == 3


def test_a_slot_is_given_back_however_its_stream_ends() -> None:
    slots = StreamSlots(per_key=1, total=10)

    async def stream_that_fails() -> None:
        async with slots.slot("a") as accepted:
            assert accepted
            raise ConnectionResetError

    async def refused() -> bool:
        async with slots.slot("a") as accepted:
            return accepted

    with pytest.raises(ConnectionResetError):
        run_async(stream_that_fails())
    assert slots.open_streams == 0
    assert run_async(refused()) is True


def raw_stream(url: str, path: str) -> str:
    """The whole body of a stream the server closes."""
    return httpx.get(url + path, timeout=30, trust_env=False).text


@pytest.mark.servers
def test_streams_over_the_limit_are_refused_and_a_stream_ends_with_its_handoff(
        servers: RunningServers, tmp_path, warm: None) -> None:
    first, second = session_id(), session_id()
    with another_web_front(servers, tmp_path, HANDOFF_HOURS="open", HANDOFF_STREAMS_PER_CLIENT="1") as url, \
            httpx.Client(base_url=url, timeout=60, trust_env=False) as candidate:
        # no handoff: the state, a long retry, and the end of the stream
        idle = raw_stream(url, f"/api/live/stream?session_id={first}")
        assert '"state": "none"' in idle and re.search(r"^retry: 30000", idle, re.M)
        for sender in (first, second):
            assert candidate.post("/api/live/request", json={"session_id": sender}).status_code == 200
        widget = EventStream(candidate, f"/api/live/stream?session_id={first}")
        widget.wait_for("state", lambda view: view["state"] == "queued")
        refused = raw_stream(url, f"/api/live/stream?session_id={second}")  # the same address, one too many
        assert "event: refused" in refused and "现在连接人数较多" in refused and "event: state" not in refused

        staff, csrf = staff_client(url, "吴老师")
        try:
            for sender in (first, second):
                assert staff.post("/staff/api/live/end", json={"sender_id": sender},
                                  headers={"X-CSRF-Token": csrf}).status_code == 200
        finally:
            staff.close()
        widget.wait_for("state", lambda view: view["state"] == "ended")
        widget._thread.join(timeout=10)
        assert not widget._thread.is_alive()  # the server closed the stream
        # its slot is free again: the next stream of this address is served
        again = raw_stream(url, f"/api/live/stream?session_id={second}")
        assert '"state": "ended"' in again and "refused" not in again


@pytest.mark.servers
def test_a_staff_member_s_desks_are_bounded(servers: RunningServers) -> None:
    staff, _ = staff_client(servers.web_url, "郑老师")
    desks = []
    try:
        desks = [EventStream(staff, "/staff/api/live/stream") for _ in range(4)]  # per_staff: 4
        for desk in desks:
            desk.wait_for("queue")
        fifth = EventStream(staff, "/staff/api/live/stream")
        refusal = fifth.wait_for("refused")
        assert "标签页" in refusal["message"]
        fifth._thread.join(timeout=10)
        assert not fifth._thread.is_alive()
    finally:
        for desk in desks:
            desk.close()
        staff.close()


@pytest.mark.servers
def test_a_quiet_stream_shows_it_is_alive(servers: RunningServers, warm: None) -> None:
    """A comment line at least every 15 s keeps proxies from closing a quiet stream."""
    sender = session_id()
    with httpx.Client(base_url=servers.web_url, trust_env=False) as candidate:
        assert candidate.post("/api/live/request", json={"session_id": sender}).status_code == 200
        started, comments = time.monotonic(), []
        with candidate.stream("GET", f"/api/live/stream?session_id={sender}",
                              timeout=httpx.Timeout(5, read=25)) as response:
            for line in response.iter_lines():
                if line.startswith(":"):
                    comments.append(time.monotonic() - started)
                    break
        staff, csrf = staff_client(servers.web_url, "吴老师")
        staff.post("/staff/api/live/end", json={"sender_id": sender}, headers={"X-CSRF-Token": csrf})
        staff.close()
    assert comments and comments[0] <= 17
