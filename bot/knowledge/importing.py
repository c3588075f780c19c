"""A document staff bring in through the console: pasted text, a web page saved from the
browser, a PDF or a Word file, cleaned into passages with its provenance.

The text is taken out of the file with kept libraries (readability-lxml for HTML, pypdf,
python-docx), then cleaned exactly as ``make import`` cleans the seed pages: the repairs,
removals, dropped lines and noise patterns of ``data/faq/import.yml`` (site artefacts of
the same sites), pinyin-in-brackets removed, passages split at headings, each in the
page's own script and in simplified form. Nothing is written here: :func:`prepare` returns
the document for review, and ``bot.knowledge.editing`` writes it once staff accept it.
Every refusal is an :class:`ImportRefused` whose message comes from
``data/faq/editions.yml``.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from typing import Any

from bot import datafiles
from bot.knowledge.cleaning import (CleaningRules, MarkerNotFound, UnrepairedMojibake, clean_lines,
                                    is_heading, split_passages)
from bot.knowledge.corpus import Document, load_documents
from bot.lang.text import is_traditional, to_simplified

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_CJK_CHARS = 40          # less than a paragraph is not a document
KINDS = ("text", "html", "pdf", "docx")
_ID = re.compile(r"^[a-z][a-z0-9-]{2,60}$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FIELD_LIMITS = {"title": 200, "issuer": 200, "region": 100, "edition": 60, "source_url": 500}
# Elements that are a site's frame, never an article's text.
_FRAME_TAGS = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "iframe")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
               "article", "table", "ul", "ol", "blockquote", "pre")


class ImportRefused(ValueError):
    """The upload cannot become a document; ``message`` says why, in Chinese."""

    def __init__(self, key: str, **fields: Any):
        self.key = key
        self.message = message(key, **fields)
        super().__init__(self.message)


def message(key: str, **fields: Any) -> str:
    return str(datafiles.edition_texts()["import_errors"][key]).format(**fields)


def size_label(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


# ---------------------------------------------------------------- text out of a file


def kind_of(filename: str) -> str:
    """The kind of an upload from its name (the bytes are checked when it is read)."""
    name = filename.lower()
    for kind, endings in (("html", (".html", ".htm", ".mhtml")), ("pdf", (".pdf",)),
                          ("docx", (".docx",)), ("text", (".txt", ".text", ".md"))):
        if name.endswith(endings):
            return kind
    raise ImportRefused("unknown_kind", name=filename)


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without a BOM); GBK and binary files are named, not guessed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            guess = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportRefused("not_text", name=name) from None
        if len(_CJK.findall(guess)) >= len(guess) * 0.2:
            raise ImportRefused("gbk", name=name) from None
        raise ImportRefused("not_text", name=name) from None
    if len(_CONTROL.findall(text)) > max(8, len(text) // 100):
        raise ImportRefused("binary")
    return text


def html_text(html: str) -> str:
    """The article's text of a saved page, one line per block; the site's frame (menus,
    header, footer, scripts) dropped before readability picks the article."""
    import lxml.html
    from readability import Document as Readable

    tree = lxml.html.document_fromstring(html)
    for element in tree.xpath("//" + " | //".join(_FRAME_TAGS)):
        element.drop_tree()
    body = lxml.html.tostring(tree, encoding="unicode")
    article = lxml.html.fragment_fromstring(Readable(body).summary(html_partial=True),
                                            create_parent="div")
    for element in article.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
        if element.tag == "br":
            continue
        element.text = "\n" + (element.text or "")
    return article.text_content()


def pdf_text(data: bytes, name: str) -> str:
    if not data.startswith(b"%PDF-"):
        raise ImportRefused("not_pdf", name=name)
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ImportRefused("pdf_unreadable", name=name)
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, OSError) as error:
        if isinstance(error, ImportRefused):
            raise
        raise ImportRefused("pdf_unreadable", name=name) from None
    if not _CJK.search(text) and not text.strip():
        raise ImportRefused("pdf_no_text", name=name)
    return unwrap_lines(text)


_SENTENCE_END = ("。", "？", "?", "！", "!", "：", ":", "；", ";", "）", ")")
_LIST_ITEM = re.compile(r"^(?:\d+[.．、]|[(（][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+[、.．])")


def unwrap_lines(text: str) -> str:
    """A PDF's visual lines joined back into paragraphs: a line that does not end a
    sentence goes on in the next, unless the next opens a heading or a list item."""
    out: list[str] = []
    for line in (raw.strip() for raw in text.split("\n")):
        if not line:
            continue
        if out and not out[-1].endswith(_SENTENCE_END) and not is_heading(out[-1]) \
                and not is_heading(line) and not _LIST_ITEM.match(line):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def docx_text(data: bytes, name: str) -> str:
    from docx import Document as Docx

    try:
        document = Docx(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportRefused("not_docx", name=name) from None
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines.extend(" ".join(cell.text for cell in row.cells) for row in table.rows)
    return "\n".join(lines)


def extract_text(data: bytes, filename: str) -> tuple[str, str]:
    """``(kind, text)`` of an uploaded file; refused when too big, empty or not what it
    says it is."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportRefused("too_large", size=size_label(len(data)), limit=size_label(MAX_UPLOAD_BYTES))
    if not data.strip():
        raise ImportRefused("empty")
    kind = kind_of(filename)
    if kind == "pdf":
        return kind, pdf_text(data, filename)
    if kind == "docx":
        return kind, docx_text(data, filename)
    text = _decode(data, filename)
    text = html_text(text) if kind == "html" else text
    if not text.strip():
        raise ImportRefused("no_passages" if kind == "html" else "empty")
    return kind, text


# ---------------------------------------------------------------- cleaning


@dataclass(frozen=True)
class Provenance:
    """What staff say of the document, kept in its file."""

    id: str
    title: str
    issuer: str
    region: str
    published: date | None = None
    edition: str | None = None
    source_url: str | None = None
    supersedes: str | None = None


def _import_rules(start: str, end: str) -> CleaningRules:
    """``make import``'s rules for a page of no seed: every repair, removal and dropped
    line of ``data/faq/import.yml`` (artefacts of the same sites) and its noise patterns."""
    rules = datafiles.read_yaml(datafiles.paths().import_rules)
    repairs: dict[str, str] = {}
    remove: list[str] = []
    drop: list[str] = []
    for spec in rules["documents"]:
        repairs.update(spec.get("repairs") or {})
        remove.extend(spec.get("remove") or ())
        drop.extend(spec.get("drop_lines") or ())
    return CleaningRules(start=start, end=end, repairs=repairs, remove=tuple(remove),
                         drop_lines=tuple(drop), noise_line_patterns=tuple(rules["noise_line_patterns"]))


def clean_text(raw: str, start: str = "", end: str = "") -> list[str]:
    """The content lines of a document's text, as ``make import`` cleans them."""
    raw = _CONTROL.sub("", unicodedata.normalize("NFC", raw)).replace("\r", "\n")
    try:
        return clean_lines(raw, _import_rules(start.strip(), end.strip()))
    except MarkerNotFound as error:
        raise ImportRefused(f"{error.which}_not_found", marker=error.marker) from None
    except UnrepairedMojibake as error:
        raise ImportRefused("mojibake", line=error.line[:80]) from None


def check_provenance(p: Provenance, documents: dict[str, Document]) -> None:
    fields = datafiles.edition_texts()["fields"]
    for name in ("id", "title", "issuer", "region"):
        if not str(getattr(p, name) or "").strip():
            raise ImportRefused("missing_field", field=fields[name])
    if not _ID.match(p.id):
        raise ImportRefused("bad_id")
    if p.id in documents:
        raise ImportRefused("id_taken", id=p.id)
    for name, limit in _FIELD_LIMITS.items():
        if len(str(getattr(p, name) or "")) > limit:
            raise ImportRefused("field_too_long", field=fields[name], limit=limit)
    if p.supersedes and p.supersedes not in documents:
        raise ImportRefused("unknown_supersedes", id=p.supersedes)


def parse_date(value: str | None) -> date | None:
    """``2025-08-06`` (or 2025/8/6, 2025年8月6日) → a date; empty → None."""
    value = (value or "").strip()
    if not value:
        return None
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", value)
    try:
        if match:
            return date(*map(int, match.groups()))
    except ValueError:
        pass
    raise ImportRefused("bad_date", value=value[:40])


def prepare(raw: str, provenance: Provenance, how: str = "text", file_name: str | None = None,
            start: str = "", end: str = "", documents: dict[str, Document] | None = None) -> dict:
    """The document as it would be saved (the YAML-ready dict ``make import`` writes, with
    ``supersedes`` and ``imported`` added); refused when it does not clean into passages."""
    documents = load_documents() if documents is None else documents
    check_provenance(provenance, documents)
    lines = clean_text(raw, start, end)
    cjk = sum(len(_CJK.findall(line)) for line in lines)
    if not lines or cjk == 0:
        raise ImportRefused("no_passages")
    if cjk < MIN_CJK_CHARS:
        raise ImportRefused("too_little", chars=cjk)
    original = "\n".join(lines)
    passages = []
    for number, passage in enumerate(split_passages(lines, provenance.title), start=1):
        passages.append({"id": f"{provenance.id}/p{number:02d}", "heading": passage.heading,
                         "text": passage.text, "heading_simplified": to_simplified(passage.heading),
                         "text_simplified": to_simplified(passage.text)})
    return {
        "id": provenance.id, "title": provenance.title.strip(), "issuer": provenance.issuer.strip(),
        "region": provenance.region.strip(), "published": provenance.published,
        "edition": (provenance.edition or "").strip() or None,
        "source_url": (provenance.source_url or "").strip() or None,
        "script": "traditional" if is_traditional(original) else "simplified",
        "seed_file": None,
        "seed_sha256": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        "supersedes": provenance.supersedes,
        "imported": {"how": how, "file": file_name},
        "passages": passages,
    }


def as_document(data: dict) -> Document:
    """A prepared document as the loader would read it back."""
    from bot.knowledge.corpus import Passage

    passages = tuple(Passage(p["id"], data["id"], p["heading"], p["text"], p["text_simplified"])
                     for p in data["passages"])
    return Document(id=data["id"], title=data["title"], issuer=data["issuer"], region=data["region"],
                    published=data.get("published"), edition=data.get("edition"),
                    source_url=data.get("source_url"), script=data["script"], passages=passages)


_EDITION_MARK = re.compile(r"[（(]?\s*\d{4}\s*年?版?\s*[）)]?|\d{4}年度?|[（(][^（）()]*版[）)]")


def propose_superseded(title: str, issuer: str, region: str,
                       documents: dict[str, Document]) -> str | None:
    """The document a new edition most likely replaces: the same title once the year and
    edition are taken out, the newest of those; None when no title is close."""
    def bare(text: str) -> str:
        return _EDITION_MARK.sub("", to_simplified(text or "")).strip()

    best, best_key = None, (0.0, date.min)
    for doc in documents.values():
        score = SequenceMatcher(None, bare(title), bare(doc.title), autojunk=False).ratio()
        score += 0.05 * (doc.region == region) + 0.05 * (bool(issuer) and issuer[:4] in doc.issuer)
        key = (round(score, 3), doc.published or date.min)
        if score >= 0.8 and key > best_key:
            best, best_key = doc.id, key
    return best
