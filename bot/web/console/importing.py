"""Bringing in a new edition (``/staff/import``, ``/staff/editions/{id}``).

Staff paste a document's text or upload a saved web page, a PDF or a Word file with its
provenance; the preview shows the cleaned passages and, against the edition it replaces
(chosen, or proposed from the title and issuer), what changed. Saving writes the source
file (``bot.knowledge.edition_updates.save_document``, validated and written by
``bot.knowledge.editing``) and opens the comparison page: passages side by side with the
changed characters marked, the changed facts, and every entry resting on a changed or
removed passage with its answer, the old and the new passage and a proposed update; staff
update, keep (with a reason) or retire each. Every change is an editor's, carries the CSRF
token and is audited. Candidates see it after the next publish. The texts are
``data/faq/editions.yml``'s ``console``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot import datafiles
from bot.knowledge import editing, editions, importing
from bot.knowledge.corpus import load_documents
from bot.knowledge.edition_updates import (keep_entry, proposed_answer, proposed_citations, retire_entry,
                                           save_document, update_entry)
from bot.knowledge.entries import load_knowledge_base
from bot.web.storage.store import AuditEntry, DatabaseUnavailable
from bot.web.staff_identity import editor_only, staff_only
from bot.web.app_state import web_state

FORM_LIMIT = importing.MAX_UPLOAD_BYTES + 1024 * 1024   # the file and the form's fields
_FIELDS = ("id", "title", "issuer", "region", "published", "edition", "source_url")


def console_texts() -> dict[str, Any]:
    return datafiles.edition_texts()["console"]


@dataclass
class ImportForm:
    """The import form as staff filled it in (``raw``: the text taken out of the file)."""

    values: dict[str, str] = field(default_factory=dict)
    raw: str = ""
    how: str = "text"
    file_name: str | None = None


@dataclass
class Preview:
    document: dict
    old_id: str | None
    diff: editions.EditionDiff | None
    affected: list[editions.AffectedEntry]


async def read_form(request: Request) -> tuple[ImportForm, FormData]:
    """The form; an uploaded file replaces the pasted text. Refused (ImportRefused) when
    the body is too big before it is read."""
    try:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > FORM_LIMIT:
            raise importing.ImportRefused("too_large", size=importing.size_label(int(length)),
                                          limit=importing.size_label(importing.MAX_UPLOAD_BYTES))
        form = await request.form(max_part_size=FORM_LIMIT)
        values = {name: str(form.get(name) or "").strip() for name in (*_FIELDS, "supersedes", "start", "end")}
        upload = form.get("file")
        result = ImportForm(values=values, raw=str(form.get("raw") or form.get("text") or ""),
                            how=str(form.get("how") or "text"), file_name=str(form.get("file_name") or "") or None)
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(importing.MAX_UPLOAD_BYTES + 1)
            result.how, result.raw = await run_in_threadpool(importing.extract_text, data, upload.filename)
            result.file_name = upload.filename
    finally:
        await request.close()  # the uploaded file's temporary copy, parsed by the CSRF check too
    return result, form


def prepare(form: ImportForm) -> Preview:
    """The document as it would be saved, and its comparison with the edition it replaces."""
    v = form.values
    if not form.raw.strip():
        raise importing.ImportRefused("empty")
    documents = load_documents()
    supersedes = v.get("supersedes") or ""
    if supersedes == "auto":
        supersedes = importing.propose_superseded(v.get("title", ""), v.get("issuer", ""), v.get("region", ""),
                                                  documents) or ""
    provenance = importing.Provenance(
        id=v.get("id", ""), title=v.get("title", ""), issuer=v.get("issuer", ""), region=v.get("region", ""),
        published=importing.parse_date(v.get("published")), edition=v.get("edition") or None,
        source_url=v.get("source_url") or None, supersedes=supersedes or None)
    document = importing.prepare(form.raw, provenance, form.how, form.file_name, v.get("start", ""),
                                 v.get("end", ""), documents)
    return compare(importing.as_document(document), documents.get(supersedes), document)


def compare(new, old, document: dict | None = None) -> Preview:
    if old is None:
        return Preview(document or {}, None, None, [])
    diff = editions.compare(old, new)
    return Preview(document or {}, old.id, diff, editions.affected_entries(diff, load_knowledge_base().entries))


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    state = web_state(request)
    documents = load_documents()
    base = {"t": console_texts(), "fields": datafiles.edition_texts()["fields"], "active": "import",
            "fact_kinds": datafiles.edition_texts()["fact_kinds"],
            "passage_kinds": datafiles.edition_texts()["passage_kinds"], "documents": sorted(documents.values(), key=lambda d: d.id),
            "form": ImportForm(), "preview": None, "problems": [], "saved": None}
    return state.render(request, "staff_import.html", {**base, **context}, status_code=status_code)


@staff_only
async def import_page(request: Request) -> Response:
    """``GET /staff/import``: the form."""
    return await run_in_threadpool(_page, request)


@editor_only
async def import_preview(request: Request) -> Response:
    """``POST /staff/import``: the cleaned passages and the comparison, nothing saved."""
    form = ImportForm()
    try:
        form, _ = await read_form(request)
        preview = await run_in_threadpool(prepare, form)
    except importing.ImportRefused as refused:
        problems = [refused.message]
        return await run_in_threadpool(lambda: _page(request, form=form, problems=problems, status_code=422))
    return await run_in_threadpool(lambda: _page(request, form=form, preview=preview))


@editor_only
async def import_save(request: Request) -> Response:
    """``POST /staff/import/save``: the previewed document saved; on to its comparison."""
    state, who = web_state(request), request.user.display_name
    form = ImportForm()
    try:
        form, _ = await read_form(request)

        def work() -> str:
            preview = prepare(form)
            state.store.ensure_writable()
            change = save_document(preview.document)
            editing.apply(change, who)
            state.store.record(who, [AuditEntry(change.kind, change.target, None, change.summary)])
            return preview.document["id"] + (f"?old={preview.old_id}" if preview.old_id else "")

        target = await run_in_threadpool(work)
    except importing.ImportRefused as refused:
        problems = [refused.message]
    except editing.ChangeRefused as refused:
        problems = refused.problems
    except DatabaseUnavailable as error:
        problems = [console_texts()["database_unavailable"].format(reason=error)]
    else:
        return RedirectResponse(f"/staff/editions/{target}", status_code=303)
    return await run_in_threadpool(lambda: _page(request, form=form, problems=problems, status_code=422))


# --------------------------------------------------------------------------- the comparison


def _edition_page(request: Request, doc_id: str, old_id: str | None, problems=(), saved: str | None = None,
                  status_code: int = 200) -> Response:
    state = web_state(request)
    documents = load_documents()
    new = documents.get(doc_id)
    t = console_texts()
    if new is None:
        return state.render(request, "staff_edition.html", {"t": t, "missing": doc_id, "active": "import"},
                            status_code=404)
    if not old_id:
        path = datafiles.paths().sources_dir / f"{doc_id}.yml"
        old_id = (datafiles.read_yaml(path) or {}).get("supersedes") if path.exists() else None
    preview = compare(new, documents.get(old_id or ""))
    proposals = {a.entry.id: (proposed_answer(a, preview.diff), proposed_citations(a, preview.diff))
                 for a in preview.affected}
    unanswered = editions.new_without_entry(preview.diff, load_knowledge_base().entries) if preview.diff else []
    return state.render(request, "staff_edition.html", {
        "t": t, "new": new, "old_id": preview.old_id, "preview": preview, "proposals": proposals,
        "documents": sorted(documents.values(), key=lambda d: d.id), "problems": list(problems),
        "saved": saved, "unanswered": unanswered, "fact_kinds": datafiles.edition_texts()["fact_kinds"],
        "passage_kinds": datafiles.edition_texts()["passage_kinds"],
        "decisions": datafiles.edition_texts()["decisions"], "missing": None, "active": "import"},
        status_code=status_code)


@staff_only
async def edition_page(request: Request) -> Response:
    """``GET /staff/editions/{doc_id}?old=…``: the new edition against the one it replaces."""
    doc_id = request.path_params["doc_id"]
    old_id = request.query_params.get("old") or None
    return await run_in_threadpool(_edition_page, request, doc_id, old_id)


@editor_only
async def decide(request: Request) -> Response:
    """``POST /staff/editions/{doc_id}/decide``: update, keep or retire one entry."""
    state, who = web_state(request), request.user.display_name
    doc_id = request.path_params["doc_id"]
    form = await request.form()
    entry_id = str(form.get("entry_id") or "")
    decision = str(form.get("decision") or "")
    old_id = str(form.get("old") or "") or None

    def work() -> str:
        if decision == "update":
            citations = str(form.get("citations") or "").split()
            change = update_entry(entry_id, str(form.get("answer") or ""), citations)
        elif decision == "keep":
            change = keep_entry(entry_id, str(form.get("reason") or ""))
        elif decision == "retire":
            change = retire_entry(entry_id)
        else:
            raise editing.ChangeRefused([datafiles.edition_texts()["decisions"]["no_entry"].format(id=entry_id)])
        state.store.ensure_writable()
        editing.apply(change, who)
        state.store.record(who, [AuditEntry(change.kind, change.target, change.excerpt_before,
                                            change.excerpt_after or change.summary)])
        return change.summary

    try:
        summary = await run_in_threadpool(work)
    except editing.ChangeRefused as refused:
        return await run_in_threadpool(_edition_page, request, doc_id, old_id, refused.problems, None, 422)
    except DatabaseUnavailable as error:
        problems = [console_texts()["database_unavailable"].format(reason=error)]
        return await run_in_threadpool(_edition_page, request, doc_id, old_id, problems, None, 503)
    return await run_in_threadpool(_edition_page, request, doc_id, old_id, (), summary)
