"""The console's import, comparison, holidays and undo pages through Starlette's test
client, on a knowledge base as it was before the 2025 edition (tests/test_editions.py):
a saved web page and a PDF made here from the 2025 page's text are previewed, saved,
compared with the 2024 edition, and the affected entries updated; bad uploads are refused
in Chinese with nothing saved; viewers only read; every change is audited."""

from __future__ import annotations

import time

import html
import io
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from bot import datafiles
from bot.knowledge import editing
from bot.knowledge.cleaning import remove_inline_pinyin
from bot.web.storage import tables as database
from bot.web.app import create_app
from tests.test_editions import END, NEW, OLD, PAGE, PROVENANCE, START, KnowledgeBefore2025
from tests.test_web_staff_auth import PASSWORD, make_settings

CONSOLE = datafiles.edition_texts()["console"]
ERRORS = datafiles.edition_texts()["import_errors"]
VIEWER_PASSWORD = "viewer-only-password"


def article_lines() -> list[str]:
    """The 2025 page's article, as a reader sees it on the site (pinyin kept: the cleaner's job)."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if remove_inline_pinyin(line).startswith(START))
    last = next(i for i, line in enumerate(lines) if remove_inline_pinyin(line).startswith(END))
    return [line for line in lines[first:last] if line.strip()]


def saved_page() -> bytes:
    """The article as a browser saves the page: the site's menus, header and footer around it."""
    nav = "".join(f'<li><a href="/c{n}">{name}</a></li>' for n, name in enumerate(
        ["首页", "考试报名", "成绩查询", "证书领取", "免费题库", "直播课堂", "学员中心"]))
    body = "".join(f"<p>{html.escape(line)}</p>" for line in article_lines())
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(PROVENANCE.title)}</title>'
            f'<script>var tracker = 1;</script></head><body><header><nav><ul>{nav}</ul></nav></header>'
            f'<div class="main"><article><h1>{html.escape(PROVENANCE.title)}</h1>{body}</article></div>'
            f'<aside><h3>最新资讯</h3><ul><li><a href="/n1">2025年重庆社工证书领取时间</a></li></ul></aside>'
            f"<footer>版权所有 © 建设工程教育网 京ICP备00000000号</footer></body></html>").encode("utf-8")


def pdf_of(lines: list[str], chars_per_line: int = 38) -> bytes:
    """A PDF of the lines (wrapped as a PDF wraps them), in the built-in Chinese CID font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    y = 800
    for line in (remove_inline_pinyin(line) for line in lines):
        for start in range(0, len(line), chars_per_line):
            if y < 50:
                pdf.showPage()
                y = 800
            pdf.setFont("STSong-Light", 10)
            pdf.drawString(40, y, line[start:start + chars_per_line])
            y -= 14
    pdf.save()
    return out.getvalue()


@pytest.fixture()
def before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KnowledgeBefore2025:
    kb = KnowledgeBefore2025(tmp_path / "kb", monkeypatch)
    monkeypatch.setattr(editing, "STAFF_CASES", kb.regression / "staff.yml")
    monkeypatch.setattr(editing, "CHANGELOG", kb.changelog)
    monkeypatch.setenv("BOT_HOLIDAYS", str(tmp_path / "holidays.yml"))
    sqlite3.connect(tmp_path / "tracker.db").close()
    return kb


def client_for(tmp: Path, password: str) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp / "tracker.db", staff_viewer_password=VIEWER_PASSWORD))
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/staff/login", data={"password": password, "name": "李编辑"}).status_code == 303
        yield client


@pytest.fixture()
def editor(before: KnowledgeBefore2025) -> Iterator[TestClient]:
    yield from client_for(before.sources.parent.parent, PASSWORD)


@pytest.fixture()
def viewer(before: KnowledgeBefore2025) -> Iterator[TestClient]:
    yield from client_for(before.sources.parent.parent, VIEWER_PASSWORD)


def csrf(client: TestClient, path: str = "/staff/import") -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match
    return match.group(1)


def audit(before: KnowledgeBefore2025) -> list[Any]:
    url = f"sqlite:///{before.sources.parent.parent / 'tracker.db'}"
    with database.own_tables(url).connect() as connection:
        return connection.execute(sa.select(database.audit_log).order_by(database.audit_log.c.id)).all()


def provenance_fields(**more: str) -> dict[str, str]:
    return {"id": NEW, "title": PROVENANCE.title, "issuer": PROVENANCE.issuer, "region": PROVENANCE.region,
            "published": "2025-08-06", "edition": "2025版", "source_url": "", "supersedes": "auto", **more}


def upload(client: TestClient, name: str, data: bytes, **more: str):
    return client.post("/staff/import", data={"csrf_token": csrf(client), **provenance_fields(**more)},
                       files={"file": (name, data)})


def hidden_form(page: str, form_id: str) -> dict[str, str]:
    form = page[page.index(f'id="{form_id}"'):]
    form = form[:form.index("</form>")]
    fields = {m[0]: html.unescape(m[1]) for m in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
    raw = re.search(r'<textarea name="raw" hidden>(.*?)</textarea>', form, re.S)
    if raw:
        fields["raw"] = html.unescape(raw.group(1))
    return fields


def test_a_saved_web_page_is_previewed_saved_compared_and_its_answers_updated(editor, before) -> None:
    preview = upload(editor, "2025版问答.html", saved_page())
    assert preview.status_code == 200, preview.text[:2000]
    assert f'data-old="{OLD}"' in preview.text and "0591-87571350" in preview.text
    assert 'data-passage="gz-mail-faq-2025/p12"' in preview.text and "京ICP备" not in preview.text
    assert not (before.sources / f"{NEW}.yml").exists(), "a preview saves nothing"

    saved = editor.post("/staff/import/save", data=hidden_form(preview.text, "save-form"))
    assert saved.status_code == 303 and saved.headers["location"] == f"/staff/editions/{NEW}?old={OLD}"
    assert (before.sources / f"{NEW}.yml").exists()
    page = editor.get(saved.headers["location"]).text
    assert 'data-entry="ems_hotline"' in page and "<del>83611183</del>" in page and "<ins>87571350</ins>" in page
    assert "每月20日前审核邮寄申请" in page

    form = page[page.index('data-entry="ems_hotline"'):]
    answer = html.unescape(re.search(r'<textarea name="answer" rows="5">(.*?)</textarea>', form, re.S).group(1))
    citations = html.unescape(re.search(r'name="citations" value="([^"]*)"', form).group(1))
    assert "2025版起，0591-83611183改为0591-87571350" in answer and citations.startswith(f"{NEW}/p08")
    done = editor.post(f"/staff/editions/{NEW}/decide", data={
        "csrf_token": csrf(editor), "entry_id": "ems_hotline", "decision": "update", "answer": answer,
        "citations": citations, "old": OLD})
    assert done.status_code == 200 and "data-saved" in done.text
    entry = before.kb().entry("ems_hotline")
    assert "0591-87571350" in entry.answer and entry.citations[0] == f"{NEW}/p08"
    assert 'data-entry="ems_hotline"' not in done.text, "an updated entry no longer rests on the old passage"
    kept = editor.post(f"/staff/editions/{NEW}/decide", data={
        "csrf_token": csrf(editor), "entry_id": "direct_mail_returned", "decision": "keep", "reason": "", "old": OLD})
    assert kept.status_code == 422 and "理由" in kept.text
    assert [r.action for r in audit(before)] == ["source", "update_entry"]


def test_a_pdf_made_from_the_page_imports_the_same_passages(editor, before) -> None:
    preview = upload(editor, "问答2025.pdf", pdf_of(article_lines()), start=START, end="")
    assert preview.status_code == 200, re.findall(r"<li>(.*?)</li>", preview.text)[:5]
    headings = re.findall(r'data-passage="(gz-mail-faq-2025/p\d+)"', preview.text)
    assert len(headings) == 12
    assert "<td>" in preview.text and 'data-fact-kind="phone"' in preview.text


@pytest.mark.parametrize("name, data, key", [
    ("大文件.pdf", b"%PDF-1.4\n" + b"0" * (50 * 1024 * 1024), "too_large"),
    ("假的.pdf", bytes(range(256)) * 40, "not_pdf"),
    ("gbk.txt", "广东省证书直邮常见问答，全科成绩合格考生请于公示之日起十二个工作日内申请。".encode("gbk") * 3, "gbk"),
    ("空白.html", b"<html><body></body></html>", "no_passages"),
    ("导航.html", ("<html><body><nav><a href='/'>首页</a><a href='/a'>考试报名</a><a href='/b'>成绩查询</a></nav>"
                 "<footer>版权所有</footer></body></html>").encode("utf-8"), "no_passages"),
])
def test_bad_uploads_are_refused_in_chinese_and_nothing_is_saved(editor, before, name, data, key) -> None:
    files = sorted(p.name for p in before.sources.iterdir())
    response = upload(editor, name, data)
    assert response.status_code == 422 and "data-refused" in response.text
    expected = max(re.split(r"\{[^}]*\}", ERRORS[key]), key=len)   # the message's own words
    assert expected in html.unescape(response.text), expected
    assert sorted(p.name for p in before.sources.iterdir()) == files and audit(before) == []


def test_a_viewer_reads_but_cannot_import(viewer, before) -> None:
    assert viewer.get("/staff/import").status_code == 200
    response = viewer.post("/staff/import", data={"csrf_token": csrf(viewer), **provenance_fields(), "text": "x"})
    assert response.status_code == 403
    assert viewer.post("/staff/holidays", data={"csrf_token": csrf(viewer), "year": "2027"}).status_code == 403


def test_next_year_s_holidays_are_entered_and_checked(editor, before) -> None:
    fields = {"csrf_token": csrf(editor, "/staff/holidays"), "year": "2027",
              "notice": "国务院办公厅关于2027年部分节假日安排的通知（测试用）",
              "holidays": "2027-01-01 至 2027-01-03 元旦\n2027-02-06 至 2027-02-13 春节", "makeup": "2027-02-13 春节"}
    refused = editor.post("/staff/holidays", data=fields)
    assert refused.status_code == 422 and "既是放假日又是调休上班日" in refused.text
    assert not datafiles.paths().holidays.exists()
    saved = editor.post("/staff/holidays", data={**fields, "makeup": "2027-02-20 春节"})
    assert saved.status_code == 200 and 'data-year="2027"' in saved.text
    assert [r.action for r in audit(before)] == ["holidays"]


def test_undo_with_nothing_published_says_so(editor, before, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ASSISTANT_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("ASSISTANT_LOG_DIR", str(tmp_path / "log"))
    response = editor.post("/staff/publish/undo", data={"csrf_token": csrf(editor, "/staff/publish")})
    assert response.status_code == 303
    deadline = time.monotonic() + 30  # the job's outcome is audited when it ends
    while not audit(before) and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = audit(before)
    assert [r.action for r in rows] == ["publish_undo"] and rows[0].after.startswith("failed")


def docx_of(lines: list[str]) -> bytes:
    from docx import Document

    document = Document()
    for line in lines:
        document.add_paragraph(remove_inline_pinyin(line))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_file_made_from_the_page_imports_the_same_passages(editor, before) -> None:
    preview = upload(editor, "问答2025.docx", docx_of(article_lines()))
    assert preview.status_code == 200, re.findall(r"<li>(.*?)</li>", preview.text)[:5]
    assert len(re.findall(r'data-passage="gz-mail-faq-2025/p\d+"', preview.text)) == 12
