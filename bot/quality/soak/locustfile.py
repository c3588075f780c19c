"""locust users of the web front's chat API, for the soak's load (run by
``bot.quality.soak.load`` as ``locust -f`` in its own process: locust patches sockets).

Each user is one candidate: a session of held-out questions sent one after another with
a short pause. Every sent turn is written to the JSON-lines file ``SOAK_TURN_LOG`` (one
file per process) so the tracker store can be checked against it afterwards.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

import yaml
from locust import HttpUser, between, task

from bot import PROJECT_ROOT

QUESTIONS = [str(c["text"]) for c in yaml.safe_load(
    (PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml").read_text(encoding="utf-8"))["cases"]]
LOG = open(os.environ.get("SOAK_TURN_LOG", os.devnull), "a", encoding="utf-8", buffering=1)


class Candidate(HttpUser):
    """One conversation: a question every 0.3-1.5 s."""

    wait_time = between(0.3, 1.5)

    def on_start(self) -> None:
        self.session = f"soak-{uuid.uuid4().hex[:20]}"
        self.rng = random.Random(self.session)

    @task
    def ask(self) -> None:
        text = self.rng.choice(QUESTIONS)
        sent = time.time()
        message_id = uuid.uuid4().hex  # the tracker check counts turns by it
        with self.client.post("/api/chat", json={"session_id": self.session, "message": text,
                                                 "message_id": message_id},
                              name="/api/chat", catch_response=True) as response:
            kinds, status = [], response.status_code
            try:
                bubbles = response.json().get("messages") or []
                kinds = [(b.get("custom") or {}).get("kind") for b in bubbles]
                if status != 200 or not any(str(b.get("text") or "").strip() for b in bubbles):
                    response.failure(f"status {status}, {len(bubbles)} bubbles")
            except ValueError:
                response.failure(f"status {status}, not JSON")
            LOG.write(json.dumps({"session": self.session, "text": text, "sent": sent,
                                  "message_id": message_id,
                                  "answered": time.time(), "status": status, "kinds": kinds},
                                 ensure_ascii=False) + "\n")
