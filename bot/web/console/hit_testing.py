"""The batch hit test (``/staff/hit-test``): many questions at once through the served
assistant's decision, as a table or a CSV download; chosen rows saved as regression cases.

Questions are pasted (one per line) or uploaded as CSV (the first column; a header row
named in ``data/web/ui.yml`` is skipped), UTF-8 or GBK (what Excel writes on Chinese
Windows), at most :data:`MAX_ROWS`. Each is decided by the chat's own dialogue code
(:func:`bot.dialogue.faq.answer_turn` over the served engine, without Rasa's intent hint
and without a conversation before it): answered, did-you-mean or fallback, with the
closest entries' confidence and the closest passages. Running the test changes nothing;
saving rows as regression cases is an editor's change (``tests/regression/staff.yml``,
through :mod:`bot.knowledge.editing`), recorded in the audit log.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from bot.knowledge import editing
from bot.knowledge.cases import expect_from_reply
from bot.lang.privacy import mask_sensitive
from bot.web.storage.store import AuditEntry, DatabaseUnavailable
from bot.web.staff_identity import editor_only, staff_only
from bot.web.app_state import WebState, web_state
from bot.web.console.csv_files import to_csv

logger = logging.getLogger(__name__)

MAX_ROWS = 200
MAX_UPLOAD_BYTES = 1_000_000
MAX_QUESTION_CHARS = 500
ENTRY_COUNT = 3
PASSAGE_COUNT = 2
ENCODINGS = ("utf-8-sig", "gb18030")
DECISIONS = ("answered", "did_you_mean", "fallback", "other")


class HitTestInputError(ValueError):
    """The pasted text or the file cannot be tested (the message says why, for staff)."""


@dataclass(frozen=True)
class Scored:
    id: str
    score: float
    text: str                       # an entry's question, a passage's text


@dataclass(frozen=True)
class HitTestRow:
    number: int
    question: str
    decision: str                   # answered | did_you_mean | fallback | other
    decision_label: str
    kind: str                       # the reply's custom.kind (faq_answer, deadline, clarify …)
    expect: str                     # a regression case's expect for what it did
    entries: tuple[Scored, ...]
    passages: tuple[Scored, ...]


@dataclass(frozen=True)
class HitTestResult:
    rows: tuple[HitTestRow, ...]

    def count(self, decision: str) -> int:
        return sum(row.decision == decision for row in self.rows)


# --------------------------------------------------------------------------- input


def decode_upload(data: bytes, texts: dict[str, Any]) -> str:
    """The file's text: UTF-8 (with or without BOM), else GBK / GB 18030."""
    if b"\x00" in data:
        raise HitTestInputError(texts["bad_encoding"])
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise HitTestInputError(texts["bad_encoding"])


def questions_from_csv(text: str, texts: dict[str, Any]) -> list[str]:
    """The first column of every row, without a header row and empty cells."""
    headers = {name.casefold() for name in texts["header_names"]}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    questions: list[str] = []
    try:
        for row in reader:
            cell = " ".join((row[0] if row else "").split())
            if not cell or (reader.line_num == 1 and cell.casefold() in headers):
                continue
            questions.append(cell)
    except csv.Error as error:
        raise HitTestInputError(texts["bad_csv"].format(line=reader.line_num, reason=error)) from None
    return questions


def read_input(pasted: str, upload: bytes | None, texts: dict[str, Any]) -> list[str]:
    """The questions to test, in order; :class:`HitTestInputError` when there are none,
    too many, or the file cannot be read."""
    questions = [" ".join(line.split()) for line in (pasted or "").splitlines()]
    questions = [q for q in questions if q]
    if upload:
        if len(upload) > MAX_UPLOAD_BYTES:
            raise HitTestInputError(texts["too_many"].format(limit=MAX_ROWS, count=f"> {MAX_ROWS}"))
        questions += questions_from_csv(decode_upload(upload, texts), texts)
    if not questions:
        raise HitTestInputError(texts["empty"])
    if len(questions) > MAX_ROWS:
        raise HitTestInputError(texts["too_many"].format(limit=MAX_ROWS, count=len(questions)))
    return [q[:MAX_QUESTION_CHARS] for q in questions]


# --------------------------------------------------------------------------- the decisions


def decision_of(kind: str | None) -> str:
    if kind in ("faq_answer", "deadline", "form_prompt"):
        return "answered"
    if kind in ("did_you_mean", "clarify"):
        return "did_you_mean"
    if kind in ("fallback", "invalid_input"):
        return "fallback"
    return "other"


def decide_questions(engine: Any, questions: list[str], texts: dict[str, Any]) -> HitTestResult:
    """Each question decided as the chat decides a first message, with its closest
    entries and passages."""
    from bot.dialogue.faq import answer_turn  # the dialogue layer loads the engine's code
    from bot.dialogue.message import read_message
    from bot.dialogue.state import DialogueState

    messages = [read_message(question) for question in questions]
    engine.prefetch([message.query for message in messages])  # one batch of embeddings
    passages = engine.kb.passages
    rows = []
    for number, (question, message) in enumerate(zip(questions, messages), start=1):
        turn = answer_turn(message, DialogueState(), engine)
        # no reply: the deadline form takes the turn and asks for a date
        custom = turn.reply.custom if turn.reply is not None else {"kind": "form_prompt"}
        kind = str(custom.get("kind") or "")
        decision = decision_of(kind)
        hits = engine.search(question, ENTRY_COUNT, kinds=("entry",))
        near = engine.search(question, PASSAGE_COUNT, kinds=("passage",))
        rows.append(HitTestRow(
            number=number, question=mask_sensitive(question), decision=decision,
            decision_label=texts["decisions"][decision], kind=kind,
            expect=expect_from_reply(custom) if kind != "form_prompt" else "fallback",
            entries=tuple(Scored(h.id, round(h.score, 3), h.question or "") for h in hits),
            passages=tuple(Scored(h.id, round(h.score, 3),
                                  passages[h.id].text_simplified if h.id in passages else h.matched_text)
                           for h in near)))
    return HitTestResult(tuple(rows))


def result_csv(result: HitTestResult, texts: dict[str, Any]) -> bytes:
    """The table as CSV (UTF-8 with BOM; formula characters neutralised)."""
    def row(r: HitTestRow) -> list[Any]:
        cells: list[Any] = [r.number, r.question, r.decision_label, r.kind, r.expect]
        for n in range(ENTRY_COUNT):
            cells += [r.entries[n].id, f"{r.entries[n].score:.3f}"] if n < len(r.entries) else ["", ""]
        for n in range(PASSAGE_COUNT):
            cells += [r.passages[n].id, f"{r.passages[n].score:.3f}"] if n < len(r.passages) else ["", ""]
        return cells

    return to_csv(texts["csv_headers"], (row(r) for r in result.rows))


# --------------------------------------------------------------------------- handlers


def render(request: Request, result: HitTestResult | None = None, pasted: str = "", error: str | None = None,
           notice: str | None = None, status_code: int = 200) -> Response:
    return web_state(request).render(request, "staff_hit_test.html", {
        "result": result, "pasted": pasted, "error": error, "notice": notice, "max_rows": MAX_ROWS,
        "active": "hit_test"}, status_code=status_code)


async def run_test(state: WebState, questions: list[str]) -> HitTestResult:
    engine = await run_in_threadpool(state.retrieval.get)
    return await run_in_threadpool(decide_questions, engine, questions, state.texts["hit_test"])


async def upload_bytes(form: FormData) -> bytes | None:
    """The uploaded file's bytes (at most one past the limit), the file closed."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return None
    try:
        return await upload.read(MAX_UPLOAD_BYTES + 1) if upload.filename else None
    finally:
        await upload.close()


@staff_only
async def hit_test_page(request: Request) -> Response:
    """``GET /staff/hit-test``: the form."""
    return render(request)


@staff_only
async def run_hit_test(request: Request) -> Response:
    """``POST /staff/hit-test`` (``questions`` pasted and/or ``file``; ``download=csv`` for
    the CSV, else the table)."""
    state = web_state(request)
    texts = state.texts["hit_test"]
    form = await request.form()
    pasted = form.get("questions") if isinstance(form.get("questions"), str) else ""
    if not pasted and form.getlist("question"):  # the results page sends its questions back
        pasted = "\n".join(q for q in form.getlist("question") if isinstance(q, str))
    try:
        questions = read_input(pasted, await upload_bytes(form), texts)
    except HitTestInputError as error:
        return render(request, pasted=pasted, error=str(error), status_code=422)
    try:
        result = await run_test(state, questions)
    except Exception as error:  # noqa: BLE001 - the console stays up and says why
        logger.exception("hit test failed")
        return render(request, pasted=pasted, error=texts["unavailable"].format(reason=error), status_code=503)
    if form.get("download") == "csv":
        return Response(result_csv(result, texts), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="hit-test.csv"'})
    return render(request, result, "\n".join(questions))


@editor_only
async def save_cases(request: Request) -> Response:
    """``POST /staff/hit-test/cases``: the ticked rows (``save``) as regression cases,
    each with the ``expect_<n>`` chosen for it."""
    state = web_state(request)
    texts = state.texts["hit_test"]
    form = await request.form()
    questions = [q for q in form.getlist("question") if isinstance(q, str)]
    chosen = sorted({int(n) for n in form.getlist("save") if isinstance(n, str) and n.isdigit()
                     and 1 <= int(n) <= len(questions)})
    cases = [{"turns": [questions[n - 1]], "expect": str(form.get(f"expect_{n}") or "").strip()} for n in chosen]
    who = request.user.display_name

    def work() -> editing.Change:
        state.store.ensure_writable()
        change = editing.regression_cases(cases, f"hit test by {who}")
        editing.apply(change, who)
        state.store.record(who, [AuditEntry(change.kind, change.target, None, change.excerpt_after)])
        return change

    notice, error, code = None, None, 200
    try:
        change = await run_in_threadpool(work)
        notice = texts["saved"].format(count=len(change.cases))
    except editing.ChangeRefused as refusal:
        error, code = "；".join(refusal.problems), 422
    except DatabaseUnavailable as problem:
        error, code = state.texts["annotate"]["database_unavailable"].format(reason=problem), 503
    try:
        result = await run_test(state, read_input("\n".join(questions), None, texts))
    except Exception:  # noqa: BLE001 - the outcome of the save still shows
        result = None
    return render(request, result, "\n".join(questions), error=error, notice=notice, status_code=code)
