"""The entry classifier: which FAQ entry a question asks for, or none of them.

Nearest-neighbour search over eight-odd paraphrases per entry ranks sibling entries
poorly and cannot tell a near miss ("学位证丢了怎么补") from a real question. This
model learns from all of them at once: a multinomial logistic regression over

  * the question's embedding (the same vectors as the index, weighted by
    ``vector_weight``), and
  * TF-IDF of its character unigrams and bigrams (typos and rare terms such as
    加注 or 直邮 that the small embedding model blurs),

with one class per entry plus ``NONE``, trained on ``data/faq/out_of_scope.yml``.
Its probability of an entry is the entry's *confidence*; the thresholds in
``data/faq/retrieval.yml`` apply to it (``python -m bot.training.calibrate``).

Trained at index build time (``make index``) and stored next to the index; scikit-learn
is imported only when a model is trained or loaded.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.datafiles import question_groups
from bot.lang.vocabulary import matching_form

NONE = "__none__"
MODEL_FILE = "classifier.pkl"


@dataclass(frozen=True)
class ClassifierSettings:
    c: float = 20.0               # inverse regularisation strength of the logistic regression
    vector_weight: float = 4.0    # scale of the embedding block against the TF-IDF block
    ngram_max: int = 2            # character n-grams 1..ngram_max

    def as_dict(self) -> dict:
        return {"c": self.c, "vector_weight": self.vector_weight, "ngram_max": self.ngram_max}


@dataclass
class EntryClassifier:
    labels: list[str]             # entry ids in column order, NONE last
    vectorizer: object            # sklearn TfidfVectorizer
    model: object                 # sklearn LogisticRegression
    settings: ClassifierSettings
    sklearn_version: str

    @property
    def entry_ids(self) -> list[str]:
        return self.labels[:-1]

    def features(self, texts: list[str], vectors: np.ndarray):
        from scipy.sparse import csr_matrix, hstack

        dense = csr_matrix(np.asarray(vectors, dtype=np.float64) * self.settings.vector_weight)
        return hstack([dense, self.vectorizer.transform(texts)]).tocsr()

    def probabilities(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """(n, len(labels)) probabilities in ``labels`` order (NONE last). ``texts``
        are normalised queries, ``vectors`` their embeddings.

        The multinomial model's softmax is computed here from its weights, which is what
        ``predict_proba`` does, without scikit-learn's input checks (a third of the time
        of a chat turn's ranking); ``tests/test_ranker.py`` checks both agree."""
        dense_weights, sparse_weights, intercept = self._weights()
        vectors = np.asarray(vectors, dtype=np.float64) * self.settings.vector_weight
        scores = vectors @ dense_weights + self.vectorizer.transform(texts) @ sparse_weights
        scores += intercept
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def _weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's weights split into the embedding and the TF-IDF block, columns in
        ``labels`` order (computed once)."""
        cached = getattr(self, "_weight_cache", None)
        if cached is None:
            order = [list(self.model.classes_).index(i) for i in range(len(self.labels))]
            coef = np.asarray(self.model.coef_, dtype=np.float64)
            intercept = np.asarray(self.model.intercept_, dtype=np.float64)
            if coef.shape[0] == 1:  # two classes: sigmoid(z) is softmax over (0, z)
                coef = np.vstack([np.zeros_like(coef), coef])
                intercept = np.concatenate([[0.0], intercept])
            coef, intercept = coef[order], intercept[order]
            dimension = coef.shape[1] - len(self.vectorizer.vocabulary_)
            cached = (np.ascontiguousarray(coef[:, :dimension].T),
                      np.ascontiguousarray(coef[:, dimension:].T), intercept)
            self._weight_cache = cached
        return cached

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_weight_cache", None)  # derived from the model: not stored
        return state

    def scikit_learn_probabilities(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """The same probabilities from scikit-learn's ``predict_proba`` (for checking)."""
        proba = self.model.predict_proba(self.features(texts, vectors))
        order = [list(self.model.classes_).index(i) for i in range(len(self.labels))]
        return proba[:, order]


def train(texts: list[str], labels: list[str], vectors: np.ndarray,
          settings: ClassifierSettings = ClassifierSettings()) -> EntryClassifier:
    """Fit on normalised texts, their labels (entry ids or NONE) and embeddings."""
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    names = sorted({label for label in labels if label != NONE}) + [NONE]
    column = {name: i for i, name in enumerate(names)}
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, settings.ngram_max),
                                 sublinear_tf=True)
    vectorizer.fit(texts)
    classifier = EntryClassifier(names, vectorizer, None, settings, sklearn.__version__)
    model = LogisticRegression(C=settings.c, max_iter=5000)
    model.fit(classifier.features(texts, vectors), np.array([column[label] for label in labels]))
    classifier.model = model
    return classifier


def read_out_of_scope(path: Path) -> list[str]:
    """The normalised, distinct questions of ``out_of_scope.yml`` (``questions``: a
    mapping of group → list of questions)."""
    out: list[str] = []
    for group, questions in question_groups(path).items():
        for question in questions:
            if not isinstance(question, str):
                raise ValueError(f"{path}: group {group}: {question!r} is not text (quote it)")
            text = matching_form(question)
            if text and text not in out:
                out.append(text)
    return out


def save(classifier: EntryClassifier, directory: Path) -> Path:
    path = Path(directory) / MODEL_FILE
    tmp = path.with_name(f".{MODEL_FILE}.tmp")
    tmp.write_bytes(pickle.dumps(classifier, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)
    return path


def load(directory: Path) -> EntryClassifier | None:
    """The classifier stored by ``save`` (our own build output), or None if absent."""
    path = Path(directory) / MODEL_FILE
    if not path.exists():
        return None
    return pickle.loads(path.read_bytes())  # noqa: S301 - written by our own index build


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__
