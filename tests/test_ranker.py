"""The entry classifier (bot/retrieval/ranker.py) on small hand-made data, and its training file."""

import numpy as np
import pytest

from bot import PROJECT_ROOT
from bot.retrieval import ranker
from bot.lang.text import normalise


def _vectors(texts, dimension=8):
    """Deterministic unit vectors from characters (stand-in embeddings for the unit test;
    the real encoder is exercised by tests/test_retrieval.py)."""
    out = np.zeros((len(texts), dimension))
    for i, text in enumerate(texts):
        for ch in text:
            out[i, ord(ch) % dimension] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


TRAIN = {
    "fee": ["邮费多少钱", "寄证书要付多少钱", "邮寄费用是多少", "证书邮费谁出"],
    "track": ["怎么查物流", "快递单号在哪查", "证书寄到哪了", "物流信息怎么看"],
    ranker.NONE: ["今天天气怎么样", "红烧肉怎么做", "股票会涨吗", "讲个笑话"],
}


@pytest.fixture(scope="module")
def model():
    texts = [t for ts in TRAIN.values() for t in ts]
    labels = [label for label, ts in TRAIN.items() for _ in ts]
    return ranker.train(texts, labels, _vectors(texts), ranker.ClassifierSettings(c=20, vector_weight=1))


def test_labels_put_none_last_and_probabilities_sum_to_one(model):
    assert model.labels == ["fee", "track", ranker.NONE] and model.entry_ids == ["fee", "track"]
    texts = ["邮费是多少", "物流怎么查", "明天下雨吗"]
    p = model.probabilities(texts, _vectors(texts))
    assert p.shape == (3, 3) and np.allclose(p.sum(1), 1.0)
    assert p[0].argmax() == 0 and p[1].argmax() == 1 and p[2].argmax() == 2


@pytest.mark.parametrize("classes", [["fee", "track", ranker.NONE], ["fee", ranker.NONE]])
def test_probabilities_agree_with_scikit_learn(classes):
    texts = [t for c in classes for t in TRAIN[c]]
    labels = [c for c in classes for _ in TRAIN[c]]
    model = ranker.train(texts, labels, _vectors(texts), ranker.ClassifierSettings(c=5, vector_weight=2))
    asked = ["邮费是多少", "物流怎么查", "明天下雨吗", "证书"]
    ours = model.probabilities(asked, _vectors(asked))
    assert ours.shape == (4, len(classes))
    assert np.allclose(ours, model.scikit_learn_probabilities(asked, _vectors(asked)), atol=1e-9)


def test_the_built_index_classifier_agrees_with_scikit_learn():
    from bot.retrieval.settings import load_settings

    model = ranker.load(load_settings().index_dir)
    if model is None:
        pytest.skip("no built index: run `make index`")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, model._weights()[0].shape[0]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    asked = ["直邮要多少钱", "電子證書怎麼下載", "今天天气怎么样"]
    assert np.allclose(model.probabilities(asked, vectors),
                       model.scikit_learn_probabilities(asked, vectors), atol=1e-9)


def test_save_and_load_round_trip(model, tmp_path):
    assert ranker.load(tmp_path) is None
    ranker.save(model, tmp_path)
    loaded = ranker.load(tmp_path)
    texts = ["邮费是多少"]
    assert np.allclose(loaded.probabilities(texts, _vectors(texts)), model.probabilities(texts, _vectors(texts)))
    assert loaded.sklearn_version == ranker.sklearn_version()


def test_read_out_of_scope_normalises_and_deduplicates(tmp_path):
    path = tmp_path / "oos.yml"
    path.write_text("questions:\n  a: [今天天氣, 今天天气, ' 红烧肉 ']\n  b: [今天天气]\n", encoding="utf-8")
    assert ranker.read_out_of_scope(path) == ["今天天气", "红烧肉"]


@pytest.mark.parametrize("body", ["questions: [a, b]\n", "questions:\n  a: [666]\n"])
def test_read_out_of_scope_rejects_malformed_files(tmp_path, body):
    path = tmp_path / "oos.yml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match="oos.yml"):
        ranker.read_out_of_scope(path)


def test_out_of_scope_training_file_is_kept_apart_from_held_out_sets():
    import yaml

    negatives = set(ranker.read_out_of_scope(PROJECT_ROOT / "data" / "faq" / "out_of_scope.yml"))
    assert len(negatives) >= 150
    held_out = set()
    calibration = yaml.safe_load((PROJECT_ROOT / "data/faq/calibration_offtopic.yml").read_text(encoding="utf-8"))
    held_out |= {normalise(q["text"]) for q in calibration["questions"]}
    dev = yaml.safe_load((PROJECT_ROOT / "tests/data/retrieval_dev.yml").read_text(encoding="utf-8"))
    held_out |= {normalise(str(c["text"])) for c in dev["cases"]}
    rest = yaml.safe_load((PROJECT_ROOT / "tests/data/rest_questions.yml").read_text(encoding="utf-8"))
    held_out |= {normalise(str(q["text"])) for q in rest["questions"] if isinstance(q, dict) and "text" in q}
    assert negatives.isdisjoint(held_out), sorted(negatives & held_out)
