"""Quality report: retrieval, NLU, regression and benchmark figures in one place.

``python -m bot.quality.report`` writes ``reports/quality.html`` (self-contained: plots are
embedded PNGs) and ``reports/quality.json`` (the figures). Inputs:

* retrieval — computed here over ``tests/data/retrieval_dev.yml`` with the engine on
  ``models/index`` (no topic hint);
* NLU — ``results/nlu/intent_report.json``, ``intent_errors.json`` and, if present,
  ``intent_successes.json`` from ``rasa test nlu --successes``;
* regression — ``reports/eval.json`` from ``make eval``;
* benchmarks — ``reports/bench.json`` from ``make bench``.

An input that is missing or unreadable becomes a "not run yet" section with the
command to run; it never stops the report. The modules: ``inputs`` (reading them),
``retrieval``, ``nlu`` and ``runs`` (one summary each, pure functions of plain data
except ``retrieval.run_retrieval``), ``figures`` (the whole document, the headline of
targets from ``bot.quality.targets``), ``page`` (the HTML from ``templates/``) and
``plots`` (matplotlib, imported only to draw).
"""
