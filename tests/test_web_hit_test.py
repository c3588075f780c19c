"""The batch hit test: pasted and uploaded questions (UTF-8, GBK, bad files, too many),
each one's decision as the real assistant makes it, the CSV download, and rows saved as
regression cases by an editor (audited; viewers refused). The engine is the real one
over ``models/index``; the decisions are compared with the real assistant's replies
through Rasa (the ``servers`` fixture)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.knowledge.cases import load_cases
from bot.web.console.hit_testing import MAX_ROWS
from tests.conftest import RunningServers
from tests.test_web_annotate import (Workspace, csrf, editor, engine, viewer,  # noqa: F401 - fixtures
                                     workspace)

TEXTS = ui_texts()["hit_test"]
FAQ = "什么是证书直邮？"
OFF_TOPIC = "今天中午食堂吃什么"
VAGUE = "证书"


def run(client: TestClient, questions: str = "", file: tuple[str, bytes] | None = None, **fields: Any):
    files = {"file": (file[0], file[1], "text/csv")} if file else None
    return client.post("/staff/hit-test", data={"csrf_token": csrf(client, "/staff/hit-test"), "questions": questions,
                                                **fields}, files=files)


def decisions(page: str) -> dict[int, str]:
    return {int(n): d for n, d in re.findall(r'<tr data-row="(\d+)" data-decision="([a-z_]+)">', page)}


def test_the_form_says_what_it_takes(editor: TestClient) -> None:
    page = editor.get("/staff/hit-test")
    assert page.status_code == 200 and 'type="file"' in page.text and 'enctype="multipart/form-data"' in page.text


@pytest.mark.servers
def test_each_question_is_decided_as_the_assistant_decides(editor: TestClient, servers: RunningServers) -> None:
    questions = [FAQ, OFF_TOPIC, "电子证书在哪里下载", "证书丢了怎么补办", "帮我写一首关于春天的诗"]
    page = run(editor, "\n".join(questions))
    assert page.status_code == 200, page.text
    shown = decisions(page.text)
    assert len(shown) == len(questions)
    with httpx.Client(timeout=120) as http:
        for n, question in enumerate(questions, start=1):
            replies = http.post(f"{servers.rasa_url}/webhooks/rest/webhook",
                                json={"sender": f"hit-test-{n}-{id(page)}", "message": question}).json()
            kind = [r["custom"]["kind"] for r in replies if r.get("custom")][-1]
            expected = {"faq_answer": "answered", "did_you_mean": "did_you_mean", "fallback": "fallback"}[kind]
            assert shown[n] == expected, f"{question}: the chat's {kind}, the hit test's {shown[n]}"
    assert shown[1] == "answered" and shown[2] == "fallback"
    summary = re.search(r"<p data-summary>(.*?)<button", page.text, re.S).group(1)
    assert f"共 {len(questions)} 个问题" in summary
    assert 'href="/staff/annotate?question=' in page.text, "an unanswered row links to the annotate page"


def test_the_results_download_as_csv(editor: TestClient) -> None:
    response = run(editor, f"{FAQ}\n=HYPERLINK(\"http://evil\")\n{OFF_TOPIC}", download="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == TEXTS["csv_headers"] and len(rows) == 4
    assert rows[1][1] == FAQ and rows[1][2] == TEXTS["decisions"]["answered"] and rows[1][4] == "direct_mail_what"
    assert rows[2][1].startswith("'="), "a formula is neutralised"
    assert rows[3][4] == "fallback" and float(rows[1][6]) > float(rows[3][6])


def test_an_uploaded_csv_in_utf8_or_gbk_with_a_header(editor: TestClient) -> None:
    text = "问题,备注\n什么是证书直邮？,来自电话\n\n电子证书在哪里下载,\n"
    for name, data in [("utf8.csv", text.encode("utf-8-sig")), ("gbk.csv", text.encode("gbk"))]:
        page = run(editor, file=(name, data))
        assert page.status_code == 200, (name, page.text[-500:])
        assert len(decisions(page.text)) == 2, name
        assert "什么是证书直邮？" in page.text and "来自电话" not in page.text


@pytest.mark.parametrize("data, message", [
    ("问题\n".encode("utf-16"), TEXTS["bad_encoding"]),
    (b"\x81\x30\xff\xff", TEXTS["bad_encoding"]),
    ('什么是直邮\n"没有结束的引号\n'.encode(), TEXTS["bad_csv"].split("（")[0]),
])
def test_a_file_that_cannot_be_read_says_so(editor: TestClient, data: bytes, message: str) -> None:
    page = run(editor, file=("bad.csv", data))
    assert page.status_code == 422 and message in page.text
    assert "data-summary" not in page.text


def test_too_many_or_no_questions(editor: TestClient) -> None:
    many = "\n".join(f"问题{n}" for n in range(MAX_ROWS + 1))
    page = run(editor, many)
    assert page.status_code == 422
    assert TEXTS["too_many"].format(limit=MAX_ROWS, count=MAX_ROWS + 1) in page.text
    assert "问题200" in page.text, "the pasted text stays for staff to split"
    assert run(editor, "\n \n").status_code == 422
    assert TEXTS["empty"] in run(editor, " ").text
    assert run(editor, "\n".join(f"问题{n}" for n in range(MAX_ROWS))).status_code == 200


def test_an_editor_saves_chosen_rows_as_regression_cases(editor: TestClient, workspace: Workspace) -> None:
    page = run(editor, f"{FAQ}\n{OFF_TOPIC}\n电子证书在哪里下载")
    form = {"csrf_token": csrf(editor, "/staff/hit-test"), "question": [FAQ, OFF_TOPIC, "电子证书在哪里下载"],
            "save": ["1", "2"], "expect_1": "direct_mail_what", "expect_2": "fallback", "expect_3": "x"}
    assert 'name="expect_1" value="direct_mail_what"' in page.text
    saved = editor.post("/staff/hit-test/cases", data=form)
    assert saved.status_code == 200, saved.text
    assert TEXTS["saved"].format(count=2) in saved.text and len(decisions(saved.text)) == 3
    cases = [c for c in load_cases(workspace.cases.parent) if c.file == "staff"]
    assert [(c.turns, c.expect) for c in cases] == [((FAQ,), "direct_mail_what"), ((OFF_TOPIC,), "fallback")]
    rows = workspace.audit()
    assert [(r.who, r.action) for r in rows] == [("李编辑 (editor)", "cases")]
    assert yaml.safe_load(rows[0].after) == [{"turns": [FAQ], "expect": "direct_mail_what"},
                                             {"turns": [OFF_TOPIC], "expect": "fallback"}]
    bad = editor.post("/staff/hit-test/cases", data={**form, "save": ["3"]})
    assert bad.status_code == 422 and "回归用例要求的答案“x”不存在" in bad.text
    assert len(workspace.audit()) == 1


def test_a_viewer_runs_the_test_but_saves_nothing(viewer: TestClient, workspace: Workspace) -> None:
    page = run(viewer, FAQ)
    assert page.status_code == 200 and decisions(page.text) == {1: "answered"}
    assert TEXTS["save_button"] not in page.text
    response = viewer.post("/staff/hit-test/cases", data={"csrf_token": csrf(viewer, "/staff/hit-test"),
                                                           "question": [FAQ], "save": ["1"], "expect_1": "fallback"})
    assert response.status_code == 403
    assert not workspace.cases.exists() and workspace.audit() == []
