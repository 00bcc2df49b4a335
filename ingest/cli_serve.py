"""`subtrail serve`: Datasette over the database, safe by default.

Binds to 127.0.0.1; any other host is refused unless password auth is
configured (see `ingest.serve`).
"""

from __future__ import annotations

import click

from ingest.cli import Context, cli, fail, with_context


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; non-loopback needs auth."
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False),
    help="Metadata file (default: the bundled datasette-metadata.yml).",
)
@with_context
def serve(ctx: Context, host: str, port: int, metadata: str | None) -> None:
    """Serve the inventory and the journal with Datasette (read-only, loopback by default).

    To listen on another address, set SUBTRAIL_PASSWORD_HASH (make one with
    `datasette hash-password`), optionally SUBTRAIL_USERNAME (default "subtrail"),
    and DATASETTE_SECRET; every URL then asks for that login (HTTP basic auth).

    Example: subtrail serve --port 8001   (then open http://127.0.0.1:8001)
    """
    from ingest.serve import ServeError, check_exposure, run_server

    try:
        check_exposure(host)  # before touching anything: a refused start changes nothing
    except ServeError as exc:
        fail(str(exc))
    ctx.db().close()  # create / migrate before Datasette opens it read-only
    try:
        run_server(ctx.db_path, host=host, port=port, metadata_path=metadata)
    except ServeError as exc:
        fail(str(exc))
