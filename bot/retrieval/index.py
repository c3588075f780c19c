"""The vector index: build (``make index`` / ``python -m bot index``), staleness, load.

(Over 400 lines: the index's format, its manifest, its build and its versions for publish
are one contract, kept together so that a reader and a writer can never disagree.)

``models/index/`` holds
  * ``vectors.faiss`` — a faiss ``IndexFlatIP`` over unit vectors (inner product = cosine),
  * ``rows.json``     — one row per vector: kind (question | paraphrase | passage),
                         ref (entry id or passage id), topic, and the matched text,
  * ``classifier.pkl`` — the entry classifier (``bot/retrieval/ranker.py``) trained on the same
                         vectors plus ``data/faq/out_of_scope.yml``,
  * ``knowledge/``    — the entry, source and out-of-scope files the index was built from,
                         copied first, so the index and the knowledge it answers with are
                         one unit: the servers answer from it, not from ``data/faq``, which
                         staff change before a publish,
  * ``manifest.json`` — model id, dimension, counts, data hash, build time, created_at.

The data hash is a sha256 over the entry, source and out-of-scope files and the
encoder's and classifier's configuration; loading refuses an index whose manifest does
not match its knowledge (or the data given) or the encoder, and says to run ``make index``.
``make index`` is stale when the hash differs from ``data/faq``'s.

A publish (``bot.publish.job``) builds a new index in a directory of its own beside
``models/index`` (``models/index-versions/<version>``) and makes ``models/index`` a
symbolic link to it in one rename (:func:`publish_index`); a server notices the new
version by its manifest (:func:`index_version`, one ``stat``) and loads it whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bot import datafiles
from bot.retrieval.embedding import Encoder, encoder_config, encoder_config_json
from bot.knowledge.entries import KnowledgeBase, load_knowledge_base
from bot.retrieval import ranker
from bot.lang.text import normalise
from bot.lang.noise import core_of
from bot.lang.vocabulary import canonical

INDEX_FORMAT = 6  # 5: entry texts in matching form and as written; 6: its knowledge inside
VECTORS_FILE = "vectors.faiss"
ROWS_FILE = "rows.json"
MANIFEST_FILE = "manifest.json"
KNOWLEDGE_DIR = "knowledge"
OUT_OF_SCOPE_FILE = "out_of_scope.yml"
KEPT_VERSIONS = 3  # the published index and the two before it (a server may still read one)
ENTRY_KINDS = ("question", "paraphrase")


class IndexUnusableError(RuntimeError):
    """Base class: the index cannot be used."""


class IndexMissingError(IndexUnusableError):
    pass


class IndexMismatchError(IndexUnusableError):
    pass


@dataclass(frozen=True)
class Row:
    kind: str      # "question" | "paraphrase" | "passage"
    ref: str       # entry id, or passage id
    topic: str     # entry topic; "" for passages
    text: str      # the normalised text that was embedded

    @property
    def is_entry(self) -> bool:
        return self.kind in ENTRY_KINDS


@dataclass(frozen=True)
class Knowledge:
    """Where an index's own copy of the data it was built from is."""

    entries_dir: Path
    sources_dir: Path
    out_of_scope: Path

    @classmethod
    def of(cls, index_dir: Path) -> Knowledge:
        root = Path(index_dir) / KNOWLEDGE_DIR
        return cls(root / "entries", root / "sources", root / OUT_OF_SCOPE_FILE)


@dataclass
class LoadedIndex:
    index: object               # faiss.IndexFlatIP
    rows: list[Row]
    manifest: dict
    directory: Path
    classifier: ranker.EntryClassifier | None = None

    @property
    def knowledge(self) -> Knowledge:
        """The entries and sources this index was built from (answer with these)."""
        return Knowledge.of(self.directory)

    def vectors(self) -> np.ndarray:
        """All stored vectors (n, d), float32."""
        return self.index.reconstruct_n(0, self.index.ntotal)


@dataclass(frozen=True)
class BuildReport:
    directory: Path
    entries: int
    questions: int
    paraphrases: int
    passages: int
    vectors: int
    dimension: int
    model_id: str
    load_seconds: float
    encode_seconds: float
    total_seconds: float
    warnings: tuple[str, ...] = ()
    encoded: int = 0            # texts actually embedded (the rest came from the cache)
    out_of_scope: int = 0       # out-of-scope questions the classifier learnt "none" from
    train_seconds: float = 0.0  # entry classifier training


def passage_text(heading: str, text: str) -> str:
    """What is embedded for a passage: heading + text, simplified and normalised."""
    return canonical(normalise(f"{heading}\n{text}"))


def entry_texts(text: str) -> list[str]:
    """What an entry's question or paraphrase is indexed as: its matching form, and its
    words as written too when the vocabulary changed some (a query in words the
    vocabulary does not list still meets the entry's own: "重新办" and "补办")."""
    written = normalise(core_of(text))
    return list(dict.fromkeys([canonical(written), written]))


def collect_rows(kb: KnowledgeBase) -> list[Row]:
    """Rows in a stable order: per entry its question then its distinct paraphrases (each
    in matching form, then as written if that differs), then every passage."""
    rows: list[Row] = []
    for entry in kb.entries:
        question, *written = entry_texts(entry.question)
        rows.append(Row("question", entry.id, entry.topic, question))
        seen = {question}
        for text in [*written, *(t for p in entry.paraphrases for t in entry_texts(p))]:
            if text and text not in seen:
                seen.add(text)
                rows.append(Row("paraphrase", entry.id, entry.topic, text))
    for document in kb.documents.values():
        for p in document.passages:
            heading = getattr(p, "heading", "")
            rows.append(Row("passage", p.id, "", passage_text(heading, p.text_simplified)))
    return rows


def _data_files(entries_dir: Path, sources_dir: Path, out_of_scope: Path) -> list[tuple[str, Path]]:
    files = [(f"entries/{p.name}", p) for p in sorted(Path(entries_dir).glob("*.yml"))]
    files += [(f"sources/{p.name}", p) for p in sorted(Path(sources_dir).glob("*.yml"))]
    if Path(out_of_scope).exists():
        files.append(("out_of_scope", Path(out_of_scope)))
    return files


def data_hash(entries_dir: Path, sources_dir: Path, encoder: Encoder | dict | str,
              out_of_scope: Path | None = None, classifier: ranker.ClassifierSettings | None = None) -> str:
    """sha256 over the entry, source and out-of-scope files (name + bytes), the
    encoder and classifier configs and the index format. ``out_of_scope`` and
    ``classifier`` default to the configured ones."""
    from bot.retrieval.settings import load_settings

    if out_of_scope is None or classifier is None:
        settings = load_settings()
        out_of_scope = out_of_scope or settings.out_of_scope_file
        classifier = classifier or settings.classifier
    if isinstance(encoder, dict):
        enc = json.dumps(encoder, sort_keys=True, ensure_ascii=False)
    elif isinstance(encoder, str):
        enc = encoder
    else:
        enc = encoder_config_json(encoder)
    digest = hashlib.sha256()
    digest.update(f"index-format:{INDEX_FORMAT}\n".encode())
    digest.update(f"encoder:{enc}\n".encode())
    digest.update(f"classifier:{json.dumps(classifier.as_dict(), sort_keys=True)}\n".encode())
    # the matching form of every text depends on the vocabulary's synonyms (not on its
    # politeness or correction words)
    synonyms = datafiles.vocabulary().get("synonyms") if datafiles.paths().vocabulary.exists() else {}
    digest.update(f"synonyms:{json.dumps(synonyms, sort_keys=True, ensure_ascii=False)}\n".encode())
    for name, path in _data_files(entries_dir, sources_dir, out_of_scope):
        content = path.read_bytes()
        digest.update(f"{name}:{len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def copy_knowledge(out_dir: Path, entries_dir: Path, sources_dir: Path, out_of_scope: Path) -> Knowledge:
    """Copy the entry and source files and the out-of-scope questions into
    ``out_dir/knowledge`` (replacing an older copy) and say where they are."""
    out_dir = Path(out_dir)
    staging = out_dir / f".{KNOWLEDGE_DIR}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    for name, folder in (("entries", entries_dir), ("sources", sources_dir)):
        (staging / name).mkdir(parents=True)
        for path in sorted(Path(folder).glob("*.yml")):
            shutil.copy2(path, staging / name / path.name)
    if Path(out_of_scope).exists():
        shutil.copy2(out_of_scope, staging / OUT_OF_SCOPE_FILE)
    shutil.rmtree(out_dir / KNOWLEDGE_DIR, ignore_errors=True)
    staging.rename(out_dir / KNOWLEDGE_DIR)
    return Knowledge.of(out_dir)


def cached_encode(encoder: Encoder, texts: list[str], cache_dir: Path | None) -> tuple[np.ndarray, int]:
    """Encode ``texts``, reusing vectors of unchanged texts from ``cache_dir`` (one
    ``.npz`` per encoder configuration). Returns (vectors, number of texts encoded)."""
    if cache_dir is None:
        return encoder.encode(texts), len(texts)
    key = hashlib.sha256(encoder_config_json(encoder).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"embeddings-{key}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                known = dict(zip(data["texts"].tolist(), data["vectors"]))
        except (OSError, ValueError, KeyError):
            known = {}
    missing = sorted({t for t in texts if t not in known})
    if missing:
        for text, vector in zip(missing, encoder.encode(missing)):
            known[text] = vector
        path.parent.mkdir(parents=True, exist_ok=True)
        keep = sorted(set(texts) | set(missing))  # the cache holds the current texts only
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez(tmp, texts=np.array(keep), vectors=np.stack([known[t] for t in keep]).astype(np.float32))
        tmp.replace(path)
    return np.stack([known[t] for t in texts]).astype(np.float32), len(missing)


def build_index(encoder: Encoder | None = None, out_dir: Path | None = None,
                entries_dir: Path | None = None, sources_dir: Path | None = None,
                cache_dir: Path | None | str = "default") -> BuildReport:
    """Validate the entries, embed questions, paraphrases and passages, write the index
    (over 60 lines: one build, step after step, each writing a part the manifest names).

    ``cache_dir``: where vectors of unchanged texts are kept between builds
    (default ``<out_dir>/cache``; None disables the cache)."""
    import faiss

    from bot.retrieval.embedding import get_encoder
    from bot.retrieval.settings import load_settings

    settings = load_settings()
    encoder = encoder or get_encoder(settings)
    out_dir = Path(out_dir or settings.index_dir)
    entries_dir = Path(entries_dir or settings.entries_dir)
    sources_dir = Path(sources_dir or settings.sources_dir)

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    # the copy first: the hash, the rows and the classifier all come from it, so a staff
    # edit made during the build cannot slip in halfway
    knowledge = copy_knowledge(out_dir, entries_dir, sources_dir, settings.out_of_scope_file)
    digest = data_hash(knowledge.entries_dir, knowledge.sources_dir, encoder, knowledge.out_of_scope)
    kb = load_knowledge_base(knowledge.entries_dir, knowledge.sources_dir)
    rows = collect_rows(kb)
    loaded = time.perf_counter()
    if cache_dir == "default":
        cache_dir = out_dir / "cache"
    negatives = ranker.read_out_of_scope(knowledge.out_of_scope) if knowledge.out_of_scope.exists() else []
    texts = [r.text for r in rows] + negatives
    all_vectors, encoded_count = cached_encode(encoder, texts, cache_dir)
    vectors = all_vectors[: len(rows)]
    encoded = time.perf_counter()
    dimension = int(vectors.shape[1])
    if dimension != encoder.dimension:
        raise IndexMismatchError(f"encoder returned dimension {dimension}, declares {encoder.dimension}")
    index = faiss.IndexFlatIP(dimension)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    tmp = out_dir / f".{VECTORS_FILE}.tmp"
    faiss.write_index(index, str(tmp))
    tmp.replace(out_dir / VECTORS_FILE)
    _write_json(out_dir / ROWS_FILE, [r.__dict__ for r in rows])
    entry_rows = [i for i, r in enumerate(rows) if r.is_entry]
    classifier = ranker.train(
        [rows[i].text for i in entry_rows] + negatives,
        [rows[i].ref for i in entry_rows] + [ranker.NONE] * len(negatives),
        np.concatenate([vectors[entry_rows], all_vectors[len(rows):]]), settings.classifier)
    ranker.save(classifier, out_dir)
    trained = time.perf_counter()
    counts = {
        "entries": len(kb.entries),
        "questions": sum(r.kind == "question" for r in rows),
        "paraphrases": sum(r.kind == "paraphrase" for r in rows),
        "passages": sum(r.kind == "passage" for r in rows),
        "vectors": len(rows),
        "out_of_scope": len(negatives),
    }
    total = time.perf_counter() - started
    manifest = {
        "format": INDEX_FORMAT,
        "model_id": encoder.model_id,
        "encoder": encoder_config(encoder),
        "dimension": dimension,
        "count": len(rows),
        "counts": counts,
        "data_sha256": digest,
        "entries_dir": str(entries_dir),
        "sources_dir": str(sources_dir),
        "knowledge": KNOWLEDGE_DIR,
        "build_seconds": round(total, 3),
        "encode_seconds": round(encoded - loaded, 3),
        "classifier": {**settings.classifier.as_dict(), "sklearn": classifier.sklearn_version,
                       "train_seconds": round(trained - encoded, 3)},
        "encoded_texts": encoded_count,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _write_json(out_dir / MANIFEST_FILE, manifest)  # written last: its presence marks a complete build
    return BuildReport(
        directory=out_dir, entries=counts["entries"], questions=counts["questions"],
        paraphrases=counts["paraphrases"], passages=counts["passages"], vectors=len(rows),
        dimension=dimension, model_id=encoder.model_id, load_seconds=loaded - started,
        encode_seconds=encoded - loaded, total_seconds=total,
        warnings=tuple(str(w) for w in kb.warnings), encoded=encoded_count,
        out_of_scope=len(negatives), train_seconds=trained - encoded,
    )


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def read_manifest(index_dir: Path) -> dict | None:
    path = Path(index_dir) / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def is_stale(index_dir: Path | None = None, entries_dir: Path | None = None,
             sources_dir: Path | None = None, encoder: Encoder | dict | None = None) -> bool:
    """True when there is no complete index or its data hash differs from the
    current data (and encoder configuration)."""
    from bot.retrieval.embedding import get_encoder
    from bot.retrieval.settings import load_settings

    settings = load_settings()
    index_dir = Path(index_dir or settings.index_dir)
    manifest = read_manifest(index_dir)
    if (manifest is None or not (index_dir / VECTORS_FILE).exists() or not (index_dir / ROWS_FILE).exists()
            or not (index_dir / KNOWLEDGE_DIR).is_dir()):
        return True
    encoder = encoder if encoder is not None else get_encoder(settings)
    current = data_hash(Path(entries_dir or settings.entries_dir),
                        Path(sources_dir or settings.sources_dir), encoder)
    return manifest.get("data_sha256") != current or not (index_dir / ranker.MODEL_FILE).exists()


def load_index(encoder: Encoder, index_dir: Path | None = None, entries_dir: Path | None = None,
               sources_dir: Path | None = None, check_data: bool = True) -> LoadedIndex:
    """Load the index and check its manifest against the encoder and the data: the
    entries and sources given, or else the index's own copy of its knowledge."""
    import faiss

    from bot.retrieval.settings import load_settings

    settings = load_settings()
    index_dir = Path(index_dir or settings.index_dir)
    hint = "run `make index` (or `python -m bot index`) to rebuild it"
    manifest = read_manifest(index_dir)
    if manifest is None or not (index_dir / VECTORS_FILE).exists() or not (index_dir / ROWS_FILE).exists():
        raise IndexMissingError(f"no complete index in {index_dir}; {hint}")
    problems = []
    if manifest.get("format") != INDEX_FORMAT:
        problems.append(f"index format {manifest.get('format')} != {INDEX_FORMAT}")
    if manifest.get("model_id") != encoder.model_id:
        problems.append(f"model id {manifest.get('model_id')!r} != configured {encoder.model_id!r}")
    if manifest.get("dimension") != encoder.dimension:
        problems.append(f"dimension {manifest.get('dimension')} != encoder's {encoder.dimension}")
    index = faiss.read_index(str(index_dir / VECTORS_FILE))
    rows = [Row(**r) for r in json.loads((index_dir / ROWS_FILE).read_text(encoding="utf-8"))]
    if not (manifest.get("count") == index.ntotal == len(rows)):
        problems.append(f"vector count: manifest {manifest.get('count')}, index {index.ntotal}, rows {len(rows)}")
    if index.d != manifest.get("dimension"):
        problems.append(f"stored vectors have dimension {index.d}, manifest says {manifest.get('dimension')}")
    if check_data:
        if entries_dir is None and sources_dir is None:
            own = Knowledge.of(index_dir)
            current = data_hash(own.entries_dir, own.sources_dir, encoder, own.out_of_scope)
        else:
            current = data_hash(Path(entries_dir or settings.entries_dir),
                                Path(sources_dir or settings.sources_dir), encoder)
        if manifest.get("data_sha256") != current:
            problems.append("data hash differs: the entries, sources or encoder config changed since the build")
    classifier = ranker.load(index_dir)
    if classifier is None:
        problems.append(f"no {ranker.MODEL_FILE}")
    elif classifier.sklearn_version != ranker.sklearn_version():
        problems.append(f"classifier trained with scikit-learn {classifier.sklearn_version}, "
                        f"{ranker.sklearn_version()} installed")
    if problems:
        raise IndexMismatchError(f"index in {index_dir} does not match: {'; '.join(problems)}; {hint}")
    return LoadedIndex(index=index, rows=rows, manifest=manifest, directory=index_dir,
                       classifier=classifier)


# ---------------------------------------------------------------- published versions


def versions_dir(index_dir: Path) -> Path:
    """Where published index versions are built: ``models/index-versions`` beside
    ``models/index``."""
    index_dir = Path(index_dir)
    return index_dir.with_name(f"{index_dir.name}-versions")


def new_version_dir(index_dir: Path, label: str) -> Path:
    """A directory for a new index version (not created): UTC time, then ``label``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return versions_dir(index_dir) / f"{stamp}-{label}"


def index_version(index_dir: Path) -> tuple[str, int, int] | None:
    """What identifies the index served at ``index_dir`` now, in one ``stat``: its real
    directory and its manifest's inode and modification time (a build writes the
    manifest last, as a new file); None while there is no complete index."""
    real = os.path.realpath(index_dir)
    try:
        stat = os.stat(os.path.join(real, MANIFEST_FILE))
    except OSError:
        return None
    return real, stat.st_ino, stat.st_mtime_ns


def publish_index(version_dir: Path, index_dir: Path | None = None) -> Path | None:
    """Serve the complete build in ``version_dir`` (under :func:`versions_dir`): make
    ``index_dir`` a symbolic link to it in one rename, so a reader finds the old index or
    the new one, never a mix. The first time, a real ``index_dir`` (``make index``'s)
    moves into the versions first. Versions beyond the last :data:`KEPT_VERSIONS` are
    removed. Returns the directory served before (None when there was none)."""
    from bot.retrieval.settings import load_settings

    index_dir = Path(index_dir or load_settings().index_dir)
    version_dir = Path(version_dir).resolve()
    if read_manifest(version_dir) is None:
        raise IndexMissingError(f"no complete index in {version_dir}")
    versions = versions_dir(index_dir)
    versions.mkdir(parents=True, exist_ok=True)
    previous = Path(os.path.realpath(index_dir)) if index_dir.exists() else None
    if index_dir.is_dir() and not index_dir.is_symlink():
        # once: a moment without models/index, the servers keep the index they loaded;
        # named by when it was built, so it is the oldest version
        built = (read_manifest(index_dir) or {}).get("created_at")
        stamp = datetime.fromisoformat(built).strftime("%Y%m%dT%H%M%S000000Z") if built else "0" * 22
        previous = versions / f"{stamp}-made-by-make-index"
        os.rename(index_dir, previous)
    link = index_dir.with_name(f".{index_dir.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version_dir, index_dir.parent), link)
    os.replace(link, index_dir)
    built = sorted(p for p in versions.iterdir() if p.is_dir() and (p / MANIFEST_FILE).exists())
    for old in built[:-KEPT_VERSIONS]:
        if old.resolve() not in (version_dir, previous):
            shutil.rmtree(old, ignore_errors=True)
    return previous
