"""Benchmark: index build time, per-query latency (p50/p95) and resident memory.

Usage: .venv/bin/python scripts/bench_retrieval.py [--entries DIR] [--queries N]
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

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import PROJECT_ROOT  # noqa: E402
from bot.retrieval.embedding import get_encoder  # noqa: E402
from bot.retrieval.index import build_index  # noqa: E402
from bot.knowledge.entries import load_knowledge_base  # noqa: E402
from bot.retrieval.engine import load_engine  # noqa: E402
from bot.retrieval.settings import DEFAULT_OFFTOPIC, load_settings  # noqa: E402


def rss_mb() -> tuple[float, float]:
    status = Path("/proc/self/status").read_text()
    get = lambda key: int(next(l for l in status.splitlines() if l.startswith(key)).split()[1]) / 1024  # noqa: E731
    return get("VmRSS:"), get("VmHWM:")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=Path, default=None)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args(argv)
    settings = load_settings()
    entries = args.entries or settings.entries_dir
    rss0, _ = rss_mb()
    encoder = get_encoder(settings)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        cold = build_index(encoder, tmp / "index", entries, settings.sources_dir, cache_dir=tmp / "cache")
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = build_index(encoder, tmp / "index", entries, settings.sources_dir, cache_dir=tmp / "cache")
        warm_s = time.perf_counter() - t
        t = time.perf_counter()
        engine = load_engine(settings.with_(entries_dir=entries, index_dir=tmp / "index"), encoder=encoder)
        load_s = time.perf_counter() - t
        queries = []
        dev = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
        if dev.exists():
            data = yaml.safe_load(dev.read_text(encoding="utf-8"))
            queries += [str(c["text"]) for c in (data["cases"] if isinstance(data, dict) else data)]
        queries += [str(q["text"]) for q in yaml.safe_load(DEFAULT_OFFTOPIC.read_text(encoding="utf-8"))["questions"]]
        kb = load_knowledge_base(entries, settings.sources_dir)
        queries += [p for e in kb.entries for p in e.paraphrases]
        queries = (queries * (1 + args.queries // max(len(queries), 1)))[: args.queries]
        engine.answer("预热")
        latencies = []
        for q in queries:
            t = time.perf_counter()
            engine.answer(q)
            latencies.append((time.perf_counter() - t) * 1000)
        search_lat = []
        for q in queries[:100]:
            t = time.perf_counter()
            engine.search(q, k=5)
            search_lat.append((time.perf_counter() - t) * 1000)
    rss, peak = rss_mb()
    lat = np.array(latencies)
    rows = [
        ("entries / vectors", f"{cold.entries} / {cold.vectors} (dim {cold.dimension})"),
        ("encoder", cold.model_id),
        ("index build, cold (all texts embedded)", f"{cold_s:.2f} s ({cold.encoded} texts)"),
        ("index build, warm (embedding cache)", f"{warm_s:.2f} s ({warm.encoded} texts)"),
        ("engine load (index + entries + checks)", f"{load_s * 1000:.0f} ms"),
        (f"answer() latency over {len(lat)} queries", f"p50 {np.percentile(lat, 50):.1f} ms, "
                                                       f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms"),
        ("search(k=5) latency over 100 queries", f"p50 {np.percentile(search_lat, 50):.1f} ms, "
                                                  f"p95 {np.percentile(search_lat, 95):.1f} ms"),
        ("resident memory", f"{rss:.0f} MB now, peak {peak:.0f} MB (start {rss0:.0f} MB)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)} | value\n{'-' * width}-+-{'-' * 40}")
    for k, v in rows:
        print(f"{k.ljust(width)} | {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
