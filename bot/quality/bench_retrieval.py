"""Retrieval benchmark: index build time, per-query latency (p50/p95) and resident memory.

Usage: .venv/bin/python -m bot.quality.bench_retrieval [--entries DIR] [--queries N]
Builds into a temporary directory twice (cold: every text embedded; warm: from the
embedding cache), then times Engine.answer over >= 200 queries (dev set, off-topic
list and paraphrases).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bot import PROJECT_ROOT
from bot.datafiles import calibration_offtopic
from bot.knowledge.entries import load_knowledge_base
from bot.stats import interpolated_percentile
from bot.retrieval.embedding import get_encoder
from bot.retrieval.engine import load_engine
from bot.retrieval.index import build_index
from bot.retrieval.settings import load_settings

DEV_FILE = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"


def rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, MB."""
    status = Path("/proc/self/status").read_text().splitlines()

    def get(key: str) -> float:
        return int(next(line for line in status if line.startswith(key)).split()[1]) / 1024
    return get("VmRSS:"), get("VmHWM:")


def timed(function, *args, **kwargs) -> tuple[object, float]:
    """(what the function returned, its seconds)."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def benchmark_queries(entries: Path, sources: Path, n: int) -> list[str]:
    """``n`` queries: the dev set, the held-out off-topic list and the paraphrases, repeated."""
    queries = []
    if DEV_FILE.exists():
        data = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8"))
        queries += [str(c["text"]) for c in (data["cases"] if isinstance(data, dict) else data)]
    queries += [str(q["text"]) for q in calibration_offtopic()]
    kb = load_knowledge_base(entries, sources)
    queries += [p for e in kb.entries for p in e.paraphrases]
    return (queries * (1 + n // max(len(queries), 1)))[:n]


def latencies_ms(call, queries: list[str]) -> list[float]:
    out = []
    for query in queries:
        _, seconds = timed(call, query)
        out.append(seconds * 1000)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.quality.bench_retrieval",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=Path, default=None)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args(argv)
    settings = load_settings()
    entries = args.entries or settings.entries_dir
    rss0, _ = rss_mb()
    encoder = get_encoder(settings)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, cache_dir = Path(tmp) / "index", Path(tmp) / "cache"
        cold, cold_s = timed(build_index, encoder, index_dir, entries, settings.sources_dir,
                             cache_dir=cache_dir)
        warm, warm_s = timed(build_index, encoder, index_dir, entries, settings.sources_dir,
                             cache_dir=cache_dir)
        engine, load_s = timed(load_engine, settings.with_(entries_dir=entries, index_dir=index_dir),
                               encoder=encoder)
        queries = benchmark_queries(entries, settings.sources_dir, args.queries)
        engine.answer("预热")
        answer_ms = latencies_ms(engine.answer, queries)
        search_ms = latencies_ms(lambda q: engine.search(q, k=5), queries[:100])
    rss, peak = rss_mb()

    def p(values: list[float], q: float) -> float:
        return interpolated_percentile(values, q)
    rows = [
        ("entries / vectors", f"{cold.entries} / {cold.vectors} (dim {cold.dimension})"),
        ("encoder", cold.model_id),
        ("index build, cold (all texts embedded)", f"{cold_s:.2f} s ({cold.encoded} texts)"),
        ("index build, warm (embedding cache)", f"{warm_s:.2f} s ({warm.encoded} texts)"),
        ("engine load (index + entries + checks)", f"{load_s * 1000:.0f} ms"),
        (f"answer() latency over {len(answer_ms)} queries",
         f"p50 {p(answer_ms, 50):.1f} ms, p95 {p(answer_ms, 95):.1f} ms, max {max(answer_ms):.1f} ms"),
        ("search(k=5) latency over 100 queries",
         f"p50 {p(search_ms, 50):.1f} ms, p95 {p(search_ms, 95):.1f} ms"),
        ("resident memory", f"{rss:.0f} MB now, peak {peak:.0f} MB (start {rss0:.0f} MB)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)} | value\n{'-' * width}-+-{'-' * 40}")
    for k, v in rows:
        print(f"{k.ljust(width)} | {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
