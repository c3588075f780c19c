"""rasa_server's NLU components, run in the Rasa venv (Python 3.10) with real Rasa
components around them: jieba tokens, n-gram counts, the e5 sentence featurizer and the
blended intent classifier, trained on a small data set, stored, loaded back and asked."""

from __future__ import annotations

import json
import subprocess
import textwrap

import numpy as np
import pytest

from bot import PROJECT_ROOT
from bot.lang.question_window import WINDOW_CHARS, question_window
from bot.lang.vocabulary import matching_form
from bot.retrieval.embedding import unpack_embedding

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

# a candidate's story, then the question
LONG = ("老师您好，我是前年在外地参加的考试，那时候工作特别忙，考完之后就把这件事情完全忘在脑后了，"
        "最近单位要评职称，人事那边通知我们把材料准备齐全，同事说可以来这里问问，电子证书在哪里下载")
CHECK = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa_server.blended_classifier import BlendedIntentClassifier
    from rasa_server.sentence_featurizer import E5SentenceFeaturizer

    examples = json.loads(sys.argv[1])
    storage = LocalModelStorage(Path(sys.argv[2]))
    context = ExecutionContext(GraphSchema({}), "test")

    def make(cls, name, config=None):
        return cls.create({**cls.get_default_config(), **(config or {})}, storage,
                          Resource(name), context)

    tokenizer = make(JiebaTokenizer, "tokens")
    counts = make(CountVectorsFeaturizer, "counts")
    e5 = make(E5SentenceFeaturizer, "e5")
    classifier = make(BlendedIntentClassifier, "blend", {"blend_weight": 0.7})
    data = TrainingData([Message.build(text=t, intent=i) for i, ts in examples.items() for t in ts])
    tokenizer.process_training_data(data)
    counts.train(data)
    counts.process_training_data(data)
    e5.process_training_data(data)
    classifier.train(data)
    loaded = BlendedIntentClassifier.load({**BlendedIntentClassifier.get_default_config(),
                                           "blend_weight": 0.7}, storage, Resource("blend"), context)

    def parse(text, earlier=None):
        message = Message.build(text=text)
        if earlier:
            message.set("intent_ranking", earlier)
        for component in (tokenizer, counts, e5):
            component.process([message])
        loaded.process([message])
        return message

    out = {}
    for text in sys.argv[3:]:
        message = parse(text)
        out[text] = {"intent": message.get("intent")["name"],
                     "confidence": message.get("intent")["confidence"],
                     "ranking": message.get("intent_ranking")}
    # the blend: 0.7 x own probabilities + 0.3 x the ranking left by DIET
    own = parse("电子证书在哪下载").get("intent_ranking")
    earlier = [{"name": "ask_fees", "confidence": 1.0}]
    blended = {r["name"]: r["confidence"] for r in parse("电子证书在哪下载", earlier).get("intent_ranking")}
    out["blend"] = {"own": {r["name"]: r["confidence"] for r in own}, "blended": blended}
    traditional = parse("證書直郵怎麼申請")
    vector = traditional.get_dense_features("text")[1].features.reshape(-1)
    out["e5"] = {"norm": float(np.linalg.norm(vector)), "dim": int(vector.shape[0]),
                 "blank_norm": float(np.linalg.norm(e5.embed(["  "])[0])),
                 "script_cosine": float(vector @ e5.embed(["证书直邮怎么申请"])[0]),
                 "other_cosine": float(vector @ e5.embed(["明天会下雪吗"])[0]),
                 "shared": traditional.as_dict(only_output_properties=True).get("text_embedding"),
                 "blank_shared": parse("  ").get("text_embedding"),
                 "long_shared": parse(LONG).get("text_embedding"),
                 "model_id": e5.encoder.model_id}
    print(json.dumps(out, ensure_ascii=False))
""")

CHECK = f"LONG = {LONG!r}\n" + CHECK

EXAMPLES = {
    "ask_ecert_download": ["电子证书在哪里下载", "电子证书去哪下", "怎么下载电子证书",
                           "电子证书下载入口在哪", "人事考试网下载证书"],
    "ask_fees": ["邮寄证书要花钱吗", "邮费多少钱", "寄证书收费吗", "快递费谁出", "证书邮寄费用"],
    "greet": ["你好", "您好", "早上好", "嗨", "在吗"],
}
QUESTIONS = {"电子版证书从哪儿下": "ask_ecert_download", "证书寄过来要付钱吗": "ask_fees",
             "哈喽，你好呀": "greet", "": None}


pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(),
                                reason="the Rasa venv is made by `make install`")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict:
    """What the components answered (one training run for the module's tests)."""
    storage = tmp_path_factory.mktemp("model_storage")
    done = subprocess.run([str(RASA_PYTHON), "-c", CHECK, json.dumps(EXAMPLES, ensure_ascii=False),
                           str(storage), *QUESTIONS],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
                               "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_blended_classifier_trains_stores_loads_and_blends(outcome):
    for question, intent in QUESTIONS.items():
        if intent:
            assert outcome[question]["intent"] == intent, (question, outcome[question])
    # an empty message gets a ranking (zero features), not an exception
    assert {r["name"] for r in outcome[""]["ranking"]} == set(EXAMPLES)
    own, blended = outcome["blend"]["own"], outcome["blend"]["blended"]
    assert sum(own.values()) == pytest.approx(1.0)
    for name in EXAMPLES:
        expected = 0.7 * own[name] + (0.3 if name == "ask_fees" else 0.0)
        assert blended[name] == pytest.approx(expected, abs=1e-6)


def test_e5_featurizer_embeds_the_normalised_text_and_passes_it_on(outcome):
    e5 = outcome["e5"]
    assert e5["dim"] == 384 and e5["norm"] == pytest.approx(1.0, abs=1e-4)
    assert e5["blank_norm"] == 0.0
    # traditional script is embedded as retrieval matches it: simplified
    assert e5["script_cosine"] == pytest.approx(1.0, abs=1e-5) and e5["other_cosine"] < 0.95
    # ... and the parse result carries it for the action server, in the shape it reads
    text, model_id, vector = unpack_embedding(e5["shared"], 384)
    assert text == "证书直邮怎么申请" and model_id == e5["model_id"]
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-4)
    assert e5["blank_shared"] is None
    # a long message: its question window, the text the engine reads of it (issue 22)
    text, _, _ = unpack_embedding(e5["long_shared"], 384)
    assert text == question_window(matching_form(LONG)) and len(text) <= WINDOW_CHARS
