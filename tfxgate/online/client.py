"""`tfxgate validate --server URL`: the batch sent to a running `tfxgate serve`, its answer printed.

Light on purpose: the standard library's HTTP client and nothing of TensorFlow, Beam or TFDV
(a test checks the whole process), so the command answers in well under a second where a
one-off `tfxgate validate` pays about ten seconds of imports. The service judges with its own
schema, policy and baseline (named in the answer).
"""

import http.client
import json
import os
import urllib.parse
from typing import Optional, Tuple

from core.common.errors import ConfigError, InputError, UserError

SERVER_ENV = "TFXGATE_SERVER"
TOKEN_ENV = "TFXGATE_TOKEN"
_CHUNK = 1 << 20


def token(token_file: Optional[str]) -> Optional[str]:
    """The bearer token: from a file (first line), else TFXGATE_TOKEN, else none."""
    if token_file:
        try:
            with open(token_file) as f:
                value = f.readline().strip()
        except OSError as e:
            raise ConfigError(f"--token-file {token_file}: {e.strerror}") from None
        if not value:
            raise ConfigError(f"--token-file {token_file}: the file is empty")
        return value
    return os.environ.get(TOKEN_ENV) or None


def validate(server: str, data: str, environment: str, output_format: str, delimiter: str = ",",
             bearer: Optional[str] = None, timeout: float = 300.0) -> Tuple[str, str]:
    """Posts the CSV file `data` to the service's /v1/validate; returns (the answer's text, result).

    Raises UserError for what the user can fix: no such file, a folder, an unreachable service, a
    refused request (its one-line reason)."""
    if os.path.isdir(data):
        raise InputError(f"{data}: a folder; with --server, send one CSV file at a time")
    try:
        size = os.path.getsize(data)
    except OSError as e:
        raise InputError(f"{data}: {e.strerror}") from None
    url = urllib.parse.urlsplit(server if "://" in server else f"http://{server}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"--server {server}: expected http://HOST:PORT")
    query = urllib.parse.urlencode({"environment": environment, "format": output_format, "name": data,
                                    "delimiter": delimiter})
    path = (url.path.rstrip("/") or "") + "/v1/validate?" + query
    headers = {"Content-Type": "text/csv", "Content-Length": str(size)}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(url.hostname, url.port, timeout=timeout)
    try:
        with open(data, "rb") as body:
            connection.request("POST", path, body=iter(lambda: body.read(_CHUNK), b""), headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
    except OSError as e:
        raise UserError(f"--server {server}: cannot reach the service ({e.strerror or e})") from None
    except http.client.HTTPException as e:
        raise UserError(f"--server {server}: not a tfxgate service ({type(e).__name__})") from None
    finally:
        connection.close()
    if response.status != 200:
        try:
            reason = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            reason = f"HTTP {response.status}"
        if response.status >= 500:
            raise RuntimeError(f"the service failed: {reason}")
        raise UserError(f"--server {server}: {reason}")
    return text.rstrip("\n"), response.getheader("x-tfxgate-result", "")
