"""One HTTP request of `tfxgate serve`, read and checked at the boundary: its headers, its query
parameters (each known to the route and given once), what the client calls its data and the
delimiter, and its body read as it arrives and refused (413) past its limit. A request refused is
an `HttpError`: its status and a one-line reason, never a server path.
"""

import json
import os
import urllib.parse
from typing import Optional

CSV_TYPES = {"text/csv", "text/plain", "application/csv"}
JSON_TYPES = {"application/json"}
# A batch as a file in any format tfxgate reads (core/reading/sources/), told by its content: Parquet,
# TFRecord, and any of them compressed (gzip, bzip2, xz, zstd; also as Content-Encoding on text/csv).
FILE_TYPES = CSV_TYPES | {
    "application/vnd.apache.parquet", "application/x-parquet", "application/parquet",
    "application/x-tfrecord", "application/tfrecord",
    "application/gzip", "application/x-gzip", "application/x-bzip2", "application/x-xz", "application/zstd",
    "application/octet-stream",
}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
DRAIN_FACTOR = 16  # an oversized body is read and discarded up to this many limits, so the client hears 413
FORMATS = ("json", "text")
MAX_NAME_BYTES = 4096  # ?name=, in UTF-8 (a path's limit) ...
MAX_BASE_NAME_BYTES = 255  # ... and its last part (a file name's limit: the batch is written under it)


class HttpError(Exception):
    """A request the service refuses: its status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def as_json(data) -> bytes:
    return json.dumps(data).encode()


def error_body(reason: str) -> bytes:
    return as_json({"error": " ".join(reason.split())})


def allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise HttpError(405, f"{method} is not allowed here; use {allowed}")


def header(scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def content_type(scope) -> str:
    return (header(scope, b"content-type") or "").split(";")[0].strip().lower()


def query(scope, allowed) -> dict:
    """The query parameters, each known to the route and given once, as UTF-8 text; else 400."""
    try:
        pairs = urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True,
                                       encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise HttpError(400, "the query string is not UTF-8 once percent-decoded") from None
    query = {}
    for key, value in pairs:
        if key not in allowed:
            known = f"this path takes {', '.join(allowed)}" if allowed else "this path takes none"
            raise HttpError(400, f"unknown query parameter {shown(key)!r} ({known})")
        if key in query:
            raise HttpError(400, f"the query parameter {key!r} is given twice")
        query[key] = value
    return query


def shown(text: str) -> str:
    """`text` with its control and invisible characters escaped (\\r, \\n, \\x1b, \\u202e...), so a
    client's words echoed in an answer cannot move a terminal's cursor or hide text."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def name(name: Optional[str]) -> str:
    """What the client calls its data (?name=), shown escaped; a 400 for a NUL byte or a name
    longer than a path's limit, or whose last part is longer than a file name's, in bytes."""
    if name is None or name == "":
        return "request body"
    if "\x00" in name:
        raise HttpError(400, "name: a NUL byte is not allowed in a name")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise HttpError(400, f"name: {size:,} bytes in UTF-8, over the limit of {MAX_NAME_BYTES:,}")
    label = shown(name)
    base = len(os.path.basename(label).encode("utf-8"))
    if base > MAX_BASE_NAME_BYTES:
        raise HttpError(400, f"name: its last part is {base:,} bytes in UTF-8, over a file name's limit of "
                        f"{MAX_BASE_NAME_BYTES}")
    return label


def delimiter(delimiter: str) -> str:
    """One ASCII character that can separate CSV fields: printable or a tab, not a quote."""
    if len(delimiter) != 1 or not (delimiter == "\t" or (delimiter.isascii() and delimiter.isprintable())) \
            or delimiter == '"':
        raise HttpError(400, f"delimiter must be one ASCII character, printable or a tab, other than a quote, "
                        f"not {shown(delimiter)!r}")
    return delimiter


async def drain(receive, most: int) -> None:
    """Reads and discards the rest of a refused body (up to `most` bytes) so the client hears the answer."""
    read = 0
    while read <= most:
        message = await receive()
        read += len(message.get("body", b""))
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


async def read_body(receive, scope, limit: int, into=None):
    """The request body (bytes), or its size once written to `into`; 413 past `limit` bytes."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await drain(receive, limit * DRAIN_FACTOR)
        raise HttpError(413, f"the body is {int(declared):,} bytes, over the limit of {limit:,}")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "the client went away before the body ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await drain(receive, limit * DRAIN_FACTOR)
            raise HttpError(413, f"the body is over the limit of {limit:,} bytes")
        if into is not None:
            into.write(chunk)
        else:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return size if into is not None else b"".join(chunks)
