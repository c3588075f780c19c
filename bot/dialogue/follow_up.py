"""A message read in the context of the conversation's last answer.

After an answer the assistant remembers the entry (slot ``last_entry``) and the
candidate's own words for it (``last_asked``). The next message is read alone and after
each of those contexts, both as asking for any entry and as asking for an entry other
than the last one; the decision between these readings has two margins chosen on the
development pairs of ``tests/data/follow_up_dev.yml`` (``follow_up`` in
``data/faq/retrieval.yml``, written by ``python -m bot.training.follow_up_margins``), not a
length limit or marker words. A message still unclear in context, whose readings point
into the last answer's topic, gets a clarifying question with that topic's entries as
quick replies instead of the generic fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from bot import datafiles
from bot.dialogue.message import Message
from bot.dialogue.state import DialogueState
from bot.knowledge.entries import Entry
from bot.lang.regions import nationwide
from bot.lang.vocabulary import matching_form
from bot.retrieval.engine import Decision, Engine, Hit

# A message answered by itself at least this confidently is not re-read in context: over
# 870 short messages after an answered question, no reading in context changed such an
# answer, and each costs an embedding.
SURE_ALONE = 0.8
# A message longer than this (query characters) is read by itself, not after the last
# answer: it says what it asks (over 300 bench turns and the conversation cases no
# answer changed; such turns got a clarifying question about the last answer's topic,
# now a fallback), and embedding it after each context made the 1-user tail (later
# turns p95 230 -> 88 ms in-process).
LONG_MESSAGE = 40
MAX_CLARIFY_OPTIONS = 3
# A message pointing at the last answer ("它", "这种") is about that entry again only when
# it leads the best other entry in context by this much: on the pointing follow-ups of
# tests/real_messages/dev.yml (tracking 0.66, revoked 0.83, rare character 0.92) against
# conv-follow-seals-validity-01, where the other entry is the question (0.28).
POINTING_MARGIN = 0.5
# The message alone leaning this much to an entry other than the one its reading in
# context answers makes the two readings close enough to ask back (see _readings_that_disagree).
WORDS_LEAN = 0.2
OFF_TOPIC = "out_of_scope"


@dataclass(frozen=True)
class Margins:
    """How much more confident a reading in context must be than the message alone
    (``over_alone``), and how confident a reading that answers with the last entry again
    must be (``same_entry``, added to the answer threshold)."""

    over_alone: float = 0.0
    same_entry: float = 0.1
    in_topic: float = 1.01        # a reading in the last topic this confident answers
    clarify_floor: float = 0.1    # a topic entry this likely in context: worth asking about


def margins() -> Margins:
    """The margins of ``data/faq/retrieval.yml`` (``follow_up``), defaults without them."""
    values = datafiles.retrieval_config().get("follow_up") or {}
    return Margins(**{k: float(v) for k, v in values.items() if k in Margins.__dataclass_fields__})


@dataclass(frozen=True)
class Reading:
    """What the message means in context: a decision to answer with, or a request to ask
    back with candidate entries (``clarify``)."""

    decision: Decision
    clarify: tuple[Hit, ...] = ()
    in_context: bool = False
    # entries other than the last one that the readings in context lean to (from the
    # did-you-mean floor) without answering, best first
    leaning: tuple[Hit, ...] = ()


def contexts(state: DialogueState, engine: Engine) -> list[str]:
    """The matching forms the message is read after: the candidate's words for the last
    answer, then the last entry's question."""
    entry = engine.kb.by_id.get(state.last_entry or "")
    texts = [state.last_asked, entry.question if entry else None]
    return list(dict.fromkeys(matching_form(t) for t in texts if t and t.strip()))


def read_in_context(engine: Engine, alone: Decision, message: Message, state: DialogueState,
                    topic: str | None, limits: Margins | None = None) -> Reading:
    """The best reading of the message with the conversation's last answer, or the
    message alone; a clarifying question when it stays unclear in context."""
    limits = limits or margins()
    last = engine.kb.by_id.get(state.last_entry or "")
    sure = alone.kind == "answer" and alone.hits[0].score >= SURE_ALONE
    if last is None or sure or len(message.query) > LONG_MESSAGE:
        return Reading(alone)
    if message.foreign_codes:
        # "帮我查下快递单号SF1234567890到哪了" after the EMS hotline: another courier's
        # parcel, which the documents know nothing of; the last answer cannot vouch for
        # reading it as EMS tracking
        return Reading(alone)
    # words only off-topic questions use ("天气"): a message that retrieval rejects by
    # itself is then about something else and does not lean on the last answer. Nor is a
    # message Rasa reads as off-topic first, however unsure ("河南二建报名啥时候开始"
    # after Henan's check: its words overlap the check's, exam registration is not in
    # the documents): the in-topic margin assumes the last topic, so it does not apply.
    elliptical = message.intent != OFF_TOPIC and not off_topic_words(message.query, engine)
    if alone.kind == "no_answer" and not elliptical:
        return Reading(alone)
    queries = [f"{context}{message.query}" for context in contexts(state, engine)]
    engine.prefetch(queries)  # every reading embedded in one batch
    if points_back(message) and message.place is None:
        resolved = _reference_resolved(engine, queries, last.id, alone)
        if resolved is not None:
            return Reading(resolved, in_context=True)
    settings = engine.settings
    # the same answer again, for a message that neither points at it nor leans to it by its
    # own words ("看到通知以后下一步咋弄" after the collection notice: 0.10 alone), would
    # repeat what the candidate just read: they ask for something else
    again_allowed = points_back(message) or message.place is not None or any(
        h.id == last.id and h.score >= settings.floor for h in alone.hits)
    candidates, leaning, withheld = _readings(engine, queries, topic or last.topic, last.id,
                                              limits, elliptical, again_allowed)
    if points_back(message) and all(c.hits[0].score < settings.answer_threshold
                                    for c in candidates):
        # "那个单号在哪看" after direct mail's tracking: "那个" is that answer's, not
        # another procedure of its topic that only the in-topic margin lets through
        candidates = _same_entry_again(engine, queries, topic or last.topic, last.id) or candidates
    best = max(candidates, key=lambda r: r.hits[0].score, default=None)
    if message.place is None:
        # a message naming its place says itself which rule it means ("不是直邮，是广州领证
        # 通知那种邮寄"): the reference does not lean on the last answer's region
        two_ways = _readings_that_disagree(engine, alone, best, last.id, queries,
                                     points_back(message))
        if two_ways:
            return Reading(alone, clarify=two_ways)
    if best is not None and (alone.kind != "answer"
                             or best.hits[0].score > alone.hits[0].score + limits.over_alone
                             or _region_from_context(alone, best, last, message)):
        return Reading(best, in_context=True)
    leans = tuple(sorted(leaning.values(), key=lambda h: -h.score))
    if alone.kind != "no_answer" or not elliptical:
        return Reading(alone, leaning=leans)
    options = _clarify_options(engine, queries, last.topic, limits)
    # what the readings in context lean to first ("在哪约" after Henan's fee: the booking
    # platform 0.35, on-site collection 0.30); when the last answer was withheld, the
    # questions it lists as related (what candidates ask next); then the last topic's
    # likely entries
    related = [withheld[i] for i in last.related if i in withheld] if withheld else []
    options = {h.id: h for h in (*leans, *related, *options) if h.id != last.id or not withheld}
    return Reading(alone, clarify=tuple(options.values())[:MAX_CLARIFY_OPTIONS], leaning=leans)


def _readings(engine: Engine, queries: list[str], topic: str, last_id: str, limits: Margins,
              elliptical: bool, again_allowed: bool) -> tuple[list[Decision], dict, dict]:
    """The readings in context that answer (each query read for any entry and for one
    other than the last), the entries they lean to from the floor without answering, and,
    when the last entry again is not allowed but a reading gave it, every entry's hit in
    the readings without it (``withheld``; empty otherwise)."""
    settings = engine.settings
    candidates, leaning, withheld = [], {}, {}
    for query in queries:
        for exclude in (None, last_id):
            reading = engine.answer_query(query, topic=topic, exclude=exclude)
            if not reading.hits:
                continue
            for hit in reading.hits:
                if hit.id != last_id and hit.score >= settings.floor and (
                        hit.id not in leaning or hit.score > leaning[hit.id].score):
                    leaning[hit.id] = hit
            best = reading.hits[0]
            needed = settings.answer_threshold
            if best.id == last_id:
                needed += limits.same_entry          # the same answer again needs more
                if not again_allowed and best.score >= needed:
                    withheld[best.id] = best
                    continue
            elif best.topic == engine.kb.by_id[last_id].topic and elliptical:
                needed = min(needed, limits.in_topic)  # another point of the same topic
            if best.score >= needed:
                candidates.append(replace(reading, kind="answer"))
    if withheld:
        hits = [h for q in queries for h in engine.search_query(q, k=len(engine.kb.entries),
                                                                topic=topic, kinds=("entry",))]
        withheld = {h.id: h for h in sorted(hits, key=lambda h: h.score)}  # the best kept
    return candidates, leaning, withheld


def points_back(message: Message) -> bool:
    """"那它还能用吗", "这种情况证书还有效吗": the message points at what was just answered
    (``pointing_cues`` of data/faq/vocabulary.yml)."""
    cues = datafiles.vocabulary().get("pointing_cues") or ()
    return any(cue in message.normalised for cue in cues)


def _reference_resolved(engine: Engine, queries: list[str], last_id: str, alone: Decision
                        ) -> Decision | None:
    """What a message pointing at the last answer refers to, when its readings in context
    settle it: every reading answers the last entry again, sure (``SURE_ALONE``) — that
    answer covers the question ("那这本证书现在还算有效吗" after the revoked status: 0.83 and
    0.86, while the words alone lean to the valid status, 0.39); or the reading after the
    candidate's own words keeps the entry the words alone answer — the pointer names the
    topic, the words the point ("它有次数限制吗" after what annotation is: the limits 0.66
    alone, 0.62 after "什么是电子证书加注"). None when the readings leave it open."""
    readings = [engine.answer_query(query) for query in queries]
    if readings and all(r.hits and r.hits[0].id == last_id and r.hits[0].score >= SURE_ALONE
                        for r in readings):
        return replace(readings[0], kind="answer")
    own = alone.hits[0] if alone.kind == "answer" else None
    first = readings[0].hits[0] if readings and readings[0].hits else None
    if (own is not None and first is not None and own.id != last_id and first.id == own.id
            and first.score >= engine.settings.answer_threshold):
        return replace(readings[0], kind="answer")
    return None


def _readings_that_disagree(engine: Engine, alone: Decision, in_context: Decision | None,
                      last_id: str, queries: list[str], pointing: bool) -> tuple[Hit, ...]:
    """The entries to ask back between when the message's own words and the reading in
    context disagree about what it asks; empty when they agree. The embedded model cannot
    settle it (the last answer's sentences and the other entry's are equally close to such
    a message), and an answer either way may be about another procedure than the
    candidate's. Three ways they disagree (tests/real_messages/dev.yml, follow-ups):

    * a message pointing at the last answer whose words only lean (did-you-mean) to
      another entry that the context then makes confident, or name another point of the
      last answer's topic without being sure (``SURE_ALONE``): "那这本证书现在还算有效吗"
      (有效 0.39 alone, 0.67 in context) and "这样的证书还是有效的吗" (0.63) after the
      revoked answer are about the revoked certificate;
    * a pointing message answered with the last entry again although its own words name
      another one: "要是那个时间我错过了呢" after Guangzhou's deadline (direct mail's missed
      deadline 0.63 alone);
    * a reading in context that answers an entry the words alone hardly name, while they
      lean to another (``WORDS_LEAN``): "要是通知上的日子已经过了呢" after the collection
      notice leans to the late application (0.23) and the context answers the deadline.
      On the dev pairs that are right in context the words lean at most 0.12 elsewhere.
    """
    own = alone.hits[0] if alone.hits else None
    chosen = in_context.hits[0] if in_context else None
    settings = engine.settings
    if own is None or own.id == last_id or chosen is None:
        return ()
    leaning = own.score < settings.answer_threshold
    # a point of the last answer's own topic that the words name without being sure
    sibling = own.topic == engine.kb.by_id[last_id].topic and own.score < SURE_ALONE
    disagree = (
        (pointing and (leaning or sibling) and own.score >= settings.floor
         and chosen.id == own.id)
        or (pointing and own.score >= settings.floor and chosen.id == last_id)
        or (leaning and own.score >= WORDS_LEAN and chosen.id not in (own.id, last_id)
            and not _same_point_elsewhere(own, chosen)))
    if not disagree:
        return ()
    last = next((h for q in queries for h in engine.search_query(q, k=len(engine.kb.entries),
                                                                  kinds=("entry",))
                 if h.id == last_id), None)
    options = [chosen, own] if chosen.id != last_id and chosen.id != own.id else [last, own]
    return tuple(h for h in options if h)


def _same_point_elsewhere(one: Hit, other: Hit) -> bool:
    """Two entries of one topic written for different regions ("那邮费呢" after Henan's
    booking: direct mail's fee alone, Henan's in context): the context gives the region,
    the words the point; they agree."""
    return one.topic == other.topic and one.region != other.region


def _region_from_context(alone: Decision, in_context: Decision, last: Entry,
                         message: Message) -> bool:
    """The message alone answers one region's rule, the reading in context the same point
    for the last answer's region, and the message names no place: the context gives the
    region, the words the point ("寄出来以后怎么查到哪了" after Guangzhou's fee: Guangdong's
    direct-mail tracking 0.64 alone, Guangzhou's paper tracking 0.55 in context)."""
    own, chosen = alone.hits[0], in_context.hits[0]
    return (message.place is None and last.region != nationwide() and chosen.region == last.region
            and own.region != last.region and _same_point_elsewhere(own, chosen))


def _same_entry_again(engine: Engine, queries: list[str], topic: str, last_id: str
                      ) -> list[Decision]:
    """The last entry again, for a message that points at it: the readings in context that
    answer with it at the answer threshold, when it leads the best other entry of the same
    reading by ``POINTING_MARGIN`` ("那个单号在哪看" after direct mail's tracking: 0.98 against
    Guangzhou's tracking 0.32); [] when another entry stays close ("那它跟纸的一样管用不"
    after the seals: the legal validity entry is the question)."""
    found = []
    for query in queries:
        reading = engine.answer_query(query, topic=topic)
        if not reading.hits or reading.hits[0].id != last_id:
            continue
        other = engine.answer_query(query, topic=topic, exclude=last_id)
        second = other.hits[0].score if other.hits else 0.0
        if reading.hits[0].score - second < POINTING_MARGIN:
            return []
        if reading.hits[0].score >= engine.settings.answer_threshold:
            found.append(replace(reading, kind="answer"))
    return found


def off_topic_words(query: str, engine: Engine) -> list[str]:
    """The words of a query (jieba) that only off-topic questions use: in
    data/faq/out_of_scope.yml or Rasa's out_of_scope examples, in no FAQ entry and no other
    NLU example. "天气" in "今天天气怎么样" says the message is about something else;
    "多少钱" and "具体点" say nothing against leaning on the last answer."""
    in_scope, off_topic = _vocabularies(id(engine.kb), tuple(engine.kb.entries))
    return [w for w in _cut(query) if w in off_topic and w not in in_scope]


def _cut(text: str) -> list[str]:
    import jieba  # lazy: its dictionary loads on first use

    return [w for w in jieba.lcut(text) if len(w.strip()) > 1]


@lru_cache(maxsize=2)
def _vocabularies(kb_id: int, entries: tuple) -> tuple[frozenset[str], frozenset[str]]:
    """(words of in-scope texts, words of off-topic texts), both in matching form."""
    def words(texts) -> set[str]:
        return {w for text in texts for w in _cut(matching_form(text))}

    examples = datafiles.nlu_examples()
    off_topic = [*datafiles.out_of_scope_questions(), *examples.get("out_of_scope", [])]
    in_scope = [text for entry in entries for text in (entry.question, *entry.paraphrases,
                                                      entry.answer)]
    in_scope += [t for name, texts in examples.items() if name != "out_of_scope" for t in texts]
    return frozenset(words(in_scope)), frozenset(words(off_topic))


def _clarify_options(engine: Engine, queries: list[str], topic: str,
                     limits: Margins) -> tuple[Hit, ...]:
    """The last topic's entries the message most likely means in context, when any is
    likely enough to ask about; empty otherwise."""
    hits: dict[str, Hit] = {}
    for query in queries:
        for hit in engine.search_query(query, k=len(engine.kb.entries), topic=topic,
                                       kinds=("entry",)):
            if hit.topic == topic and hit.score >= limits.clarify_floor:
                if hit.id not in hits or hit.score > hits[hit.id].score:
                    hits[hit.id] = hit
    ranked = sorted(hits.values(), key=lambda h: -h.score)
    return tuple(ranked[:MAX_CLARIFY_OPTIONS])
