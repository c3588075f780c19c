"""Quality report: the pure figures (Hit@1, MRR, confusion matrix, targets) and the
page built from the sample inputs in tests/data/report_samples plus a small real
retrieval run over the fixture entries."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bot import PROJECT_ROOT
from bot.retrieval.embedding import get_encoder
from bot.retrieval.index import build_index
from bot.quality.report.__main__ import main
from bot.quality.report.figures import build_figures, headline, weakest, write_report
from bot.quality.report.nlu import confusion_matrix, nlu_summary
from bot.quality.report.retrieval import (RetrievalCase, load_dev_cases, reciprocal_rank,
                                          summarise_cases, summarise_retrieval)
from bot.quality.report.runs import bench_target_checks, regression_summary
from bot.quality.targets import bench_target, is_met
from bot.retrieval.engine import load_engine
from bot.retrieval.settings import load_settings

SAMPLES = PROJECT_ROOT / "tests" / "data" / "report_samples"
FIXTURE = PROJECT_ROOT / "tests" / "data" / "kb_fixture" / "entries"


def case(expected, ranked, decision="answer", kind="colloquial", topic="t", score=0.95):
    return RetrievalCase(text="q", kind=kind, expected=expected, topic=topic, ranked=tuple(ranked),
                         top_score=score if ranked else None, decision=decision)


# -- retrieval figures -----------------------------------------------------------

def test_hit_at_1_and_mrr_on_a_hand_made_ranking():
    cases = [
        case("a", ["a", "b", "c", "d"]),                         # rank 1
        case("b", ["a", "b", "c", "d"], "did_you_mean"),         # rank 2
        case("d", ["a", "b", "c", "d"]),                         # rank 4
        case("a", ["a", "b"], "no_answer"),                      # rank 1 but rejected
        case("z", ["a", "b"]),                                   # absent
        case("a", [], "no_answer"),                              # no words: nothing ranked
    ]
    figures = summarise_cases(cases)
    assert figures["n"] == 6
    assert figures["rank_hit_at_1"] == pytest.approx(2 / 6)
    assert figures["hit_at_1"] == pytest.approx(1 / 6)           # the rejected rank-1 does not count
    assert figures["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 + 0 + 0) / 6)
    assert figures["decisions"] == {"answer": 3, "did_you_mean": 1, "no_answer": 2}
    assert reciprocal_rank(None, ["a"]) == 0.0
    assert reciprocal_rank("c", ["a", "b", "c"]) == pytest.approx(1 / 3)


def test_retrieval_summary_splits_topics_kinds_and_off_topic():
    cases = [
        case("a", ["a", "b"], topic="ask_fees", kind="short", score=0.97),
        case("b", ["a", "b"], topic="ask_fees", kind="typo", score=0.93, decision="did_you_mean"),
        case("c", ["c"], topic="ask_tracking", kind="short", score=0.95),
        case(None, ["a"], kind="offtopic", score=0.80, decision="no_answer"),
        case(None, ["b"], kind="offtopic", score=0.92, decision="did_you_mean"),
    ]
    r = summarise_retrieval(cases, {"answer_threshold": 0.96, "floor": 0.9})
    assert r["overall"]["n"] == 3 and r["overall"]["hit_at_1"] == pytest.approx(2 / 3)
    assert r["by_topic"]["ask_fees"]["hit_at_1"] == pytest.approx(0.5)
    assert r["by_topic"]["ask_tracking"]["hit_at_1"] == 1.0
    assert set(r["by_kind"]) == {"short", "typo"}
    assert r["off_topic"]["rejection"] == pytest.approx(0.5)
    assert r["fallback"]["in_scope_no_answer"] == 0.0
    assert r["scores"] == {"right_first": [0.97, 0.95], "wrong_first": [0.93], "off_topic": [0.80, 0.92]}
    assert [c["score"] for c in r["worst"]["off_topic_answered"]] == [0.92]
    assert r["worst"]["wrong_first"][0]["got"] == "a" and r["worst"]["wrong_first"][0]["rank"] == 2


def test_dev_cases_skip_bad_rows(tmp_path):
    path = tmp_path / "dev.yml"
    path.write_text("cases:\n  - text: 证书直邮是啥\n    expected: direct_mail_what\n    kind: short\n"
                    "  - expected: mail_fee\n  - text: 天气\n    expected: null\n", encoding="utf-8")
    cases, problems = load_dev_cases(path)
    assert [c["expected"] for c in cases] == ["direct_mail_what", None]
    assert cases[1]["kind"] == "offtopic" and problems == ["case 2: no text, skipped"]


# -- NLU figures -----------------------------------------------------------------

def pred(text, true, predicted, confidence=0.9):
    return {"text": text, "intent": true,
            "intent_prediction": {"name": predicted, "confidence": confidence}}


def test_confusion_matrix_from_errors_and_successes():
    errors = [pred("x", "a", "b"), pred("y", "a", "b"), pred("z", "b", "c")]
    successes = [pred("p", "a", "a"), pred("q", "b", "b"), pred("r", "b", "b")]
    labels, matrix = confusion_matrix(errors, successes)
    assert labels == ["a", "b", "c"]
    assert matrix == [[1, 2, 0],
                      [0, 2, 1],
                      [0, 0, 0]]


def test_confusion_matrix_diagonal_from_support_without_successes():
    labels, matrix = confusion_matrix([pred("x", "a", "b")], None, {"a": 3, "b": 2})
    assert labels == ["a", "b"] and matrix == [[2, 1], [0, 2]]


def test_nlu_summary_orders_intents_worst_first_and_finds_confusions():
    report = json.loads((SAMPLES / "nlu" / "intent_report.json").read_text(encoding="utf-8"))
    errors = json.loads((SAMPLES / "nlu" / "intent_errors.json").read_text(encoding="utf-8"))
    successes = json.loads((SAMPLES / "nlu" / "intent_successes.json").read_text(encoding="utf-8"))
    n = nlu_summary(report, errors, successes)
    assert list(n["intents"])[-1] == "greet" and n["macro_f1"] == pytest.approx(0.8667)
    assert n["top_confusions"] == [{"intent": "ask_fees", "predicted": "ask_tracking", "count": 1}]
    assert n["confidence"]["wrong"] == [0.61] and len(n["confidence"]["right"]) == 6
    with pytest.raises(ValueError):
        nlu_summary({"accuracy": 1.0}, [], None)


# -- targets -----------------------------------------------------------------------

def test_is_met_directions_and_unknowns():
    assert is_met(0.93, 0.92) is True
    assert is_met(0.92, 0.92) is True
    assert is_met(0.91, 0.92) is False
    assert is_met(250, 300, higher_is_better=False) is True
    assert is_met(350, 300, higher_is_better=False) is False
    assert is_met(None, 0.92) is None
    assert is_met(0.9, None) is None
    assert is_met(True, 0.5) is None


def test_bench_targets_are_read_from_the_right_place():
    p95, throughput = bench_target("p95_ms_1"), bench_target("turns_per_s_16")
    assert (p95.where, p95.higher_is_better) == (("load", "1", "p95_ms"), False)
    assert (throughput.where, throughput.higher_is_better) == (("load", "16", "turns_per_s"), True)
    assert bench_target("rss_mb_actions").where == ("rss_mb", "actions")
    # a key another run recorded is read from its name
    p99 = bench_target("p99_ms_16")
    assert (p99.where, p99.higher_is_better) == (("load", "16", "p99_ms"), False)
    assert bench_target("turns_per_s_1").higher_is_better is True
    assert bench_target("rss_mb_web").where == ("rss_mb", "web")
    assert bench_target("something_else") is None and bench_target("p50_ms_x") is None
    bench = json.loads((SAMPLES / "bench.json").read_text(encoding="utf-8"))
    checks = {c["name"]: c for c in bench_target_checks(bench)}
    assert checks["p50_ms_1"]["value"] == 250.0 and checks["p50_ms_1"]["met"] is True
    assert checks["p95_ms_1"]["met"] is False                     # 900 > 800
    assert checks["turns_per_s_16"]["met"] is True                # 12 >= 10
    assert checks["rss_mb_actions"]["met"] is False               # 650 > 600
    assert checks["p95_ms_1"]["target"] == 800                    # the run's own threshold
    assert [c["direction"] for c in checks.values()] == ["≤", "≤", "≥", "≤", "≤"]


def test_headline_marks_met_not_met_and_not_run():
    figures = {
        "retrieval": {"status": "ok", "overall": {"hit_at_1": 0.95}, "off_topic": {"rejection": 0.5},
                      "by_topic": {"ask_fees": {"hit_at_1": 0.4, "mrr": 0.6, "n": 5},
                                   "ask_tracking": {"hit_at_1": 1.0, "mrr": 1.0, "n": 3}}},
        "nlu": {"status": "missing", "message": "not run yet"},
        "regression": {"status": "ok", "pass_rate": 1.0},
        "bench": {"status": "missing"},
    }
    rows = {r["name"]: r["met"] for r in headline(figures)}
    assert rows["retrieval Hit@1 (dev set)"] is True
    assert rows["off-topic rejection (dev set)"] is False
    assert rows["intent macro F1"] is None
    assert rows["regression pass rate"] is True
    assert weakest(figures)["topics"][0]["topic"] == "ask_fees"


def test_regression_summary_failing_and_slowest():
    data = json.loads((SAMPLES / "eval.json").read_text(encoding="utf-8"))
    g = regression_summary(data)
    assert g["pass_rate"] == pytest.approx(0.6667) and [c["id"] for c in g["failing"]] == ["faq-002"]
    assert [c["id"] for c in g["slowest"]] == ["faq-002", "faq-001", "talk-001"]
    assert g["fallback_rate"] == pytest.approx(1 / 3)
    assert g["breakdowns"]["group"]["faq"] == {"cases": 2, "passed": 1, "pass_rate": 0.5}
    assert set(g["breakdowns"]) == {"group", "expect_kind"}
    assert g["scores"] == {"passed": [0.97], "failed": [0.85]}


# -- the page ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_engine(request, tmp_path_factory):
    settings = load_settings().with_(entries_dir=FIXTURE, index_dir=tmp_path_factory.mktemp("report-index"))
    encoder = get_encoder(settings)
    cache = Path(request.config.cache.mkdir("embeddings-kb-fixture"))
    build_index(encoder, settings.index_dir, FIXTURE, settings.sources_dir, cache_dir=cache)
    return load_engine(settings, encoder=encoder)


def test_report_from_samples_and_a_small_retrieval_run(fixture_engine, tmp_path):
    figures = build_figures(SAMPLES / "dev.yml", SAMPLES / "nlu", SAMPLES / "eval.json",
                            SAMPLES / "bench.json", engine=fixture_engine)
    assert figures["retrieval"]["status"] == "ok", figures["retrieval"]
    assert figures["retrieval"]["overall"]["n"] == 4 and figures["retrieval"]["off_topic"]["n"] == 2
    html_path, json_path = write_report(figures, tmp_path / "reports")
    page = html_path.read_text(encoding="utf-8")
    for section in ("Headline", "Weakest areas", "Retrieval", "Per topic", "Fallback rate",
                    "Confusion matrix", "Regression", "Per group", "Per expected kind", "Failing cases",
                    "Slowest cases", "Benchmarks",
                    "Ours vs baseline"):
        assert section in page, section
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page)) >= 8
    assert "<script" not in page and "&lt;script&gt;alert" in page        # case texts are escaped
    assert "<b>多少</b>" not in page and "<i>没找到</i>" not in page
    assert "not met" in page and "not run yet" not in page
    figures_json = json.loads(json_path.read_text(encoding="utf-8"))
    assert figures_json["bench"]["targets"][0]["name"] == "p50_ms_1"
    assert figures_json["notes"]


def test_missing_and_broken_inputs_give_not_run_sections(tmp_path):
    broken = tmp_path / "eval.json"
    broken.write_text("{not json", encoding="utf-8")
    wrong_shape = tmp_path / "bench.json"
    wrong_shape.write_text('{"systems": []}', encoding="utf-8")
    figures = build_figures(tmp_path / "no-dev.yml", tmp_path / "no-nlu", broken, wrong_shape)
    assert [figures[s]["status"] for s in ("retrieval", "nlu", "regression", "bench")] == \
        ["missing", "missing", "error", "error"]
    html_path, _ = write_report(figures, tmp_path / "out")
    page = html_path.read_text(encoding="utf-8")
    assert "<code>make eval</code>" in page and "<code>make bench</code>" in page
    assert page.count("not run yet") >= 3 and "<img" not in page


def test_odd_regression_values_do_not_break_the_page(tmp_path):
    odd = tmp_path / "eval.json"
    odd_case = {"id": "x", "turns": "你好 <b>", "latency_ms": "slow", "score": "high"}
    odd.write_text(json.dumps({"summary": {"by_group": {"faq": {"cases": 0, "passed": None}}},
                               "cases": [odd_case]}), encoding="utf-8")
    figures = build_figures(tmp_path / "no-dev.yml", tmp_path / "no-nlu", odd, tmp_path / "b.json")
    g = figures["regression"]
    assert g["status"] == "ok" and g["pass_rate"] == 0.0 and g["slowest"] == []
    assert g["breakdowns"] == {"group": {"faq": {"cases": 0, "passed": None, "pass_rate": None}}}
    page = write_report(figures, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert "你好 &lt;b&gt;" in page and "cannot show this part" not in page


def test_nlu_without_successes_or_errors_file(tmp_path):
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    shutil.copy(SAMPLES / "nlu" / "intent_report.json", nlu)
    figures = build_figures(tmp_path / "no-dev.yml", nlu, tmp_path / "e.json", tmp_path / "b.json")
    n = figures["nlu"]
    assert n["status"] == "ok" and not n["has_successes"]
    assert sum(map(sum, n["confusion"]["matrix"])) == 7           # the diagonal comes from the support


def test_command_line_writes_both_files(tmp_path, capsys):
    out = tmp_path / "reports"
    shutil.copy(SAMPLES / "eval.json", tmp_path / "eval.json")
    assert main(["--out", str(out), "--skip-retrieval", "--nlu", str(SAMPLES / "nlu"),
                 "--eval", str(tmp_path / "eval.json"), "--bench", str(tmp_path / "none.json")]) == 0
    printed = capsys.readouterr().out
    assert (out / "quality.html").exists() and (out / "quality.json").exists()
    assert "regression pass rate" in printed and "NOT met" in printed
    assert "not run yet (make bench)" in printed


def test_conversation_pass_rates_are_on_the_page(tmp_path):
    data = json.loads((SAMPLES / "eval.json").read_text(encoding="utf-8"))
    turn = {"say": "那怎么办 <i>", "expect": "direct_mail_fee", "received": "fallback", "passed": False,
            "missing": [], "reply": "抱歉"}
    data["conversations"] = {
        "summary": {"conversations": 2, "conversations_passed": 1, "turns": 4, "turns_passed": 3,
                    "turn_pass_rate": 0.75, "conversation_pass_rate": 0.5,
                    "by_file": {"follow_ups": {"conversations": 2, "conversations_passed": 1, "turns": 4,
                                               "turns_passed": 3, "turn_pass_rate": 0.75,
                                               "conversation_pass_rate": 0.5}}},
        "results": [{"id": "conv-1", "file": "follow_ups", "known_failure": None,
                     "turns": [dict(turn, passed=True), turn]}]}
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    figures = build_figures(tmp_path / "no-dev.yml", tmp_path / "no-nlu", path, tmp_path / "b.json")
    talks = figures["regression"]["conversations"]
    assert talks["overall"]["turn_pass_rate"] == 0.75 and len(talks["failing_turns"]) == 1
    page = write_report(figures, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert "Conversations" in page and "turns 3 / 4 passed" in page and "那怎么办 &lt;i&gt;" in page


def test_outcomes_and_the_held_out_set_are_on_the_page(tmp_path):
    data = json.loads((SAMPLES / "eval.json").read_text(encoding="utf-8"))
    data["summary"]["outcomes"] = {"right": 5, "safe_miss": 2, "wrong": 1, "total": 8,
                                   "right_rate": 0.625}
    row = {"right": 1, "safe_miss": 1, "wrong": 0, "total": 2, "right_rate": 0.5}
    data["real_messages"] = {
        "summary": {**row, "by_class": {"dates": row}},
        "results": [{"id": "dates-01", "kind": "dates", "turns": ["我明天入职，现在能下载了吗"],
                     "expect": ["ecert_when_available"], "received": "fallback",
                     "outcome": "safe_miss", "latency_ms": 10.0, "reply": "抱歉"}]}
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    figures = build_figures(tmp_path / "no-dev.yml", tmp_path / "no-nlu", path, tmp_path / "b.json")
    page = write_report(figures, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert "5 right / 2 safe miss / 1 wrong" in page
    assert "Held-out real-style messages" in page and "我明天入职，现在能下载了吗" in page
