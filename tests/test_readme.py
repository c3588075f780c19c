"""The README still matches the code: its file map names what exists (and every top-level
file or folder git tracks), the bot/ modules it lists exist, and every `make` target it
shows is in the Makefile's help."""

from __future__ import annotations

import re
import subprocess

from bot import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
# Top-level files the file map need not explain.
SELF_EVIDENT = {"README.md", ".gitignore"}


def file_map_rows() -> list[tuple[list[str], str]]:
    """(backticked paths of the first column, the second column) per file-map row."""
    section = README.split("## File map", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) >= 3 and "`" in cells[1]:
            rows.append((re.findall(r"`([^`]+)`", cells[1]), cells[2]))
    return rows


def git_ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=PROJECT_ROOT).returncode == 0


def test_every_path_in_the_file_map_exists_or_is_a_build_output():
    rows = file_map_rows()
    assert len(rows) > 10
    missing = [path for paths, _ in rows for path in paths
               if not (PROJECT_ROOT / path).exists() and not git_ignored(path)]
    assert not missing, missing


def test_the_file_map_covers_every_tracked_top_level_entry():
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    top = {path.split("/")[0] + ("/" if "/" in path else "") for path in tracked}
    mapped = {path.split("/")[0] + ("/" if "/" in path else "") for paths, _ in file_map_rows()
              for path in paths}
    assert top - mapped - SELF_EVIDENT == set()


def test_the_bot_modules_the_file_map_lists_exist():
    listed = next(text for paths, text in file_map_rows() if paths == ["bot/"])
    modules = re.findall(r"`([a-z_]+(?:/[a-z_]+)?)/?`", listed)
    assert len(modules) > 10
    absent = [m for m in modules if not ((PROJECT_ROOT / "bot" / f"{m}.py").exists()
                                         or (PROJECT_ROOT / "bot" / m).is_dir())]
    assert not absent, absent


def test_every_make_target_the_readme_shows_is_in_the_makefile_help():
    shown = set(re.findall(r"\bmake ([a-z][a-z-]*[a-z])\b", README))
    helped = set(re.findall(r"^([a-z-]+):.*## ", MAKEFILE, flags=re.MULTILINE))
    assert {"run", "test"} <= shown
    assert shown - helped == set()


def test_every_setting_the_reader_reads_is_in_the_configuration_table():
    table = (PROJECT_ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    code = "\n".join(path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "bot").rglob("*.py"))
    read = set(re.findall(r"""\b(?:read|Settings\(\))\(\s*"([A-Z][A-Z0-9_]+)\"""", code))
    assert len(read) > 10
    assert {name for name in read if f"`{name}`" not in table} == set()
