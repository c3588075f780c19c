"""``make soak``: the reliability suite against real servers (``python -m bot.quality.soak``).

Property-based fuzz of the web front and Rasa's REST channel (``fuzz``, hypothesis), load
with locust and a check of every sent turn in the tracker store (``load``,
``locustfile``), and fault tests during load (``faults``: each server killed with -9, the
SQLite tracker held locked). Figures go to ``reports/soak.json``; ``--quick`` is the short
version ``make test`` runs.
"""
