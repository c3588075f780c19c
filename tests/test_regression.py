"""Regression cases (tests/regression/*.yml): one test per case against the real
assistant (the session `servers` fixture: action server, Rasa, SQLite tracker store),
checks of the case files themselves, and unit tests of the loader and checker.

A case marked ``known_failure`` is a strict xfail: it must still fail, and once it
passes the test fails until the marker is removed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.knowledge.cases import (Case, CaseFileError, case_yaml, expect_from_reply,
                                 known_entry_ids, known_procedures, load_case_file, load_cases,
                                 logged_case_id, pinned_today, received_label)
from bot.publish.gate import REQUEST_TIMEOUT_SECONDS, CaseResult, check_reply, run_case
from bot.quality.regression import results_json
from bot.rasa_client import RasaClient

try:
    CASES, LOAD_ERROR = load_cases(), None
except CaseFileError as error:
    CASES, LOAD_ERROR = [], error


def _param(case: Case):
    marks = [pytest.mark.servers]
    if case.known_failure:
        marks.append(pytest.mark.xfail(reason=case.known_failure, strict=True))
    return pytest.param(case, id=case.id, marks=marks)


# ------------------------------------------------------------------ every case, for real


@pytest.fixture(scope="module")
def rasa(servers):
    """One kept-alive client for every case, as ``make eval`` runs them."""
    with RasaClient(servers.rasa_url, timeout_seconds=REQUEST_TIMEOUT_SECONDS) as client:
        yield client


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_regression_case(rasa: RasaClient, case: Case) -> None:
    result = run_case(rasa, case)
    assert result.passed, f"{' / '.join(case.turns)}: {result.problem()}\n{result.reply[:300]}"


# ------------------------------------------------------------------ the case files


def test_case_files_are_valid() -> None:
    assert LOAD_ERROR is None, str(LOAD_ERROR)


def test_cases_cover_every_topic_procedure_and_off_topic() -> None:
    topics = known_entry_ids()
    by_topic: dict[str, int] = {}
    for case in CASES:
        if case.expect in topics:
            by_topic[topics[case.expect]] = by_topic.get(topics[case.expect], 0) + 1
    assert len(CASES) >= 150
    assert sum(case.expect == "fallback" for case in CASES) >= 30
    assert {topic: n for topic, n in by_topic.items() if n < 3} == {}
    assert set(by_topic) == set(topics.values())
    deadline_cases = [case for case in CASES if case.expect_kind == "deadline"]
    assert {case.expect.split(":", 1)[1] for case in deadline_cases} == known_procedures()
    assert any(len(case.turns) >= 3 for case in deadline_cases), "a deadline form exchange"
    assert sum(len(case.turns) > 1 and case.expect_kind == "entry" for case in CASES) >= 10
    assert any(case.file == "traditional" for case in CASES)


def _comparable(text: str) -> str:
    from bot.lang.text import normalise

    return re.sub(r"[\s?？!！。，,.~～、]", "", normalise(text))


def _read(relative: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / relative).read_text(encoding="utf-8"))


def _questions_elsewhere() -> dict[str, str]:
    """Every question of the entries, the other test sets and the NLU data → its source."""
    seen: dict[str, str] = {}
    for path in sorted((PROJECT_ROOT / "data" / "faq" / "entries").glob("*.yml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]:
            for text in [entry["question"], *entry["paraphrases"]]:
                seen[_comparable(text)] = f"entry {entry['id']}"
    for item in _read("tests/data/retrieval_dev.yml")["cases"]:
        seen[_comparable(item["text"])] = "tests/data/retrieval_dev.yml"
    for item in _read("tests/data/rest_questions.yml")["questions"]:
        for text in item.get("turns") or [item["text"]]:
            seen[_comparable(text)] = "tests/data/rest_questions.yml"
    for item in _read("data/faq/calibration_offtopic.yml")["questions"]:
        seen[_comparable(item["text"])] = "data/faq/calibration_offtopic.yml"
    nlu_data = sorted((PROJECT_ROOT / "data/nlu").glob("*.yml"))
    nlu_files = ["tests/test_nlu.yml", *(str(path.relative_to(PROJECT_ROOT)) for path in nlu_data)]
    for path in nlu_files:
        for block in _read(path).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip().removeprefix("- "))
                if text:
                    seen[_comparable(text)] = path
    return seen


def test_cases_are_not_copied_from_other_question_sets() -> None:
    seen = _questions_elsewhere()
    copied = [f"{case.id}: {turn!r} is in {seen[_comparable(turn)]}"
              for case in CASES if case.file != "staff"  # staff cases are their paraphrases
              for turn in case.turns if _comparable(turn) in seen]
    assert copied == []


# ------------------------------------------------------------------ loader and validator

ENTRIES = {"direct_mail_what", "henan_mail_fee"}
PROCEDURES = {"gd_direct_mail"}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(CaseFileError) as raised:
        load_cases(folder, ENTRIES, PROCEDURES)
    return raised.value.problems


def test_a_valid_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "mail.yml", """
cases:
  - id: what-01
    turns: [什么是直邮]
    expect: direct_mail_what
    contains: [EMS, 12]
  - {id: fee-01, turns: [河南的证书, 邮费谁出], expect: henan_mail_fee, known_failure: 追问没带上地区}
  - id: deadline-01
    turns: [直邮名单3月2日公示]
    expect: deadline:gd_direct_mail
    today: 2026-11-22
  - {id: off-01, turns: [天气], expect: fallback}
""")
    cases = load_cases(tmp_path, ENTRIES, PROCEDURES)
    assert [c.id for c in cases] == ["what-01", "fee-01", "deadline-01", "off-01"]
    assert cases[0].contains == ("EMS", "12") and cases[0].file == "mail"
    assert cases[1].turns == ("河南的证书", "邮费谁出") and cases[1].known_failure == "追问没带上地区"
    assert cases[2].today == date(2026, 11, 22) and cases[2].expect_kind == "deadline"
    assert [c.expect_kind for c in cases] == ["entry", "entry", "deadline", "fallback"]
    assert pinned_today(cases) == date(2026, 11, 22)


def test_unknown_entry_and_procedure_are_named_with_file_and_case(tmp_path: Path) -> None:
    write(tmp_path, "bad.yml", """
cases:
  - {id: a-01, turns: [问题], expect: direct_mail_whta}
  - {id: a-02, turns: [问题], expect: "deadline:gd_direct_mial"}
""")
    problems = problems_of(tmp_path)
    assert any("bad.yml case 'a-01'" in p and "unknown entry id 'direct_mail_whta'" in p
               for p in problems)
    assert any("bad.yml case 'a-02'" in p and "unknown deadline procedure" in p for p in problems)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "one.yml", "cases:\n  - {id: same, turns: [问], expect: fallback}\n")
    write(tmp_path, "two.yml", "cases:\n  - {id: same, turns: [答], expect: fallback}\n")
    assert problems_of(tmp_path) == ["two.yml case 'same': duplicate id (also in one.yml)"]


@pytest.mark.parametrize("turns, message", [
    ("[]", "'turns' is missing or empty"),
    (None, "'turns' is missing or empty"),
    ("只是一句话", "'turns' must be a list"),
    ("['  ']", "'turns' item 1 is empty or not text"),
])
def test_bad_turns(tmp_path: Path, turns: str | None, message: str) -> None:
    field = f", turns: {turns}" if turns is not None else ""
    write(tmp_path, "turns.yml", f"cases:\n  - {{id: t-01{field}, expect: fallback}}\n")
    problems = problems_of(tmp_path)
    assert any(p.startswith("turns.yml case 't-01'") and message in p for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "many.yml", """
cases:
  - {id: m-01, turns: [问], expect: fallback, contain: [typo]}
  - {turns: [问], expect: fallback}
  - {id: m-03, turns: [问]}
  - {id: m-04, turns: [问], expect: fallback, today: 2026-13-01}
  - {id: m-05, turns: [问], expect: fallback, known_failure: ""}
  - just a string
""")
    problems = problems_of(tmp_path)
    assert len(problems) == 6, problems
    assert "unknown field(s) contain" in problems[0]
    assert "many.yml case #2: 'id' is missing" in problems[1]
    assert "'expect' is missing" in problems[2]
    assert "'today' must be a date" in problems[3]
    assert "'known_failure' must say why" in problems[4]
    assert problems[5].startswith("many.yml case #6: must be a mapping")


@pytest.mark.parametrize("text", ["cases: []\n", "- a list\n", "cases: [\n", "other: 1\n", ""])
def test_files_that_are_not_case_files(tmp_path: Path, text: str) -> None:
    write(tmp_path, "broken.yml", text)
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and problems[0].startswith("broken.yml: ")


def test_an_empty_folder_and_two_pinned_dates(tmp_path: Path) -> None:
    assert "no case files" in problems_of(tmp_path / "nothing")[0]
    write(tmp_path / "dates", "a.yml", """
cases:
  - {id: d-01, turns: [问], expect: fallback, today: 2026-11-22}
  - {id: d-02, turns: [问], expect: fallback, today: 2025-01-01}
""")
    assert "a run has one date" in problems_of(tmp_path / "dates")[0]


def test_eval_refuses_invalid_cases_before_starting_anything(tmp_path: Path) -> None:
    write(tmp_path, "bad.yml", "cases:\n  - {id: x-01, turns: [问], expect: no_such_entry}\n")
    run = subprocess.run([sys.executable, "-m", "bot.quality.eval",
                          "--cases", str(tmp_path), "--out", str(tmp_path / "eval.json")],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "bad.yml case 'x-01': unknown entry id 'no_such_entry'" in run.stderr
    assert not (tmp_path / "eval.json").exists()


# ------------------------------------------------------------------ checking and reporting


def case(expect: str, contains: tuple[str, ...] = ()) -> Case:
    return Case(id="c", file="f", turns=("问",), expect=expect, contains=contains)


@pytest.mark.parametrize("custom, label", [
    ({"kind": "faq_answer", "entry_id": "direct_mail_what", "score": 0.97}, "direct_mail_what"),
    ({"kind": "fallback", "score": 0.8}, "fallback"),
    ({"kind": "deadline", "procedure": "gd_direct_mail"}, "deadline:gd_direct_mail"),
    ({"kind": "did_you_mean", "candidates": ["henan_mail_fee", "direct_mail_what"]},
     "did_you_mean:henan_mail_fee"),
    ({"kind": "form_prompt"}, "form_prompt"),
    ({}, "none"),
])
def test_received_label(custom: dict, label: str) -> None:
    assert received_label(custom) == label


def test_check_reply() -> None:
    answer = {"kind": "faq_answer", "entry_id": "direct_mail_what"}
    assert check_reply(case("direct_mail_what", ("EMS",)), "由EMS寄出", answer) == (True, [])
    two_facts = case("direct_mail_what", ("EMS", "到付"))
    assert check_reply(two_facts, "由EMS寄出", answer) == (False, ["到付"])
    assert check_reply(case("henan_mail_fee"), "…", answer)[0] is False
    guess = {"kind": "did_you_mean", "candidates": ["direct_mail_what"]}
    assert check_reply(case("direct_mail_what"), "您是不是想问", guess)[0] is False
    assert check_reply(case("fallback"), "您是不是想问", guess)[0] is False, "no fallback"
    assert check_reply(case("fallback"), "抱歉", {"kind": "fallback"})[0] is True
    deadline = {"kind": "deadline", "procedure": "gd_direct_mail"}
    assert check_reply(case("deadline:gd_direct_mail"), "…", deadline)[0] is True
    assert check_reply(case("deadline:henan_storage"), "…", deadline)[0] is False


def test_report_shape() -> None:
    def result(id_: str, file: str, expect: str, passed: bool, known: str | None = None
               ) -> CaseResult:
        return CaseResult(id=id_, file=file, turns=["问"], expect=expect, received="fallback",
                          kind="fallback", entry_id=None, score=0.8, topic=None,
                          intent="out_of_scope", intent_confidence=0.9, passed=passed,
                          known_failure=known, missing=[], latency_ms=12.5, reply="抱歉")
    results = [result("a", "mail", "direct_mail_what", False, "why"),
               result("b", "off", "fallback", True),
               result("c", "mail", "deadline:gd_direct_mail", True)]
    report = results_json(results, date(2026, 11, 22), {"direct_mail_what": "ask_direct_mail"},
                          "2026-11-22T10:00:00+00:00")
    assert report["today"] == "2026-11-22" and report["generated"].startswith("2026-11-22")
    summary = report["summary"]
    counts = (summary["cases"], summary["passed"], summary["pass_rate"], summary["known_failures"])
    assert counts == (3, 2, 0.6667, 1)
    assert summary["by_group"] == {"mail": {"cases": 2, "passed": 1},
                                   "off": {"cases": 1, "passed": 1}}
    assert summary["by_expect_kind"] == {"deadline": {"cases": 1, "passed": 1},
                                         "entry": {"cases": 1, "passed": 0},
                                         "fallback": {"cases": 1, "passed": 1}}
    assert summary["by_topic"]["ask_direct_mail"] == {"cases": 1, "passed": 0}
    assert set(report["cases"][0]) == {
        "id", "file", "turns", "expect", "received", "kind", "entry_id", "score", "topic",
        "intent", "intent_confidence", "passed", "known_failure", "missing", "latency_ms", "reply",
        "outcome"}
    # beside the pass rate: a fallback where an entry was expected is a safe miss
    assert summary["outcomes"] == {"right": 2, "safe_miss": 1, "wrong": 0, "total": 3,
                                   "right_rate": 0.6667}
    assert report["cases"][0]["outcome"] == "safe_miss"
    problem = "expected direct_mail_what, received fallback fallback (score 0.800)"
    assert results[0].problem() == problem


def test_a_written_case_reads_back(tmp_path: Path) -> None:
    guess = {"kind": "did_you_mean", "candidates": ["henan_mail_fee"]}
    text = case_yaml({"id": logged_case_id("Alice-0001:x", 2, date(2025, 9, 1)),
                      "turns": ["证书能寄到外省吗？", "a: b"], "expect": expect_from_reply(guess),
                      "contains": []}, ["第一行\n第二行"])
    assert text.startswith("  # 第一行\n  # 第二行\n  - id: logged-20250901-alice000-2\n")
    problems: list[str] = []
    path = write(tmp_path, "x.yml", "cases:\n" + text)
    loaded = load_case_file(path, ENTRIES, PROCEDURES, problems)
    assert problems == []
    assert loaded[0].turns == ("证书能寄到外省吗？", "a: b")
    assert loaded[0].expect == "henan_mail_fee"
    assert expect_from_reply({"kind": "smalltalk"}) == "fallback"
    deadline = {"kind": "deadline", "procedure": "gd_direct_mail"}
    assert expect_from_reply(deadline) == "deadline:gd_direct_mail"


def test_the_cases_pin_the_date_the_test_servers_run_on():
    from tests.conftest import SERVERS_TODAY

    assert pinned_today(load_cases()) in (None, date.fromisoformat(SERVERS_TODAY))
