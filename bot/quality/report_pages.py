"""Plots and the self-contained HTML page of the quality report (``bot.quality.report``).

matplotlib is imported only when a plot is drawn (backend Agg). Plot labels are ids
and ASCII, so they read the same with or without a CJK font; Chinese text (questions,
replies) appears only in the HTML tables, which the browser renders. Every text from
the inputs is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from typing import Any

COLORS = {"right": "#2e7d32", "wrong": "#c62828", "off": "#757575", "answer": "#2e7d32",
          "did_you_mean": "#f9a825", "no_answer": "#9e9e9e", "ours": "#1565c0", "base": "#9e9e9e"}
_font_state: dict[str, Any] = {}


# -- plotting ----------------------------------------------------------------

def cjk_font() -> str | None:
    """A font family with Chinese glyphs that matplotlib knows (``fc-list :lang=zh``)."""
    if "family" not in _font_state:
        _font_state["family"] = None
        if shutil.which("fc-list"):
            try:
                out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True,
                                     text=True, timeout=10).stdout
            except (OSError, subprocess.SubprocessError):
                out = ""
            families = [f.strip() for line in out.splitlines() for f in line.split(",") if f.strip()]
            if families:
                from matplotlib import font_manager
                known = {f.name for f in font_manager.fontManager.ttflist}
                _font_state["family"] = next((f for f in families if f in known), None)
    return _font_state["family"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = cjk_font()
    if family:
        plt.rcParams["font.sans-serif"] = [family, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["axes.unicode_minus"] = False
    return plt


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_score_histograms(scores: dict, answer_threshold: float, floor: float) -> str | None:
    """Top entry confidence of right-first, wrong-first and off-topic questions."""
    series = [("right entry first", scores.get("right_first") or [], COLORS["right"]),
              ("wrong entry first", scores.get("wrong_first") or [], COLORS["wrong"]),
              ("off-topic", scores.get("off_topic") or [], COLORS["off"])]
    values = [v for _, vs, _ in series for v in vs]
    if not values:
        return None
    plt = _pyplot()
    low = max(0.0, min(min(values), floor) - 0.01)
    bins = [low + (1.0 - low) * i / 50 for i in range(51)]
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 6.5), sharex=True)
    for ax, (label, vs, color) in zip(axes, series, strict=True):
        ax.hist(vs, bins=bins, color=color, alpha=0.85)
        ax.axvline(floor, color="black", linestyle="--", linewidth=1)
        ax.axvline(answer_threshold, color="black", linestyle="-", linewidth=1)
        ax.set_ylabel("questions")
        ax.set_title(f"{label} (n={len(vs)})", fontsize=10, loc="left")
    axes[0].text(floor, axes[0].get_ylim()[1] * 0.9, f" floor {floor:.2f}", fontsize=8)
    axes[0].text(answer_threshold, axes[0].get_ylim()[1] * 0.7, f" answer {answer_threshold:.2f}",
                 fontsize=8)
    axes[-1].set_xlabel("top entry confidence (classifier probability); dashed: did-you-mean floor, solid: answer threshold")
    fig.tight_layout()
    return _png(fig)


def plot_rate_bars(rows: dict[str, dict], keys: tuple[tuple[str, str], ...], target: float | None,
                   title: str) -> str | None:
    """Horizontal bars of rates (0..1) per label, one bar per key, target line."""
    if not rows:
        return None
    plt = _pyplot()
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(labels) * len(keys) + 1.2))
    height = 0.8 / len(keys)
    palette = ["#1565c0", "#90caf9", "#ef6c00"]
    for k, (key, name) in enumerate(keys):
        ys = [i + k * height for i in range(len(labels))]
        xs = [rows[label].get(key) or 0.0 for label in labels]
        ax.barh(ys, xs, height=height, label=name, color=palette[k % len(palette)])
    ax.set_yticks([i + height * (len(keys) - 1) / 2 for i in range(len(labels))])
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.0)
    if target is not None:
        ax.axvline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _png(fig)


def plot_decision_mix(rows: dict[str, dict], title: str) -> str | None:
    """Stacked bars of answer / did_you_mean / no_answer shares per label."""
    if not rows:
        return None
    plt = _pyplot()
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(labels) + 1.2))
    left = [0.0] * len(labels)
    for decision in ("answer", "did_you_mean", "no_answer"):
        shares = [rows[label]["decisions"].get(decision, 0) / rows[label]["n"] if rows[label]["n"] else 0.0
                  for label in labels]
        ax.barh(labels, shares, left=left, color=COLORS[decision], label=decision)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.invert_yaxis()
    ax.set_xlim(0, 1.0)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.06))
    fig.tight_layout()
    return _png(fig)


def plot_confusion(labels: list[str], matrix: list[list[int]]) -> str | None:
    if not labels:
        return None
    import numpy as np

    plt = _pyplot()
    data = np.array(matrix, dtype=float)
    size = max(6.0, 0.38 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size))
    shown = np.where(data > 0, np.log1p(data), np.nan)     # log colour: the diagonal would hide errors
    ax.imshow(shown, cmap="Blues", interpolation="nearest")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if data[i, j]:
                dark = shown[i, j] > 0.5 * np.nanmax(shown)
                ax.text(j, i, int(data[i, j]), ha="center", va="center", fontsize=7,
                        color="#c62828" if i != j else ("white" if dark else "black"))
    ax.set_xticks(range(len(labels)))
    ax.set_yticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent")
    ax.set_title("intent confusion matrix (counts; off-diagonal in red)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def plot_two_histograms(right: list[float], wrong: list[float], labels: tuple[str, str], xlabel: str,
                        title: str, lines: dict[str, float] | None = None) -> str | None:
    if not right and not wrong:
        return None
    plt = _pyplot()
    values = right + wrong
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    bins = [low + (high - low) * i / 30 for i in range(31)]
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.hist(right, bins=bins, color=COLORS["right"], alpha=0.7, label=f"{labels[0]} (n={len(right)})")
    ax.hist(wrong, bins=bins, color=COLORS["wrong"], alpha=0.7, label=f"{labels[1]} (n={len(wrong)})")
    for name, x in (lines or {}).items():
        ax.axvline(x, color="black", linestyle="--", linewidth=1)
        ax.text(x, ax.get_ylim()[1] * 0.9, f" {name}", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def plot_latency(latency: dict[str, dict]) -> str | None:
    """Grouped bars of p50 / p95 / p99 per system and load level."""
    groups = [g for g, v in latency.items() if any(isinstance(x, int | float) for x in v.values())]
    if not groups:
        return None
    plt = _pyplot()
    percentiles = ("p50", "p95", "p99")
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(percentiles)
    palette = ["#1565c0", "#ef6c00", "#6a1b9a"]
    for k, p in enumerate(percentiles):
        xs = [i + k * width for i in range(len(groups))]
        ys = [latency[g].get(p) if isinstance(latency[g].get(p), int | float) else 0 for g in groups]
        bars = ax.bar(xs, ys, width=width, label=p, color=palette[k])
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks([i + width for i in range(len(groups))])
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel("latency per turn (ms)")
    ax.set_title("turn latency percentiles by system and concurrent users", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


# -- HTML helpers -------------------------------------------------------------

def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


class Raw(str):
    """Already-safe HTML for a table cell."""


def fmt(value: Any, rate: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if rate:
            return f"{value:.1%}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value) or "–"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def badge(met: bool | None) -> Raw:
    cls, text = {True: ("met", "met"), False: ("not-met", "not met"), None: ("unknown", "not run yet")}[met]
    return Raw(f'<span class="badge {cls}">{text}</span>')


_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+%?$|^–$")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Every cell escaped unless ``Raw``; numbers right-aligned."""
    if not rows:
        return '<p class="empty">none</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            content = cell if isinstance(cell, Raw) else esc(cell)
            numeric = isinstance(cell, int | float) or (isinstance(cell, str) and _NUMBER.match(cell))
            cls = ' class="num"' if numeric and not isinstance(cell, Raw) else ""
            cells.append(f"<td{cls}>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def image(png: str | None, alt: str) -> str:
    if not png:
        return f'<p class="empty">no data to plot for {esc(alt)}</p>'
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{png}"></figure>'


def not_run(section: dict) -> str:
    cls = "error" if section.get("status") == "error" else "missing"
    return f'<div class="{cls}">{_code(section.get("message", "not run yet"))}</div>'


def _code(text: str) -> str:
    """Escape, then show `backticked` parts as code."""
    parts = esc(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


# -- sections -------------------------------------------------------------------

def headline_html(figures: dict) -> str:
    rows = []
    for row in figures["headline"]:
        rate = row["unit"] == "rate"
        target = "" if row["target"] is None else f"{row['direction']} {fmt(row['target'], rate)}"
        value = fmt(row["value"], rate) if row["value"] is not None else f"not run yet ({row['run']})"
        rows.append([row["name"], value, target, badge(row["met"])])
    weak = figures["weakest"]
    items = []
    if weak["topics"]:
        items.append("topics by Hit@1: " + ", ".join(
            f"{t['topic']} {fmt(t['hit_at_1'], True)} (n={t['n']})" for t in weak["topics"]))
    if weak["intents"]:
        items.append("intents by F1: " + ", ".join(
            f"{i['intent']} {fmt(i['f1'])}" for i in weak["intents"]))
    if weak["confusions"]:
        items.append("confusions: " + ", ".join(
            f"{c['intent']} → {c['predicted']} ×{c['count']}" for c in weak["confusions"]))
    weakest_html = ("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>") if items else \
        '<p class="empty">not measured yet</p>'
    return (f'<section id="headline" class="headline"><h2>Headline</h2>'
            f'{table(["measure", "value", "target", ""], rows)}'
            f"<h3>Weakest areas</h3>{weakest_html}</section>")


def retrieval_html(r: dict, targets: dict) -> str:
    out = ['<section id="retrieval"><h2>Retrieval (dev set, no topic hint)</h2>']
    if r.get("status") != "ok":
        return out[0] + not_run(r) + "</section>"
    t, o = r["thresholds"], r["overall"]
    off, fb = r["off_topic"], r["fallback"]
    out.append(
        f"<p>{esc(r.get('dev_file', ''))}: {o['n']} in-scope and {off['n']} off-topic questions, "
        f"ranked against every entry. Thresholds: answer ≥ {esc(t['answer_threshold'])}, "
        f"did-you-mean ≥ {esc(t['floor'])} (floor), below: no answer. "
        f"<b>Hit@1</b> = right entry first and not rejected; <b>rank Hit@1</b> ignores the thresholds; "
        f"<b>MRR</b> = mean 1/rank of the expected entry.</p>")
    out.append(table(["", "n", "Hit@1", "rank Hit@1", "MRR", "answer", "did you mean", "no answer"], [
        ["in-scope", o["n"], fmt(o["hit_at_1"], True), fmt(o["rank_hit_at_1"], True), fmt(o["mrr"]),
         *(fmt(o["decision_rates"][d], True) for d in ("answer", "did_you_mean", "no_answer"))]]))
    out.append("<h3>Fallback rate</h3>" + table(["", "rate"], [
        ["off-topic questions → no answer (rejection)", fmt(fb["off_topic_no_answer"], True)],
        ["in-scope questions → no answer (false fallback)", fmt(fb["in_scope_no_answer"], True)],
        ["off-topic decisions", " / ".join(f"{d} {n}" for d, n in off["decisions"].items())]]))
    out.append("<h3>Scores of the best entry</h3>" + image(
        plot_score_histograms(r["scores"], t["answer_threshold"], t["floor"]),
        "retrieval score histograms"))

    def rows(group: dict) -> list:
        return [[name, v["n"], fmt(v["hit_at_1"], True), fmt(v["rank_hit_at_1"], True), fmt(v["mrr"]),
                 *(v["decisions"][d] for d in ("answer", "did_you_mean", "no_answer"))]
                for name, v in group.items()]
    headers = ["", "n", "Hit@1", "rank Hit@1", "MRR", "answer", "did you mean", "no answer"]
    out.append("<h3>Per topic</h3>" + image(plot_rate_bars(
        r["by_topic"], (("hit_at_1", "Hit@1"), ("mrr", "MRR")), targets.get("hit_at_1"),
        "Hit@1 and MRR per topic"),
        "Hit@1 and MRR per topic") + table(headers, rows(r["by_topic"])))
    mix = dict(r["by_kind"])
    mix["(off-topic)"] = {"n": off["n"], "decisions": off["decisions"]}
    out.append("<h3>Per kind of question</h3>" + image(
        plot_decision_mix(mix, "decision mix per kind of question"), "decision mix per kind")
        + table(headers, rows(r["by_kind"])))
    case_headers = ["question", "kind", "expected", "ranked first", "score", "decision", "rank of expected"]

    def case_rows(cases: list) -> list:
        return [[c["text"], c["kind"], c["expected"] or "(none)", c["got"], fmt(c["score"]), c["decision"],
                 c["rank"]] for c in cases]
    worst = r["worst"]
    out.append("<h3>Worst cases</h3><h4>Wrong entry first, most confident first</h4>"
               + table(case_headers, case_rows(worst["wrong_first"]))
               + "<h4>Right entry first but rejected (no answer)</h4>"
               + table(case_headers, case_rows(worst["right_but_rejected"]))
               + "<h4>Off-topic questions that were not rejected</h4>"
               + table(case_headers, case_rows(worst["off_topic_answered"])))
    if r["problems"]:
        out.append("<h4>Problems in the dev set</h4><ul>" +
                   "".join(f"<li>{esc(p)}</li>" for p in r["problems"]) + "</ul>")
    return "".join(out) + "</section>"


def nlu_html(n: dict, targets: dict) -> str:
    out = ['<section id="nlu"><h2>Intent classification (<code>rasa test nlu</code>)</h2>']
    if n.get("status") != "ok":
        return out[0] + not_run(n) + "</section>"
    out.append(f"<p>{esc(n.get('results_dir', ''))} ({esc(n.get('generated', ''))}): {n['examples']} "
               f"held-out examples (tests/test_nlu.yml). Macro F1 <b>{fmt(n['macro_f1'])}</b>, weighted F1 "
               f"{fmt(n['weighted_f1'])}, accuracy {fmt(n['accuracy'], True)}.</p>")
    out.append(image(plot_rate_bars({k: v for k, v in n["intents"].items()},
                                    (("f1", "F1"),), targets.get("intent_macro_f1"),
                                    "F1 per intent (worst first)"), "F1 per intent"))
    out.append(table(["intent", "precision", "recall", "F1", "support"],
                     [[i, fmt(v["precision"]), fmt(v["recall"]), fmt(v["f1"]), v["support"]]
                      for i, v in n["intents"].items()]))
    out.append("<h3>Confusion matrix</h3>" + image(
        plot_confusion(n["confusion"]["labels"], n["confusion"]["matrix"]), "intent confusion matrix"))
    out.append("<h3>Worst confusions</h3>" + table(
        ["true intent", "predicted", "count"],
        [[c["intent"], c["predicted"], c["count"]] for c in n["top_confusions"]]))
    conf = n["confidence"]
    note = "" if n["has_successes"] else \
        '<p class="empty">intent_successes.json missing: only the errors are plotted ' \
        "(run <code>make report</code>, which passes <code>--successes</code>).</p>"
    out.append("<h3>Confidence of right and wrong intents</h3>" + note + image(plot_two_histograms(
        conf["right"], conf["wrong"], ("right intent", "wrong intent"), "intent confidence",
        "intent confidence, right vs wrong predictions"), "intent confidence histogram"))
    out.append("<h3>Errors, most confident first</h3>" + table(
        ["text", "true intent", "predicted", "confidence"],
        [[e["text"], e["intent"], e["predicted"], fmt(e["confidence"])] for e in n["errors"]]))
    return "".join(out) + "</section>"


def _turns(turns: Any) -> str:
    if isinstance(turns, list):
        return " ⏎ ".join(str(t) for t in turns)
    return fmt(turns)


def regression_html(g: dict) -> str:
    out = ['<section id="regression"><h2>Regression (<code>make eval</code>, real servers)</h2>']
    if g.get("status") != "ok":
        return out[0] + not_run(g) + "</section>"
    lat = g["latency_ms"]
    out.append(f"<p>{esc(g.get('file', ''))} (generated {esc(g.get('generated'))}, today pinned to "
               f"{esc(g.get('today'))}): <b>{esc(g['passed'])} / {esc(g['cases'])} passed "
               f"({fmt(g['pass_rate'], True)})</b>, known failures {esc(g['known_failures'])}; "
               f"fallback replies {fmt(g['fallback_rate'], True)} of cases"
               + (f"; latency p50 {fmt(lat['p50'])} ms, p95 {fmt(lat['p95'])} ms, max {fmt(lat['max'])} ms"
                  if lat else "") + ".</p>")
    for name, groups in g["breakdowns"].items():
        title = "Per " + name.replace("expect_kind", "expected kind").replace("_", " ")
        rows = [[group, fmt(v["cases"]), fmt(v["passed"]), fmt(v["pass_rate"], True)]
                for group, v in groups.items()]
        out.append(f"<h3>{esc(title)}</h3>" + table(["", "cases", "passed", "pass rate"], rows))
    out.append("<h3>Reply scores, passing vs failing</h3>" + image(plot_two_histograms(
        g["scores"]["passed"], g["scores"]["failed"], ("passed", "failed"), "retrieval score of the reply",
        "reply scores of passing and failing cases"), "regression score histogram"))
    out.append("<h3>Failing cases</h3>" + table(
        ["id", "turns", "expected", "received", "score", "known failure", "missing", "reply"],
        [[c["id"], _turns(c["turns"]), fmt(c["expect"]), fmt(c["received"]), fmt(c["score"]),
          fmt(c["known_failure"]), fmt(c["missing"]), c["reply"]] for c in g["failing"]]))
    out.append("<h3>Slowest cases</h3>" + table(
        ["id", "turns", "latency (ms)", "received", "passed"],
        [[c["id"], _turns(c["turns"]), fmt(c["latency_ms"]), fmt(c["received"]), fmt(c["passed"])]
         for c in g["slowest"]]))
    return "".join(out) + "</section>"


def bench_html(b: dict) -> str:
    out = ['<section id="bench"><h2>Benchmarks (<code>make bench</code>)</h2>']
    if b.get("status") != "ok":
        return out[0] + not_run(b) + "</section>"
    machine = ", ".join(f"{k}: {fmt(v)}" for k, v in b["machine"].items())
    out.append(f"<p>{esc(b.get('file', ''))} (generated {esc(b.get('generated'))}). "
               f"Machine: {esc(machine)}."
               f" Ours: <code>assistant</code>; baseline: <code>response_selector</code>. Ratio = ours / "
               f"baseline.</p>")
    out.append("<h3>Targets</h3>" + table(["target", "measured", "target", ""], [
        [t["name"], fmt(t["value"]), f"{t['direction']} {fmt(t['target'])}", badge(t["met"])]
        for t in b["targets"]]))
    rate_rows = {"accuracy, in-scope", "off-topic → fallback"}
    headers = ["measure", "ours", "baseline", "ratio", "ours better"]
    out.append("<h3>Ours vs baseline</h3>" + table(headers, [
        [r["label"], fmt(r["ours"], r["label"] in rate_rows), fmt(r["baseline"], r["label"] in rate_rows),
         fmt(r["ratio"]), fmt(r["better"])] for r in b["rows"]]))
    if b["ratios"]:
        out.append("<h4>Ratios reported by the benchmark</h4>" + table(
            ["", "value"], [[k, fmt(v)] for k, v in b["ratios"].items()]))
    out.append(image(plot_latency(b["latency"]), "latency percentiles"))
    return "".join(out) + "</section>"


CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#222;line-height:1.45}
h1{font-size:1.6rem} h2{border-bottom:2px solid #1565c0;padding-bottom:.2rem;margin-top:2.2rem}
nav a{margin-right:1rem} table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
td{max-width:34rem;white-space:pre-line;overflow-wrap:anywhere}
th{background:#f3f6fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.headline{background:#f7fbff;border:1px solid #90caf9;border-radius:8px;padding:.4rem 1.2rem 1rem}
.badge{border-radius:4px;padding:.05rem .45rem;font-size:.8rem;color:#fff;white-space:nowrap}
.badge.met{background:#2e7d32} .badge.not-met{background:#c62828} .badge.unknown{background:#9e9e9e}
.missing,.error{padding:.8rem;border-radius:6px;background:#fff8e1;border:1px solid #ffcc80}
.error{background:#ffebee;border-color:#ef9a9a} .empty{color:#777;font-style:italic}
figure{margin:.5rem 0} img{max-width:100%} code{background:#f1f1f1;padding:0 .2rem}
"""


def _safe(render, name: str, *args) -> str:
    """One section's HTML; an input the summaries did not foresee costs that section
    only, never the page."""
    try:
        return render(*args)
    except Exception as exc:
        return (f'<section id="{esc(name)}"><h2>{esc(name)}</h2>'
                + not_run({"status": "error",
                           "message": f"cannot show this part: {type(exc).__name__}: {exc}"})
                + "</section>")


def render_html(figures: dict) -> tuple[str, list[str]]:
    """The whole page and the notes shown at its end."""
    family = cjk_font()
    notes = [f"plots use the CJK font {family}; labels are ids" if family else
             "no CJK font found (fc-list :lang=zh is empty): plot labels are ids and ASCII; "
             "Chinese text is only in the tables, rendered by the browser"]
    for name in ("retrieval", "nlu", "regression", "bench"):
        section = figures.get(name) or {}
        if section.get("status") != "ok":
            notes.append(f"{name}: {section.get('message', 'not run yet')}")
    body = [
        f"<h1>Quality report — certificate FAQ assistant</h1><p>generated {esc(figures['generated'])}</p>",
        '<nav><a href="#headline">headline</a><a href="#retrieval">retrieval</a>'
        '<a href="#nlu">intents</a><a href="#regression">regression</a><a href="#bench">benchmarks</a>'
        '<a href="#notes">notes</a></nav>',
        _safe(headline_html, "headline", figures),
        _safe(retrieval_html, "retrieval", figures.get("retrieval") or {}, figures.get("targets") or {}),
        _safe(nlu_html, "nlu", figures.get("nlu") or {}, figures.get("targets") or {}),
        _safe(regression_html, "regression", figures.get("regression") or {}),
        _safe(bench_html, "bench", figures.get("bench") or {}),
        '<section id="notes"><h2>Notes</h2><ul>' + "".join(f"<li>{_code(n)}</li>" for n in notes)
        + "</ul></section>",
    ]
    page = ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Quality report</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    return page, notes
