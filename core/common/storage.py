"""Object storage for a process: what TensorFlow and Beam need before either touches an `s3://`
URI (S3 or an S3-compatible server such as the MinIO a default Kubeflow installation runs), from
one set of standard AWS variables, and the way out of a process that used it.

The user sets `AWS_ENDPOINT_URL` (with its scheme, e.g. `http://minio-service.kubeflow:9000`),
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally `AWS_REGION` or `AWS_DEFAULT_REGION`.
Beam (boto3) reads those itself; TensorFlow's S3 file system (tensorflow-io, which must be
imported to register `s3://`) reads `S3_ENDPOINT` and `S3_VERIFY_SSL` instead, derived here when
unset.

tensorflow-io 0.37.1 aborts every process that used its S3 file system at exit (status 134, "pure
virtual method called"; tensorflow/io#2039, fixed upstream but never released): `run_and_exit`
flushes and leaves with `os._exit`, skipping the C++ destructors, whenever it is
loaded.
"""

import logging
import os
import sys
import traceback
from typing import Callable, Dict, Iterable, Mapping, MutableMapping, Optional

from core.common.errors import ConfigError

S3_SCHEME = "s3://"
# Schemes a Kubeflow installation names but neither TensorFlow nor Beam can open.
REFUSED_SCHEMES = ("minio://",)

ENDPOINT = "AWS_ENDPOINT_URL"
ACCESS_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
REGION, DEFAULT_REGION = "AWS_REGION", "AWS_DEFAULT_REGION"
TF_ENDPOINT = "S3_ENDPOINT"  # tensorflow-io: must carry the scheme, or it means HTTPS
TF_VERIFY_SSL = "S3_VERIFY_SSL"


class StorageError(ConfigError):
    """Object storage is named but cannot be reached as configured; one line."""


def is_s3(uri: Optional[str]) -> bool:
    return bool(uri) and uri.startswith(S3_SCHEME)


def refusal(uri: Optional[str]) -> Optional[str]:
    """Why `uri` cannot be used and what to use instead, or None when it can."""
    for scheme in REFUSED_SCHEMES:
        if uri and uri.startswith(scheme):
            rest = uri[len(scheme):]
            return (f"{uri}: TensorFlow and Beam cannot open {scheme} URIs; use {S3_SCHEME}{rest} "
                    f"with MinIO's service as the S3 endpoint (e.g. --s3-endpoint http://minio-service.kubeflow:9000)")
    return None


def s3_settings(environ: Mapping[str, str]) -> Dict[str, str]:
    """The variables to add to `environ` so that TensorFlow and Beam both reach the S3 endpoint
    it names (only those not set already). Raises StorageError naming what is missing."""
    endpoint = environ.get(ENDPOINT) or environ.get(TF_ENDPOINT)
    missing = [name for name, value in ((ENDPOINT, endpoint), (ACCESS_KEY, environ.get(ACCESS_KEY)),
                                        (SECRET_KEY, environ.get(SECRET_KEY))) if not value]
    if missing:
        raise StorageError(f"an {S3_SCHEME} URI needs {', '.join(missing)} in the environment "
                           f"(the endpoint with its scheme, e.g. http://minio-service.kubeflow:9000)")
    if not endpoint.startswith(("http://", "https://")):
        raise StorageError(f"{ENDPOINT}={endpoint!r}: give the scheme, http:// or https:// "
                           f"(TensorFlow's S3 file system takes a bare host for HTTPS)")
    wanted = {ENDPOINT: endpoint, TF_ENDPOINT: endpoint,
              TF_VERIFY_SSL: "0" if endpoint.startswith("http://") else "1"}
    region = environ.get(REGION) or environ.get(DEFAULT_REGION)
    if region:
        wanted.update({REGION: region, DEFAULT_REGION: region})
    return {k: v for k, v in wanted.items() if not environ.get(k)}


def prepare(uris: Iterable[Optional[str]], environ: Optional[MutableMapping[str, str]] = None) -> bool:
    """Makes this process ready for every URI in `uris`: for an `s3://` one, the environment
    completed (`s3_settings`), tensorflow-io imported and Beam's file systems given options.
    Returns True when object storage was prepared. Raises StorageError."""
    environ = os.environ if environ is None else environ
    uris = [u for u in uris if u]
    for uri in uris:
        reason = refusal(uri)
        if reason:
            raise StorageError(reason)
    if not any(is_s3(u) for u in uris):
        return False
    environ.update(s3_settings(environ))
    import tensorflow_io  # noqa: F401  (registers s3:// with TensorFlow's file system)
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    FileSystems.set_options(PipelineOptions([]))  # outside a pipeline Beam's S3 has no options
    return True


def run_and_exit(main: Callable[[], Optional[int]]):
    """Runs `main` and leaves the process with its status, as `sys.exit(main())` would (a
    SystemExit's code kept, an uncaught exception's traceback printed and status 1), but, when
    tensorflow-io is loaded, through `os._exit` after flushing the streams and logging: its S3
    file system aborts the process at exit (status 134) otherwise."""
    try:
        code = main()
    except SystemExit as e:
        code = e.code
    except BaseException:  # noqa: B902  (what the interpreter would do with it, then our exit)
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    if "tensorflow_io" not in sys.modules:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
