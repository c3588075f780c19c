"""The audit log page: every staff change (annotate, saved cases, inbox statuses,
publishes) with who, when, what, before and after, newest first and paged; readable by
viewers, escaped, and honest when the database is missing."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.web.storage.store import AuditEntry, ConsoleStore
from bot.web.console.audit import PAGE_SIZE
from tests.test_web_annotate import (QUESTIONS, Workspace, csrf, editor, engine, form, viewer,  # noqa: F401
                                     workspace)

TEXTS = ui_texts()["audit"]


def shown(page: str) -> list[tuple[str, str]]:
    """(action, id) of every row, in page order."""
    return [(action, n) for action, n in re.findall(r'<tr data-action="([a-z_]+)" data-audit-id="(\d+)">', page)]


def test_changes_made_in_the_console_are_listed_newest_first(editor: TestClient, workspace: Workspace) -> None:
    assert editor.post("/staff/annotate/attach", data=form(editor, attach_to="direct_mail_fee")).status_code == 200
    ConsoleStore(workspace.url).record("发布任务", [AuditEntry("publish", "abc123", "{}", "refused\n<b>1 case</b>")])
    page = editor.get("/staff/audit")
    assert page.status_code == 200
    assert [action for action, _ in shown(page.text)] == ["publish", "inbox_status", "paraphrases"]
    labels = TEXTS["actions"]
    for action in ("publish", "inbox_status", "paraphrases"):
        assert f"<td>{labels[action]}</td>" in page.text
    assert "李编辑 (editor)" in page.text and "direct_mail_fee" in page.text
    assert QUESTIONS[0] in page.text, "the change itself, after"
    assert "&lt;b&gt;1 case&lt;/b&gt;" in page.text and "<b>1 case</b>" not in page.text
    assert TEXTS["total"].format(total=3, page=1, pages=1) in page.text


def test_the_log_is_paged(viewer: TestClient, workspace: Workspace) -> None:
    for n in range(2 * PAGE_SIZE + 7):
        ConsoleStore(workspace.url).record("王", [AuditEntry("cases", f"row-{n}", None, f"after {n}")], when=1_800_000_000 + n)
    first = viewer.get("/staff/audit")
    assert first.status_code == 200, "viewers read the log"
    assert len(shown(first.text)) == PAGE_SIZE and ">row-106<" in first.text and ">row-56<" not in first.text
    assert 'href="/staff/audit?page=2"' in first.text and 'rel="prev"' not in first.text
    last = viewer.get("/staff/audit", params={"page": "3"})
    assert len(shown(last.text)) == 7 and ">row-0<" in last.text and 'rel="next"' not in last.text
    assert 'href="/staff/audit?page=2"' in last.text
    beyond = viewer.get("/staff/audit", params={"page": "99"})
    assert shown(beyond.text) == shown(last.text), "past the end: the last page"
    assert len(shown(viewer.get("/staff/audit", params={"page": "x"}).text)) == PAGE_SIZE


def test_an_empty_log_and_a_missing_database(editor: TestClient, workspace: Workspace) -> None:
    assert TEXTS["empty"] in editor.get("/staff/audit").text
    workspace.tracker_db.unlink()
    page = editor.get("/staff/audit")
    assert page.status_code == 200 and "无法读取操作日志" in page.text


def test_the_log_needs_a_login(workspace: Workspace) -> None:
    from starlette.testclient import TestClient as Client

    from bot.web.app import create_app
    from tests.test_web_staff_auth import make_settings

    with Client(create_app(make_settings(workspace.tracker_db)), follow_redirects=False) as anonymous:
        assert anonymous.get("/staff/audit").status_code == 303
