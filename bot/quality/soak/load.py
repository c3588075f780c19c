"""Load with locust (headless, in its own process) and the check of every sent turn in
the tracker store: each turn answered normally has its user event and a bot reply after
it, in order; none lost, none duplicated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bot import PROJECT_ROOT
from bot.lang.privacy import mask_sensitive

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
OUTAGE_KINDS = {"unavailable"}  # the web front's polite reply when Rasa could not answer


@dataclass
class LoadResult:
    users: int
    seconds: int
    turns: int = 0
    failures: int = 0
    outage_replies: int = 0
    offline: int = 0             # sent while the web front was down: the widget's own bubble
    p50_ms: float | None = None
    p95_ms: float | None = None
    lost: int = 0
    duplicated: int = 0
    unanswered_in_tracker: int = 0
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class Load:
    """``locust --headless`` against the web front, in the background; every turn it
    sends is logged in ``work_dir/turns.jsonl``."""

    def __init__(self, web_url: str, users: int, seconds: int, work_dir: Path):
        self.users, self.seconds, self.work_dir = users, seconds, work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.log = work_dir / "turns.jsonl"
        self.log.unlink(missing_ok=True)
        self.csv_prefix = work_dir / "locust"
        env = {**os.environ, "SOAK_TURN_LOG": str(self.log), "PYTHONPATH": str(PROJECT_ROOT)}
        self._stderr = open(work_dir / "locust.log", "wb")  # closed in finish()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
             "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", web_url,
             "--csv", str(self.csv_prefix), "--only-summary", "--stop-timeout", "30",
             "--exit-code-on-error", "0"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=self._stderr)

    def finish(self) -> LoadResult:
        """Wait for the end of the load; its figures (the tracker is checked separately)."""
        try:
            self.process.wait(timeout=self.seconds + 300)
        finally:
            self._stderr.close()
        result = LoadResult(users=self.users, seconds=self.seconds)
        turns = self.turns()
        result.turns = len(turns)
        result.failures = sum(1 for t in turns if t["status"] != 200 or not t["kinds"])
        result.offline = sum(1 for t in turns if not t["status"])
        result.outage_replies = sum(1 for t in turns if OUTAGE_KINDS & set(t["kinds"]))
        stats = _aggregated(self.csv_prefix.with_name("locust_stats.csv"))
        result.p50_ms, result.p95_ms = stats.get("50%"), stats.get("95%")
        return result

    def turns(self) -> list[dict]:
        return read_turns(self.log)


def read_turns(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def _aggregated(path: Path) -> dict[str, float]:
    import csv

    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if row.get("Name") == "Aggregated":
                return {k: float(v) for k, v in row.items() if k.endswith("%") and v not in ("", "N/A")}
    return {}


def check_tracker(turns: list[dict], tracker_url: str, result: LoadResult) -> None:
    """Count the turns lost or duplicated in the tracker store, and user events there
    without a bot reply after them (``result`` is updated)."""
    engine = sa.create_engine(tracker_url)
    sessions: dict[str, list[dict]] = {}
    for turn in sorted(turns, key=lambda t: t["sent"]):
        sessions.setdefault(turn["session"], []).append(turn)
    with engine.connect() as db:
        for session, sent in sessions.items():
            rows = db.execute(sa.text("SELECT type_name, data, timestamp FROM events WHERE sender_id = :s "
                                      "AND type_name IN ('user', 'bot') ORDER BY id"),
                              {"s": session}).all()
            _compare(session, sent, rows, result)
    engine.dispose()


def never_reached_rasa(turn: dict) -> bool:
    """A turn the tracker cannot hold: the web front answered it with its outage reply,
    or the web front itself was down (no HTTP status: the widget shows its own
    network-failure bubble with a retry)."""
    return bool(OUTAGE_KINDS & set(turn["kinds"])) or not turn["status"]


@dataclass
class _StoredTurn:
    """One user event in the tracker store, with what Rasa answered after it."""

    text: str
    at: float                 # the event's timestamp
    message_id: str = ""      # the turn's id (the widget's, sent by the load's users)
    answered: bool = False    # a bot event follows it
    outage: bool = False      # ... with Rasa's own "briefly unavailable" reply


def _stored_turns(rows: list) -> list[_StoredTurn]:
    stored: list[_StoredTurn] = []
    for type_name, data, timestamp in rows:
        if type_name == "user":
            event = json.loads(data)
            stored.append(_StoredTurn(event.get("text") or "", timestamp,
                                      str(event.get("message_id") or "")))
        elif stored:
            custom = (json.loads(data).get("data") or {}).get("custom") or {}
            stored[-1].answered = True
            stored[-1].outage = stored[-1].outage or custom.get("kind") in OUTAGE_KINDS
    return stored


def _compare(session: str, sent: list[dict], rows: list, result: LoadResult) -> None:
    """Count lost and duplicated turns: by message id when every sent turn has one
    (:func:`_compare_by_id`), else by aligning texts (:func:`_compare_by_text`)."""
    if sent and all(turn.get("message_id") for turn in sent):
        _compare_by_id(session, sent, _stored_turns(rows), result)
    else:
        _compare_by_text(session, sent, rows, result)


def _compare_by_id(session: str, sent: list[dict], stored: list[_StoredTurn],
                   result: LoadResult) -> None:
    """Each sent turn's id must be stored exactly once, unless the turn never reached
    Rasa (the candidate was told so: the polite outage reply); an id stored twice is a
    duplicate, a stored id nobody sent too."""
    by_id: dict[str, list[_StoredTurn]] = {}
    for turn in stored:
        by_id.setdefault(turn.message_id, []).append(turn)
    for turn in sent:
        copies = by_id.pop(turn["message_id"], [])
        if not copies:
            if not never_reached_rasa(turn):
                result.lost += 1
                _example(result, f"lost: {session} {turn['message_id']} {turn['text']!r}")
            continue
        result.unanswered_in_tracker += sum(not copy.answered for copy in copies[:1])
        if len(copies) > 1:
            result.duplicated += len(copies) - 1
            _example(result, f"duplicated: {session} {turn['message_id']} {turn['text']!r}")
    for message_id, copies in by_id.items():
        result.duplicated += len(copies)
        _example(result, f"unsent in tracker: {session} {message_id} {copies[0].text!r}")


def _compare_by_text(session: str, sent: list[dict], rows: list, result: LoadResult) -> None:
    """Align the sent turns with the stored user events, strictly in order: a stored
    event matches the next sent turn with its text; a turn that never reached Rasa may be
    missing (it matches a stored event only when Rasa stored it with its own outage
    reply or before the next turn was sent); anything else missing is lost, anything
    stored twice or unsent is duplicated."""
    stored = _stored_turns(rows)
    position = 0
    texts = [mask_sensitive(turn["text"]) for turn in sent]
    for index, (turn, text) in enumerate(zip(sent, texts)):
        here = stored[position] if position < len(stored) and stored[position].text == text else None
        if never_reached_rasa(turn) and not (here and _is_this_turn(here, sent, index)):
            continue  # answered by the web front or the widget: nothing stored
        if here is None:
            result.lost += 1
            _example(result, f"lost: {session} {text!r}")
            continue
        if not here.answered:
            result.unanswered_in_tracker += 1
        position += 1
        # the same text stored again, but not sent again next: a turn handled twice
        following = texts[index + 1] if index + 1 < len(texts) else None
        while position < len(stored) and stored[position].text == text != following:
            result.duplicated += 1
            _example(result, f"duplicated: {session} {text!r}")
            position += 1
    if position < len(stored):
        result.duplicated += len(stored) - position  # stored user events nobody sent
        _example(result, f"unsent in tracker: {session} {stored[position].text!r}")


def _is_this_turn(stored: _StoredTurn, sent: list[dict], index: int) -> bool:
    """Whether a stored event with an outage turn's text is that very turn (Rasa got it
    before it or the web front went down) rather than a later retry of the same text:
    stored with Rasa's own outage reply, or before the candidate's next turn."""
    return stored.outage or index + 1 >= len(sent) or stored.at < sent[index + 1]["sent"]


def _example(result: LoadResult, text: str) -> None:
    if len(result.examples) < 10:
        result.examples.append(text)
