"""Object storage for a process (core/common/storage.py): TensorFlow's and Beam's settings from one set of
AWS variables, one-line refusals, and exit statuses kept through tensorflow-io's abort at exit."""

import os
import subprocess
import sys
import textwrap

import pytest

from core.common import storage
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit

AWS = {"AWS_ENDPOINT_URL": "http://minio-service.kubeflow:9000", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}


def test_tensorflow_settings_come_from_the_aws_ones():
    assert storage.s3_settings(AWS) == {"S3_ENDPOINT": "http://minio-service.kubeflow:9000", "S3_VERIFY_SSL": "0"}
    https = dict(AWS, AWS_ENDPOINT_URL="https://s3.example", AWS_REGION="eu-west-1")
    assert storage.s3_settings(https) == {"S3_ENDPOINT": "https://s3.example", "S3_VERIFY_SSL": "1",
                                          "AWS_DEFAULT_REGION": "eu-west-1"}
    # What the user set is kept; TensorFlow's endpoint alone serves Beam too.
    assert storage.s3_settings(dict(AWS, S3_ENDPOINT="http://other:9000", S3_VERIFY_SSL="1")) == {}
    tf_only = {"S3_ENDPOINT": "http://minio:9000", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}
    assert storage.s3_settings(tf_only) == {"AWS_ENDPOINT_URL": "http://minio:9000", "S3_VERIFY_SSL": "0"}


@pytest.mark.parametrize("environ, message", [
    ({}, "needs AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY in the environment"),
    ({"AWS_ENDPOINT_URL": "http://m:9000", "AWS_ACCESS_KEY_ID": "id"}, "needs AWS_SECRET_ACCESS_KEY in the environment"),
    (dict(AWS, AWS_ENDPOINT_URL="minio-service.kubeflow:9000"), "give the scheme, http:// or https://"),
])
def test_missing_settings_are_one_line(environ, message):
    with pytest.raises(storage.StorageError, match=message) as caught:
        storage.s3_settings(environ)
    assert "\n" not in str(caught.value)


def test_a_minio_uri_is_refused_with_what_to_use_instead():
    reason = storage.refusal("minio://mlpipeline/v2/artifacts")
    assert reason.startswith("minio://mlpipeline/v2/artifacts: TensorFlow and Beam cannot open minio:// URIs; "
                             "use s3://mlpipeline/v2/artifacts with MinIO's service as the S3 endpoint")
    assert "\n" not in reason
    assert storage.refusal("s3://b/k") is None and storage.refusal("gs://b/k") is None and storage.refusal(None) is None
    with pytest.raises(storage.StorageError, match="use s3://b/root"):
        storage.prepare(["/local", "minio://b/root"], environ={})


def test_nothing_changes_without_object_storage():
    environ = {}
    assert storage.prepare(["/tmp/root", "gs://b/k", None], environ=environ) is False
    assert environ == {}


def test_an_s3_uri_without_credentials_is_refused_before_anything_is_imported():
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    with pytest.raises(storage.StorageError, match="AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"):
        storage.prepare(["s3://b/root"], environ=environ)
    assert environ == {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}


_TOUCH_S3_AND_EXIT = textwrap.dedent("""
    import sys
    from core.common import storage

    def main():
        storage.prepare([sys.argv[1]])
        import tensorflow as tf
        with tf.io.gfile.GFile(sys.argv[1] + "/exit.txt", "w") as f:
            f.write(sys.argv[2])
        if sys.argv[2] == "raise":
            raise RuntimeError("a bug")
        if sys.argv[2] == "exit2":
            sys.exit(2)
        return int(sys.argv[2])

    storage.run_and_exit(main)
""")


@pytest.fixture(scope="module")
def s3_server():
    from tests import s3

    server = s3.S3Server.start()
    yield server
    server.stop()


@pytest.mark.services
@pytest.mark.parametrize("outcome, status", [("0", 0), ("1", 1), ("exit2", 2), ("raise", 1)])
def test_a_process_that_used_s3_keeps_its_exit_status(s3_server, outcome, status):
    """tensorflow-io 0.37.1 alone would end each of these with 134 (SIGABRT)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update(s3_server.env(), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(PROJECT_ROOT))
    uri = f"s3://{s3_server.bucket}/exit-{outcome}"
    proc = subprocess.run([sys.executable, "-c", _TOUCH_S3_AND_EXIT, uri, outcome], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env, timeout=300)
    assert proc.returncode == status, proc.stderr[-2000:]
    assert s3_server.read(uri + "/exit.txt") == outcome.encode()
    if outcome == "raise":
        assert "RuntimeError: a bug" in proc.stderr
