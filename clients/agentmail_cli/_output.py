"""What commands print: JSON for scripts, Rich tables on a terminal, plain text in a pipe.

JSON is built from the client's own models (frozen dataclasses): enums become their values,
times ISO 8601 strings in UTC, tuples lists. A field hidden from ``repr`` (a token) is a
secret and is left out.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import pathlib
import sys
from collections.abc import Sequence
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (see the module doc)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.repr
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return value


def when(value: datetime.datetime | None) -> str:
    """A time for people: UTC, to the second, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Output:
    """Prints one command's results in the format asked for.

    Args:
        as_json: Print JSON (one object per :meth:`json` call, on its own line).
    """

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.is_terminal = sys.stdout.isatty()
        self._console: Any = None

    def _rich(self) -> Any:
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415 - only on a terminal

            self._console = Console(highlight=False)
        return self._console

    def json(self, value: Any) -> None:
        """Prints ``value`` as one line of JSON and flushes (``tail`` relies on the flush)."""
        sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def line(self, text: str = "", *, style: str = "") -> None:
        """Prints a line: styled on a terminal, as is otherwise."""
        if self.is_terminal:
            from rich.text import Text  # noqa: PLC0415

            self._rich().print(Text(text, style=style), soft_wrap=True)
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """A hint on stderr (such as the token for the next page), never mixed with data."""
        sys.stderr.write(text + "\n")

    def next_page(self, token: str) -> None:
        """The token of the next page as a hint on stderr, when there is one."""
        if token:
            self.note(f"next page: --page-token {token}")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
        """A table: Rich's on a terminal; aligned columns, one row a line, in a pipe."""
        if self.is_terminal:
            from rich.table import Table  # noqa: PLC0415

            table = Table(title=title or None, header_style="bold", show_edge=False)
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in rows:
                table.add_row(*row)
            self._rich().print(table)
            return
        widths = [len(c) for c in columns]
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        for row in (columns, *rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            sys.stdout.write("  ".join(cells).rstrip() + "\n")
        sys.stdout.flush()

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        """``name: value`` lines, names aligned."""
        width = max((len(name) for name, _ in pairs), default=0)
        for name, value in pairs:
            self.line(f"{name + ':':<{width + 1}} {value}")
