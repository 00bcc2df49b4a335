"""Debian's `/usr/bin/chromium`, driven headless through Playwright (never a downloaded browser).

`persistent_context` is the browser a module's tests share (its profile removed after);
`open_page` opens a URL once the network settles and collects what went wrong on it: console
errors, page errors and HTTP responses of 400 and more.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def persistent_context(profile: Path, **options: Any) -> Iterator[Any]:
    """A headless Chromium context over `profile`; `options` go to Playwright (a viewport, say)."""
    from playwright import sync_api  # the `test` extra

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(browser: Any, url: str, width: int | None = None) -> tuple[Any, list[str]]:
    """A new page at `url` (`width` px wide when given) and the errors seen while it loaded."""
    page = browser.new_page()
    if width is not None:
        page.set_viewport_size({"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    return page, errors
