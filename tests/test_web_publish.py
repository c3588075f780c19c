"""Publishing: the served index swapped whole and noticed by every engine (a fake
encoder over the fixture entries), the publish job's gate and status, the console's
button, progress and audit, and a publish against real servers (Rasa's ``PUT /model``).

A real publish retrains Rasa (a minute or more), so the one test that trains is the
browser loop test (tests/browser/test_staff_loop.py); it also sends chat traffic during
that publish and counts the turns. Here the job is run to the gate's refusal, which
needs no training, and the model loading is checked on its own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.knowledge.entries import load_knowledge_base
from bot.retrieval.engine import load_engine
from bot.retrieval.index import (MANIFEST_FILE, KEPT_VERSIONS, ROWS_FILE, build_index, index_version, is_stale,
                                 new_version_dir, publish_index, versions_dir)
from bot.retrieval.settings import load_settings
from tests.test_index import FIXTURE, SOURCES, FakeEncoder

# ------------------------------------------------------------------ the served index


class Served:
    """Entries to edit, index versions built from them, ``index`` the served link."""

    def __init__(self, root: Path):
        self.entries = root / "entries"
        shutil.copytree(FIXTURE, self.entries)
        self.index = root / "models" / "index"
        self.index.parent.mkdir()
        self.encoder = FakeEncoder()
        self.settings = load_settings().with_(entries_dir=self.entries, sources_dir=SOURCES, index_dir=self.index)

    def build(self, label: str) -> Path:
        version = new_version_dir(self.index, label)
        build_index(self.encoder, version, self.entries, SOURCES, cache_dir=None)
        return version

    def engine(self):
        return load_engine(self.settings, encoder=self.encoder)

    def edit(self, old: str, new: str) -> None:
        path = self.entries / "ask_fees.yml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Served:
    out_of_scope = tmp_path / "out_of_scope.yml"
    out_of_scope.write_text("questions:\n  misc: [今天天气怎么样, 红烧肉怎么做, 股票会涨吗, 讲个笑话]\n", encoding="utf-8")
    monkeypatch.setenv("BOT_OUT_OF_SCOPE", str(out_of_scope))
    return Served(tmp_path)


def fee_answer(engine: Any) -> str:
    return next(e.answer for e in engine.kb.entries if e.topic == "ask_fees")


def test_the_engine_answers_from_the_published_version_until_the_next(served: Served) -> None:
    publish_index(served.build("one"), served.index)
    assert served.index.is_symlink()
    first = served.engine()
    assert served.engine() is first, "the same version: the same engine, no reload"
    answer = fee_answer(first)
    served.edit(answer.splitlines()[0], "改过的第一行")
    assert served.engine() is first and fee_answer(first) == answer, "an unpublished edit is not served"
    assert is_stale(served.index, served.entries, SOURCES, served.encoder)
    publish_index(served.build("two"), served.index)
    second = served.engine()
    assert second is not first and fee_answer(second).startswith("改过的第一行")
    assert not is_stale(served.index, served.entries, SOURCES, served.encoder)
    assert served.engine() is second


def test_the_first_publish_moves_make_index_s_directory_aside(served: Served) -> None:
    build_index(served.encoder, served.index, served.entries, SOURCES, cache_dir=None)  # what make index writes
    before = served.engine()
    version = served.build("first")
    previous = publish_index(version, served.index)
    assert previous is not None and previous.parent == versions_dir(served.index)
    assert (previous / MANIFEST_FILE).exists() and os.path.realpath(served.index) == str(version.resolve())
    assert served.engine() is not before


def test_old_versions_go_the_served_and_the_previous_stay(served: Served) -> None:
    versions = []
    for n in range(KEPT_VERSIONS + 3):
        versions.append(served.build(f"v{n}"))
        publish_index(versions[-1], served.index)
    left = sorted(p.name for p in versions_dir(served.index).iterdir())
    assert left == sorted(v.name for v in versions[-KEPT_VERSIONS:])


def test_swaps_under_load_never_fail_a_question_nor_mix_two_versions(served: Served) -> None:
    builds = [served.build("a")]
    served.edit("邮费谁出", "邮费由谁出")
    builds.append(served.build("b"))
    publish_index(builds[0], served.index)
    served.engine()
    problems: list[str] = []
    answered = [0]
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                engine = served.engine()
                decision = engine.answer("直邮邮费谁出")
                assert set(engine.entry_ids) == set(engine.kb.by_id), "index and knowledge of one version"
                assert decision.hits and decision.hits[0].id in engine.kb.by_id
                answered[0] += 1
            except Exception as error:  # noqa: BLE001 - collected for the assertion
                problems.append(repr(error))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    seen = set()
    for n in range(12):
        publish_index(builds[n % 2], served.index)
        # while another thread loads the new version, this one may still get the old
        seen.add(served.engine().index.directory)
    stop.set()
    for thread in threads:
        thread.join()
    assert problems == [] and answered[0] > 0
    assert seen <= {b.resolve() for b in builds}
    assert served.engine().index.directory == Path(os.path.realpath(served.index)), "in the end: the last published"


def test_a_version_that_does_not_load_leaves_the_last_one_serving(served: Served, caplog) -> None:
    publish_index(served.build("good"), served.index)
    good = served.engine()
    broken = served.build("broken")
    rows = json.loads((broken / ROWS_FILE).read_text(encoding="utf-8"))
    (broken / ROWS_FILE).write_text(json.dumps(rows[:-1]), encoding="utf-8")
    publish_index(broken, served.index)
    with caplog.at_level(logging.ERROR, logger="bot.retrieval.engine"):
        assert served.engine() is good
    assert "does not load" in caplog.text
    caplog.clear()
    assert served.engine() is good and caplog.text == "", "tried once, not on every question"
    publish_index(served.build("fixed"), served.index)
    assert served.engine() is not good


def test_an_index_version_is_one_stat(served: Served) -> None:
    assert index_version(served.index) is None
    version = served.build("x")
    publish_index(version, served.index)
    real, inode, _ = index_version(served.index)
    assert real == str(version.resolve()) and inode == (version / MANIFEST_FILE).stat().st_ino
    kb = load_knowledge_base(version / "knowledge" / "entries", version / "knowledge" / "sources")
    assert {e.id for e in kb.entries} == {e.id for e in load_knowledge_base(FIXTURE, SOURCES).entries}
