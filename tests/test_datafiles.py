"""bot.datafiles: one reader per data file, re-read when the file changes."""

import os

from bot import datafiles


def test_contacts_from_the_configured_file(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_CONTACTS", str(tmp_path / "missing.yml"))
    assert datafiles.contacts() == []
    path = tmp_path / "contacts.yml"
    path.write_text("contacts:\n  - {name: 客服, phone: '123', citations: [x]}\n  - {note: 无名}\n",
                    encoding="utf-8")
    monkeypatch.setenv("BOT_CONTACTS", str(path))
    assert [c["name"] for c in datafiles.contacts()] == ["客服"]


def test_a_changed_file_is_read_again_an_unchanged_one_is_not(tmp_path):
    path = tmp_path / "a.yml"
    path.write_text("x: 1\n", encoding="utf-8")
    first = datafiles.read_yaml(path)
    assert datafiles.read_yaml(path) is first          # parsed once
    path.write_text("x: 22\n", encoding="utf-8")         # another size
    os.utime(path, ns=(1, 1))
    assert datafiles.read_yaml(path) == {"x": 22}


def test_every_shared_data_file_has_its_reader():
    assert datafiles.reply_texts()["fallback"]
    assert datafiles.deadline_texts()["procedures"]
    assert datafiles.region_data()["rule_regions"]
    assert datafiles.cli_texts()["score_line"]
    assert datafiles.ui_texts()["chat"]
    assert datafiles.out_of_scope_questions()
    assert datafiles.calibration_offtopic()
