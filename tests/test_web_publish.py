"""Publishing: the served index swapped whole and noticed by every engine (a fake
encoder over the fixture entries), the publish job's gate and status, the console's
button, progress and audit, and a publish against real servers (Rasa's ``PUT /model``).

A real publish retrains Rasa (a minute or more), so the one test that trains is the
browser loop test (tests/browser/test_staff_loop.py); it also sends chat traffic during
that publish and counts the turns. Here the job is run to the gate's refusal, which
needs no training, and the model loading is checked on its own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.knowledge.entries import load_knowledge_base
from bot.retrieval.engine import load_engine
from bot.retrieval.index import (MANIFEST_FILE, KEPT_VERSIONS, ROWS_FILE, build_index, index_version, is_stale,
                                 new_version_dir, publish_index, versions_dir)
from bot.retrieval.settings import load_settings
from tests.test_index import FIXTURE, SOURCES, FakeEncoder

# ------------------------------------------------------------------ the served index


class Served:
    """Entries to edit, index versions built from them, ``index`` the served link."""

    def __init__(self, root: Path):
        self.entries = root / "entries"
        shutil.copytree(FIXTURE, self.entries)
        self.index = root / "models" / "index"
        self.index.parent.mkdir()
        self.encoder = FakeEncoder()
        self.settings = load_settings().with_(entries_dir=self.entries, sources_dir=SOURCES, index_dir=self.index)

    def build(self, label: str) -> Path:
        version = new_version_dir(self.index, label)
        build_index(self.encoder, version, self.entries, SOURCES, cache_dir=None)
        return version

    def engine(self):
        return load_engine(self.settings, encoder=self.encoder)

    def edit(self, old: str, new: str) -> None:
        path = self.entries / "ask_fees.yml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Served:
    out_of_scope = tmp_path / "out_of_scope.yml"
    out_of_scope.write_text("questions:\n  misc: [今天天气怎么样, 红烧肉怎么做, 股票会涨吗, 讲个笑话]\n", encoding="utf-8")
    monkeypatch.setenv("BOT_OUT_OF_SCOPE", str(out_of_scope))
    return Served(tmp_path)


def fee_answer(engine: Any) -> str:
    return next(e.answer for e in engine.kb.entries if e.topic == "ask_fees")


def test_the_engine_answers_from_the_published_version_until_the_next(served: Served) -> None:
    publish_index(served.build("one"), served.index)
    assert served.index.is_symlink()
    first = served.engine()
    assert served.engine() is first, "the same version: the same engine, no reload"
    answer = fee_answer(first)
    served.edit(answer.splitlines()[0], "改过的第一行")
    assert served.engine() is first and fee_answer(first) == answer, "an unpublished edit is not served"
    assert is_stale(served.index, served.entries, SOURCES, served.encoder)
    publish_index(served.build("two"), served.index)
    second = served.engine()
    assert second is not first and fee_answer(second).startswith("改过的第一行")
    assert not is_stale(served.index, served.entries, SOURCES, served.encoder)
    assert served.engine() is second


def test_the_first_publish_moves_make_index_s_directory_aside(served: Served) -> None:
    build_index(served.encoder, served.index, served.entries, SOURCES, cache_dir=None)  # what make index writes
    before = served.engine()
    version = served.build("first")
    previous = publish_index(version, served.index)
    assert previous is not None and previous.parent == versions_dir(served.index)
    assert (previous / MANIFEST_FILE).exists() and os.path.realpath(served.index) == str(version.resolve())
    assert served.engine() is not before


def test_old_versions_go_the_served_and_the_previous_stay(served: Served) -> None:
    versions = []
    for n in range(KEPT_VERSIONS + 3):
        versions.append(served.build(f"v{n}"))
        publish_index(versions[-1], served.index)
    left = sorted(p.name for p in versions_dir(served.index).iterdir())
    assert left == sorted(v.name for v in versions[-KEPT_VERSIONS:])


def test_swaps_under_load_never_fail_a_question_nor_mix_two_versions(served: Served) -> None:
    builds = [served.build("a")]
    served.edit("邮费谁出", "邮费由谁出")
    builds.append(served.build("b"))
    publish_index(builds[0], served.index)
    served.engine()
    problems: list[str] = []
    answered = [0]
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                engine = served.engine()
                decision = engine.answer("直邮邮费谁出")
                assert set(engine.entry_ids) == set(engine.kb.by_id), "index and knowledge of one version"
                assert decision.hits and decision.hits[0].id in engine.kb.by_id
                answered[0] += 1
            except Exception as error:  # noqa: BLE001 - collected for the assertion
                problems.append(repr(error))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    seen = set()
    for n in range(12):
        publish_index(builds[n % 2], served.index)
        # while another thread loads the new version, this one may still get the old
        seen.add(served.engine().index.directory)
    stop.set()
    for thread in threads:
        thread.join()
    assert problems == [] and answered[0] > 0
    assert seen <= {b.resolve() for b in builds}
    assert served.engine().index.directory == Path(os.path.realpath(served.index)), "in the end: the last published"


def test_a_version_that_does_not_load_leaves_the_last_one_serving(served: Served, caplog) -> None:
    publish_index(served.build("good"), served.index)
    good = served.engine()
    broken = served.build("broken")
    rows = json.loads((broken / ROWS_FILE).read_text(encoding="utf-8"))
    (broken / ROWS_FILE).write_text(json.dumps(rows[:-1]), encoding="utf-8")
    publish_index(broken, served.index)
    with caplog.at_level(logging.ERROR, logger="bot.retrieval.engine"):
        assert served.engine() is good
    assert "does not load" in caplog.text
    caplog.clear()
    assert served.engine() is good and caplog.text == "", "tried once, not on every question"
    publish_index(served.build("fixed"), served.index)
    assert served.engine() is not good


def test_an_index_version_is_one_stat(served: Served) -> None:
    assert index_version(served.index) is None
    version = served.build("x")
    publish_index(version, served.index)
    real, inode, _ = index_version(served.index)
    assert real == str(version.resolve()) and inode == (version / MANIFEST_FILE).stat().st_ino
    kb = load_knowledge_base(version / "knowledge" / "entries", version / "knowledge" / "sources")
    assert {e.id for e in kb.entries} == {e.id for e in load_knowledge_base(FIXTURE, SOURCES).entries}


def test_the_staff_console_searches_the_index_a_publish_served(served: Served) -> None:
    # The console's holder must not keep the engine it first loaded: staff check a fix
    # in the search right after publishing it.
    from bot.web.app_state import RetrievalEngineHolder

    holder = RetrievalEngineHolder(served.engine)
    publish_index(served.build("one"), served.index)
    first = holder.get()
    assert holder.get() is first
    served.edit(fee_answer(first).splitlines()[0], "改过的第一行")
    publish_index(served.build("two"), served.index)
    assert "改过的第一行" in fee_answer(holder.get())


# ------------------------------------------------------------------ the job's gate and status


from bot.publish import gate as publish_gate, job, status as publish_status  # noqa: E402
from bot.knowledge.cases import Case  # noqa: E402


def case(case_id: str, known_failure: str | None = None) -> Case:
    return Case(id=case_id, file="f", turns=("问",), expect="fallback", known_failure=known_failure)


def gate(passed: bool, received: str = "fallback") -> publish_gate.GateResult:
    return publish_gate.GateResult(passed, "" if passed else f"expected fallback, received {received}", received)


def test_the_gate_refuses_only_what_passed_before_and_fails_now() -> None:
    cases = [case("kept"), case("broken"), case("still"), case("known", "why"), case("fixed")]
    before = {"kept": gate(True), "broken": gate(True), "still": gate(False), "known": gate(False),
              "fixed": gate(False)}
    after = {"kept": gate(True), "broken": gate(False, "direct_mail_fee"), "still": gate(False),
             "known": gate(False), "fixed": gate(True)}
    broken = publish_gate.broken_cases(cases, before, after)
    assert [(b["id"], b["received"]) for b in broken] == [("broken", "direct_mail_fee")]
    assert broken[0]["turns"] == ["问"] and "received direct_mail_fee" in broken[0]["problem"]
    assert publish_gate.still_failing(cases, before, after) == ["still"], "a known failure is not listed"
    assert publish_gate.broken_cases(cases, before, before) == []


def test_every_rasa_instance_is_named() -> None:
    assert job.rasa_instance_urls({"RASA_URL": "http://127.0.0.1:5005/"}) == ["http://127.0.0.1:5005"]
    cluster = {"RASA_URL": "http://127.0.0.1:5005", "RASA_INSTANCE_URLS": " http://127.0.0.1:5006, http://127.0.0.1:5007/,"}
    assert job.rasa_instance_urls(cluster) == ["http://127.0.0.1:5006", "http://127.0.0.1:5007"]
    assert job.rasa_instance_urls({}) == ["http://127.0.0.1:5005"]


def test_the_status_file_is_whole_and_its_progress_weighted(tmp_path: Path) -> None:
    status = publish_status.PublishStatus(id="p1", who="王 (editor)", started_at=1.0)
    assert status.progress == 0.0 and [s.name for s in status.stages] == list(publish_status.STAGES)
    for name in ("validate", "index", "servers"):
        status.stage_of(name).state = "done"
    train = status.stage_of("train")
    train.state, train.done, train.total = "running", 50, 100
    total = sum(publish_status.EXPECTED_SECONDS[name] for name in publish_status.STAGES)
    expected = (publish_status.EXPECTED_SECONDS["validate"] + publish_status.EXPECTED_SECONDS["index"] + publish_status.EXPECTED_SECONDS["servers"]
                + publish_status.EXPECTED_SECONDS["train"] / 2) / total
    assert status.progress == round(expected, 3)
    path = tmp_path / "run" / "publish.json"
    publish_status.StatusFile(path).write(status)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["id"] == "p1" and written["progress"] == status.progress and written["pid"] == os.getpid()
    assert [p.name for p in path.parent.iterdir()] == ["publish.json"], "no temp file left"


def test_one_publish_at_a_time(tmp_path: Path) -> None:
    import subprocess
    import sys

    status = tmp_path / "publish.json"
    held = publish_status.take_lock(publish_status.lock_path(status))
    assert held is not None and publish_status.take_lock(publish_status.lock_path(status)) is None
    run = subprocess.run([sys.executable, "-m", "bot.publish.job", "--status", str(status), "--who", "x"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == publish_status.EXIT_BUSY and "another publish is running" in run.stderr
    assert not status.exists(), "the running publish's status is left alone"
    os.close(held)
    assert publish_status.take_lock(publish_status.lock_path(status)) is not None


# ------------------------------------------------------------------ the console


import re  # noqa: E402

from starlette.testclient import TestClient  # noqa: E402

from bot.datafiles import ui_texts  # noqa: E402
from tests.test_web_annotate import (QUESTIONS, Workspace, csrf, editor, engine, form, viewer,  # noqa: E402,F401
                                     workspace)

TEXTS = ui_texts()["publish"]


@pytest.fixture()
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the console looks for the job's status and lock (the servers' var/run)."""
    monkeypatch.setenv("ASSISTANT_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("ASSISTANT_LOG_DIR", str(tmp_path / "log"))
    return tmp_path / "run"


def write_status(run_dir: Path, **fields: Any) -> publish_status.PublishStatus:
    status = publish_status.PublishStatus(id=fields.pop("id", "p1"), who="王 (editor)", started_at=1_800_000_000.0, **fields)
    publish_status.StatusFile(run_dir / "publish.json").write(status)
    return status


def test_nothing_to_publish_starts_nothing(editor: TestClient, workspace: Workspace, run_dir: Path) -> None:
    page = editor.get("/staff/publish")
    assert page.status_code == 200 and "data-up-to-date" in page.text and 'id="publish-button"' in page.text
    response = editor.post("/staff/publish", data={"csrf_token": csrf(editor, "/staff/publish")})
    assert response.status_code == 409 and TEXTS["nothing_to_publish"] in response.text
    assert not (run_dir / "publish.json").exists() and workspace.audit() == []


def test_a_second_publish_is_refused_while_one_runs(editor: TestClient, workspace: Workspace, run_dir: Path) -> None:
    assert editor.post("/staff/annotate/attach", data=form(editor, attach_to="direct_mail_fee")).status_code == 200
    page = editor.get("/staff/publish")
    assert "data-unpublished" in page.text and "李编辑 (editor): 2 paraphrase(s) for direct_mail_fee" in page.text
    held = publish_status.take_lock(publish_status.lock_path(run_dir / "publish.json"))
    assert held is not None, "the test holds the lock: the job it starts must stop at once"
    try:
        response = editor.post("/staff/publish", data={"csrf_token": csrf(editor, "/staff/publish")})
    finally:
        os.close(held)
    assert response.status_code == 409 and TEXTS["busy"] in response.text
    assert "publish_start" not in [r.action for r in workspace.audit()]


def test_a_viewer_watches_but_cannot_publish(viewer: TestClient, workspace: Workspace, run_dir: Path) -> None:
    page = viewer.get("/staff/publish")
    assert page.status_code == 200 and TEXTS["viewer_notice"] in page.text and 'id="publish-button"' not in page.text
    response = viewer.post("/staff/publish", data={"csrf_token": csrf(viewer, "/staff/publish")})
    assert response.status_code == 403 and not (run_dir / "publish.json").exists()
    assert viewer.post("/staff/publish").status_code == 403


def test_the_progress_of_a_running_publish(editor: TestClient, workspace: Workspace, run_dir: Path) -> None:
    assert editor.get("/staff/api/publish").json() == {"publish": None}
    status = write_status(run_dir)
    for name in ("validate", "index"):
        status.stage_of(name).state = "done"
    train = status.stage_of("train")
    train.state, train.done, train.total, status.stage = "running", 40, 100, "train"
    publish_status.StatusFile(run_dir / "publish.json").write(status)
    shown = editor.get("/staff/api/publish").json()["publish"]
    assert shown["running"] and shown["state"] == "running" and shown["progress"] == round(100 * status.progress)
    assert [(s["name"], s["state"]) for s in shown["stages"]][6] == ("train", "running")
    assert shown["stages"][6]["label"] == TEXTS["stages"]["train"] and shown["stages"][6]["done"] == 40
    page = editor.get("/staff/publish")
    assert 'data-running="1"' in page.text and f'value="{shown["progress"]}"' in page.text
    assert re.search(r'id="publish-button"\s+disabled', page.text), "no second start while it runs"
    assert workspace.audit() == [], "running: no outcome yet"


def test_a_refused_publish_lists_the_cases_and_is_audited_once(editor: TestClient, workspace: Workspace,
                                                              run_dir: Path) -> None:
    broken = {"id": "gz-fee-01", "file": "guangzhou", "turns": ["广州寄证书多少钱"], "expect": "gz_paper_mail_fee",
              "received": "direct_mail_fee", "problem": "expected gz_paper_mail_fee, received faq_answer direct_mail_fee"}
    write_status(run_dir, state="refused", finished_at=1_800_000_100.0, broken=[broken],
                 problem="1 case(s) that pass now would fail (check_index)")
    page = editor.get("/staff/publish")
    assert TEXTS["states"]["refused"] in page.text and TEXTS["broken"] in page.text
    assert 'data-case-id="gz-fee-01"' in page.text and "广州寄证书多少钱" in page.text
    for _ in range(3):
        assert editor.get("/staff/api/publish").json()["publish"]["state"] == "refused"
    rows = [r for r in workspace.audit() if r.action == "publish"]
    assert len(rows) == 1 and rows[0].who == "王 (editor)" and rows[0].target == "p1"
    assert rows[0].after.startswith("refused\n1 case(s)") and "gz-fee-01" in rows[0].after
    assert rows[0].timestamp == 1_800_000_100.0


def test_a_publish_whose_process_is_gone_is_interrupted(editor: TestClient, workspace: Workspace,
                                                        run_dir: Path) -> None:
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_status(run_dir, pid=int(gone.stdout))
    shown = editor.get("/staff/api/publish").json()["publish"]
    assert shown["state"] == "interrupted" and not shown["running"]
    assert [r.after for r in workspace.audit() if r.action == "publish"] == ["interrupted"]
    assert 'id="publish-button"' in editor.get("/staff/publish").text


# ------------------------------------------------------------------ chat traffic while models load


import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import httpx  # noqa: E402


@dataclass
class ChatTraffic:
    """Candidates chatting through the web front in a thread of their own, a turn at a
    time each, until stopped: every turn's reply kind, and the turns Rasa stored."""

    web_url: str
    rasa_url: str
    questions: tuple[str, ...]
    senders: int = 3
    replies: list[tuple[str, str, str]] = field(default_factory=list)   # (sender, question, kind)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ChatTraffic:
        self._thread = threading.Thread(target=self._chat, daemon=True)
        self._thread.start()
        return self

    def _chat(self) -> None:
        tag = uuid.uuid4().hex[:8]
        with httpx.Client(timeout=120) as http:
            n = 0
            while not self._stop.is_set():
                sender = f"traffic-{tag}-{n % self.senders}"
                question = self.questions[n % len(self.questions)]
                n += 1
                try:
                    response = http.post(f"{self.web_url}/api/chat", json={"session_id": sender, "message": question})
                    kinds = [m["custom"].get("kind") for m in response.json().get("messages", []) if m.get("custom")]
                    kind = kinds[-1] if response.status_code == 200 and kinds else f"HTTP {response.status_code}"
                except (httpx.HTTPError, ValueError) as error:
                    kind = f"{type(error).__name__}"
                self.replies.append((sender, question, kind))
                time.sleep(0.3)

    def stop(self) -> ChatTraffic:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=180)
        return self

    @property
    def sent(self) -> int:
        return len(self.replies)

    @property
    def lost(self) -> list[tuple[str, str, str]]:
        """Turns answered with the outage reply, an error, or nothing."""
        return [r for r in self.replies if r[2] in ("unavailable", None) or not r[2] or r[2][0].isupper()]

    def stored(self) -> dict[str, int]:
        """User turns in Rasa's tracker, by sender."""
        counts = {}
        with httpx.Client(timeout=60) as http:
            for sender in sorted({r[0] for r in self.replies}):
                events = http.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                                  params={"include_events": "ALL"}).json()["events"]
                counts[sender] = sum(e.get("event") == "user" for e in events)
        return counts

    def sent_by_sender(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sender, _, _ in self.replies:
            counts[sender] = counts.get(sender, 0) + 1
        return counts


@pytest.mark.servers
def test_loading_a_model_into_rasa_loses_no_chat_turn(servers) -> None:
    """``PUT /model`` (the publish's last step) while candidates chat: Rasa answers with
    the model it has until the new one is loaded; every turn is answered and stored."""
    from bot.servers import RASA_MODEL

    rasa = job.RasaInstance(servers.rasa_url)
    before = rasa.model_id()
    traffic = ChatTraffic(servers.web_url, servers.rasa_url, ("什么是证书直邮？", "电子证书怎么下载", "今天中午食堂吃什么")).start()
    time.sleep(2)
    started = time.monotonic()
    rasa.replace_model(RASA_MODEL)
    seconds = time.monotonic() - started
    time.sleep(2)
    traffic.stop()
    print(f"\nPUT /model took {seconds:.1f}s; turns sent {traffic.sent}, lost {len(traffic.lost)}")
    assert rasa.model_id() == before, "the same model file: the same fingerprint"
    rasa.close()
    assert traffic.sent >= 3 and traffic.lost == []
    assert {kind for _, question, kind in traffic.replies if question == "什么是证书直邮？"} == {"faq_answer"}
    assert traffic.stored() == traffic.sent_by_sender(), "every turn stored once"


@pytest.mark.servers
def test_the_gate_runs_the_cases_against_a_real_rasa(servers) -> None:
    """The publish's gate sends real cases to Rasa: one passes, a deliberately wrong
    expectation fails with what Rasa answered, an unreachable Rasa is "no reply"."""
    right = Case(id="right", file="f", turns=("什么是证书直邮？",), expect="direct_mail_what")
    wrong = Case(id="wrong", file="f", turns=("什么是证书直邮？",), expect="fallback")
    done: list[int] = []
    results = publish_gate.run_cases(servers.rasa_url, [right, wrong], done.append)
    assert results["right"].passed, results["right"].problem
    assert not results["wrong"].passed and results["wrong"].received == "direct_mail_what"
    assert done == [1, 2]
    gone = publish_gate.run_cases("http://127.0.0.1:9", [right], done.append)
    assert not gone["right"].passed and gone["right"].problem.startswith("no reply")


# ------------------------------------------------------------------ a project of its own


import subprocess  # noqa: E402

from bot import PROJECT_ROOT  # noqa: E402

COPIED_DIRS = ("bot", "actions", "rasa_server", "ops", "data", "tests/regression", ".rasa")
COPIED_FILES = ("config.yml", "domain.yml", "endpoints.yml", "credentials.yml")
LINKED = (".venv", ".venv-rasa")
_START = r'''
import json, sys
from pathlib import Path
from bot.servers import Ports, Supervisor
var = Path(sys.argv[1])
supervisor = Supervisor(Ports.free(), var_dir=var, tracker_db_url=f"sqlite:///{var}/tracker.db",
                        extra_env=json.loads(sys.argv[2]))
supervisor.start()
print(json.dumps({"actions": supervisor.ports.actions, "rasa": supervisor.ports.rasa, "web": supervisor.ports.web}))
'''
_STOP = r'''
import sys
from pathlib import Path
from bot.servers import Ports, Supervisor
Supervisor(Ports(), var_dir=Path(sys.argv[1])).stop()
'''


@dataclass
class CopiedProject:
    """The project's code, data and models copied (virtual environments linked), and its
    servers under their own supervisord: a publish there changes only the copy."""

    root: Path
    var: Path
    ports: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path) -> CopiedProject:
        root = directory / "project"
        root.mkdir(parents=True)
        ignored = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
        for name in COPIED_DIRS:
            if (PROJECT_ROOT / name).exists():  # .rasa (Rasa's training cache) only after a training here
                shutil.copytree(PROJECT_ROOT / name, root / name, ignore=ignored, symlinks=True)
        for name in COPIED_FILES:
            shutil.copy2(PROJECT_ROOT / name, root / name)
        for name in LINKED:
            os.symlink(PROJECT_ROOT / name, root / name)
        (root / "models" / "rasa").mkdir(parents=True)
        shutil.copy2(PROJECT_ROOT / "models" / "rasa" / "model.tar.gz", root / "models" / "rasa" / "model.tar.gz")
        shutil.copytree(os.path.realpath(PROJECT_ROOT / "models" / "index"), root / "models" / "index")
        return cls(root, directory / "var")

    def python(self, code: str, *args: str) -> str:
        done = subprocess.run([str(self.root / ".venv" / "bin" / "python"), "-c", code, *args], cwd=self.root,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start(self, extra_env: dict[str, str]) -> None:
        self.ports = json.loads(self.python(_START, str(self.var), json.dumps(extra_env)).strip().splitlines()[-1])

    def stop(self) -> None:
        self.python(_STOP, str(self.var))

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['rasa']}"

