"""The benchmark's baseline generator (bot.training.baseline) and the statistics and reporting
helpers of bot.quality.bench. No timings are asserted: the figures go to the report."""

from __future__ import annotations

import random
import subprocess

import httpx
import numpy as np
import pytest
import yaml

from bot import PROJECT_ROOT
from bot.training.baseline import BASELINE_DIR, build, fallback_text, write
from bot.training.nlu_export import training_example
from bot.knowledge.entries import load_entries
from bot.quality.bench.accuracy import baseline_outcome_reader, our_outcome, score_accuracy
from bot.quality.bench.load import make_sessions, send_turn, split_blocks, summarise_load
from bot.quality.bench.output import (empty_result, markdown, ours_over_baseline, ratios,
                                      target_status)
from bot.stats import interpolated_percentile, nearest_rank_percentile
from bot.quality.targets import BENCH_TARGETS, thresholds
from bot.rasa_client import RasaClient, parse_rest_reply

ENTRIES = load_entries()


def _examples(block: dict) -> list[str]:
    return [line[2:] for line in block["examples"].splitlines()]


@pytest.fixture(scope="module")
def baseline():
    nlu, rules, domain = build()
    return nlu, rules, domain


def test_one_retrieval_intent_per_entry_with_all_its_paraphrases(baseline):
    nlu, _, _ = baseline
    by_intent = {block["intent"]: _examples(block) for block in nlu["nlu"]}
    assert len([i for i in by_intent if i.startswith("faq/")]) == len(ENTRIES)
    for entry in ENTRIES:
        examples = by_intent[f"faq/{entry.id}"]
        for text in [entry.question, *entry.paraphrases]:
            assert training_example(text) in examples, (entry.id, text)
    all_examples = [text for examples in by_intent.values() for text in examples]
    assert len(all_examples) == len(set(all_examples)), "an example in two intents"


def test_each_entry_is_answered_with_its_own_answer_text(baseline):
    _, _, domain = baseline
    responses = domain["responses"]
    for entry in ENTRIES:
        assert responses[f"utter_faq/{entry.id}"] == [{"text": entry.answer.strip()}]
    assert responses["utter_default"] == [{"text": fallback_text()}]
    assert set(domain["intents"]) == {"faq", "out_of_scope"}


def test_rules_answer_faqs_and_fall_back(baseline):
    _, rules, _ = baseline
    pairs = {rule["steps"][0]["intent"]: rule["steps"][1]["action"] for rule in rules["rules"]}
    assert pairs == {"faq": "utter_faq", "out_of_scope": "utter_default",
                     "nlu_fallback": "utter_default"}


def test_the_baseline_config_is_the_pipeline_a_rasa_user_would_write():
    config = yaml.safe_load((BASELINE_DIR / "config.yml").read_text(encoding="utf-8"))
    names = [component["name"] for component in config["pipeline"]]
    assert names == ["JiebaTokenizer", "CountVectorsFeaturizer", "CountVectorsFeaturizer",
                     "DIETClassifier", "ResponseSelector", "FallbackClassifier"]
    assert (PROJECT_ROOT / config["pipeline"][0]["dictionary_path"]).is_dir()


@pytest.mark.slow
def test_generated_baseline_passes_rasa_data_validate(tmp_path):
    write(tmp_path)
    done = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa/bin/rasa"), "data", "validate", "--fail-on-warnings",
         "--config", str(BASELINE_DIR / "config.yml"), "--domain", str(tmp_path / "domain.yml"),
         "--data", str(tmp_path / "data")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


# --- statistics ---------------------------------------------------------------------

def test_percentile_interpolates_between_ranks():
    assert interpolated_percentile([1, 2, 3, 4], 50) == 2.5
    assert interpolated_percentile([4, 1, 3, 2], 0) == 1
    assert interpolated_percentile([4, 1, 3, 2], 100) == 4
    assert interpolated_percentile([10, 20], 95) == pytest.approx(19.5)
    assert interpolated_percentile([7.0], 99) == 7.0
    assert interpolated_percentile([], 50) is None
    with pytest.raises(ValueError):
        interpolated_percentile([1, 2], 101)


def test_percentile_matches_numpy():
    rng = random.Random(1)
    values = [rng.lognormvariate(4, 0.6) for _ in range(537)]
    for q in (50, 95, 99):
        assert interpolated_percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_nearest_rank_percentile_is_always_one_of_the_values():
    assert nearest_rank_percentile([1, 2, 3, 4], 50) == 2
    assert nearest_rank_percentile([10, 20], 95) == 20
    assert nearest_rank_percentile([4, 1, 3, 2], 0) == 1
    assert nearest_rank_percentile([], 50) is None


def test_summary_counts_errors_as_turns_but_not_in_latency_or_throughput():
    summary = summarise_load([100.0, 200.0, 300.0, 400.0], errors=1, wall_s=2.0)
    assert summary["turns"] == 5
    assert summary["errors"] == 1
    assert summary["p50_ms"] == 250.0
    assert summary["turns_per_s"] == 2.0
    assert summarise_load([], errors=3, wall_s=1.0)["p95_ms"] is None


def test_ours_over_baseline_and_unknown_when_either_is():
    assert ours_over_baseline(60.0, 40.0) == 1.5
    assert ours_over_baseline(None, 40.0) is None
    assert ours_over_baseline(60.0, None) is None
    assert ours_over_baseline(60.0, 0) is None


@pytest.mark.parametrize("status, body, problem", [
    (500, b"[]", "HTTP 500"),
    (503, b"[]", "HTTP 503"),
    (200, b"<html>", "invalid JSON"),
    (200, b"[]", "empty reply"),
    (200, b'{"text": "hi"}', "empty reply"),
    (200, b'[{"custom": {"kind": "fallback"}}]', "empty reply"),
    (200, b'[{"text": "  "}]', "empty reply"),
    (200, '[{"text": "好的"}, {"custom": {}}]'.encode(), None),
])
def test_reply_problems(status, body, problem):
    """A turn is judged by the shared Rasa client (bot.rasa_client), as the web front is."""
    rasa = RasaClient("http://rasa.test")
    rasa._http = httpx.Client(base_url="http://rasa.test", transport=httpx.MockTransport(
        lambda request: httpx.Response(status, content=body)))
    with rasa:
        assert send_turn(rasa, "sender", "问")[0] == problem


def test_an_unreachable_rasa_counts_as_the_connection_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    rasa = RasaClient("http://rasa.test")
    rasa._http = httpx.Client(base_url="http://rasa.test", transport=httpx.MockTransport(refuse))
    with rasa:
        problem, reply = send_turn(rasa, "sender", "问")
    assert problem == "ConnectError" and reply.empty


def test_sessions_have_several_turns_and_add_up_to_the_total():
    cases = [{"turns": [f"q{i}"]} for i in range(20)] + [{"turns": ["广州的呢", "河南的呢？"]}]
    sessions = make_sessions(cases, 503, seed=3)
    assert sum(map(len, sessions)) == 503
    assert all(2 <= len(s) <= 6 for s in sessions[:-1])
    for session in sessions[:-1]:  # a multi-turn case is never split
        if "广州的呢" in session:
            assert session[session.index("广州的呢") + 1] == "河南的呢？"
    assert make_sessions(cases, 50, seed=3) == make_sessions(cases, 50, seed=3)


def test_blocks_keep_the_sessions_in_order_with_even_turns():
    sessions = make_sessions([{"turns": [f"q{i}"]} for i in range(30)], 500, seed=5)
    blocks = split_blocks(sessions, 5)
    assert len(blocks) == 5
    assert [s for block in blocks for s in block] == sessions
    assert all(90 <= sum(map(len, block)) <= 110 for block in blocks)
    assert split_blocks(sessions, 1) == [sessions]
    assert len(split_blocks(sessions[:2], 5)) == 2


def test_outcomes_of_both_systems():
    def ours(messages: list) -> str | None:
        return our_outcome(parse_rest_reply(messages))

    assert ours([{"text": "…"}, {"custom": {"kind": "faq_answer", "entry_id": "x"}}]) == "x"
    assert ours([{"text": "…"}, {"custom": {"kind": "fallback"}}]) == "fallback"
    assert ours([{"text": "…"}, {"custom": {"kind": "did_you_mean"}}]) == "did_you_mean"
    assert ours([{"text": "…"}, {"custom": {"kind": "deadline"}}]) is None
    assert ours([]) is None
    baseline_outcome = baseline_outcome_reader()

    def baseline(messages: list) -> str | None:
        return baseline_outcome(parse_rest_reply(messages))

    entry = ENTRIES[3]
    assert baseline([{"text": entry.answer.strip()}]) == entry.id
    assert baseline([{"text": fallback_text()}]) == "fallback"
    assert baseline([{"text": "别的话"}]) is None


def _report(p50: float, turns_per_s: float, rss_rasa: float | None) -> dict:
    systems = {name: empty_result(name) for name in ("assistant", "response_selector")}
    ours = systems["assistant"]
    ours["load"]["1"].update(p50_ms=p50, p95_ms=p50 * 2, p99_ms=p50 * 3, turns=500, errors=0)
    ours["load"]["16"].update(turns_per_s=turns_per_s, turns=500, errors=0)
    ours["rss_mb"].update(rasa=rss_rasa, actions=300.0, web=90.0)
    ours["never_seen"].update(p50_ms=p50, p95_ms=p50 * 2)
    ours["session"].update(first10_p50_ms=p50, last10_p50_ms=p50 * 0.9, last_over_first=0.9,
                           stored_bytes_per_turn=3800)
    ours["length"]["long_over_short_p50"] = p50 / 40.0   # 45 -> 1.125, 80 -> 2.0
    base = systems["response_selector"]
    base["load"]["1"].update(p50_ms=40.0, p95_ms=60.0, p99_ms=90.0)
    base["load"]["16"].update(turns_per_s=50.0)
    report = {"generated": "now", "machine": {"cpus": 2, "python": "3.11", "rasa": "3.6.21"},
              "targets": thresholds(BENCH_TARGETS), "systems": systems}
    report["ratios"] = ratios(systems)
    return report


def test_targets_are_marked_met_or_not():
    good = target_status(_report(p50=45.0, turns_per_s=31.0, rss_rasa=900.0))
    assert good == {"p50_ms_1": "met", "p95_ms_1": "met", "turns_per_s_16": "met",
                    "rss_mb_rasa": "met", "rss_mb_actions": "met", "never_seen_p50_ms": "met",
                    "never_seen_p95_ms": "met", "session_last_over_first": "met",
                    "length_long_over_short": "met"}
    bad = target_status(_report(p50=80.0, turns_per_s=12.0, rss_rasa=None))
    assert bad["p50_ms_1"] == "not met" and bad["p95_ms_1"] == "not met"
    assert bad["turns_per_s_16"] == "not met"
    assert bad["rss_mb_rasa"] == "not measured" and bad["never_seen_p50_ms"] == "not met"
    assert bad["length_long_over_short"] == "not met"


def test_markdown_table_has_ratios_and_target_marks():
    report = _report(p50=80.0, turns_per_s=31.0, rss_rasa=900.0)
    assert report["ratios"]["p50_ms_1"] == 2.0
    text = markdown(report)
    assert "| p50 latency, 1 user(s) (ms) | 80.0 | 40.0 | 2.00 | ≤ 50 ms — **not met** |" in text
    assert "**met**" in text
    assert "| p50 latency, never-seen questions, 1 user (ms) | 80.0 |" in text
    assert "| one conversation: last / first | 0.90 |" in text and "tracker bytes stored per turn" in text


def test_accuracy_counts_the_expected_entry_and_the_fallback():
    cases = [{"expected": "a", "source": "rest"}, {"expected": "b", "source": "rest"},
             {"expected": "c", "source": "dev"}, {"expected": "d", "source": "dev"},
             {"expected": None, "source": "dev"}, {"expected": None, "source": "rest"}]
    outcomes = ["a", "c", "did_you_mean", None, "fallback", "a"]
    accuracy, details = score_accuracy(cases, outcomes)
    assert accuracy == {"in_scope": 0.25, "in_scope_n": 4, "off_topic_fallback": 0.5,
                        "off_topic_n": 2}
    assert details["by_set"]["rest"] == {"in_scope": 0.5, "in_scope_n": 2,
                                         "off_topic_fallback": 0.0, "off_topic_n": 1}
    assert details["in_scope_outcomes"] == {"right_entry": 1, "wrong_entry": 1,
                                            "did_you_mean": 1, "other": 1}
    assert details["off_topic_outcomes"] == {"fallback": 1, "answered": 1}


def test_length_pairs_put_the_same_question_after_a_story_of_about_200_characters():
    from bot.quality.bench.load import length_pairs, never_seen_questions

    pairs = length_pairs()
    assert len(pairs) >= 20
    for short, long in pairs:
        assert 12 <= len(short) <= 28 and long.endswith(short) and len(long) == 200
    assert 14 <= sum(len(short) for short, _ in pairs) / len(pairs) <= 23
    # the stage before sends the never-seen questions: a short question among them would
    # be read from the servers' caches, its latency not a short message's
    assert not {short for short, _ in pairs} & set(never_seen_questions())
