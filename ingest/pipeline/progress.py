"""One self-overwriting status line on stderr for long runs (import, first IMAP sync).

Silent when stderr is not a terminal, so logs, cron mail and CI output stay clean.
"""

from __future__ import annotations

import sys
import time


class ProgressLine:
    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._written = False

    def rate(self, count: int) -> float:
        """Items per second since the line was created."""
        return count / max(time.monotonic() - self.started, 1e-6)

    def write(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{text} ")
            sys.stderr.flush()
            self._written = True

    def close(self) -> None:
        if self._written:
            sys.stderr.write("\n")
