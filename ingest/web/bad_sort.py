"""An unknown `?_sort=` / `?_sort_desc=` column is the asker's mistake: a 400 that says so.

Datasette 0.65 raises its generic error (status 500) for a sort column a table or view does not
have, and puts the value in the message. A link with a typo — or a stranger's `?_sort=<script>` —
then reads as a server failure. This hook turns exactly those errors into a 400 whose message
lists the columns that can be sorted on and never repeats what was asked for. Every other error
is left to Datasette.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_decode
from datasette.utils.asgi import Request
from datasette.views.base import DatasetteError

# Datasette's own wording for the two sort mistakes (datasette/views/table.py); a test over HTTP
# fails if a new version words them otherwise, since they would be 500s again.
UNKNOWN_COLUMN = "Cannot sort table by "
BOTH_ORDERS = "Cannot use _sort and _sort_desc at the same time"


def is_sort_error(exception: BaseException) -> bool:
    """Datasette's error for an unknown sort column, or for `_sort` and `_sort_desc` together."""
    if not isinstance(exception, DatasetteError) or exception.status != 500:
        return False
    message = str(exception.message)
    return message.startswith(UNKNOWN_COLUMN) or message == BOTH_ORDERS


async def sortable_columns(datasette: Any, request: Request) -> list[str]:
    """The columns Datasette would accept for this table or view (as its table view computes them)."""
    database = datasette.get_database(tilde_decode(request.url_vars["database"]))
    table = tilde_decode(request.url_vars["table"])
    metadata = datasette.table_metadata(database.name, table)
    if "sortable_columns" in metadata:
        return list(metadata["sortable_columns"])
    columns = list(await database.table_columns(table))
    if await database.table_exists(table) and not await database.primary_keys(table):
        columns.append("rowid")
    return columns


async def _explain(datasette: Any, request: Request, exception: DatasetteError) -> None:
    if exception.message == BOTH_ORDERS:
        message = "Use either _sort or _sort_desc, not both."
    else:
        try:
            columns = ", ".join(await sortable_columns(datasette, request))
        except Exception:  # the 400 matters more than the list; never fail the error page
            columns = ""
        message = "Cannot sort by that column: _sort and _sort_desc take one of the columns here"
        message += f" ({columns})." if columns else "."
    exception.status = 400
    exception.message = message
    exception.title = "Cannot sort"
    exception.message_is_html = False


@hookimpl(tryfirst=True)
def handle_exception(datasette: Any, request: Request, exception: BaseException) -> Any:
    """Reword a sort mistake as a 400, in place, and let Datasette's own handler render it (HTML or
    JSON as usual). Datasette calls every hook, then awaits what each returned in that order:
    `tryfirst` puts ours before its default (`trylast`), which reads the status when awaited."""
    if not is_sort_error(exception) or "table" not in (request.url_vars or {}):
        return None

    async def inner() -> None:
        await _explain(datasette, request, exception)  # type: ignore[arg-type]

    return inner
