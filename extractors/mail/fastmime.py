"""Speed up the stdlib MIME parser's one slow spot: a fresh regex per multipart boundary.

`email.feedparser` compiles `(?P<sep>--BOUNDARY)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$`
for every multipart it meets. Boundaries are unique per message, so the `re`
cache never hits and the compile (pure Python) costs about a third of parsing
a typical receipt. `install()` gives feedparser a matcher with the exact same
semantics written as plain string operations; every other pattern still goes
to `re`. `tests/test_fastmime.py` checks that both parse a corpus identically.
"""

from __future__ import annotations

import email.feedparser
import re
from typing import Any

_PREFIX = "(?P<sep>"
_SUFFIX = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


class BoundaryMatch:
    __slots__ = ("_groups",)

    def __init__(self, sep: str, end: str | None, ws: str, linesep: str | None) -> None:
        self._groups = {"sep": sep, "end": end, "ws": ws, "linesep": linesep}

    def group(self, name: str) -> str | None:
        return self._groups[name]


class BoundaryMatcher:
    """`re.compile(boundary pattern)` look-alike: only `.match(line)` is used by feedparser."""

    __slots__ = ("separator",)

    def __init__(self, separator: str) -> None:
        self.separator = separator

    def match(self, line: str) -> BoundaryMatch | None:
        if not line.startswith(self.separator):
            return None
        rest = line[len(self.separator) :]
        end = None
        if rest.startswith("--"):
            end, rest = "--", rest[2:]
        stripped = rest.lstrip(" \t")
        ws = rest[: len(rest) - len(stripped)]
        linesep = None
        for candidate in ("\r\n", "\r", "\n"):
            if stripped.startswith(candidate):
                linesep, stripped = candidate, stripped[len(candidate) :]
                break
        if stripped in ("", "\n"):  # `$` matches at the end or before a final newline
            return BoundaryMatch(self.separator, end, ws, linesep)
        return None


class _ReShim:
    """Stands in for the `re` module inside email.feedparser only."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def compile(pattern: Any, flags: int = 0) -> Any:
        if (
            flags == 0
            and isinstance(pattern, str)
            and pattern.startswith(_PREFIX)
            and pattern.endswith(_SUFFIX)
        ):
            escaped = pattern[len(_PREFIX) : -len(_SUFFIX)]
            return BoundaryMatcher(_UNESCAPE.sub(r"\1", escaped))
        return re.compile(pattern, flags)


def install() -> None:
    """Idempotent: point email.feedparser at the shim."""
    email.feedparser.re = _ReShim()  # type: ignore[assignment]


def uninstall() -> None:
    email.feedparser.re = re
