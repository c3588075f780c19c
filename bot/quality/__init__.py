"""Quality tools, outside the runtime path (no server imports this package), each a
module run as ``python -m bot.quality.<tool>`` by ``make`` or by hand: the regression
runner (``regression``, its command ``eval``), the quality report (``report``, HTML from
Jinja2 templates), the benchmark against a ResponseSelector bot (``bench``) and the
retrieval-only one (``bench_retrieval``), the NLU gate of ``make test`` (``nlu_gate``)
and the NLU development split (``nlu_dev_split``); the targets they check (``targets``)
and the statistics they share (``stats``)."""
