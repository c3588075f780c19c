"""Benchmark (``make bench``): our assistant against a plain Rasa ResponseSelector FAQ bot.

Usage: .venv/bin/python -m bot.quality.bench [--turns N] [--skip-train] [--only assistant|baseline]

For each system, in one run and on this machine:
* Rasa training time: ``rasa train`` into a temporary directory with an empty Rasa
  cache (cold), wall clock; ``--skip-train`` reuses the models in ``models/`` and
  reports it as not measured. A missing model is always trained (and then measured).
* Index build time (ours only): ``python -m bot index`` into a temporary directory,
  first with an empty embedding cache (cold), then again from that cache.
* Rasa load time: process start until ``GET /status`` answers with the model id
  (polled every 0.1 s).
* Load over Rasa's REST channel (``POST /webhooks/rest/webhook``) at 1 and at 16
  concurrent users, ``--turns`` turns each (default 500): conversations of 2-5 turns
  per sender drawn from the held-out questions, the same ones for both systems; latency
  p50/p95/p99 of the successful turns, throughput (successful turns per second of wall
  time) and errors (non-200, invalid JSON, or a reply without text). Five warm-up turns
  are not counted. Both systems run side by side and the 1-user phase alternates between
  them in blocks of 100 turns, so that other work on this shared machine weighs on both
  alike; the machine's load average is recorded.
* Message length (issue 22): short questions (12-28 characters, sent by no other stage,
  so neither side is read from the servers' caches) and the same questions after a
  candidate's story (both in tests/data/bench_narratives.yml) making 200 characters, one
  user, a new sender each, alternating; p50 long over p50 short.
* Resident memory (RSS incl. children) of each server after the load.
* Accuracy on the held-out questions (tests/data/rest_questions.yml and
  tests/data/retrieval_dev.yml), one fresh sender per case: in-scope questions answered
  with the expected entry, off-topic questions sent to the fallback.

Writes ``reports/bench.json`` and ``reports/bench.md`` (printed). A failure in one system
is recorded in its ``error`` and does not lose the other's results. The modules:
``load`` (sessions, playing them with N users), ``accuracy`` (held-out cases and
outcomes), ``systems`` (training, index timing, starting and stopping the servers, RSS),
``output`` (ratios, target status, Markdown, JSON) and ``__main__`` (the order of it all).
The targets are ``bot.quality.targets.BENCH_TARGETS``.
"""
