from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.knowledge.entries import (
    MIN_PARAPHRASES, TOPICS, KnowledgeBaseError, load_knowledge_base,
)

FIXTURE = PROJECT_ROOT / "tests" / "data" / "kb_fixture" / "entries"
SOURCES = PROJECT_ROOT / "data" / "faq" / "sources"
REAL_ENTRIES = PROJECT_ROOT / "data" / "faq" / "entries"


def entry(id_, question, **over):
    data = {"id": id_, "region": "全国", "question": question,
            "paraphrases": [f"{question}的说法{i}" for i in range(MIN_PARAPHRASES)],
            "answer": "答案。", "citations": ["cpta-ecert-faq-2023/p12"]}
    data.update(over)
    return data


def write(dir_: Path, topic: str, entries: list, name: str | None = None) -> None:
    (dir_ / f"{name or topic}.yml").write_text(
        yaml.safe_dump({"topic": topic, "entries": entries}, allow_unicode=True), encoding="utf-8")


def test_fixture_loads_with_dataclasses():
    kb = load_knowledge_base(FIXTURE, SOURCES)
    assert len(kb.entries) >= 6
    e = kb.entry("direct_mail_what")
    assert e.topic == "ask_direct_mail" and e.region == "广东省"
    assert len(e.paraphrases) >= MIN_PARAPHRASES and e.citations[0] == "gz-mail-faq-2025/p03"
    assert e.related == ("direct_mail_how",) and e.source_file == "ask_direct_mail.yml"
    assert all(e.topic in TOPICS for e in kb.entries)


def test_all_problems_reported_at_once(tmp_path):
    write(tmp_path, "ask_blank_page", [
        entry("blank_one", "页面空白怎么办", related=["does_not_exist"]),
        entry("blank_one", "页面為什麼空白"),                                   # duplicate id
        entry("blank_two", "页面空白怎么办"),                                    # duplicate question
        entry("blank_three", "问题三", paraphrases=["太少"] * 3),                # < 8 paraphrases
        entry("blank_four", "问题四", citations=["nope/p99"]),                   # unknown passage
        entry("blank_five", "问题五", answer="  ", region="火星"),               # empty answer, region
        entry("blank_six", "问题六", paraphrases=["页面空白怎么办"] + [f"六{i}" for i in range(8)]),
        entry("Bad-Id", "问题七"),
    ])
    write(tmp_path, "not_a_topic", [entry("other_one", "别的")])
    write(tmp_path, "ask_fees", [entry("fee_one", "费用")], name="wrong_name")
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(tmp_path, SOURCES)
    text = str(info.value)
    problems = [str(i) for i in info.value.errors]
    expected = [
        ("ask_blank_page.yml [blank_one]", "duplicate id"),
        ("ask_blank_page.yml [blank_one]", "related id 'does_not_exist'"),
        ("ask_blank_page.yml [blank_two]", "same question as blank_one"),
        ("ask_blank_page.yml [blank_three]", "needs >= 8 paraphrases"),
        ("ask_blank_page.yml [blank_four]", "citation 'nope/p99'"),
        ("ask_blank_page.yml [blank_five]", "'answer' is missing or empty"),
        ("ask_blank_page.yml [blank_five]", "region '火星'"),
        ("ask_blank_page.yml [blank_six]", "is the question of blank_one"),
        ("ask_blank_page.yml [Bad-Id]", "snake_case"),
        ("not_a_topic.yml", "not one of the allowed topics"),
        ("wrong_name.yml", "file name must be the topic"),
    ]
    for where, what in expected:
        assert any(p.startswith(where) and what in p for p in problems), (where, what, problems)
    assert text.count("\n  - ") == len(problems)


def test_broken_yaml_and_empty_dir_are_reported(tmp_path):
    (tmp_path / "ask_fees.yml").write_text("topic: ask_fees\nentries: [\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="ask_fees.yml: cannot be read as YAML"):
        load_knowledge_base(tmp_path, SOURCES)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KnowledgeBaseError, match="no entry files"):
        load_knowledge_base(empty, SOURCES)


def test_repeated_paraphrase_is_a_warning_not_an_error(tmp_path):
    paraphrases = ["同一个"] * 2 + [f"说法{i}" for i in range(8)]
    write(tmp_path, "ask_fees", [entry("fee_one", "邮费多少", paraphrases=paraphrases)])
    kb = load_knowledge_base(tmp_path, SOURCES)
    assert any("repeats" in str(w) for w in kb.warnings)


@pytest.mark.skipif(not any(REAL_ENTRIES.glob("*.yml")), reason="no real entries yet")
def test_real_entries_validate():
    kb = load_knowledge_base(REAL_ENTRIES, SOURCES)
    assert kb.entries


def test_the_entry_for_after_a_deadline_must_exist(tmp_path):
    write(tmp_path, "ask_application_deadline", [
        entry("window_one", "期限多久", after_deadline="late_one"),
        entry("late_one", "过了期限怎么办"),
        entry("window_two", "截止哪天", after_deadline="nowhere"),
    ])
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(tmp_path, SOURCES)
    assert [str(i) for i in info.value.errors] == [
        "ask_application_deadline.yml [window_two]: after_deadline id 'nowhere' does not exist"]


def test_real_deadline_entries_say_what_to_do_once_they_have_passed():
    kb = load_knowledge_base(REAL_ENTRIES, SOURCES)
    assert kb.entry("gz_paper_apply_deadline").after_deadline == "gz_paper_late_application"
    assert kb.entry("henan_booking_window").after_deadline == "henan_onsite_collection"
