"""The cluster profile for real (``make test-cluster``: ``pytest --cluster``): PostgreSQL
tracker store, Redis lock store, two Rasa instances and two action servers behind
haproxy, the web front. Uses the session's ``servers`` (tests/conftest.py), which the
other server tests share; the faults here (a Rasa instance killed, PostgreSQL restarted,
everything stopped and started) each end with every server up again.

The fault scenarios are bot.quality.cluster_bench's (its report has their figures);
the tests check counts, never timings: the machine is shared.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import asdict

import httpx
import pytest
import sqlalchemy as sa

from bot.quality.cluster_bench import kill_rasa_under_load, restart_postgres_under_load
from bot.rasa_client import RasaClient, RestReply
from bot.servers import CLUSTER_PROGRAMS
from tests.conftest import RunningServers

pytestmark = pytest.mark.cluster

QUESTIONS = ["证书直邮怎么申请？", "电子证书在哪下载", "证书邮寄要多少钱", "加注是什么",
             "河南的证书没领会保管多久", "证书丢了怎么补办", "直邮的证书能寄到外省吗",
             "电子证书和纸质证书一样有效吗"]
OFF_TOPIC = "今天中午食堂吃什么呀"
# rasa_server.lock_store's keys for a conversation: endpoints.yml's key_prefix, then Rasa's
# "lock:", the conversation id, and ":issued" (the ticket counter) / ":tickets" (ticket ->
# expiry). The test holds a ticket as a third instance would.
LOCK_KEY_PREFIX = "certificatefaq:lock:"
HOLD_TICKET = """
local t = redis.call('TIME')
local number = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], number, tonumber(t[1]) + tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[1] * 2000)
redis.call('PEXPIRE', KEYS[2], ARGV[1] * 2000)
return number
"""
GENEROUS_SECONDS = 120


@pytest.fixture()
def cluster(servers: RunningServers) -> RunningServers:
    """The session's cluster, every server up (a previous fault may still be healing)."""
    assert servers.cluster
    servers.supervisor.wait_until_up(timeout=300)
    return servers


def redis(servers: RunningServers, *args: str) -> str:
    done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(servers.ports.redis), *args],
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip()


def stored_turns(servers: RunningServers, sender: str) -> list[tuple[str, list[str]]]:
    """(user text, bot texts after it) per stored user event, in the store's order."""
    engine = sa.create_engine(servers.tracker_db_url)
    with engine.connect() as db:
        rows = db.execute(sa.text("SELECT type_name, data FROM events WHERE sender_id = :s "
                                  "AND type_name IN ('user', 'bot') ORDER BY id"),
                          {"s": sender}).all()
    engine.dispose()
    turns: list[tuple[str, list[str]]] = []
    for type_name, data in rows:
        text = json.loads(data).get("text") or ""
        if type_name == "user":
            turns.append((text, []))
        elif turns:
            turns[-1][1].append(text)
    return turns


def send_in_thread(url: str, sender: str, text: str, replies: dict[str, RestReply | Exception]
                   ) -> threading.Thread:
    def send() -> None:
        try:
            with RasaClient(url, timeout_seconds=GENEROUS_SECONDS) as rasa:
                replies[text] = rasa.send(sender, text)
        except Exception as error:  # noqa: BLE001 - reported by the test
            replies[text] = error

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def wait_for(condition, what: str, timeout: float = GENEROUS_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def assert_each_turn_once_and_answered(stored: list[tuple[str, list[str]]], texts: list[str],
                                       replies: dict[str, RestReply | Exception]) -> None:
    assert sorted(text for text, _ in stored) == sorted(texts), "a turn lost or stored twice"
    for text, bot_texts in stored:
        reply = replies[text]
        assert isinstance(reply, RestReply) and not reply.empty, (text, reply)
        assert reply.custom.get("kind") != "unavailable", (text, reply.text)
        # the reply each caller got is the one stored after its own message: turns did not
        # run into each other
        assert "\n".join(t for t in bot_texts if t) == reply.text, text


# ------------------------------------------------------------------ the profile


def test_every_program_runs_and_turns_are_stored_in_postgresql(cluster):
    status = cluster.supervisor.ctl("status")
    for program in CLUSTER_PROGRAMS:
        assert f"{program} " in status and "RUNNING" in status.split(program, 1)[1].splitlines()[0]
    sender = f"stores-{uuid.uuid4().hex[:12]}"
    for url in cluster.ports.instance_urls().values():  # each instance, straight to its port
        with RasaClient(url) as rasa:
            assert rasa.status()["model_id"]
            assert rasa.send(sender, QUESTIONS[0]).custom["kind"] == "faq_answer"
    assert [text for text, _ in stored_turns(cluster, sender)] == [QUESTIONS[0]] * 2
    assert cluster.tracker_db_url.startswith("postgresql://")


def test_stored_user_events_in_postgresql_carry_no_embedding(cluster):
    sender = f"pg-events-{uuid.uuid4().hex[:12]}"
    with RasaClient(cluster.rasa_url) as rasa:
        assert rasa.send(sender, "电子证书在哪下载").custom["entry_id"] == "ecert_where_download"
    engine = sa.create_engine(cluster.tracker_db_url)
    with engine.connect() as db:
        [(data,)] = db.execute(sa.text("SELECT data FROM events WHERE sender_id = :s AND "
                                       "type_name = 'user'"), {"s": sender}).all()
    engine.dispose()
    parse_data = json.loads(data)["parse_data"]
    assert "text_embedding" not in parse_data and 1 <= len(parse_data["intent_ranking"]) <= 5
    assert "电子证书" in data                       # compact UTF-8 JSON in PostgreSQL too


# ------------------------------------------------------------------ the lock store


def test_turns_sent_alternately_to_both_instances_stay_in_order(cluster):
    """Turns of one conversation wait for its lock on both instances at once: the test
    holds the first ticket (as a third instance would) and sends each turn, alternately
    to each instance's own port, once the previous one has its ticket; then lets go. The
    store then holds every turn once, in the order sent, each reply after its message."""
    sender = f"alternate-{uuid.uuid4().hex[:12]}"
    issued, tickets = LOCK_KEY_PREFIX + sender + ":issued", LOCK_KEY_PREFIX + sender + ":tickets"
    instances = list(cluster.ports.instance_urls().values())
    held = int(redis(cluster, "EVAL", HOLD_TICKET, "2", issued, tickets, str(GENEROUS_SECONDS)))
    replies: dict[str, RestReply | Exception] = {}
    threads = []
    try:
        for n, text in enumerate(QUESTIONS):
            threads.append(send_in_thread(instances[n % 2], sender, text, replies))
            wait_for(lambda: int(redis(cluster, "GET", issued) or 0) >= held + n + 1,
                     f"turn {n + 1} took no ticket in the Redis lock store")
        assert not replies, "a turn was answered while the conversation was locked"
    finally:
        redis(cluster, "HDEL", tickets, str(held))
    for thread in threads:
        thread.join(GENEROUS_SECONDS)
    stored = stored_turns(cluster, sender)
    assert [text for text, _ in stored] == QUESTIONS
    assert_each_turn_once_and_answered(stored, QUESTIONS, replies)


def test_turns_sent_at_once_to_both_instances_are_each_handled_once(cluster):
    sender = f"at-once-{uuid.uuid4().hex[:12]}"
    instances = list(cluster.ports.instance_urls().values())
    texts = [f"{question}（{n}）" for n, question in enumerate(QUESTIONS + QUESTIONS[:4])]
    replies: dict[str, RestReply | Exception] = {}
    threads = [send_in_thread(instances[n % 2], sender, text, replies)
               for n, text in enumerate(texts)]
    for thread in threads:
        thread.join(GENEROUS_SECONDS)
    assert_each_turn_once_and_answered(stored_turns(cluster, sender), texts, replies)


# ------------------------------------------------------------------ the staff console


def test_the_staff_console_reads_the_log_unanswered_and_exports_from_postgresql(cluster):
    sender = f"staff-pg-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=cluster.web_url, timeout=GENEROUS_SECONDS, trust_env=False) as web:
        for text in (QUESTIONS[0], OFF_TOPIC):
            response = web.post("/api/chat", json={"session_id": sender, "message": text})
            assert response.status_code == 200 and response.json()["messages"]
        login = web.post("/staff/login", data={"password": cluster.staff_password},
                         follow_redirects=False)
        assert login.status_code == 303, login.text
        assert f'data-sender-id="{sender}"' in web.get("/staff/log").text
        conversation = web.get(f"/staff/log/{sender}").text
        assert QUESTIONS[0] in conversation and OFF_TOPIC in conversation
        inbox = web.get("/staff/unanswered", follow_redirects=True)   # the inbox now
        assert inbox.status_code == 200 and OFF_TOPIC in inbox.text
        assert OFF_TOPIC in web.get("/staff/export/inbox.csv").content.decode("utf-8-sig")
        unanswered = web.get("/staff/export/unanswered.csv")
        assert unanswered.status_code == 200
        rows = list(csv.reader(io.StringIO(unanswered.content.decode("utf-8-sig"))))
        assert any(row[0] == OFF_TOPIC and sender in row[5].split() for row in rows[1:])
        exported = web.get("/staff/export/conversations.csv", params={"q": "食堂"})
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert {sender} <= {row[0] for row in rows[1:]}


# ------------------------------------------------------------------ faults under load


def test_a_rasa_instance_killed_under_load_loses_no_turn(cluster):
    """16 candidates through the web front; rasa1 killed with -9: haproxy sends the
    turns to rasa2, the web front sends a turn that died with rasa1 once more (unless it
    was stored); every candidate gets a reply (an answer, or on a starved machine the
    polite 'unavailable' one with its retry), the store holds each turn once."""
    figures = kill_rasa_under_load(cluster.supervisor, cluster.tracker_db_url, users=16)
    print(f"\nkill -9 rasa1: {figures}")
    assert figures.back_after_s is not None, "rasa1 did not come back"
    assert figures.turns > 0 and figures.answered_while_down > 0   # rasa2 served meanwhile
    assert figures.errors == 0, figures.examples
    stored = (figures.lost, figures.duplicated, figures.unanswered_in_tracker)
    assert stored == (0, 0, 0), figures.examples


def test_postgresql_restarted_under_load_gives_polite_replies_and_recovers(cluster):
    figures = restart_postgres_under_load(cluster.supervisor, cluster.tracker_db_url, users=8)
    print(f"\nPostgreSQL restart: {figures}")
    assert figures.turns_while_down > 0
    assert figures.polite_while_down == figures.turns_while_down   # a reply, never an error
    assert figures.errors == 0, figures.examples
    assert figures.recovered_after_s is not None, "no normal answer after PostgreSQL came back"
    assert figures.outage_replies_after_recovery == 0
    assert not figures.rasa_restarted                               # recovered on its own
    assert figures.duplicated == 0, figures.examples
    assert figures.lost == 0, figures.examples


def stored_message_ids(servers: RunningServers, sender: str) -> list[str]:
    engine = sa.create_engine(servers.tracker_db_url)
    with engine.connect() as db:
        rows = db.execute(sa.text("SELECT data FROM events WHERE sender_id = :s AND "
                                  "type_name = 'user' ORDER BY id"), {"s": sender}).all()
    engine.dispose()
    return [json.loads(data).get("message_id") or "" for (data,) in rows]


def test_a_turn_whose_tracker_cannot_be_saved_is_not_answered_as_if_it_were(cluster):
    """The turn reads its tracker, its action runs, then PostgreSQL is gone when Rasa
    saves: the candidate must be told the turn was not answered (the "briefly
    unavailable" reply), never given an answer the store does not hold. Sent again with
    the same id once PostgreSQL is back, it runs and is stored once."""
    sender, message_id = f"unsaved-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    url = cluster.ports.instance_urls()["rasa1"]
    with RasaClient(url, timeout_seconds=GENEROUS_SECONDS) as rasa:
        assert rasa.send(sender, QUESTIONS[1]).custom.get("kind") == "faq_answer"  # warm
    pids = [cluster.supervisor.pid(name) for name in ("actions1", "actions2")]
    replies: dict[str, RestReply | Exception] = {}
    stopped = False
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        with RasaClient(url, timeout_seconds=GENEROUS_SECONDS) as rasa:
            thread = threading.Thread(target=lambda: replies.__setitem__(
                "first", rasa.send(sender, QUESTIONS[0], message_id)), daemon=True)
            thread.start()
            time.sleep(1.5)   # the tracker is read; the turn waits for its action
            cluster.supervisor.ctl("stop", "postgres")
            stopped = True
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            thread.join(GENEROUS_SECONDS)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        if stopped:
            cluster.supervisor.ctl("start", "postgres")
        cluster.supervisor.wait_until_up(timeout=300)
    first = replies["first"]
    assert isinstance(first, RestReply) and not first.empty, first
    assert first.custom.get("kind") == "unavailable", (
        f"answered {first.custom.get('kind')!r} though PostgreSQL was down at the save; "
        f"stored ids: {stored_message_ids(cluster, sender)}")
    assert message_id not in stored_message_ids(cluster, sender)
    wait_for(lambda: _answers(url, sender, message_id), "no answer once PostgreSQL was back")
    assert stored_message_ids(cluster, sender).count(message_id) == 1


def _answers(url: str, sender: str, message_id: str) -> bool:
    with RasaClient(url, timeout_seconds=GENEROUS_SECONDS) as rasa:
        reply = rasa.send(sender, QUESTIONS[0], message_id)
    return reply.custom.get("kind") == "faq_answer"


# ------------------------------------------------------------------ everything restarted


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_chat_history_survives_a_restart_of_everything(cluster):
    """Stop ends every process and frees every port; started again on the same data,
    the candidate's conversation is still there (PostgreSQL on disk under var/)."""
    import os

    sender = f"survivor-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=cluster.web_url, timeout=GENEROUS_SECONDS, trust_env=False) as web:
        answer = web.post("/api/chat", json={"session_id": sender, "message": QUESTIONS[1]}).json()
    supervisor = cluster.supervisor
    pids = [supervisor.daemon_pid()] + [supervisor.pid(name) for name in CLUSTER_PROGRAMS]
    assert all(pids)
    assert supervisor.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(_listening(port) for port in asdict(supervisor.ports).values())
    supervisor.start()
    with httpx.Client(base_url=cluster.web_url, timeout=GENEROUS_SECONDS, trust_env=False) as web:
        history = web.get("/api/history", params={"session_id": sender}).json()["messages"]
    texts = [message["text"] for message in history]
    assert QUESTIONS[1] in texts
    assert answer["messages"][0]["text"] in texts
