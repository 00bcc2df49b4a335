"""Regenerate the three screenshots in docs/screenshots/ from the bundled sample.

Usage, from the repository root: python -m scripts.web_screenshots   (needs the `test` extra and /usr/bin/chromium)
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from playwright import sync_api

from tests.serve_helpers import make_sample_db, running_server, subtrail_command

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "docs" / "screenshots"
SHOTS = [  # (file, language, path, width, height)
    ("overview-fr.png", "fr", "/", 1400, 1000),
    ("inventory-en.png", "en", "/inventory", 1400, 900),
    ("case-fr-mobile.png", "fr", "/journal/1", 390, 844),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sample.db"
        make_sample_db(db)
        statement = next((ROOT / "data" / "sample" / "bank").glob("*.csv"))
        subprocess.run(subtrail_command("bank", "import", str(statement), "--db", str(db)), check=True)
        config = Path(tmp) / "subtrail.toml"
        config.write_text('timezone = "Europe/Paris"\nlanguage = "fr"\ncurrency = "EUR"\n')
        with (
            running_server(db, extra_args=("--config", str(config))) as url,
            sync_api.sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for name, language, path, width, height in SHOTS:
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto(f"{url}/-/subtrail/language?to={language}&back={path}", wait_until="networkidle")
                page.screenshot(path=str(OUT / name))
                context.close()
            browser.close()
    for name, *_ in SHOTS:
        print(OUT / name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
