"""The annotate page through Starlette's test client, on a copy of the knowledge: attach
questions to an entry, draft a new entry from passages, mark them out of scope; refused
changes show their problems and change nothing; every change is an editor's, carries
the CSRF token, lands in the audit log and gives the questions their inbox status.

The engine that ranks entries and passages is the real one over ``models/index``; the
entries, the out-of-scope questions, the changelog and the staff regression cases are
copies under a temporary directory (``BOT_ENTRIES_DIR``, ``BOT_OUT_OF_SCOPE`` and the
editing module's two paths), and the audit log is a throw-away SQLite file.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
import yaml
from starlette.testclient import TestClient

from bot import datafiles
from bot.datafiles import ui_texts
from bot.knowledge import editing
from bot.knowledge.cases import REGRESSION_DIR
from bot.knowledge.entries import load_knowledge_base
from bot.web.storage import tables as database
from bot.web.storage.store import ConsoleStore
from bot.web.app import create_app
from tests.test_web_staff_auth import PASSWORD, make_settings

TEXTS = ui_texts()
VIEWER_PASSWORD = "viewer-only-password"
QUESTIONS = ["直邮的快递钱到底谁来掏", "证书直邮运费我自己付吗"]


@dataclass
class Workspace:
    root: Path
    entries: Path
    out_of_scope: Path
    cases: Path
    changelog: Path
    tracker_db: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.tracker_db}"

    def files(self) -> dict[str, str]:
        return {str(p.relative_to(self.root)): p.read_text(encoding="utf-8")
                for p in sorted(self.root.rglob("*.yml"))}

    def audit(self) -> list[Any]:
        with database.own_tables(self.url).connect() as connection:
            return connection.execute(sa.select(database.audit_log).order_by(database.audit_log.c.id)).all()

    def kb(self):
        return load_knowledge_base(self.entries)


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The data the console edits, copied; the audit log and inbox statuses in a new
    SQLite file (Rasa would have created it)."""
    entries = tmp_path / "entries"
    shutil.copytree(datafiles.paths().entries_dir, entries)
    out_of_scope = tmp_path / "out_of_scope.yml"
    shutil.copy2(datafiles.paths().out_of_scope, out_of_scope)
    regression = tmp_path / "regression"
    regression.mkdir()
    for path in REGRESSION_DIR.glob("*.yml"):
        shutil.copy2(path, regression / path.name)
    monkeypatch.setenv("BOT_ENTRIES_DIR", str(entries))
    monkeypatch.setenv("BOT_OUT_OF_SCOPE", str(out_of_scope))
    monkeypatch.setattr(editing, "STAFF_CASES", regression / "staff.yml")
    monkeypatch.setattr(editing, "CHANGELOG", tmp_path / "staff_changes.yml")
    tracker_db = tmp_path / "tracker.db"
    sqlite3.connect(tracker_db).close()
    return Workspace(tmp_path, entries, out_of_scope, regression / "staff.yml", tmp_path / "staff_changes.yml",
                     tracker_db)


@pytest.fixture(scope="module")
def engine() -> Any:
    from bot.retrieval.engine import load_engine

    return load_engine()


def client_for(workspace: Workspace, engine: Any, password: str | None = PASSWORD) -> Iterator[TestClient]:
    app = create_app(make_settings(workspace.tracker_db, staff_viewer_password=VIEWER_PASSWORD))
    app.state.web.retrieval.set_engine(engine)
    with TestClient(app, follow_redirects=False) as client:
        if password:
            assert client.post("/staff/login", data={"password": password, "name": "李编辑"}).status_code == 303
        yield client


@pytest.fixture()
def editor(workspace: Workspace, engine: Any) -> Iterator[TestClient]:
    yield from client_for(workspace, engine)


@pytest.fixture()
def viewer(workspace: Workspace, engine: Any) -> Iterator[TestClient]:
    yield from client_for(workspace, engine, VIEWER_PASSWORD)


def csrf(client: TestClient, path: str = "/staff/annotate") -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match
    return match.group(1)


def form(client: TestClient, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": csrf(client), "question": QUESTIONS, "sender_id": "alice-0001", "turn": "2", **fields}


def statuses(workspace: Workspace) -> dict[str, str]:
    found = ConsoleStore(workspace.url).question_statuses()
    return {q: found.get(database.question_key(q), "pending") for q in QUESTIONS}


# ------------------------------------------------------------------ the page


def test_the_page_ranks_entries_and_passages_for_the_questions(editor: TestClient, engine: Any) -> None:
    page = editor.get("/staff/annotate", params={"question": QUESTIONS, "sender_id": "alice-0001", "turn": "2"})
    assert page.status_code == 200
    for question in QUESTIONS:
        assert question in page.text
        assert f'name="question" value="{question}"' in page.text, "each form carries the questions"
    best = engine.search(QUESTIONS[0], 5, kinds=("entry",))
    radios = re.findall(r'name="attach_to" value="([a-z0-9_]+)"', page.text)
    assert radios == [hit.id for hit in best] and radios[0] == "direct_mail_fee"
    passages = re.findall(r'name="passage" value="([^"]+)"', page.text)
    assert passages == [hit.id for hit in engine.search(QUESTIONS[0], 10, kinds=("passage",))]
    kb = load_knowledge_base()
    shown = kb.passages[passages[0]].text_simplified.strip()
    assert f'data-text="{shown}"' in page.text, "a passage's exact text, as the answer would hold it"
    assert 'href="/staff/log/alice-0001"' in page.text
    assert 'name="other_entry_id"' in page.text and page.text.count("<option value=\"") >= len(kb.entries)
    assert TEXTS["annotate"]["viewer_notice"] not in page.text


def test_without_questions_the_page_asks_for_them(editor: TestClient) -> None:
    page = editor.get("/staff/annotate")
    assert page.status_code == 200 and TEXTS["annotate"]["no_questions"] in page.text
    assert 'action="/staff/annotate/attach"' not in page.text
    loaded = editor.get("/staff/annotate", params={"questions": "第一个问题\n\n 第二个问题 "})
    assert 'name="question" value="第一个问题"' in loaded.text and 'name="question" value="第二个问题"' in loaded.text


# ------------------------------------------------------------------ attach


def test_attached_questions_are_written_audited_and_resolved(editor: TestClient, workspace: Workspace) -> None:
    response = editor.post("/staff/annotate/attach", data=form(editor, attach_to="direct_mail_fee"))
    assert response.status_code == 200, response.text
    assert "data-saved" in response.text and "+      - 直邮的快递钱到底谁来掏" in response.text
    assert workspace.kb().entry("direct_mail_fee").paraphrases[-2:] == tuple(QUESTIONS)
    notes = yaml.safe_load(workspace.changelog.read_text(encoding="utf-8"))["changes"]
    assert [(n["who"], n["kind"]) for n in notes] == [("李编辑 (editor)", "paraphrases")]
    cases = yaml.safe_load(workspace.cases.read_text(encoding="utf-8"))["cases"]
    assert [(c["turns"], c["expect"]) for c in cases] == [([q], "direct_mail_fee") for q in QUESTIONS]
    rows = workspace.audit()
    assert [(r.who, r.action, r.target) for r in rows] == [
        ("李编辑 (editor)", "paraphrases", "direct_mail_fee"),
        ("李编辑 (editor)", "inbox_status", "; ".join(QUESTIONS))]
    assert QUESTIONS[0] not in rows[0].before and QUESTIONS[0] in rows[0].after
    assert rows[1].before == "\n".join(f"{q}: pending" for q in QUESTIONS) and rows[1].after == "resolved"
    assert statuses(workspace) == {q: "resolved" for q in QUESTIONS}


def test_an_entry_chosen_from_the_list_wins_over_the_ranked_one(editor: TestClient, workspace: Workspace) -> None:
    response = editor.post("/staff/annotate/attach",
                           data=form(editor, attach_to="direct_mail_fee", other_entry_id="gz_paper_mail_fee"))
    assert response.status_code == 200, response.text
    assert workspace.kb().entry("gz_paper_mail_fee").paraphrases[-2:] == tuple(QUESTIONS)
    assert QUESTIONS[0] not in workspace.kb().entry("direct_mail_fee").paraphrases


def test_a_refused_attach_shows_why_and_changes_nothing(editor: TestClient, workspace: Workspace) -> None:
    taken = workspace.kb().entry("gz_paper_mail_fee").paraphrases[0]
    before = workspace.files()
    response = editor.post("/staff/annotate/attach",
                           data={**form(editor, attach_to="direct_mail_fee"), "question": [taken]})
    assert response.status_code == 422
    assert "data-refused" in response.text and f"问法“{taken}”已经属于答案" in response.text
    assert workspace.files() == before and workspace.audit() == []
    assert ConsoleStore(workspace.url).question_statuses() == {}


# ------------------------------------------------------------------ a new entry


PARAPHRASES = ["直邮证书用什么快递", "直邮走的是EMS吗", "直邮是顺丰还是邮政", "证书直邮的快递公司",
               "直邮用哪个快递寄", "直邮证书哪家快递", "直邮快递是哪家的"]


def new_entry_form(client: TestClient, paraphrases: list[str], **fields: Any) -> dict[str, Any]:
    return form(client, topic="ask_direct_mail", entry_id="direct_mail_courier", region="广东省",
                canonical_question="证书直邮用什么快递？", paraphrases="\n".join(paraphrases),
                passage=["gz-mail-faq-2024/p02", "gz-mail-faq-2025/p03"], **fields)


def test_a_new_entry_is_made_of_the_ticked_passages_only(editor: TestClient, workspace: Workspace) -> None:
    response = editor.post("/staff/annotate/new-entry", data=new_entry_form(editor, [*QUESTIONS, *PARAPHRASES]))
    assert response.status_code == 200, response.text
    entry = workspace.kb().entry("direct_mail_courier")
    kb = load_knowledge_base()
    assert entry.citations == ("gz-mail-faq-2025/p03", "gz-mail-faq-2024/p02")
    assert entry.answer == "\n".join(kb.passages[p].text_simplified.strip() for p in entry.citations)
    assert entry.paraphrases[:2] == tuple(QUESTIONS)
    assert [r.action for r in workspace.audit()] == ["new_entry", "inbox_status"]
    assert statuses(workspace) == {q: "resolved" for q in QUESTIONS}


def test_a_refused_new_entry_keeps_the_form_as_it_was(editor: TestClient, workspace: Workspace) -> None:
    before = workspace.files()
    response = editor.post("/staff/annotate/new-entry", data=new_entry_form(editor, PARAPHRASES[:2]))
    assert response.status_code == 422
    assert "至少要有 8 个问法" in response.text
    assert 'value="direct_mail_courier"' in response.text, "what staff typed is still there"
    ticked = re.findall(r'name="passage" value="([^"]+)" form="new-entry-form" checked', response.text)
    assert set(ticked) == {"gz-mail-faq-2024/p02", "gz-mail-faq-2025/p03"}
    assert workspace.files() == before and workspace.audit() == []
    nothing = editor.post("/staff/annotate/new-entry",
                          data={**new_entry_form(editor, [*QUESTIONS, *PARAPHRASES]), "passage": []})
    assert nothing.status_code == 422 and editing.refusal("choose_passage") in nothing.text


def test_searching_the_documents_keeps_the_draft(editor: TestClient) -> None:
    page = editor.post("/staff/annotate", data=new_entry_form(editor, PARAPHRASES, passage_q="电子证书怎么下载"))
    assert page.status_code == 200
    assert 'value="direct_mail_courier"' in page.text and PARAPHRASES[-1] in page.text
    ticked = re.findall(r'name="passage" value="([^"]+)" form="new-entry-form" checked', page.text)
    assert set(ticked) == {"gz-mail-faq-2024/p02", "gz-mail-faq-2025/p03"}, "ticked passages stay"
    assert re.search(r'name="passage" value="cpta-ecert-download-2022/p\d+"', page.text), "ranked for the new words"


# ------------------------------------------------------------------ out of scope


def test_out_of_scope_questions_are_ignored_in_the_inbox(editor: TestClient, workspace: Workspace) -> None:
    response = editor.post("/staff/annotate/out-of-scope", data=form(editor))
    assert response.status_code == 200, response.text
    assert datafiles.question_groups(workspace.out_of_scope)["from_the_inbox"] == QUESTIONS
    assert statuses(workspace) == {q: "ignored" for q in QUESTIONS}
    assert [(r.action, r.after) for r in workspace.audit()][1] == ("inbox_status", "ignored")


# ------------------------------------------------------------------ who may change


def test_a_viewer_sees_the_page_but_cannot_change_anything(viewer: TestClient, workspace: Workspace) -> None:
    page = viewer.get("/staff/annotate", params={"question": QUESTIONS})
    assert page.status_code == 200 and TEXTS["annotate"]["viewer_notice"] in page.text
    assert page.text.count("disabled>") >= 3
    before = workspace.files()
    for path, extra in [("/staff/annotate/attach", {"attach_to": "direct_mail_fee"}),
                        ("/staff/annotate/new-entry", {}), ("/staff/annotate/out-of-scope", {})]:
        response = viewer.post(path, data={"csrf_token": csrf(viewer), "question": QUESTIONS, **extra})
        assert response.status_code == 403, path
    assert workspace.files() == before and workspace.audit() == []


def test_a_change_without_the_csrf_token_is_refused(editor: TestClient, workspace: Workspace) -> None:
    before = workspace.files()
    response = editor.post("/staff/annotate/attach", data={"question": QUESTIONS, "attach_to": "direct_mail_fee"})
    assert response.status_code == 403
    assert workspace.files() == before


def test_no_change_is_saved_when_it_cannot_be_audited(editor: TestClient, workspace: Workspace) -> None:
    workspace.tracker_db.unlink()
    before = workspace.files()
    response = editor.post("/staff/annotate/attach", data=form(editor, attach_to="direct_mail_fee"))
    assert response.status_code == 503 and "操作日志暂时无法写入" in response.text
    assert workspace.files() == before
