"""Index build, manifest, staleness and load checks, with a deterministic fake encoder."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from bot import PROJECT_ROOT
from bot.retrieval.index import (
    MANIFEST_FILE, ROWS_FILE, IndexMismatchError, IndexMissingError, build_index, collect_rows,
    is_stale, load_index,
)
from bot.knowledge.entries import KnowledgeBaseError, load_knowledge_base

FIXTURE = PROJECT_ROOT / "tests" / "data" / "kb_fixture" / "entries"
SOURCES = PROJECT_ROOT / "data" / "faq" / "sources"


class FakeEncoder:
    """Character-hash bag of words: deterministic, fast, unit vectors."""

    def __init__(self, dimension=16, model_id="fake-encoder"):
        self.model_id = model_id
        self._dimension = dimension
        self.calls = 0

    @property
    def dimension(self):
        return self._dimension

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                out[i, int(hashlib.md5(ch.encode()).hexdigest(), 16) % self._dimension] += 1
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A copy of the fixture entries, and a short out-of-scope list (the classifier's
    "none" class) so that each build trains in a moment."""
    entries = tmp_path / "entries"
    shutil.copytree(FIXTURE, entries)
    out_of_scope = tmp_path / "out_of_scope.yml"
    out_of_scope.write_text("questions:\n  misc: [今天天气怎么样, 红烧肉怎么做, 股票会涨吗, 讲个笑话]\n",
                            encoding="utf-8")
    monkeypatch.setenv("BOT_OUT_OF_SCOPE", str(out_of_scope))
    return entries, tmp_path / "index"


def test_build_writes_index_rows_and_manifest(data):
    entries, out = data
    report = build_index(FakeEncoder(), out, entries, SOURCES)
    kb = load_knowledge_base(entries, SOURCES)
    rows = collect_rows(kb)
    assert report.entries == len(kb.entries) and report.vectors == len(rows)
    assert report.questions == len(kb.entries) and report.passages == len(kb.passages)
    manifest = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
    for key in ("model_id", "dimension", "count", "counts", "data_sha256", "build_seconds", "created_at"):
        assert key in manifest
    assert manifest["model_id"] == "fake-encoder" and manifest["dimension"] == 16
    stored = json.loads((out / ROWS_FILE).read_text(encoding="utf-8"))
    assert {r["kind"] for r in stored} == {"question", "paraphrase", "passage"}
    # normalised text: traditional paraphrases are stored simplified
    assert "证书直邮是什么" in [r["text"] for r in stored]
    assert "證書直郵是什麼" not in [r["text"] for r in stored]
    loaded = load_index(FakeEncoder(), out, entries, SOURCES)
    assert loaded.index.ntotal == report.vectors
    np.testing.assert_allclose(np.linalg.norm(loaded.vectors(), axis=1), 1.0, atol=1e-5)


def test_stale_after_data_change_and_load_refuses(data):
    entries, out = data
    build_index(FakeEncoder(), out, entries, SOURCES)
    assert not is_stale(out, entries, SOURCES, FakeEncoder())
    path = entries / "ask_fees.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("邮费谁出", "邮费由谁出"), encoding="utf-8")
    assert is_stale(out, entries, SOURCES, FakeEncoder())
    with pytest.raises(IndexMismatchError, match=r"data hash.*make index"):
        load_index(FakeEncoder(), out, entries, SOURCES)


def test_load_names_each_mismatch(data):
    entries, out = data
    build_index(FakeEncoder(), out, entries, SOURCES)
    with pytest.raises(IndexMismatchError, match=r"model id 'fake-encoder' != configured 'other'"):
        load_index(FakeEncoder(model_id="other"), out, entries, SOURCES)
    with pytest.raises(IndexMismatchError, match=r"dimension 16 != encoder's 8"):
        load_index(FakeEncoder(dimension=8), out, entries, SOURCES)
    rows = json.loads((out / ROWS_FILE).read_text(encoding="utf-8"))
    (out / ROWS_FILE).write_text(json.dumps(rows[:-1]), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=r"vector count"):
        load_index(FakeEncoder(), out, entries, SOURCES)


def test_encoder_change_makes_index_stale(data):
    entries, out = data
    build_index(FakeEncoder(), out, entries, SOURCES)
    assert is_stale(out, entries, SOURCES, FakeEncoder(model_id="other"))


def test_missing_index(tmp_path):
    assert is_stale(tmp_path, FIXTURE, SOURCES, FakeEncoder())
    with pytest.raises(IndexMissingError, match="make index"):
        load_index(FakeEncoder(), tmp_path, FIXTURE, SOURCES)


def test_invalid_entries_stop_the_build(data):
    entries, out = data
    (entries / "ask_fees.yml").write_text("topic: ask_fees\nentries: []\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError):
        build_index(FakeEncoder(), out, entries, SOURCES)
    assert not (out / MANIFEST_FILE).exists()


def test_embedding_cache_reuses_unchanged_texts(data):
    entries, out = data
    first = build_index(FakeEncoder(), out, entries, SOURCES)
    assert 0 < first.encoded <= first.vectors + first.out_of_scope   # identical texts are embedded once
    second = build_index(FakeEncoder(), out, entries, SOURCES)
    assert second.encoded == 0
    path = entries / "ask_fees.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("邮费谁出", "邮费由谁出"), encoding="utf-8")
    third = build_index(FakeEncoder(), out, entries, SOURCES)
    assert third.encoded == 1
    fresh = build_index(FakeEncoder(), out / "nocache", entries, SOURCES, cache_dir=None)
    np.testing.assert_allclose(load_index(FakeEncoder(), out, entries, SOURCES).vectors(),
                               load_index(FakeEncoder(), out / "nocache", entries, SOURCES).vectors())
    assert fresh.encoded == fresh.vectors + fresh.out_of_scope


def test_load_refuses_an_index_without_its_classifier(data):
    entries, out = data
    build_index(FakeEncoder(), out, entries, SOURCES)
    (out / "classifier.pkl").unlink()
    assert is_stale(out, entries, SOURCES, FakeEncoder())
    with pytest.raises(IndexMismatchError, match="classifier.pkl"):
        load_index(FakeEncoder(), out, entries, SOURCES)


def test_out_of_scope_questions_change_the_data_hash(data, tmp_path, monkeypatch):
    entries, out = data
    build_index(FakeEncoder(), out, entries, SOURCES)
    assert not is_stale(out, entries, SOURCES, FakeEncoder())
    more = tmp_path / "more.yml"
    more.write_text("questions:\n  misc: [今天天气怎么样, 毕业证丢了怎么补]\n", encoding="utf-8")
    monkeypatch.setenv("BOT_OUT_OF_SCOPE", str(more))
    assert is_stale(out, entries, SOURCES, FakeEncoder())
