"""A new edition brought in as staff would: the 2025 Guangdong mailing FAQ (its page as
scraped, tests/data/editions/) imported against a knowledge base that has only the 2024
edition, compared with it, the entries resting on changed passages updated, and the
index rebuilt: the landline question is then answered with the 2025 number and citation."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT, datafiles
from bot.knowledge import editing, editions, importing
from bot.knowledge.cases import REGRESSION_DIR
from bot.knowledge.corpus import load_documents
from bot.knowledge.edition_updates import (proposed_answer, proposed_citations, retire_entry,
                                           save_document, keep_entry, update_entry)
from bot.knowledge.editing import ChangeRefused
from bot.knowledge.entries import load_knowledge_base
from bot.lang.text import to_simplified

PAGE = PROJECT_ROOT / "tests" / "data" / "editions" / "gz-mail-faq-2025-page.txt"
NEW, OLD = "gz-mail-faq-2025", "gz-mail-faq-2024"
PROVENANCE = importing.Provenance(
    id=NEW, title="专业技术人员职业资格考试证书邮寄常见问答（2025版）", issuer="广州市人力资源和社会保障局",
    region="广东省（第二部分仅适用于广州考区）", published=date(2025, 8, 6), edition="2025版",
    supersedes=OLD)
# Where staff tell the importer the article starts and ends on the scraped page.
START, END = "廣州市人社局8月6日發布了", "提示:2026年社會工作者考試"


class KnowledgeBefore2025:
    """The knowledge base as it was before the 2025 edition: its source file gone, its
    citations taken out, an answer that spoke of it answered with its 2024 passage."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.sources, self.entries = root / "sources", root / "entries"
        shutil.copytree(datafiles.paths().sources_dir, self.sources)
        (self.sources / f"{NEW}.yml").unlink()
        self.entries.mkdir()
        documents = load_documents(self.sources)
        passages = {p.id: p for d in documents.values() for p in d.passages}
        for path in datafiles.paths().entries_dir.glob("*.yml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            for entry in data["entries"]:
                entry["citations"] = [c for c in entry["citations"] if not c.startswith(NEW + "/")]
                if "2025" in entry["answer"] and entry["citations"]:
                    entry["answer"] = passages[entry["citations"][0]].text_simplified + "\n"
            (self.entries / path.name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        self.regression = root / "regression"
        shutil.copytree(REGRESSION_DIR, self.regression)
        self.changelog = root / "staff_changes.yml"
        monkeypatch.setenv("BOT_SOURCES_DIR", str(self.sources))
        monkeypatch.setenv("BOT_ENTRIES_DIR", str(self.entries))

    def apply(self, change: editing.Change) -> None:
        editing.apply(change, "王小明 (editor)", changelog=self.changelog,
                      cases_file=self.regression / "staff.yml")

    def kb(self):
        return load_knowledge_base(self.entries, self.sources)


@pytest.fixture()
def before(tmp_path, monkeypatch) -> KnowledgeBefore2025:
    return KnowledgeBefore2025(tmp_path, monkeypatch)


def imported(before: KnowledgeBefore2025) -> dict:
    return importing.prepare(PAGE.read_text(encoding="utf-8"), PROVENANCE, "text", PAGE.name,
                             START, END, documents=load_documents(before.sources))


def diff_of(document: dict, before: KnowledgeBefore2025) -> editions.EditionDiff:
    return editions.compare(load_documents(before.sources)[OLD], importing.as_document(document))


def test_the_scraped_page_cleans_as_make_import_cleaned_it(before):
    document = imported(before)
    assert document["script"] == "traditional"
    kept = yaml.safe_load((datafiles.FAQ_DIR / "sources" / f"{NEW}.yml").read_text(encoding="utf-8"))
    assert [(p["heading"], p["text"]) for p in document["passages"]] == \
        [(p["heading"], p["text"]) for p in kept["passages"]]
    text = "".join(p["text"] for p in document["passages"])
    assert "(fā)" not in text and "免費下載" not in text and "最新資訊" not in text


def test_the_diff_finds_what_a_reader_finds(before):
    diff = diff_of(imported(before), before)
    by_old = {c.old.id: c for c in diff.passages if c.old}
    # the landline of the direct-mail hotline
    hotline = by_old[f"{OLD}/p07"]
    assert hotline.kind == "changed" and hotline.new.id == f"{NEW}/p08"
    assert editions.FactChange("phone", "0591-83611183", "0591-87571350", f"{OLD}/p07", f"{NEW}/p08") \
        in diff.facts
    assert any(s.op == "delete" and "83611183" in s.text for s in hotline.segments)
    # Guangzhou's rule for mailing applications after the notice's deadline is dropped
    timing = by_old[f"{OLD}/p09"]
    assert timing.kind == "changed" and timing.new.id == f"{NEW}/p10"
    dropped = "".join(s.text for s in timing.segments if s.op == "delete")
    assert "每月20日前审核邮寄申请" in dropped and "下一个月的最后一周" in dropped
    assert any(f.kind == "date" and f.old == "每月20日前" and f.new is None for f in timing.facts)
    # the application window is worded anew (the 12 working days stay)
    window = by_old[f"{OLD}/p04"]
    assert window.kind == "changed" and window.new.id == f"{NEW}/p05"
    assert any(s.op == "insert" and "考试成绩公布后" in s.text for s in window.segments)
    assert not [f for f in window.facts if f.kind == "days"]
    # the 2025 edition's own introduction is new; the fee passage reads the same
    assert [c.new.id for c in diff.of_kind("new")] == [f"{NEW}/p01"]
    assert by_old[f"{OLD}/p10"].kind == "unchanged"
    assert not diff.of_kind("removed")


def test_entries_resting_on_changed_passages_are_listed(before):
    diff = diff_of(imported(before), before)
    affected = {a.entry.id: a for a in editions.affected_entries(diff, before.kb().entries)}
    for entry_id in ("ems_hotline", "direct_mail_exceptions", "gz_paper_dispatch_timing"):
        assert entry_id in affected, entry_id
    assert {f.old for f in affected["ems_hotline"].facts} == {"0591-83611183"}
    untouched = [e for e in before.kb().entries if e.id not in affected]
    touched_ids = set(diff.touched())
    assert all(not touched_ids & set(e.citations) for e in untouched)
    assert all(a.changes for a in affected.values())


def test_the_proposed_update_says_what_changed(before):
    diff = diff_of(imported(before), before)
    hotline = next(a for a in editions.affected_entries(diff, before.kb().entries) if a.entry.id == "ems_hotline")
    answer = proposed_answer(hotline, diff)
    assert "0591-87571350" in answer
    assert "2025版起，0591-83611183改为0591-87571350" in answer
    # its answer quoted the 2024 passage whole: it quotes the 2025 one, without the dropped links
    assert "相关链接" not in answer and diff.new.passages[7].text_simplified in answer
    assert proposed_citations(hotline, diff)[0] == f"{NEW}/p08"


def test_accepting_the_updates_serves_the_2025_landline(before, tmp_path):
    document = imported(before)
    before.apply(save_document(document, before.sources, before.entries))
    diff = diff_of(document, before)
    for affected in editions.affected_entries(diff, before.kb().entries):
        before.apply(update_entry(affected.entry.id, proposed_answer(affected, diff),
                                  proposed_citations(affected, diff), before.entries))
    kb = before.kb()
    assert kb.entry("ems_hotline").citations[0] == f"{NEW}/p08"
    from bot.retrieval.engine import load_engine
    from bot.retrieval.index import build_index
    build_index(out_dir=tmp_path / "index", entries_dir=before.entries, sources_dir=before.sources)
    decision = load_engine(index_dir=tmp_path / "index").answer("直邮出问题打邮政哪个客服电话？")
    assert decision.kind == "answer" and decision.best.id == "ems_hotline"
    assert "0591-87571350" in decision.best.answer
    assert decision.best.citations[0].document_id == NEW
    assert "changes:" in before.changelog.read_text(encoding="utf-8")


def test_keep_needs_a_reason_and_retire_takes_the_entry_out(before):
    with pytest.raises(ChangeRefused, match="理由"):
        keep_entry("ems_hotline", "  ", before.entries)
    before.apply(keep_entry("ems_hotline", "号码两版都能打通", before.entries))
    assert "号码两版都能打通" in before.changelog.read_text(encoding="utf-8")
    with pytest.raises(ChangeRefused) as refused:  # regression cases still expect it
        before.apply(retire_entry("ems_hotline", before.entries))
    assert any("回归用例要求的答案“ems_hotline”不存在" in p for p in refused.value.problems)
    for path in before.regression.glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("expect: ems_hotline", "expect: direct_mail_exceptions"), "utf-8")
    before.apply(retire_entry("ems_hotline", before.entries))
    kb = before.kb()
    assert "ems_hotline" not in kb.by_id and "ems_hotline" not in kb.entry("direct_mail_exceptions").related


def test_a_saved_document_id_cannot_be_taken_twice(before):
    document = imported(before)
    before.apply(save_document(document, before.sources, before.entries))
    with pytest.raises(importing.ImportRefused, match="已经有了"):
        imported(before)


def test_the_importer_proposes_the_edition_it_replaces(before):
    documents = load_documents(before.sources)
    assert importing.propose_superseded(PROVENANCE.title, PROVENANCE.issuer, PROVENANCE.region,
                                        documents) == OLD
    assert importing.propose_superseded("关于电子证书的通知", "某省", "某省", documents) is None


@pytest.mark.parametrize("name, data, key", [
    ("huge.pdf", b"%PDF-1.4\n" + b"0" * (importing.MAX_UPLOAD_BYTES + 1), "too_large"),
    ("fake.pdf", bytes(range(256)) * 40, "not_pdf"),
    ("page.txt", to_simplified("广东省证书直邮的常见问答，持证人请在公示之日起十二个工作日内申请。" * 3).encode("gbk"), "gbk"),
    ("blank.html", b"<html><body>   </body></html>", "empty_or_no_passages"),
    ("nav.html", ("<html><body><nav><a href='/'>首页</a><a href='/a'>考试报名</a>"
                  "<a href='/b'>成绩查询</a><a href='/c'>证书领取</a></nav>"
                  "<footer>版权所有 广东省人事考试局</footer></body></html>").encode("utf-8"),
     "empty_or_no_passages"),
    ("notes.doc", b"\xd0\xcf\x11\xe0", "unknown_kind"),
    ("broken.docx", b"PK\x03\x04 not a zip", "not_docx"),
    ("empty.txt", b"", "empty"),
])
def test_bad_uploads_get_a_chinese_message_and_nothing_is_saved(before, name, data, key):
    files_before = sorted(p.name for p in before.sources.iterdir())
    with pytest.raises(importing.ImportRefused) as refused:
        kind, text = importing.extract_text(data, name)
        importing.prepare(text, PROVENANCE, kind, name, documents=load_documents(before.sources))
    if key == "empty_or_no_passages":
        assert refused.value.key in ("empty", "no_passages", "too_little")
    else:
        assert refused.value.key == key
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)
    assert sorted(p.name for p in before.sources.iterdir()) == files_before


def test_provenance_is_checked(before):
    documents = load_documents(before.sources)
    text = PAGE.read_text(encoding="utf-8")
    for bad, key in ((PROVENANCE.__class__(**{**PROVENANCE.__dict__, "id": "Bad Id"}), "bad_id"),
                     (PROVENANCE.__class__(**{**PROVENANCE.__dict__, "title": " "}), "missing_field"),
                     (PROVENANCE.__class__(**{**PROVENANCE.__dict__, "supersedes": "nope"}), "unknown_supersedes")):
        with pytest.raises(importing.ImportRefused) as refused:
            importing.prepare(text, bad, documents=documents)
        assert refused.value.key == key
    with pytest.raises(importing.ImportRefused) as refused:
        importing.prepare(text, PROVENANCE, start="不存在的一行", documents=documents)
    assert refused.value.key == "start_not_found"
    assert importing.parse_date("2025年8月6日") == date(2025, 8, 6)
    with pytest.raises(importing.ImportRefused):
        importing.parse_date("2025-02-30")
