"""Calibrate the answer / did-you-mean / no-answer thresholds of bot.retrieval.

Measures, with the configured encoder:
  (a) leave-one-out over entry paraphrases: each paraphrase is the query, against the
      index without that paraphrase's own vector (the entry keeps its question and
      other paraphrases) — how in-scope questions score;
  (b) the off-topic list ``data/faq/calibration_offtopic.yml`` — how questions the
      documents do not answer score.
Chooses
  floor            = just above the off-topic score at the --offtopic-reject quantile
                     (default 0.95: ≥ 95 % of off-topic questions fall below it);
  answer_threshold = lowest value >= floor where leave-one-out answers are right
                     >= --answer-precision (default 0.95) and at most
                     --offtopic-answer (default 0.02) of off-topic questions reach it;
and reports the topic-boost effect. With --write it rewrites data/faq/retrieval.yml
with the figures as comments. If tests/data/retrieval_dev.yml exists its figures are
reported too (never used for choosing).

Usage: .venv/bin/python scripts/calibrate_thresholds.py [--entries DIR] [--write]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import PROJECT_ROOT  # noqa: E402
from bot.embedding import get_encoder  # noqa: E402
from bot.index import build_index, load_index  # noqa: E402
from bot.retrieval import decide, rank_entries  # noqa: E402
from bot.settings import DEFAULT_OFFTOPIC, load_settings  # noqa: E402
from bot.text import normalise  # noqa: E402

DEV_FILE = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
BOOSTS = (0.0, 0.01, 0.02, 0.03, 0.05)


def ceil3(x: float) -> float:
    return math.ceil(x * 1000 - 1e-9) / 1000


def loo(vectors, rows, boost=0.0, hint="none", rng=None, temperature=0.0):
    """Leave-one-out over paraphrase rows: [(true id, top id, top score, top-2 score)]."""
    topics = sorted({r.topic for r in rows if r.is_entry})
    out = []
    for i, row in enumerate(rows):
        if row.kind != "paraphrase":
            continue
        scores = vectors @ vectors[i]
        topic = None
        if hint == "true":
            topic = row.topic
        elif hint == "wrong":
            others = [t for t in topics if t != row.topic]
            topic = others[rng.integers(len(others))] if others else None
        ranked = rank_entries(scores, rows, topic, boost, exclude=i, temperature=temperature)
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        out.append((row.ref, ranked[0][0], ranked[0][1], second))
    return out


def top_scores(encoder, vectors, rows, texts, max_chars, temperature=0.0):
    qs = encoder.encode([normalise(t)[:max_chars] for t in texts])
    result = []
    for q in qs:
        ranked = rank_entries(vectors @ q, rows, temperature=temperature)
        result.append((ranked[0][0], ranked[0][1]))
    return result


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=Path, default=None)
    ap.add_argument("--offtopic", type=Path, default=DEFAULT_OFFTOPIC)
    ap.add_argument("--offtopic-reject", type=float, default=0.95)
    ap.add_argument("--answer-precision", type=float, default=0.95)
    ap.add_argument("--offtopic-answer", type=float, default=0.02)
    ap.add_argument("--write", action="store_true", help="rewrite data/faq/retrieval.yml")
    args = ap.parse_args(argv)

    settings = load_settings()
    entries_dir = args.entries or settings.entries_dir
    encoder = get_encoder(settings)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = build_index(encoder, Path(tmp), entries_dir, settings.sources_dir,
                             cache_dir=settings.index_dir / "cache")
        build_s = time.perf_counter() - t0
        idx = load_index(encoder, Path(tmp), entries_dir, settings.sources_dir, check_data=False)
    rows = idx.rows
    vectors = idx.vectors()
    print(f"index: {report.entries} entries, {report.paraphrases} paraphrases, {report.passages} passages, "
          f"built in {build_s:.1f}s with {encoder.model_id}")

    # aggregation: best vector (T=0) or soft maximum, chosen on leave-one-out Hit@1
    temps = (0.0, 0.005, 0.01, 0.02)
    temp_table = [(t, np.mean([a == b for a, b, _, _ in loo(vectors, rows, temperature=t)])) for t in temps]
    print("aggregation temperature → LOO Hit@1: " + ", ".join(f"{t}: {pct(h)}" for t, h in temp_table))
    temperature = max(temp_table, key=lambda r: (round(r[1], 3), -r[0]))[0]
    print(f"    using temperature {temperature}")

    # (a) leave-one-out
    base = loo(vectors, rows, temperature=temperature)
    n_in = len(base)
    hit1 = sum(t == p for t, p, _, _ in base) / n_in
    print(f"\n(a) leave-one-out over {n_in} paraphrases: Hit@1 {pct(hit1)}")
    rng = np.random.default_rng(0)
    boost_table = []
    for b in BOOSTS:
        true_h = loo(vectors, rows, b, "true", temperature=temperature)
        wrong_h = loo(vectors, rows, b, "wrong", rng, temperature=temperature)
        boost_table.append((b, sum(t == p for t, p, _, _ in true_h) / n_in,
                            sum(t == p for t, p, _, _ in wrong_h) / n_in))
    print("    topic boost: Hit@1 with the right topic hint / with a wrong hint")
    for b, right, wrong in boost_table:
        print(f"      boost {b:.2f}: {pct(right)} / {pct(wrong)}")
    in_scores = np.array([s for _, _, s, _ in base])
    correct = np.array([t == p for t, p, _, _ in base])

    # (b) off-topic
    off_items = yaml.safe_load(args.offtopic.read_text(encoding="utf-8"))["questions"]
    off_texts = [str(q["text"]) for q in off_items]
    off = top_scores(encoder, vectors, rows, off_texts, settings.max_query_chars, temperature)
    off_scores = np.array([s for _, s in off])
    print(f"\n(b) off-topic: {len(off_texts)} questions; top score min {off_scores.min():.3f}, "
          f"median {np.median(off_scores):.3f}, p90 {np.quantile(off_scores, 0.9):.3f}, "
          f"p95 {np.quantile(off_scores, 0.95):.3f}, max {off_scores.max():.3f}")
    print(f"    in-scope (LOO) top score: min {in_scores.min():.3f}, p5 {np.quantile(in_scores, 0.05):.3f}, "
          f"p10 {np.quantile(in_scores, 0.1):.3f}, median {np.median(in_scores):.3f}")
    worst = sorted(zip(off_scores, off_texts, [r for r, _ in off]), reverse=True)[:8]
    print("    highest-scoring off-topic questions:")
    for s, t, ref in worst:
        print(f"      {s:.3f}  {t}  → {ref}")

    # choose
    ordered = np.sort(off_scores)
    k = math.ceil(args.offtopic_reject * len(ordered))
    floor = ceil3(float(ordered[k - 1]) + 0.0005)
    answer = None
    for t in np.arange(floor, 1.0005, 0.001):
        sel = in_scores >= t
        prec = correct[sel].mean() if sel.any() else 1.0
        off_ans = (off_scores >= t).mean()
        if prec >= args.answer_precision and off_ans <= args.offtopic_answer:
            answer = ceil3(float(t))
            break
    answer = answer if answer is not None else 1.0

    def summary(fl, th):
        kinds = [decide(s, th, fl) for s in in_scores]
        hit = np.mean([c and k != "no_answer" for c, k in zip(correct, kinds)])
        ans = np.mean([k == "answer" for k in kinds])
        ans_ok = np.mean([c for c, k in zip(correct, kinds) if k == "answer"]) if ans else 1.0
        dym = np.mean([k == "did_you_mean" for k in kinds])
        okinds = [decide(s, th, fl) for s in off_scores]
        rej = np.mean([k == "no_answer" for k in okinds])
        off_ans = np.mean([k == "answer" for k in okinds])
        return hit, ans, ans_ok, dym, rej, off_ans

    print("\nsweep (floor / answer): LOO Hit@1-not-rejected, answered, answer precision, "
          "did-you-mean | off-topic no_answer, off-topic answered")
    sweep = []
    for fl in sorted({floor - 0.01, floor - 0.005, floor, floor + 0.005, floor + 0.01}):
        s = summary(fl, max(answer, fl))
        sweep.append((fl, max(answer, fl), s))
        print(f"    {fl:.3f} / {max(answer, fl):.3f}: {pct(s[0])}, {pct(s[1])}, {pct(s[2])}, {pct(s[3])} | "
              f"{pct(s[4])}, {pct(s[5])}")
    chosen = summary(floor, answer)
    print(f"\nchosen: floor {floor:.3f}, answer_threshold {answer:.3f}")

    dev_line = None
    if DEV_FILE.exists():
        dev = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8"))
        dev = dev.get("cases", dev) if isinstance(dev, dict) else dev
        res = top_scores(encoder, vectors, rows, [str(c["text"]) for c in dev], settings.max_query_chars,
                         temperature)
        ins = [(c, r) for c, r in zip(dev, res) if c.get("expected")]
        offs = [(c, r) for c, r in zip(dev, res) if not c.get("expected")]
        dh = np.mean([r[0] == c["expected"] and decide(r[1], answer, floor) != "no_answer" for c, r in ins]) if ins else float("nan")
        dr = np.mean([decide(r[1], answer, floor) == "no_answer" for c, r in offs]) if offs else float("nan")
        dev_line = f"dev set ({len(ins)} in-scope, {len(offs)} off-topic): Hit@1 {pct(dh)}, off-topic no_answer {pct(dr)}"
        print(dev_line)

    if args.write:
        # expected Hit@1 if the Rasa intent is right 85 % of the time
        best_boost = max(boost_table, key=lambda r: (round(0.85 * r[1] + 0.15 * r[2], 3), -r[0]))
        write_config(settings.retrieval_config, floor, answer, best_boost[0], dict(
            date=date.today().isoformat(), model=encoder.model_id, entries=report.entries,
            n_in=n_in, hit1=hit1, n_off=len(off_texts), off=off_scores, ins=in_scores,
            chosen=chosen, sweep=sweep, boosts=boost_table, args=args, worst=worst, dev=dev_line,
            settings=settings, temperature=temperature, temps=temp_table))
        print(f"wrote {settings.retrieval_config}")
    return 0


def write_config(path: Path, floor: float, answer: float, boost: float, m: dict) -> None:
    hit, ans, ans_ok, dym, rej, off_ans = m["chosen"]
    a = m["args"]
    lines = [
        "# Retrieval thresholds and encoder (read by bot/settings.py).",
        "# Written by scripts/calibrate_thresholds.py --write; edit the choice rules there, not here.",
        "#",
        f"# Calibration of {m['date']} with {m['model']} over {m['entries']} entries:",
        f"#  (a) leave-one-out over {m['n_in']} paraphrases (query = a paraphrase, index without its own",
        f"#      vector): Hit@1 {pct(m['hit1'])}; top score min {m['ins'].min():.3f}, "
        f"p5 {np.quantile(m['ins'], 0.05):.3f}, median {np.median(m['ins']):.3f}.",
        f"#  (b) {m['n_off']} off-topic questions (data/faq/calibration_offtopic.yml): top score "
        f"median {np.median(m['off']):.3f},",
        f"#      p90 {np.quantile(m['off'], 0.9):.3f}, p95 {np.quantile(m['off'], 0.95):.3f}, max {m['off'].max():.3f}. Highest:",
    ]
    for s, t, ref in m["worst"][:4]:
        lines.append(f"#        {s:.3f} {t} → {ref}")
    lines += [
        "# Choice: floor = just above the off-topic top score at the "
        f"{a.offtopic_reject:.0%} quantile (≥ {a.offtopic_reject:.0%} rejected);",
        f"#   answer_threshold = lowest value ≥ floor where LOO answers are ≥ {a.answer_precision:.0%} right and",
        f"#   ≤ {a.offtopic_answer:.0%} of off-topic questions reach it.",
        f"# With these: LOO Hit@1 (right entry, not rejected) {pct(hit)}; answered directly {pct(ans)} "
        f"(precision {pct(ans_ok)}),",
        f"#   did-you-mean {pct(dym)}; off-topic → no_answer {pct(rej)}, answered {pct(off_ans)}.",
        "# Sweep floor / answer: LOO Hit@1, answered, precision, did-you-mean | off-topic no_answer, answered",
    ]
    for fl, th, s in m["sweep"]:
        lines.append(f"#   {fl:.3f} / {th:.3f}: {pct(s[0])}, {pct(s[1])}, {pct(s[2])}, {pct(s[3])} | "
                     f"{pct(s[4])}, {pct(s[5])}")
    lines.append("# Entry score = soft maximum over its vectors with temperature T (0 = best vector); LOO Hit@1: "
                 + ", ".join(f"T={t} {pct(h)}" for t, h in m["temps"]))
    lines.append("# Topic boost (ranking only; scores and thresholds stay raw cosine). LOO Hit@1 with the")
    lines.append("#   right intent as hint / with a wrong one; chosen to maximise 0.85·right + 0.15·wrong:")
    for b, right, wrong in m["boosts"]:
        lines.append(f"#   {b:.2f}: {pct(right)} / {pct(wrong)}")
    if m["dev"]:
        lines.append(f"# {m['dev']} (reported, not used for the choice)")
    s = m["settings"]
    enc = s.encoder
    config = {
        "thresholds": {"answer_threshold": answer, "floor": floor, "topic_boost": boost,
                       "temperature": m["temperature"]},
        "query": {"max_query_chars": s.max_query_chars, "max_input_chars": s.max_input_chars,
                  "did_you_mean_k": s.did_you_mean_k},
        "encoder": {"backend": enc.backend,
                    "model_dir": str(enc.model_dir) if enc.model_dir else None,
                    "query_prefix": enc.query_prefix},
    }
    body = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    path.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
