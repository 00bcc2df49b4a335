"""ECB reference rates fetched once a day when online, from a real (local) HTTP server: kept with their
date next to the database, the shipped file as the offline fallback, the date shown beside the total."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.outputs.fx import CACHE_NAME, ECB_URL, current_rates, fetch_url, parse_ecb_xml, shipped_rates
from tests.casefile import TODAY, build_case

ECB_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time='2026-11-26'>
      <Cube currency='USD' rate='1.2500'/>
      <Cube currency='JPY' rate='160.10'/>
      <Cube currency='GBP' rate='0.8512'/>
    </Cube>
  </Cube>
</gesmes:Envelope>
"""


class ECB:
    """A local server answering like www.ecb.europa.eu, counting the requests it gets."""

    def __init__(self) -> None:
        self.hits = 0
        self.body = ECB_XML
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stats/eurofxref/eurofxref-daily.xml"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ecb() -> Iterator[ECB]:
    server = ECB()
    yield server
    server.close()


def test_parse_the_ecb_daily_file() -> None:
    rates = parse_ecb_xml(ECB_XML)
    assert rates.day == date(2026, 11, 26) and str(rates.per_euro["USD"]) == "1.2500"
    assert rates.convert(2500, "USD", "EUR") == 2000
    with pytest.raises(ValueError):
        parse_ecb_xml(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')


def test_rates_are_fetched_once_a_day_and_kept_with_their_date(ecb: ECB, tmp_path: Path) -> None:
    first = current_rates(tmp_path, date(2026, 11, 27), ecb.url)
    assert first is not None and first.day == date(2026, 11, 26) and ecb.hits == 1
    assert (tmp_path / CACHE_NAME).exists()
    again = current_rates(tmp_path, date(2026, 11, 27), ecb.url)
    assert again == first and ecb.hits == 1  # the same day: the cache, no request
    ecb.body = ECB_XML.replace(b"2026-11-26", b"2026-11-27").replace(b"1.2500", b"1.2000")
    next_day = current_rates(tmp_path, date(2026, 11, 28), ecb.url)
    assert ecb.hits == 2 and next_day is not None and next_day.day == date(2026, 11, 27)
    assert current_rates(tmp_path, date(2026, 11, 28), None) == next_day  # offline: what was kept


def test_offline_or_a_bad_answer_falls_back_and_is_not_retried_the_same_day(ecb: ECB, tmp_path: Path) -> None:
    ecb.status, ecb.body = 503, b"down for maintenance"
    rates = current_rates(tmp_path, date(2026, 11, 27), ecb.url)
    assert rates == shipped_rates() and ecb.hits == 1  # the shipped file, never a silent 1:1
    assert current_rates(tmp_path, date(2026, 11, 27), ecb.url) == shipped_rates() and ecb.hits == 1
    ecb.close()  # nothing listens any more: a refused connection is offline too
    assert current_rates(tmp_path, date(2026, 11, 28), ecb.url) == shipped_rates()


def test_where_rates_come_from() -> None:
    assert fetch_url({}) == ECB_URL
    assert fetch_url({"SUBTRAIL_TODAY": "2026-11-27"}) is None  # a pinned day never depends on the network
    assert fetch_url({"SUBTRAIL_ECB_URL": "off"}) is None
    assert fetch_url({"SUBTRAIL_ECB_URL": "http://127.0.0.1:9/x.xml", "SUBTRAIL_TODAY": "2026-11-27"}) == (
        "http://127.0.0.1:9/x.xml"
    )
    assert fetch_url({"SUBTRAIL_ECB_URL": "file:///etc/passwd"}) is None


def test_status_shows_the_fetched_rate_date_beside_the_converted_total(
    ecb: ECB, db: Database, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_case(db)  # Dropbox at 120 USD a year, no bank debit to match
    monkeypatch.setenv("SUBTRAIL_ECB_URL", ecb.url)
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "Foreign prices converted at the ECB rate of Nov 26, 2026." in result.output
    assert ecb.hits == 1 and (db_path.parent / CACHE_NAME).exists()
    # 10 USD a month at 1.25 is 8.00 EUR: 13.00 + 39.99 + 13.49 + 8.00 (the shipped 1.1172 would give 8.95)
    assert "Monthly total: €74.44" in result.output


def test_the_web_pages_use_the_rates_status_fetched(ecb: ECB, db: Database, db_path: Path) -> None:
    """The pages read what was kept beside the database (never the network themselves)."""
    import asyncio

    from ingest.web.serve import build_datasette

    build_case(db)
    assert current_rates(db_path.parent, date(2026, 11, 27), ecb.url).day == date(2026, 11, 26)
    ds = build_datasette(db_path)

    async def overview() -> str:
        await ds.invoke_startup()
        return (await ds.client.get("/")).text

    assert "ECB rate of Nov 26, 2026" in asyncio.run(overview())
    assert ecb.hits == 1


def test_serve_fetches_the_rates_in_the_background_for_its_pages(
    ecb: ECB, db: Database, db_path: Path
) -> None:
    """A real `subtrail serve`: the rates are fetched at start (not by a page), kept, and shown."""
    import time

    import httpx

    from tests.serve_helpers import running_server

    build_case(db)
    db.close()
    env = {"SUBTRAIL_ECB_URL": ecb.url, "SUBTRAIL_TODAY": TODAY}
    with running_server(db_path, env=env) as url:
        deadline = time.monotonic() + 10
        while not (db_path.parent / CACHE_NAME).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ecb.hits == 1, "fetched once at start"
        assert "ECB rate of Nov 26, 2026" in httpx.get(f"{url}/").text
        assert ecb.hits == 1, "the page read the kept rates, not the network"
