"""The report's self-contained HTML page, rendered from the Jinja2 templates beside this
module (``templates/``: one per section, ``macros.html`` for tables, badges and images).

Autoescape is on: every text from the inputs is escaped. The plots (``plots``) are drawn
here and handed to the templates as base64 PNG text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from bot.quality.report import plots

TEMPLATES = Path(__file__).resolve().parent / "templates"
SECTIONS = ("retrieval", "nlu", "regression", "bench")
_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+%?$|^–$")


def fmt(value: Any, rate: bool = False) -> str:
    """A figure as the page shows it: "–" for none, rates as percent, short floats."""
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


def code(text: Any) -> Markup:
    """Escape, then show `backticked` parts as code."""
    parts = str(escape("" if text is None else text)).split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


def turns(value: Any) -> str:
    if isinstance(value, list):
        return " ⏎ ".join(str(t) for t in value)
    return fmt(value)


def is_numeric(cell: Any) -> bool:
    """A table cell to right-align: a number, or a text that reads as one."""
    if isinstance(cell, Markup):
        return False
    return isinstance(cell, int | float) or (isinstance(cell, str) and bool(_NUMBER.match(cell)))


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, extensions=["jinja2.ext.do"])
    env.filters.update(fmt=fmt, code=code, turns=turns,
                       blank=lambda value: "" if value is None else value)
    env.tests["numeric"] = is_numeric
    return env


# -- the plots of each section ----------------------------------------------------

def retrieval_images(r: dict, targets: dict) -> dict[str, str | None]:
    if r.get("status") != "ok":
        return {}
    t = r["thresholds"]
    mix = dict(r["by_kind"])
    mix["(off-topic)"] = {"n": r["off_topic"]["n"], "decisions": r["off_topic"]["decisions"]}
    return {
        "scores": plots.plot_score_histograms(r["scores"], t["answer_threshold"], t["floor"]),
        "topics": plots.plot_rate_bars(r["by_topic"], (("hit_at_1", "Hit@1"), ("mrr", "MRR")),
                                       targets.get("hit_at_1"), "Hit@1 and MRR per topic"),
        "kinds": plots.plot_decision_mix(mix, "decision mix per kind of question"),
    }


def nlu_images(n: dict, targets: dict) -> dict[str, str | None]:
    if n.get("status") != "ok":
        return {}
    conf = n["confidence"]
    return {
        "f1": plots.plot_rate_bars(dict(n["intents"]), (("f1", "F1"),),
                                   targets.get("intent_macro_f1"), "F1 per intent (worst first)"),
        "confusion": plots.plot_confusion(n["confusion"]["labels"], n["confusion"]["matrix"]),
        "confidence": plots.plot_two_histograms(
            conf["right"], conf["wrong"], ("right intent", "wrong intent"), "intent confidence",
            "intent confidence, right vs wrong predictions"),
    }


def regression_images(g: dict, targets: dict) -> dict[str, str | None]:
    if g.get("status") != "ok":
        return {}
    return {"scores": plots.plot_two_histograms(
        g["scores"]["passed"], g["scores"]["failed"], ("passed", "failed"),
        "retrieval score of the reply", "reply scores of passing and failing cases")}


def bench_images(b: dict, targets: dict) -> dict[str, str | None]:
    return {"latency": plots.plot_latency(b["latency"])} if b.get("status") == "ok" else {}


IMAGES = {"retrieval": retrieval_images, "nlu": nlu_images, "regression": regression_images,
          "bench": bench_images}
SHORT_NAMES = {"retrieval": "r", "nlu": "n", "regression": "g", "bench": "b"}


def section_html(env: Environment, name: str, figures: dict) -> Markup:
    """One section's HTML; an input the summaries did not foresee costs that section
    only, never the page."""
    try:
        if name == "headline":
            return Markup(env.get_template("headline.html").render(figures=figures))
        section, targets = figures.get(name) or {}, figures.get("targets") or {}
        return Markup(env.get_template(f"{name}.html").render(
            {SHORT_NAMES[name]: section, "images": IMAGES[name](section, targets)}))
    except Exception as exc:  # noqa: BLE001 - shown on the page instead of the section
        return Markup(env.get_template("broken.html").render(
            name=name, message=f"cannot show this part: {type(exc).__name__}: {exc}"))


def render_html(figures: dict) -> tuple[str, list[str]]:
    """The whole page and the notes shown at its end."""
    family = plots.cjk_font()
    notes = [f"plots use the CJK font {family}; labels are ids" if family else
             "no CJK font found (fc-list :lang=zh is empty): plot labels are ids and ASCII; "
             "Chinese text is only in the tables, rendered by the browser"]
    for name in SECTIONS:
        section = figures.get(name) or {}
        if section.get("status") != "ok":
            notes.append(f"{name}: {section.get('message', 'not run yet')}")
    env = environment()
    sections = [section_html(env, name, figures) for name in ("headline", *SECTIONS)]
    page = env.get_template("report.html").render(generated=figures["generated"],
                                                  sections=sections, notes=notes)
    return page, notes
