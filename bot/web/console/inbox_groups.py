"""The staff inbox's view models: the questions the assistant did not serve well, grouped.

An :class:`InboxItem` is one logged question that got the fallback, a did-you-mean (with
what the candidate picked from it), a low-confidence answer, or a thumbs down. Items are
gathered per question (:func:`bot.web.storage.tables.question_key`) and the questions grouped
by similarity (:mod:`bot.retrieval.clustering`, called through the ``cluster`` function
the handler gives); an :class:`InboxGroup` is pending while any of its questions is.
Nothing here reads a database or an encoder: :mod:`bot.web.console.inbox` does and passes
the results in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from bot.web.storage.tables import question_key
from bot.web.storage.ratings import Rating
from bot.web.storage.conversations import LoggedTurn

INBOX_KINDS = ("fallback", "did_you_mean", "low_confidence", "thumbs_down")
STATUS_FILTERS = ("pending", "resolved", "ignored", "all")
# An answer this close above the answer threshold (or below it: answered from the
# conversation's context) is a low-confidence answer worth a look.
LOW_CONFIDENCE_MARGIN = 0.1
MAX_ANNOTATED_QUESTIONS = 20  # questions one "处理" form carries to the annotate page
SHOWN_CONVERSATIONS = 5


@dataclass(frozen=True)
class InboxItem:
    """One logged question the assistant did not serve well, and how."""

    sender_id: str
    turn: int
    text: str                    # masked, as asked
    key: str                     # question_key(text)
    timestamp: float
    kinds: tuple[str, ...]       # of INBOX_KINDS
    topic: str | None
    entry_id: str | None         # what was answered (low confidence, thumbs down)
    score: float | None
    candidates: tuple[str, ...]  # a did-you-mean's entries
    picked: str | None           # … the one the candidate chose, if any
    followed_by: str | None      # … else what they asked next (None: nothing)
    rating: Rating | None        # a thumbs down


def turn_kinds(turn: LoggedTurn, rating: Rating | None, low_confidence_below: float) -> tuple[str, ...]:
    """Why ``turn`` belongs in the inbox (empty: it does not)."""
    kinds = []
    if turn.kind in ("fallback", "did_you_mean"):
        kinds.append(turn.kind)
    answer = turn.answer
    # an answer per region (custom.entries) is scored by its best region's share of the
    # question, not by how sure it is: the regions together were confident enough
    if (answer is not None and answer.kind == "faq_answer" and answer.score is not None
            and answer.score < low_confidence_below and len(answer.entries) < 2):
        kinds.append("low_confidence")
    if rating is not None and rating.rating == "down":
        kinds.append("thumbs_down")
    return tuple(kinds)


def inbox_items(turns: Iterable[LoggedTurn], ratings: dict[tuple[str, int], Rating],
                low_confidence_below: float) -> Iterator[InboxItem]:
    """The inbox's items among ``turns`` (``ratings`` by (sender, turn))."""
    for turn in turns:
        if not turn.question.text.strip():  # an empty user event: no question to improve
            continue
        rating = ratings.get((turn.sender_id, turn.turn))
        kinds = turn_kinds(turn, rating, low_confidence_below)
        if not kinds:
            continue
        answer = turn.answer
        picked = turn.picked
        followed_by = None
        if "did_you_mean" in kinds and picked is None and turn.next_question is not None:
            followed_by = turn.next_question.text
        yield InboxItem(
            sender_id=turn.sender_id, turn=turn.turn, text=turn.question.text, key=question_key(turn.question.text),
            timestamp=turn.question.timestamp, kinds=kinds, topic=turn.topic,
            entry_id=answer.entry_id if answer else None, score=answer.score if answer else None,
            candidates=answer.candidates if answer else (), picked=picked, followed_by=followed_by,
            rating=rating if "thumbs_down" in kinds else None)


@dataclass(frozen=True)
class InboxFilters:
    """Which items and groups the inbox shows."""

    date_from: date | None = None
    date_to: date | None = None
    topic: str | None = None     # a topic id; "none" for items without one
    kind: str | None = None      # one of INBOX_KINDS
    status: str = "pending"      # one of STATUS_FILTERS

    def admits(self, item: InboxItem) -> bool:
        """Whether ``item`` passes the topic and kind filters (dates are read in SQL)."""
        if self.kind and self.kind not in item.kinds:
            return False
        if self.topic:
            return (item.topic or "none") == self.topic
        return True


@dataclass(frozen=True)
class InboxQuestion:
    """One question of a group: its latest wording, how often it was asked, its status."""

    key: str
    text: str
    count: int
    status: str


@dataclass(frozen=True)
class InboxGroup:
    """Similar questions and every time they were asked (newest first)."""

    questions: tuple[InboxQuestion, ...]  # most asked first
    items: tuple[InboxItem, ...]

    @property
    def status(self) -> str:
        """pending while any question is; ignored when all are; else resolved."""
        statuses = {question.status for question in self.questions}
        if "pending" in statuses:
            return "pending"
        return "ignored" if statuses == {"ignored"} else "resolved"

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def latest(self) -> float:
        return self.items[0].timestamp

    @property
    def example(self) -> InboxItem:
        """The newest asking: where the annotate page and the regression case start."""
        return self.items[0]

    @property
    def kind_counts(self) -> list[tuple[str, int]]:
        """How many items are of each kind, in INBOX_KINDS order, zeros left out."""
        counts = Counter(kind for item in self.items for kind in item.kinds)
        return [(kind, counts[kind]) for kind in INBOX_KINDS if counts[kind]]

    @property
    def topic(self) -> str | None:
        """The topic most of its items have (None when none has one)."""
        topics = Counter(item.topic for item in self.items if item.topic)
        return topics.most_common(1)[0][0] if topics else None

    @property
    def picks(self) -> list[tuple[str | None, int]]:
        """After its did-you-means: each entry picked and how often, most picked first,
        then (None, n) for the times none was."""
        offered = [item for item in self.items if "did_you_mean" in item.kinds]
        picked = Counter(item.picked for item in offered if item.picked)
        unpicked = sum(1 for item in offered if not item.picked)
        return picked.most_common() + ([(None, unpicked)] if unpicked else [])

    @property
    def followed_by(self) -> list[str]:
        """What candidates asked next instead of picking (newest first, distinct)."""
        return list(dict.fromkeys(item.followed_by for item in self.items if item.followed_by))

    @property
    def thumbs_down(self) -> list[Rating]:
        """Its thumbs down with their reasons and comments, newest first."""
        return [item.rating for item in self.items if item.rating is not None]

    @property
    def conversations(self) -> list[InboxItem]:
        """The newest asking in each of the first conversations (links to the log)."""
        seen: dict[str, InboxItem] = {}
        for item in self.items:
            seen.setdefault(item.sender_id, item)
        return list(seen.values())[:SHOWN_CONVERSATIONS]

    @property
    def question_texts(self) -> list[str]:
        """The questions the annotate page gets ("处理"), most asked first."""
        return [question.text for question in self.questions[:MAX_ANNOTATED_QUESTIONS]]

    @property
    def every_question(self) -> list[str]:
        """Every question of the group, for its status buttons."""
        return [question.text for question in self.questions]


Cluster = Callable[[list[str]], list[list[int]]]


def group_items(items: Iterable[InboxItem], statuses: dict[str, str], cluster: Cluster) -> list[InboxGroup]:
    """The items gathered per question, the questions grouped by ``cluster`` (given the
    distinct questions, most asked first, it returns groups of their indices; each
    question in exactly one), biggest group first, then the most recent."""
    by_key: dict[str, list[InboxItem]] = {}
    for item in items:
        by_key.setdefault(item.key, []).append(item)
    for asked in by_key.values():
        asked.sort(key=lambda item: -item.timestamp)
    keys = sorted(by_key, key=lambda key: (-len(by_key[key]), -by_key[key][0].timestamp, key))
    groups = []
    for members in cluster(keys):
        questions = tuple(InboxQuestion(keys[i], by_key[keys[i]][0].text, len(by_key[keys[i]]),
                                        statuses.get(keys[i], "pending")) for i in sorted(members))
        asked = sorted((item for i in members for item in by_key[keys[i]]), key=lambda item: -item.timestamp)
        groups.append(InboxGroup(questions, tuple(asked)))
    groups.sort(key=lambda group: (-group.size, -group.latest))
    return groups


def each_alone(keys: list[str]) -> list[list[int]]:
    """The :data:`Cluster` that groups nothing: one group per question."""
    return [[index] for index in range(len(keys))]


def shown_groups(groups: list[InboxGroup], status: str) -> list[InboxGroup]:
    """The groups with this status (all of them for ``all``)."""
    return groups if status == "all" else [group for group in groups if group.status == status]
