"""Source documents: import from raw seed pages (build time) and load (run time).

A cleaned document is one YAML file in ``data/faq/sources/`` with its provenance
(title, issuer, region, date, edition, source address, seed file and hash) and its
passages, each with a stable id ``<document id>/p<NN>`` in the page's own script and
in simplified form.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from pathlib import Path

import yaml

from bot import PROJECT_ROOT, datafiles
from bot.knowledge.cleaning import CleaningRules, clean_lines, split_passages
from bot.lang.text import is_traditional, to_simplified

SOURCES_DIR = PROJECT_ROOT / "data" / "faq" / "sources"
IMPORT_RULES = PROJECT_ROOT / "data" / "faq" / "import.yml"
DEFAULT_SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"


@dataclass(frozen=True)
class Passage:
    id: str
    document_id: str
    heading: str
    text: str
    text_simplified: str


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    issuer: str
    region: str
    published: date | None
    edition: str | None
    source_url: str | None
    script: str
    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class Citation:
    """A cited passage with what a reply says of its document (title, issuer, date)."""

    passage_id: str
    document_id: str
    title: str
    issuer: str
    published: date | None
    region: str
    source_url: str | None


def citations(passage_ids, documents: dict[str, Document],
              passages: dict[str, Passage] | None = None) -> list[Citation]:
    """The citations of passage ids, in the order given; unknown ids are skipped."""
    passages = passages if passages is not None else {
        p.id: p for d in documents.values() for p in d.passages}
    out = []
    for passage_id in passage_ids:
        passage = passages.get(passage_id)
        if passage is None:
            continue
        doc = documents[passage.document_id]
        out.append(Citation(passage_id=passage_id, document_id=doc.id, title=doc.title,
                            issuer=doc.issuer, published=doc.published, region=doc.region,
                            source_url=doc.source_url))
    return out


def _rules(spec: dict, noise: list[str]) -> CleaningRules:
    return CleaningRules(
        start=spec["start"],
        end=spec["end"],
        repairs=spec.get("repairs") or {},
        remove=tuple(spec.get("remove") or ()),
        drop_lines=tuple(spec.get("drop_lines") or ()),
        noise_line_patterns=tuple(noise),
    )


def import_seed(raw: str, spec: dict, noise: list[str]) -> dict:
    """Clean one raw page and return the document as a YAML-ready dict."""
    lines = clean_lines(raw, _rules(spec, noise))
    original = "\n".join(lines)
    passages = []
    for number, raw_passage in enumerate(split_passages(lines, spec["title"]), start=1):
        passages.append(
            {
                "id": f"{spec['id']}/p{number:02d}",
                "heading": raw_passage.heading,
                "text": raw_passage.text,
                "heading_simplified": to_simplified(raw_passage.heading),
                "text_simplified": to_simplified(raw_passage.text),
            }
        )
    return {
        "id": spec["id"],
        "title": spec["title"],
        "issuer": spec["issuer"],
        "region": spec["region"],
        "published": spec.get("published"),
        "edition": spec.get("edition"),
        "source_url": spec.get("source_url"),
        "script": "traditional" if is_traditional(original) else "simplified",
        "seed_file": spec["seed"],
        "seed_sha256": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        "passages": passages,
    }


def import_all(seeds_dir: Path = DEFAULT_SEEDS_DIR, out_dir: Path = SOURCES_DIR,
               rules_file: Path = IMPORT_RULES) -> list[Path]:
    """Re-run the whole import from the raw seeds; returns the files written."""
    rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in rules["documents"]:
        raw = (seeds_dir / spec["seed"]).read_text(encoding="utf-8")
        document = import_seed(raw, spec, rules["noise_line_patterns"])
        path = out_dir / f"{spec['id']}.yml"
        path.write_text(dump_yaml(document), encoding="utf-8")
        written.append(path)
    return written


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks so the cleaned text reads like text."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def dump_yaml(data: object) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=1000)


def load_documents(sources_dir: Path | None = None) -> dict[str, Document]:
    """All cleaned documents by id (``data/faq/sources`` unless told otherwise), built once
    per process and again only when a source file changes; the knowledge base and the
    deadline replies share them."""
    sources_dir = Path(sources_dir or datafiles.paths().sources_dir).resolve()
    files = sorted(sources_dir.glob("*.yml"))
    stamps = tuple((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    return _documents(sources_dir, stamps)


@lru_cache(maxsize=4)
def _documents(sources_dir: Path, stamps: tuple) -> dict[str, Document]:
    documents = {}
    for name, _, _ in stamps:
        data = datafiles.read_yaml(sources_dir / name)
        passages = tuple(
            Passage(p["id"], data["id"], p["heading"], p["text"], p["text_simplified"])
            for p in data["passages"]
        )
        documents[data["id"]] = Document(
            id=data["id"], title=data["title"], issuer=data["issuer"], region=data["region"],
            published=data.get("published"), edition=data.get("edition"),
            source_url=data.get("source_url"), script=data["script"], passages=passages,
        )
    return documents
