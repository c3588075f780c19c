"""A Rasa NLU component: the message's noise taken off before anything else reads it.

Greetings and politeness ("你好，请问一下哈"), emoji, markup, runs of punctuation and
numbers the candidate left (phone and ID numbers, also masked) are removed with
``bot.lang.noise.core_of``, the same function the action server reads messages with, so
a noisy message gets the same intent as its clean core and its entities are found in the
words. First in config.yml's pipeline; the event keeps what the candidate typed. Training
examples go through it too, so training and serving see text the same way.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lang.noise import core_of


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class CandidateText(GraphComponent):
    """Sets a message's text to its core (``bot.lang.noise.core_of``)."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> GraphComponent:
        return cls()

    @staticmethod
    def _clean(messages: List[Message]) -> None:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text:
                message.set(TEXT, core_of(text))

    def process(self, messages: List[Message]) -> List[Message]:
        self._clean(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._clean(training_data.training_examples)
        return training_data
