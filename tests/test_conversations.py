"""The conversation cases (tests/regression/conversations/) through the real servers:
every turn of every conversation gets what it expects, or the conversation is a known
failure that still fails (strict)."""

from __future__ import annotations

import pytest

from bot.knowledge.cases import CaseFileError, load_conversations
from bot.quality.conversations import run_conversation
from bot.rasa_client import RasaClient
from tests.conftest import SERVERS_TODAY

try:
    CONVERSATIONS, LOAD_ERROR = load_conversations(), None
except CaseFileError as error:
    CONVERSATIONS, LOAD_ERROR = [], error


def test_the_conversation_files_are_valid():
    assert LOAD_ERROR is None, LOAD_ERROR
    assert len(CONVERSATIONS) >= 60
    assert {c.today.isoformat() for c in CONVERSATIONS if c.today} <= {SERVERS_TODAY}


@pytest.fixture(scope="module")
def rasa(servers):
    with RasaClient(servers.rasa_url) as client:
        yield client


@pytest.mark.servers
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=[c.id for c in CONVERSATIONS])
def test_conversation(rasa, conversation):
    result = run_conversation(rasa, conversation)
    if conversation.known_failure:
        assert not result.passed, f"passes now: remove its known_failure ({conversation.known_failure})"
        pytest.xfail(conversation.known_failure)
    assert result.passed, result.problem()
