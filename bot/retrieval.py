"""Question → FAQ entry retrieval and the answer / did-you-mean / no-answer decision.

Entries are ranked by their best-matching vector (canonical question or one of its
paraphrases); passages are ranked separately. Scores are cosine similarities of unit
vectors (faiss IndexFlatIP). A ``topic`` hint (the Rasa intent) only re-ranks: entries
of that topic get ``topic_boost`` added to their ranking key, while the reported score
and the thresholds stay on the raw cosine, so the calibration holds with or without a
hint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from bot.corpus import Document
from bot.embedding import Encoder, get_encoder
from bot.index import LoadedIndex, Row, load_index
from bot.knowledge_base import TOPICS, KnowledgeBase, load_knowledge_base
from bot.settings import Settings, load_settings
from bot.text import has_words, normalise

KINDS = ("entry", "passage")


@dataclass(frozen=True)
class Citation:
    passage_id: str
    document_id: str
    title: str
    issuer: str
    published: date | None
    region: str
    source_url: str | None


@dataclass(frozen=True)
class Hit:
    kind: str                   # "entry" | "passage"
    id: str                     # entry id or passage id
    score: float                # cosine, clipped to 0..1
    matched_text: str           # the question/paraphrase/passage text that matched (normalised)
    question: str | None        # entries: the canonical question
    answer: str | None          # entries: the answer
    topic: str | None
    region: str
    citations: list[Citation] = field(default_factory=list)
    related: tuple[str, ...] = ()   # entries: ids offered as follow-up questions


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


def rank_entries(scores: np.ndarray, rows: list[Row], topic: str | None = None,
                 boost: float = 0.0, exclude: int | None = None,
                 temperature: float = 0.0) -> list[tuple[str, float, int]]:
    """One score per entry from its vectors' cosines; returns (entry id, score, best
    row) best first by score + ``boost`` for entries of the hinted topic.

    ``temperature`` 0: the entry scores its best vector (max). > 0: a soft maximum,
    max + T·log(mean(exp((s − max)/T))), which is ≤ max and rewards entries whose
    several paraphrases agree over a single lucky paraphrase (measured in
    data/faq/retrieval.yml)."""
    per_entry: dict[str, list[tuple[float, int]]] = {}
    for i, row in enumerate(rows):
        if row.is_entry and i != exclude:
            per_entry.setdefault(row.ref, []).append((float(scores[i]), i))
    hinted = topic if topic in TOPICS else None
    result = []
    for ref, items in per_entry.items():
        best, best_row = max(items)
        if temperature > 0 and len(items) > 1:
            values = np.array([v for v, _ in items])
            score = best + temperature * float(np.log(np.mean(np.exp((values - best) / temperature))))
        else:
            score = best
        key = score + (boost if hinted and rows[best_row].topic == hinted else 0.0)
        result.append((key, ref, score, best_row))
    result.sort(key=lambda r: r[0], reverse=True)
    return [(ref, score, i) for _, ref, score, i in result]


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

    # -- helpers -----------------------------------------------------------
    def prepare(self, text: str) -> str:
        """Normalised, truncated query text."""
        return normalise(text or "")[: self.settings.max_query_chars]

    def citations(self, passage_ids) -> list[Citation]:
        out = []
        for pid in passage_ids:
            passage = self.kb.passages.get(pid)
            if passage is None:
                continue
            doc: Document = self.kb.documents[passage.document_id]
            out.append(Citation(passage_id=pid, document_id=doc.id, title=doc.title, issuer=doc.issuer,
                                published=doc.published, region=doc.region, source_url=doc.source_url))
        return out

    def _entry_hit(self, entry_id: str, score: float, row: int) -> Hit:
        e = self.kb.entry(entry_id)
        return Hit(kind="entry", id=e.id, score=_clip(score), matched_text=self.rows[row].text,
                   question=e.question, answer=e.answer, topic=e.topic, region=e.region,
                   citations=self.citations(e.citations), related=tuple(e.related))

    def _passage_hit(self, passage_id: str, score: float, row: int) -> Hit:
        cits = self.citations([passage_id])
        return Hit(kind="passage", id=passage_id, score=_clip(score), matched_text=self.rows[row].text,
                   question=None, answer=None, topic=None,
                   region=cits[0].region if cits else "", citations=cits)

    def scores(self, query: str) -> np.ndarray:
        """Cosine of the (already prepared) query against every stored vector."""
        vector = self.encoder.encode([query])
        scores, ids = self.index.index.search(vector, self.index.index.ntotal)
        out = np.empty(len(self.rows), dtype=np.float32)
        out[ids[0]] = scores[0]
        return out

    # -- public API --------------------------------------------------------
    def search(self, text: str, k: int = 5, topic: str | None = None,
               kinds: tuple[str, ...] = KINDS) -> list[Hit]:
        """Top ``k`` entries, then top ``k`` passages (each best first). Empty for
        input without words."""
        query = self.prepare(text)
        if not has_words(query) or k <= 0:
            return []
        return self._search_prepared(query, k, topic, kinds)

    def _search_prepared(self, query, k, topic, kinds) -> list[Hit]:
        scores = self.scores(query)
        hits: list[Hit] = []
        if "entry" in kinds:
            ranked = rank_entries(scores, self.rows, topic, self.settings.topic_boost,
                                  temperature=self.settings.temperature)
            hits += [self._entry_hit(ref, s, i) for ref, s, i in ranked[:k]]
        if "passage" in kinds:
            passage_rows = [i for i, r in enumerate(self.rows) if r.kind == "passage"]
            passage_rows.sort(key=lambda i: float(scores[i]), reverse=True)
            hits += [self._passage_hit(self.rows[i].ref, float(scores[i]), i) for i in passage_rows[:k]]
        return hits

    def answer(self, text: str, topic: str | None = None) -> Decision:
        query = self.prepare(text)
        if not has_words(query):
            return Decision("no_answer", [], query)
        s = self.settings
        hits = self._search_prepared(query, max(s.did_you_mean_k, 3), topic, ("entry",))
        if not hits:
            return Decision("no_answer", [], query)
        kind = decide(hits[0].score, s.answer_threshold, s.floor)
        if kind == "did_you_mean":
            hits = [h for h in hits if h.score >= s.floor][: s.did_you_mean_k]
        return Decision(kind, hits, query)


def _clip(score: float) -> float:
    return float(min(1.0, max(0.0, score)))


_engines: dict[tuple, Engine] = {}
_lock = threading.Lock()


def load_engine(settings: Settings | None = None, index_dir: Path | None = None,
                encoder: Encoder | None = None, reload: bool = False) -> Engine:
    """The engine over ``models/index`` (or ``index_dir``), created once per
    configuration. Raises ``bot.index.IndexMissingError`` / ``IndexMismatchError``
    (both ``IndexUnusableError``) with a message telling to run ``make index``."""
    settings = settings or load_settings()
    index_dir = Path(index_dir or settings.index_dir)
    encoder = encoder or get_encoder(settings)
    key = (str(index_dir), str(settings.entries_dir), str(settings.sources_dir), encoder.model_id, id(encoder))
    with _lock:
        if reload or key not in _engines:
            index = load_index(encoder, index_dir, settings.entries_dir, settings.sources_dir)
            kb = load_knowledge_base(settings.entries_dir, settings.sources_dir)
            _engines[key] = Engine(index, kb, encoder, settings)
        return _engines[key]
