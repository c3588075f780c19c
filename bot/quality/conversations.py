"""Running the conversation cases (``tests/regression/conversations/``) against the real
assistant: each conversation's turns sent in order under one sender, every reply checked
against its turn's expectation; per-turn and per-conversation pass rates."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

from bot.knowledge.cases import Conversation, expected_in, received_label
from bot.knowledge.outcomes import outcome, tally
from bot.rasa_client import RasaClient


@dataclass
class TurnResult:
    say: str
    expect: str
    received: str
    passed: bool
    missing: list[str] = field(default_factory=list)
    reply: str = ""
    outcome: str = "right"      # right / safe_miss / wrong (bot.knowledge.outcomes)


@dataclass
class ConversationResult:
    id: str
    file: str
    turns: list[TurnResult]
    known_failure: str | None
    latency_ms: float

    @property
    def passed(self) -> bool:
        return all(turn.passed for turn in self.turns)

    def problem(self) -> str:
        wrong = [t for t in self.turns if not t.passed]
        return "; ".join(f"{t.say!r}: expected {t.expect}, received {t.received}"
                         + (f" without {t.missing}" if t.missing else "") for t in wrong)

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def run_conversation(client: RasaClient, conversation: Conversation) -> ConversationResult:
    """Send every turn under a fresh sender; check each reply."""
    sender = f"conversation-{uuid.uuid4().hex[:12]}"
    results = []
    started = time.perf_counter()
    for turn in conversation.turns:
        reply = client.send(sender, turn.say)
        missing = [fact for fact in turn.contains if fact not in reply.text]
        # a digression inside the form is answered, then the form asks again: any of the
        # reply's messages may be the expected one
        right = any(expected_in(turn.expect, m.custom) for m in reply.messages if m.custom)
        results.append(TurnResult(turn.say, turn.expect, received_label(reply.custom),
                                  right and not missing, missing, reply.text,
                                  outcome(right and not missing, reply.custom)))
    latency = (time.perf_counter() - started) * 1000 / len(conversation.turns)
    return ConversationResult(conversation.id, conversation.file, results,
                              conversation.known_failure, round(latency, 1))


def conversation_summary(results: list[ConversationResult]) -> dict:
    """Per-turn and per-conversation pass rates, overall and per file."""
    def rates(chosen: list[ConversationResult]) -> dict:
        turns = [t for r in chosen for t in r.turns]
        return {"conversations": len(chosen), "conversations_passed": sum(r.passed for r in chosen),
                "turns": len(turns), "turns_passed": sum(t.passed for t in turns),
                "turn_pass_rate": round(sum(t.passed for t in turns) / len(turns), 4) if turns else None,
                "conversation_pass_rate": round(sum(r.passed for r in chosen) / len(chosen), 4)
                if chosen else None,
                "outcomes": tally(t.outcome for t in turns)}

    return {**rates(results), "by_file": {f: rates([r for r in results if r.file == f])
                                          for f in sorted({r.file for r in results})}}
