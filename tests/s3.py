"""A throwaway S3-compatible server for tests: moto's, in this process, on loopback only.

MinIO, what a default Kubeflow installation runs, is not installable here (no Debian package,
and no package on PyPI ships its server); moto speaks the same S3 API, with path-style
addressing as MinIO and TensorFlow's S3 file system use it. `S3Server.start()` installs the
locked moto (with pip, from requirements/lock.txt) when it is missing, starts the server on
127.0.0.1 at a free port, turns its credential checking on (a user, a policy allowing S3, an
access key: a wrong or missing key is refused, as MinIO refuses it), and creates a bucket;
`stop()` shuts it down.
"""

import dataclasses
import json
import logging
import subprocess
import sys
from typing import Dict, Optional

from tests.paths import PROJECT_ROOT

BUCKET = "tfxgate"
REGION = "us-east-1"
_PACKAGES = ("moto", "flask", "flask-cors")  # moto[s3]'s server; their pins are in the lock


class S3Unavailable(RuntimeError):
    pass


def _ensure_installed() -> None:
    try:
        import moto.server  # noqa: F401
        return
    except ImportError:
        pass
    pins = [line.split(";")[0].strip() for line in (PROJECT_ROOT / "requirements" / "lock.txt").read_text().splitlines()
            if line.split("==")[0] in _PACKAGES]
    pins = [p.replace("moto==", "moto[s3]==") for p in pins] or ["moto[s3]", "flask", "flask-cors"]
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *pins], capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        raise S3Unavailable(f"pip install {' '.join(pins)} failed: {proc.stderr.strip()[-500:]}")


@dataclasses.dataclass
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str = dataclasses.field(repr=False)
    secret_key: str = dataclasses.field(repr=False)
    server: Optional[object] = dataclasses.field(default=None, repr=False)

    @property
    def bucket(self) -> str:
        return BUCKET

    @classmethod
    def start(cls) -> "S3Server":
        _ensure_installed()
        import boto3
        import requests
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            # moto keeps its state per process, not per server: a second server in the same test
            # session would find the first one's user and bucket. Start from nothing.
            requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
            # The next three calls (the user, its policy, its key) go unchecked; every later one
            # must be signed with the key.
            requests.post(f"{endpoint}/moto-api/reset-auth", data=b"3", timeout=30).raise_for_status()
            iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup",
                               aws_secret_access_key="setup")
            iam.create_user(UserName="tfxgate")
            iam.put_user_policy(UserName="tfxgate", PolicyName="s3", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
            key = iam.create_access_key(UserName="tfxgate")["AccessKey"]
            s3 = cls(endpoint, key["AccessKeyId"], key["SecretAccessKey"], server)
            s3.client().create_bucket(Bucket=BUCKET)
        except Exception as e:
            server.stop()
            raise S3Unavailable(f"moto on {endpoint}: {e}") from e
        return s3

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

    def env(self) -> Dict[str, str]:
        """The standard AWS variables a client needs (core/common/storage.py derives TensorFlow's)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_DEFAULT_REGION": REGION}

    def keys(self, prefix: str = ""):
        """Every object key under `prefix` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def read(self, uri: str) -> bytes:
        bucket, _, key = uri[len("s3://"):].partition("/")
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
