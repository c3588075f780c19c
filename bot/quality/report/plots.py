"""The report's plots: matplotlib figures as base64 PNG text for ``<img src="data:…">``.

matplotlib is imported only when a plot is drawn (backend Agg). Plot labels are ids
and ASCII, so they read the same with or without a CJK font; Chinese text (questions,
replies) appears only in the HTML tables, which the browser renders. Each function
returns None when there is nothing to plot.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from typing import Any

COLORS = {"right": "#2e7d32", "wrong": "#c62828", "off": "#757575", "answer": "#2e7d32",
          "did_you_mean": "#f9a825", "no_answer": "#9e9e9e", "ours": "#1565c0", "base": "#9e9e9e"}
_font_state: dict[str, Any] = {}


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
