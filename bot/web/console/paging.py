"""Pages of a long list on the staff console: which page a request asks for, and the
links to the pages around it keeping the request's filters (``?page=`` from 1)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.requests import Request

PAGE_PARAMETER = "page"
MAX_PAGE = 1_000_000  # a page number past any list: no overflow into SQL


def requested_page(request: Request) -> int:
    """The ``?page=`` number (1 when missing or not a positive whole number)."""
    raw = request.query_params.get(PAGE_PARAMETER, "").strip()
    if raw.isascii() and raw.isdigit():
        return min(max(1, int(raw)), MAX_PAGE)
    return 1


@dataclass(frozen=True)
class Paging:
    """Where one page lies in a list of ``total`` items shown ``size`` at a time, with
    the links to its neighbours (the request's other parameters kept)."""

    number: int
    size: int
    total: int
    path: str
    parameters: tuple[tuple[str, str], ...]  # the request's query without ``page``

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_shown(self) -> int:
        """1-based position of the page's first item (0 for an empty page)."""
        return self.offset + 1 if self.offset < self.total else 0

    @property
    def last_shown(self) -> int:
        return min(self.total, self.offset + self.size)

    def url(self, number: int) -> str:
        """This list's page ``number``, same filters."""
        query = list(self.parameters) + ([(PAGE_PARAMETER, str(number))] if number > 1 else [])
        return self.path + ("?" + urlencode(query) if query else "")

    @property
    def previous_url(self) -> str | None:
        return self.url(min(self.number, self.pages) - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.number + 1) if self.number < self.pages else None


def paging(request: Request, size: int, total: int, number: int | None = None) -> Paging:
    """The page of ``request`` (or page ``number``) in a list of ``total`` items."""
    parameters = tuple((key, value) for key, value in request.query_params.multi_items() if key != PAGE_PARAMETER)
    path = quote(request.url.path, safe="/")  # a sender id may hold "?", "#" or "%"
    return Paging(requested_page(request) if number is None else number, size, total, path, parameters)


def page_of(position: int, size: int) -> int:
    """The page (from 1) that shows the item at 0-based ``position``."""
    return position // size + 1
