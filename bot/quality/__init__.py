"""Quality tools, outside the runtime path (no server imports this package): the
regression runner (``regression``, ``python -m bot.quality.eval``), the quality report
and its pages (``report``, ``report_pages``), the benchmark (``bench``), the targets
they check (``targets``) and the NLU helpers ``make test`` and developers run."""
