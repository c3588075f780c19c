"""Question → FAQ entry retrieval and the answer / did-you-mean / no-answer decision.

Entries are ranked by their *confidence*: the entry classifier's probability
(``bot/retrieval/ranker.py``: embedding + character n-grams, with a "none of them" class
trained on out-of-scope questions). Passages are ranked by cosine similarity (faiss
IndexFlatIP over unit vectors). A ``topic`` hint (the Rasa intent) only re-ranks:
entries of that topic get ``topic_boost`` added to their ranking key, while the
reported confidence and the thresholds stay raw, so the calibration holds with or
without a hint.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.knowledge.corpus import Citation, citations
from bot.retrieval.embedding import EmbeddingCache, Encoder, get_encoder, unpack_embedding
from bot.retrieval.index import LoadedIndex, index_version, load_index
from bot.knowledge.entries import TOPICS, KnowledgeBase, load_knowledge_base
from bot.retrieval.settings import Settings, load_settings
from bot.lang.question_window import question_window
from bot.lang.text import has_words
from bot.lang.vocabulary import matching_form

logger = logging.getLogger(__name__)

KINDS = ("entry", "passage")
QUERY_CACHE_SIZE = 2048  # distinct query embeddings kept per engine (1.5 kB each)


@dataclass(frozen=True)
class Hit:
    kind: str                   # "entry" | "passage"
    id: str                     # entry id or passage id
    score: float                # entries: confidence (classifier probability, 0..1);
                                # passages: cosine similarity, clipped to 0..1
    matched_text: str           # the question/paraphrase/passage text closest to the query (normalised)
    question: str | None        # entries: the canonical question
    answer: str | None          # entries: the answer
    topic: str | None
    region: str
    citations: list[Citation] = field(default_factory=list)
    related: tuple[str, ...] = ()   # entries: ids offered as follow-up questions
    similarity: float = 0.0     # cosine of matched_text to the query


@dataclass(frozen=True)
class Decision:
    kind: str                   # "answer" | "did_you_mean" | "no_answer"
    hits: list[Hit]             # best first. answer: the answer, then the next best entries;
                                # did_you_mean: candidates >= floor; no_answer: the closest
                                # entries for logging only (empty for input without words)
    query: str                  # the normalised query

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


def rank_by_confidence(confidences: np.ndarray, entry_topics: list[str], topic: str | None = None,
                       boost: float = 0.0) -> list[int]:
    """Entry positions best first by confidence + ``boost`` for entries of the hinted
    topic (unknown topics, e.g. nlu_fallback, hint nothing). Ties keep entry order."""
    hinted = topic if topic in TOPICS else None
    keys = [float(c) + (boost if hinted and t == hinted else 0.0)
            for c, t in zip(confidences, entry_topics)]
    return sorted(range(len(keys)), key=lambda i: -keys[i])


def decide(score: float, answer_threshold: float, floor: float) -> str:
    if score >= answer_threshold:
        return "answer"
    if score >= floor:
        return "did_you_mean"
    return "no_answer"


class Engine:
    def __init__(self, index: LoadedIndex, kb: KnowledgeBase, encoder: Encoder, settings: Settings):
        self.index = index
        self.kb = kb
        self.encoder = encoder
        self.settings = settings
        self.rows = index.rows
        if index.classifier is None:
            raise ValueError("the index has no entry classifier; run `make index`")
        self.classifier = index.classifier
        self.entry_ids = index.classifier.entry_ids
        self.entry_topics = [kb.entry(i).topic for i in self.entry_ids]
        self._rows_of = {i: [] for i in self.entry_ids}
        for n, row in enumerate(self.rows):
            if row.is_entry and row.ref in self._rows_of:
                self._rows_of[row.ref].append(n)
        self._passage_rows = [n for n, row in enumerate(self.rows) if row.kind == "passage"]
        self.query_cache = EmbeddingCache(QUERY_CACHE_SIZE)

    # -- helpers -----------------------------------------------------------
    def prepare(self, text: str) -> str:
        """Normalised, truncated query text."""
        return self.read_part(matching_form(text or ""))

    def read_part(self, query: str) -> str:
        """What is read of a query in matching form: a long one's question window
        (``bot.lang.question_window``, the text Rasa's featurizer embeds too), cut to
        ``max_query_chars``."""
        return question_window(query)[: self.settings.max_query_chars]

    def citations(self, passage_ids) -> list[Citation]:
        return citations(passage_ids, self.kb.documents, self.kb.passages)

    def _entry_hit(self, entry_id: str, confidence: float, cosines: np.ndarray) -> Hit:
        e = self.kb.entry(entry_id)
        row = max(self._rows_of[entry_id], key=lambda n: float(cosines[n]))
        return Hit(kind="entry", id=e.id, score=_clip(confidence), matched_text=self.rows[row].text,
                   question=e.question, answer=e.answer, topic=e.topic, region=e.region,
                   citations=self.citations(e.citations), related=tuple(e.related),
                   similarity=_clip(float(cosines[row])))

    def _passage_hit(self, passage_id: str, score: float, row: int) -> Hit:
        cits = self.citations([passage_id])
        return Hit(kind="passage", id=passage_id, score=_clip(score), matched_text=self.rows[row].text,
                   question=None, answer=None, topic=None,
                   region=cits[0].region if cits else "", citations=cits, similarity=_clip(score))

    def query_vectors(self, queries: list[str]) -> np.ndarray:
        """The embeddings of (already prepared) queries, one row each, through the
        engine's cache of the last ``QUERY_CACHE_SIZE`` distinct queries."""
        return self.query_cache.get(queries, self.encoder.encode)

    def remember(self, text_embedding: object) -> bool:
        """Take an embedding Rasa already computed (its ``text_embedding``, see
        :func:`bot.retrieval.embedding.pack_embedding`) into the query cache, so the question is not
        embedded twice. Ignored (False) unless it is well formed and from this engine's
        encoder; it is kept under the exact text embedded, so it only serves that text."""
        unpacked = unpack_embedding(text_embedding, self.encoder.dimension)
        if unpacked is None or unpacked[1] != self.encoder.model_id:
            return False
        text, _, vector = unpacked
        self.query_cache.put({text: vector})
        return True

    def prefetch(self, queries: list[str]) -> None:
        """Embed the queries (in matching form) that answering may ask for next, in one
        batch (a follow-up is read alone and in context); queries without words are
        skipped, as ``answer_query`` does."""
        queries = [self.read_part(q) for q in queries]
        queries = [q for q in queries if has_words(q)]
        if queries:
            self.query_vectors(queries)

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """For an (already prepared) query: the cosine against every stored vector, and
        the confidence of every entry (in ``entry_ids`` order)."""
        vector = self.query_vectors([query])
        scores, ids = self.index.index.search(vector, self.index.index.ntotal)
        cosines = np.empty(len(self.rows), dtype=np.float32)
        cosines[ids[0]] = scores[0]
        confidences = self.classifier.probabilities([query], vector)[0, :-1]
        return cosines, confidences

    # -- public API --------------------------------------------------------
    def search(self, text: str, k: int = 5, topic: str | None = None,
               kinds: tuple[str, ...] = KINDS) -> list[Hit]:
        """Top ``k`` entries, then top ``k`` passages (each best first) for raw text.
        Empty for input without words."""
        return self.search_query(matching_form(text or ""), k, topic, kinds)

    def search_query(self, query: str, k: int = 5, topic: str | None = None,
                     kinds: tuple[str, ...] = KINDS) -> list[Hit]:
        """:meth:`search` for text already in matching form (``bot.lang.vocabulary.matching_form``)."""
        query = self.read_part(query)
        if not has_words(query) or k <= 0:
            return []
        return self._search_prepared(query, k, topic, kinds)

    def _search_prepared(self, query, k, topic, kinds, exclude: str | None = None) -> list[Hit]:
        cosines, confidences = self.scores(query)
        if exclude in self.entry_ids:
            # "something other than that entry": its probability is spread over the rest
            i = self.entry_ids.index(exclude)
            rest = max(1e-9, 1.0 - float(confidences[i]))
            confidences = confidences / rest
            confidences[i] = 0.0
        hits: list[Hit] = []
        if "entry" in kinds:
            order = rank_by_confidence(confidences, self.entry_topics, topic, self.settings.topic_boost)
            hits += [self._entry_hit(self.entry_ids[i], float(confidences[i]), cosines) for i in order[:k]]
        if "passage" in kinds:
            best = sorted(self._passage_rows, key=lambda n: float(cosines[n]), reverse=True)[:k]
            hits += [self._passage_hit(self.rows[n].ref, float(cosines[n]), n) for n in best]
        return hits

    def answer(self, text: str, topic: str | None = None, exclude: str | None = None) -> Decision:
        """The decision for raw text: :meth:`answer_query` on its matching form."""
        return self.answer_query(matching_form(text or ""), topic, exclude)

    def answer_query(self, query: str, topic: str | None = None,
                     exclude: str | None = None, windowed: bool = True) -> Decision:
        """Answer when the best entry's confidence reaches ``answer_threshold``; offer
        it and the next likely entries (confidence >= ``suggestion_min``) as "did you
        mean" from ``floor``; below that, no answer (the hits are kept for logging).
        ``query`` is in matching form (``bot.lang.vocabulary.matching_form``). ``exclude``: an
        entry id the question is known NOT to ask for (a follow-up to it); confidences
        are then conditional on "not that entry". ``windowed=False``: a long query is read
        whole (cut to ``max_query_chars``), not on its question window."""
        query = self.read_part(query) if windowed else query[: self.settings.max_query_chars]
        if not has_words(query):
            return Decision("no_answer", [], query)
        s = self.settings
        hits = self._search_prepared(query, max(s.did_you_mean_k, 3), topic, ("entry",), exclude)
        if not hits:
            return Decision("no_answer", [], query)
        kind = decide(hits[0].score, s.answer_threshold, s.floor)
        if kind == "did_you_mean":
            hits = hits[:1] + [h for h in hits[1:] if h.score >= s.suggestion_min][: s.did_you_mean_k - 1]
        return Decision(kind, hits, query)


def _clip(score: float) -> float:
    return float(min(1.0, max(0.0, score)))


@dataclass(frozen=True)
class _Served:
    engine: Engine
    version: tuple | None       # bot.retrieval.index.index_version when it was loaded


_engines: dict[tuple, _Served] = {}
_failed: dict[tuple, tuple] = {}   # key → an index version that would not load
_lock = threading.Lock()


def load_engine(settings: Settings | None = None, index_dir: Path | None = None,
                encoder: Encoder | None = None, reload: bool = False) -> Engine:
    """The engine over ``models/index`` (or ``index_dir``) and the knowledge copied into
    it, created once per configuration and again when a publish serves a new index
    version (:func:`bot.retrieval.index.index_version`, one ``stat`` per call). While the
    new version loads, other threads keep the engine they had; a version that does not
    load is logged and the one loaded before goes on serving. Raises
    ``bot.retrieval.index.IndexMissingError`` / ``IndexMismatchError`` (both
    ``IndexUnusableError``) with a message telling to run ``make index`` when there is
    no engine to fall back on."""
    settings = settings or load_settings()
    index_dir = Path(index_dir or settings.index_dir)
    encoder = encoder or get_encoder(settings)
    key = (str(index_dir), settings, encoder.model_id, id(encoder))
    version = index_version(index_dir)
    served = _engines.get(key)
    if served is not None and not reload and (version is None or version in (served.version, _failed.get(key))):
        return served.engine
    if not _lock.acquire(blocking=served is None or reload):
        return served.engine  # another thread loads the new version meanwhile
    try:
        served = _engines.get(key)
        version = index_version(index_dir)
        if served is not None and not reload and (version is None or version == served.version):
            return served.engine
        try:
            engine = _load(settings, Path(version[0]) if version else index_dir, encoder)
        except Exception:
            if served is None or reload:
                raise
            logger.exception("index version %s does not load; serving %s", version, served.version)
            _failed[key] = version
            return served.engine
        _engines[key] = _Served(engine, version)
        return engine
    finally:
        _lock.release()


def _load(settings: Settings, directory: Path, encoder: Encoder) -> Engine:
    """An engine over one index directory (its real path, so a publish that swaps the
    link meanwhile cannot mix two versions) and the knowledge it was built from."""
    index = load_index(encoder, directory)
    knowledge = index.knowledge
    kb = load_knowledge_base(knowledge.entries_dir, knowledge.sources_dir)
    return Engine(index, kb, encoder, settings)
