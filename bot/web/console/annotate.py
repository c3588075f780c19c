"""The annotate page (``/staff/annotate``): what to do with an inbox group's questions.

The inbox links here with the group's questions as repeated ``question`` fields (and the
conversation's ``sender_id`` and ``turn``). Staff attach them to an existing entry as
paraphrases, draft a new entry whose answer is made only of source passages they tick in
a side-by-side hit test of the documents (the served engine ranks entries and passages),
or mark them out of scope. Each change is made by :mod:`bot.knowledge.editing`
(validated on a copy the way ``make test`` validates the data, written atomically,
turned into regression cases), recorded in the audit log, and gives the questions their
inbox status: resolved, or ignored when out of scope. A refused change shows its problems
and changes nothing. Candidates see a change after the next publish (``/staff/publish``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from bot.knowledge import editing
from bot.knowledge.entries import MIN_PARAPHRASES, TOPICS, KnowledgeBase, load_knowledge_base
from bot.lang.regions import nationwide, rule_regions
from bot.web.storage.store import AuditEntry, DatabaseUnavailable
from bot.web.staff_identity import editor_only, staff_only
from bot.web.app_state import WebState, web_state

logger = logging.getLogger(__name__)

MAX_QUESTIONS = 50
ENTRY_COUNT = 5
PASSAGE_COUNT = 10
RESOLVED, IGNORED = "resolved", "ignored"


@dataclass(frozen=True)
class EntryChoice:
    """An entry staff may attach the questions to."""

    id: str
    topic: str
    topic_label: str
    question: str
    region: str
    confidence: float | None = None   # the served engine's, for the first question


@dataclass(frozen=True)
class PassageChoice:
    """A passage of the source documents a new entry's answer may be made of."""

    id: str
    heading: str
    text: str                         # exactly what the answer would contain
    title: str
    issuer: str
    published: str                    # YYYY-MM-DD, "" when undated
    similarity: float | None
    chosen: bool


@dataclass(frozen=True)
class Draft:
    """The new-entry form as staff left it."""

    topic: str = ""
    entry_id: str = ""
    region: str = ""
    question: str = ""
    paraphrases: str = ""             # one per line
    passage_ids: tuple[str, ...] = ()

    @property
    def paraphrase_list(self) -> list[str]:
        return [line for line in self.paraphrases.splitlines() if line.strip()]


@dataclass(frozen=True)
class Saved:
    summary: str
    diff: str


@dataclass(frozen=True)
class AnnotateView:
    questions: tuple[str, ...]
    sender_id: str
    turn: str
    draft: Draft
    passage_query: str
    ranked_entries: tuple[EntryChoice, ...] = ()
    entries: tuple[EntryChoice, ...] = ()        # every entry of data/faq, by topic
    passages: tuple[PassageChoice, ...] = ()
    topics: tuple[tuple[str, str], ...] = ()     # (topic id, label)
    regions: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    saved: Saved | None = None
    failure: str | None = None                   # why the engine could not rank
    min_paraphrases: int = MIN_PARAPHRASES
    hidden: tuple[tuple[str, str], ...] = field(default=())  # the questions and the conversation, for each form


# --------------------------------------------------------------------------- reading the request


def read_questions(values: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The questions to handle (each once, whitespace collapsed), and a problem when
    there are too many."""
    questions = editing.clean_questions([line for value in values for line in str(value).splitlines()])
    if len(questions) > MAX_QUESTIONS:
        return tuple(questions[:MAX_QUESTIONS]), ["too_many"]
    return tuple(questions), []


def read_draft(params: QueryParams | FormData) -> Draft:
    def text(name: str) -> str:
        value = params.get(name)
        return value.strip() if isinstance(value, str) else ""

    return Draft(topic=text("topic"), entry_id=text("entry_id"), region=text("region"),
                 question=" ".join(text("canonical_question").split()), paraphrases=text("paraphrases"),
                 passage_ids=tuple(dict.fromkeys(v for v in params.getlist("passage") if isinstance(v, str))))


def conversation_of(params: QueryParams | FormData) -> tuple[str, str]:
    sender_id = params.get("sender_id") or ""
    turn = params.get("turn") or ""
    return (sender_id.strip() if isinstance(sender_id, str) else "",
            turn.strip() if isinstance(turn, str) and turn.strip().isdigit() else "")


# --------------------------------------------------------------------------- the page


def _entry_choices(kb: KnowledgeBase, labels: dict[str, str]) -> tuple[EntryChoice, ...]:
    order = {topic: n for n, topic in enumerate(TOPICS)}
    entries = sorted(kb.entries, key=lambda e: (order.get(e.topic, len(order)), e.id))
    return tuple(EntryChoice(e.id, e.topic, labels.get(e.topic, e.topic), e.question, e.region) for e in entries)


def _passage_choice(kb: KnowledgeBase, passage_id: str, similarity: float | None, chosen: bool) -> PassageChoice:
    passage = kb.passages[passage_id]
    document = kb.documents[passage.document_id]
    return PassageChoice(passage.id, getattr(passage, "heading", ""), passage.text_simplified.strip(),
                         document.title, document.issuer,
                         document.published.isoformat() if document.published else "", similarity, chosen)


def build_view(state: WebState, questions: tuple[str, ...], sender_id: str, turn: str, draft: Draft,
               passage_query: str, problems: list[str] | tuple[str, ...] = (), saved: Saved | None = None
               ) -> AnnotateView:
    """The page: the served engine's entries and passages for the questions, every entry
    of the data staff edit (new ones too, before they are published)."""
    texts = state.texts["annotate"]
    kb = load_knowledge_base()
    entries = _entry_choices(kb, texts["topics"])
    by_id = {e.id: e for e in entries}
    query = passage_query or (questions[0] if questions else "")
    ranked: list[EntryChoice] = []
    similar: list[tuple[str, float]] = []
    failure = None
    if query:
        try:
            engine = state.retrieval.get()
            if questions:
                ranked = [replace(by_id[hit.id], confidence=round(hit.score, 3))
                          for hit in engine.search(questions[0], ENTRY_COUNT, kinds=("entry",)) if hit.id in by_id]
            similar = [(hit.id, round(hit.score, 3)) for hit in engine.search(query, PASSAGE_COUNT, kinds=("passage",))
                       if hit.id in kb.passages]
        except Exception as error:  # noqa: BLE001 - the page still lets staff choose by hand
            logger.exception("ranking for the annotate page failed")
            failure = state.texts["staff"]["search_unavailable"].format(reason=f"{type(error).__name__}: {error}")
    shown = {pid for pid, _ in similar}
    passages = [_passage_choice(kb, pid, None, True) for pid in draft.passage_ids
                if pid in kb.passages and pid not in shown]
    passages += [_passage_choice(kb, pid, score, pid in draft.passage_ids) for pid, score in similar]
    if not draft.question and questions:
        best = ranked[0] if ranked else None
        draft = replace(draft, question=questions[0], paraphrases="\n".join(questions[1:]),
                        topic=draft.topic or (best.topic if best else ""),
                        region=draft.region or (best.region if best else nationwide()))
    hidden = tuple(("question", q) for q in questions) + tuple(
        (name, value) for name, value in (("sender_id", sender_id), ("turn", turn)) if value)
    messages = [texts["too_many"].format(limit=MAX_QUESTIONS) if p == "too_many" else p for p in problems]
    return AnnotateView(questions=questions, sender_id=sender_id, turn=turn, draft=draft, passage_query=query,
                        ranked_entries=tuple(ranked), entries=entries, passages=tuple(passages),
                        topics=tuple((t, texts["topics"].get(t, t)) for t in TOPICS), regions=rule_regions(),
                        problems=tuple(messages), saved=saved, failure=failure, hidden=hidden)


def render(request: Request, view: AnnotateView, status_code: int = 200) -> Response:
    return web_state(request).render(request, "staff_annotate.html", {"view": view, "active": "inbox"},
                                     status_code=status_code)


@staff_only
async def annotate_page(request: Request) -> Response:
    """``GET /staff/annotate?question=…&question=…&sender_id=&turn=``: the questions and
    the three things staff can do with them. ``POST`` (the new-entry form's "search the
    documents" button) ranks the passages for ``passage_q`` and keeps the form as filled in."""
    params = await request.form() if request.method == "POST" else request.query_params
    questions, problems = read_questions(params.getlist("question") + params.getlist("questions"))
    sender_id, turn = conversation_of(params)
    view = await run_in_threadpool(build_view, web_state(request), questions, sender_id, turn, read_draft(params),
                                   (params.get("passage_q") or "").strip(), problems)
    return render(request, view)


# --------------------------------------------------------------------------- the changes


async def make_change(request: Request, form: FormData, build: Callable[[], editing.Change], status: str
                      ) -> Response:
    """Build the change from the files as they are, apply it, record it, mark the
    questions; or show why it was refused (nothing changed)."""
    state, who = web_state(request), request.user.display_name
    questions, too_many = read_questions(form.getlist("question"))
    sender_id, turn = conversation_of(form)
    draft = read_draft(form)

    def work() -> editing.Change:
        if too_many or not questions:
            raise editing.ChangeRefused([state.texts["annotate"]["no_questions"]] if not questions else too_many)
        state.store.ensure_writable()
        change = build()
        editing.apply(change, who)
        state.store.record(who, [AuditEntry(change.kind, change.target, change.excerpt_before,
                                            change.excerpt_after)], questions, status)
        return change

    saved, problems, code = None, [], 200
    try:
        change = await run_in_threadpool(work)
        saved = Saved(change.summary, change.diff())
        draft = Draft()
    except editing.ChangeRefused as refusal:
        problems, code = refusal.problems, 422
    except DatabaseUnavailable as error:
        problems, code = [state.texts["annotate"]["database_unavailable"].format(reason=error)], 503
    view = await run_in_threadpool(build_view, state, questions, sender_id, turn, draft,
                                   (form.get("passage_q") or "").strip(), problems, saved)
    return render(request, view, code)


@editor_only
async def attach(request: Request) -> Response:
    """``POST /staff/annotate/attach``: the questions become paraphrases of ``entry_id``
    (or ``other_entry_id``, chosen from every entry)."""
    form = await request.form()
    entry_id = (form.get("other_entry_id") or form.get("attach_to") or "").strip()
    questions, _ = read_questions(form.getlist("question"))
    return await make_change(request, form, lambda: editing.add_paraphrases(entry_id, list(questions)), RESOLVED)


@editor_only
async def draft_entry(request: Request) -> Response:
    """``POST /staff/annotate/new-entry``: a new entry answered with the ticked passages."""
    form = await request.form()
    draft = read_draft(form)
    return await make_change(request, form, lambda: editing.new_entry(
        draft.topic, draft.entry_id, draft.region, draft.question, draft.paraphrase_list,
        list(draft.passage_ids)), RESOLVED)


@editor_only
async def out_of_scope(request: Request) -> Response:
    """``POST /staff/annotate/out-of-scope``: the questions join data/faq/out_of_scope.yml."""
    form = await request.form()
    questions, _ = read_questions(form.getlist("question"))
    return await make_change(request, form, lambda: editing.add_out_of_scope(list(questions)), IGNORED)
