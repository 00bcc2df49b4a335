"""`subtrail serve`: Datasette over the database, safe by default.

Binds to 127.0.0.1; any other host is refused unless password auth is
configured (see `ingest.web.serve`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import click

from ingest.cli.context import Context, fail, with_context


def _poller(ctx: Context, interval: float) -> Callable[[threading.Event], None]:
    """The IMAP daemon as a function of its stop event, checked before the server starts."""
    try:
        from ingest.cli.poll import setup_logging
        from ingest.imap.poller import DaemonSettings, run_daemon
    except ImportError:
        fail("--poll needs the IMAP poller (ingest.imap), which this installation lacks")
    ctx.config.check_identity()
    if not ctx.config.accounts:
        fail("--poll: no [[accounts]] in the config: add one (see `subtrail init`)")
    for account in ctx.config.accounts:
        account.check_password_env()
    setup_logging(verbose=False)

    def poll(stop: threading.Event) -> None:
        run_daemon(ctx.db_path, ctx.config, stop, DaemonSettings(interval=interval))

    return poll


def _drafts(ctx: Context) -> dict[str, object]:
    """What the web's draft pages take from the config, as `subtrail draft` does."""
    from ingest.outputs.drafts import user_templates

    folder = user_templates(ctx.config.path)
    return {
        "templates": str(folder) if folder else None,
        "addresses": sorted(ctx.config.identity.addresses),
    }


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; non-loopback needs auth."
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False),
    help="Metadata file (default: the bundled datasette-metadata.yml).",
)
@click.option(
    "--poll",
    is_flag=True,
    help="Also run the IMAP poller daemon in the same process (one command for a live view).",
)
@click.option(
    "--interval",
    type=click.FloatRange(1, 86400),
    default=300,
    show_default=True,
    help="With --poll: seconds between polls of folders not watched with IDLE.",
)
@with_context
def serve(ctx: Context, host: str, port: int, metadata: str | None, poll: bool, interval: float) -> None:
    """Serve the inventory and the journal with Datasette (loopback by default); the pages write only your corrections.

    To listen on another address, set SUBTRAIL_PASSWORD_HASH (make one with
    `datasette hash-password`), optionally SUBTRAIL_USERNAME (default "subtrail"),
    and DATASETTE_SECRET; every URL then asks for that login (HTTP basic auth).
    With --poll the IMAP poller runs in the same process, so the pages stay live.

    Example: subtrail serve --port 8001   (then open http://127.0.0.1:8001)
    """
    from ingest.web.serve import ServeError, check_exposure, run_server

    try:
        check_exposure(host)  # before touching anything: a refused start changes nothing
    except ServeError as exc:
        fail(str(exc))
    poller = _poller(ctx, interval) if poll else None
    ctx.db(create=poll).close()  # migrate before Datasette opens it read-only; --poll may start empty
    _keep_rates_fresh(Path(ctx.db_path).resolve().parent)
    try:
        run_server(
            ctx.db_path,
            host=host,
            port=port,
            metadata_path=metadata,
            poller=poller,
            display=ctx.config.display,
            drafts=_drafts(ctx),
        )
    except ServeError as exc:
        fail(str(exc))


RATES_CHECK_S = 6 * 3600  # the fetch itself happens at most once a day (fx.current_rates remembers the try)


def _keep_rates_fresh(cache_dir: Path) -> None:
    """The pages read the kept ECB rates and never wait on the network: a background thread fetches them
    at start and then once a day (off when SUBTRAIL_TODAY pins the day or SUBTRAIL_ECB_URL=off)."""
    from ingest.outputs.fx import current_rates, fetch_url
    from ingest.store import today

    if fetch_url() is None:
        return

    def loop() -> None:
        while True:
            current_rates(cache_dir, today(), fetch_url())
            time.sleep(RATES_CHECK_S)

    threading.Thread(target=loop, name="ecb-rates", daemon=True).start()
