"""Streaming the consent log as CSV or JSON lines (shared by the admin API and the CLI)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from flask import Response

from .storage import connect
from .storage import decisions as decision_log

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
CSV_COLUMNS = (
    "recorded_at",
    "consent_id",
    "site_key",
    "revision",
    "action",
    "categories",
    "vendors",
    "language",
    "page_url",
    "gpc",
    "user_agent",
    "client_hash",
    "regime",
    "region",
)


def normalise_time(value: str) -> str:
    """An ISO 8601 time as the log stores it (UTC, milliseconds, Z), for comparisons."""
    text = value.strip().replace(" ", "T")  # ValueError for an impossible date or time
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (visitors choose user agents)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def render(fmt: str, rows):
    """Yield the export chunk by chunk, so memory stays flat however long the log."""
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, 1):
        row = dict(
            row,
            categories=json.dumps(row["categories"], separators=(",", ":")),
            vendors=json.dumps(row["vendors"], separators=(",", ":")),
            gpc="true" if row["gpc"] else "false",
        )
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def response(db_path: str, site_key: str, fmt: str, since=None, until=None) -> Response:
    """A streamed download of a site's consent log, for the admin API and the admin UI."""

    def stream():
        # Its own connection: the request's one may be reused or closed before a long stream ends.
        db = connect(db_path)
        try:
            yield from render(fmt, decision_log.export(db, site_key, since, until))
        finally:
            db.close()

    out = Response(stream(), content_type=FORMATS[fmt])
    out.headers["Content-Disposition"] = f'attachment; filename="decisions-{site_key}.{fmt}"'
    return out
