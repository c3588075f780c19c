"""The architecture's import rules (pyproject.toml, [tool.importlinter]; docs/ARCHITECTURE.md)
hold: run import-linter over bot/, actions/ and rasa_server/."""

import subprocess
import sys
from pathlib import Path

from bot import PROJECT_ROOT


def test_every_import_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_broken_rule_is_reported(tmp_path):
    # the same configuration with one rule turned round: the core may not import bot.lang
    config = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    broken = config + ('\n[[tool.importlinter.contracts]]\nname = "turned round"\n'
                       'type = "forbidden"\nsource_modules = ["bot.dialogue"]\n'
                       'forbidden_modules = ["bot.lang"]\n')
    (tmp_path / "pyproject.toml").write_text(broken, encoding="utf-8")
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache", "--config", str(tmp_path / "pyproject.toml")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "turned round BROKEN" in done.stdout.replace("\n", " ")


def test_the_chat_side_may_not_import_the_console(tmp_path):
    # the contract is checked, not only listed: a chat module importing console code breaks it
    module = PROJECT_ROOT / "bot" / "web" / "chat" / "_contract_probe.py"
    module.write_text("from bot.web.console import login  # noqa: F401\n", encoding="utf-8")
    try:
        lint = Path(sys.executable).with_name("lint-imports")
        done = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=300)
    finally:
        module.unlink()
    report = done.stdout.replace("\n", " ")
    assert done.returncode != 0
    assert "never imports the staff console BROKEN" in report
