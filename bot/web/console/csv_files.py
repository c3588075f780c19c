"""The console's CSV downloads as Excel opens them: UTF-8 with BOM, CRLF, no formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """Text for one CSV cell; a leading formula character is neutralised for Excel."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_PREFIXES) else text


def to_csv(headers: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with BOM (so Excel opens Chinese correctly), CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
