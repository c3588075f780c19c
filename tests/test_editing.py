"""bot.knowledge.editing on a copy of the real knowledge base: each kind of change, its
validation (refused changes write nothing), the diff, the changelog and the regression
cases it adds, atomic writes and two editors at once."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from bot import datafiles
from bot.knowledge import editing
from bot.knowledge.cases import REGRESSION_DIR, known_procedures, load_cases
from bot.knowledge.editing import ChangeRefused
from bot.knowledge.entries import MIN_PARAPHRASES, load_knowledge_base

WHEN = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)


class Copy:
    """The entries, the out-of-scope questions and the regression cases, copied."""

    def __init__(self, root: Path):
        self.root = root
        self.entries = root / "entries"
        shutil.copytree(datafiles.paths().entries_dir, self.entries)
        self.out_of_scope = root / "out_of_scope.yml"
        shutil.copy2(datafiles.paths().out_of_scope, self.out_of_scope)
        self.regression = root / "regression"
        self.regression.mkdir()
        for path in REGRESSION_DIR.glob("*.yml"):
            shutil.copy2(path, self.regression / path.name)
        self.cases = self.regression / "staff.yml"
        self.changelog = root / "staff_changes.yml"

    def apply(self, change: editing.Change, who: str = "王小明 (editor)") -> None:
        editing.apply(change, who, WHEN, changelog=self.changelog, cases_file=self.cases)

    def kb(self):
        return load_knowledge_base(self.entries)

    def files(self) -> dict[str, str]:
        return {str(p.relative_to(self.root)): p.read_text(encoding="utf-8")
                for p in sorted(self.root.rglob("*")) if p.is_file()}


@pytest.fixture()
def copy(tmp_path: Path) -> Copy:
    return Copy(tmp_path)


def refused(copy: Copy, change: editing.Change) -> list[str]:
    """The problems of a change that must be refused, checking nothing was written."""
    before = copy.files()
    with pytest.raises(ChangeRefused) as raised:
        copy.apply(change)
    assert copy.files() == before, "a refused change writes nothing"
    return raised.value.problems


# ------------------------------------------------------------------ paraphrases


def test_attached_questions_become_paraphrases_cases_and_a_changelog_note(copy: Copy) -> None:
    entry = copy.kb().entry("direct_mail_fee")
    path = copy.entries / entry.source_file
    os.chmod(path, 0o640)
    change = editing.add_paraphrases("direct_mail_fee", ["  直邮的运费  要我自己出吗 ", "直邮多少钱"],
                                     copy.entries)
    added = [line for line in change.diff().splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in change.diff().splitlines() if line.startswith("-") and not line.startswith("---")]
    assert added == ["+      - 直邮的运费 要我自己出吗"] and removed == [], "only the new paraphrase"
    assert "直邮的运费 要我自己出吗" in change.excerpt_after and "直邮的运费" not in change.excerpt_before
    copy.apply(change)
    assert copy.kb().entry("direct_mail_fee").paraphrases[-1] == "直邮的运费 要我自己出吗"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640, "the file keeps its permissions"
    assert not list(copy.entries.glob(".*.tmp")), "no temp file left behind"
    note = yaml.safe_load(copy.changelog.read_text(encoding="utf-8"))["changes"][-1]
    assert note["who"] == "王小明 (editor)" and note["kind"] == "paraphrases"
    assert note["when"] == "2026-11-22T09:30:00+00:00" and "direct_mail_fee" in note["summary"]
    cases = [c for c in load_cases(copy.regression, {e.id for e in copy.kb().entries}, known_procedures())
             if c.file == "staff"]
    assert [(c.id, c.turns, c.expect) for c in cases] == [
        ("staff-20261122093000-1", ("直邮的运费 要我自己出吗",), "direct_mail_fee")]


def test_a_paraphrase_of_another_entry_is_refused(copy: Copy) -> None:
    other = copy.kb().entry("gz_paper_mail_fee").paraphrases[0]
    problems = refused(copy, editing.add_paraphrases("direct_mail_fee", [other], copy.entries))
    assert any("已经属于答案" in p and other in p for p in problems), problems


def test_nothing_new_to_attach_is_refused() -> None:
    with pytest.raises(ChangeRefused, match=editing.refusal("already_paraphrase")):
        editing.add_paraphrases("direct_mail_fee", ["直邮多少钱", " 直邮多少钱 "])
    with pytest.raises(ChangeRefused, match="没有编号为"):
        editing.add_paraphrases("no_such_entry", ["问题"])
    with pytest.raises(ChangeRefused, match=editing.refusal("no_question")):
        editing.add_paraphrases("direct_mail_fee", ["  ", ""])


# ------------------------------------------------------------------ a new entry


PARAPHRASES = ["证书直邮是哪家快递送", "直邮证书用什么快递", "直邮走的是EMS吗", "直邮是顺丰还是邮政",
               "证书直邮的快递公司", "直邮用哪个快递寄", "直邮证书哪家快递", "直邮快递是哪家的"]


def test_a_new_entry_is_answered_only_with_the_chosen_passages(copy: Copy) -> None:
    kb = copy.kb()
    chosen = ["gz-mail-faq-2024/p02", "gz-mail-faq-2025/p03"]
    change = editing.new_entry("ask_direct_mail", "direct_mail_courier", "广东省", "证书直邮用什么快递？",
                               PARAPHRASES, chosen, entries_dir=copy.entries)
    copy.apply(change)
    entry = copy.kb().entry("direct_mail_courier")
    # newest document first, and the answer is exactly those passages' text
    assert entry.citations == ("gz-mail-faq-2025/p03", "gz-mail-faq-2024/p02")
    assert entry.answer == "\n".join(kb.passages[p].text_simplified.strip() for p in entry.citations)
    assert entry.paraphrases == tuple(PARAPHRASES) and entry.topic == "ask_direct_mail"
    staff_cases = yaml.safe_load(copy.cases.read_text(encoding="utf-8"))["cases"]
    assert [c["turns"] for c in staff_cases] == [["证书直邮用什么快递？"], [PARAPHRASES[0]], [PARAPHRASES[1]]]
    assert {c["expect"] for c in staff_cases} == {"direct_mail_courier"}


def test_a_new_entry_with_problems_is_refused_with_every_problem(copy: Copy) -> None:
    with pytest.raises(ChangeRefused) as raised:
        editing.new_entry("ask_nothing", "Bad-Id", "广东省", " ", PARAPHRASES, ["no/such"], entries_dir=copy.entries)
    problems = raised.value.problems
    assert len(problems) == 4, problems
    assert problems[:3] == [editing.refusal("unknown_topic", topic="ask_nothing"),
                            editing.refusal("bad_entry_id"), editing.refusal("needs_question")]
    assert problems[3].startswith(editing.refusal("choose_passage")) and "no/such" in problems[3]
    few = editing.new_entry("ask_direct_mail", "direct_mail_courier", "广东省", "证书直邮用什么快递？",
                            PARAPHRASES[:3], ["gz-mail-faq-2025/p03"], entries_dir=copy.entries)
    assert any(f"至少要有 {MIN_PARAPHRASES} 个问法，现在只有 3 个" in p for p in refused(copy, few))
    taken = editing.new_entry("ask_direct_mail", "direct_mail_fee", "广东省", "证书直邮用什么快递？",
                              PARAPHRASES, ["gz-mail-faq-2025/p03"], entries_dir=copy.entries)
    assert any(p.startswith("direct_mail_fee：答案编号已经被别的答案用了") for p in refused(copy, taken))
    nowhere = editing.new_entry("ask_direct_mail", "direct_mail_courier", "火星", "证书直邮用什么快递？",
                                PARAPHRASES, ["gz-mail-faq-2025/p03"], entries_dir=copy.entries)
    assert any("适用地区“火星”不在地区列表里" in p for p in refused(copy, nowhere))


# ------------------------------------------------------------------ out of scope


def test_out_of_scope_questions_join_their_group(copy: Copy) -> None:
    change = editing.add_out_of_scope(["食堂几点开饭", "考试大纲在哪下载"], path=copy.out_of_scope,
                                      entries_dir=copy.entries)
    copy.apply(change)
    groups = datafiles.question_groups(copy.out_of_scope)
    assert groups["from_the_inbox"][-2:] == ["食堂几点开饭", "考试大纲在哪下载"]
    assert change.excerpt_before.strip() == "from_the_inbox: []"
    added = [line for line in change.diff().splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added == ["+  from_the_inbox:", "+    - 食堂几点开饭", "+    - 考试大纲在哪下载"]
    cases = yaml.safe_load(copy.cases.read_text(encoding="utf-8"))["cases"]
    assert [(c["turns"], c["expect"]) for c in cases] == [(["食堂几点开饭"], "fallback"), (["考试大纲在哪下载"], "fallback")]
    again = editing.add_out_of_scope(["再问一次天气"], path=copy.out_of_scope, entries_dir=copy.entries)
    copy.apply(again)
    assert datafiles.question_groups(copy.out_of_scope)["from_the_inbox"][-1] == "再问一次天气"
    ids = [c["id"] for c in yaml.safe_load(copy.cases.read_text(encoding="utf-8"))["cases"]]
    assert len(ids) == len(set(ids)) == 3


def test_a_question_an_entry_answers_is_not_out_of_scope(copy: Copy) -> None:
    question = copy.kb().entry("direct_mail_fee").paraphrases[0]
    change = editing.add_out_of_scope([question], path=copy.out_of_scope, entries_dir=copy.entries)
    assert refused(copy, change) == [editing.refusal("question_of_entry", question=question)]
    with pytest.raises(ChangeRefused, match=editing.refusal("already_out_of_scope")):
        editing.add_out_of_scope([datafiles.question_groups(copy.out_of_scope)["exam_matters"][0]],
                                 path=copy.out_of_scope)


# ------------------------------------------------------------------ regression cases


def test_saved_cases_are_checked_like_every_case_file(copy: Copy) -> None:
    bad = editing.regression_cases([{"turns": ["问"], "expect": "no_such_entry"}], "hit test",
                                   copy.cases, copy.entries)
    assert any("回归用例要求的答案“no_such_entry”不存在" in p for p in refused(copy, bad))
    good = editing.regression_cases([{"turns": ["证书直邮要钱吗"], "expect": "direct_mail_fee"},
                                     {"turns": ["食堂几点开饭"], "expect": "fallback"},
                                     {"turns": ["  "], "expect": "fallback"}], "hit test", copy.cases, copy.entries)
    copy.apply(good)
    copy.apply(editing.regression_cases([{"turns": ["证书直邮收费吗"], "expect": "direct_mail_fee"}], "hit test",
                                        copy.cases, copy.entries))
    staff = [c for c in load_cases(copy.regression) if c.file == "staff"]
    assert [(c.turns, c.expect) for c in staff] == [(("证书直邮要钱吗",), "direct_mail_fee"),
                                                   (("食堂几点开饭",), "fallback"),
                                                   (("证书直邮收费吗",), "direct_mail_fee")]
    assert len({c.id for c in staff}) == 3, "ids stay unique when the second is the same"
    with pytest.raises(ChangeRefused, match=editing.refusal("no_case")):
        editing.regression_cases([{"turns": [" "], "expect": "fallback"}], "x", copy.cases)


# ------------------------------------------------------------------ two editors


def test_a_change_built_before_another_was_written_is_refused_not_lost(copy: Copy) -> None:
    first = editing.add_paraphrases("direct_mail_fee", ["直邮的运费要我出吗"], copy.entries)
    second = editing.add_paraphrases("direct_mail_fee", ["直邮快递费谁承担"], copy.entries)
    copy.apply(first)
    with pytest.raises(ChangeRefused, match="被别人改过了"):
        copy.apply(second)
    assert "直邮的运费要我出吗" in copy.kb().entry("direct_mail_fee").paraphrases
    copy.apply(editing.add_paraphrases("direct_mail_fee", ["直邮快递费谁承担"], copy.entries))
    assert copy.kb().entry("direct_mail_fee").paraphrases[-2:] == ("直邮的运费要我出吗", "直邮快递费谁承担")


def test_editors_at_once_each_change_is_written_or_refused_whole(copy: Copy) -> None:
    questions = [f"直邮第{n}次问邮费多少" for n in range(8)]
    outcomes: list[str] = []

    def edit(question: str) -> None:
        try:
            copy.apply(editing.add_paraphrases("direct_mail_fee", [question], copy.entries))
            outcomes.append("written")
        except ChangeRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=edit, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [q for q in questions if q in copy.kb().entry("direct_mail_fee").paraphrases]
    assert len(written) == outcomes.count("written") >= 1
    notes = yaml.safe_load(copy.changelog.read_text(encoding="utf-8"))["changes"]
    assert len(notes) == len(written)
    cases = yaml.safe_load(copy.cases.read_text(encoding="utf-8"))["cases"]
    assert sorted(c["turns"][0] for c in cases) == sorted(written)
