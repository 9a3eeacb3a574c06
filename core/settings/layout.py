"""Where files live inside tfxgate's artifacts, and their readers and writers.

Used by the components that write artifacts and by the commands that read them back, so that a
file name or folder is built in one place. Local paths are read with Python's own `open`; a URI
with a scheme (`gs://`, `s3://`) goes through TFX's file I/O, imported only then, so this module
stays light for the command line.
"""

import json
import os
from typing import Dict, Iterable, List, Optional

from core.common import names
from core.common.errors import InputError


def _open(path: str, mode: str):
    if "://" in path:
        from tfx.dsl.io import fileio

        return fileio.open(path, mode)
    return open(path, mode)


def exists(path: str) -> bool:
    if "://" in path:
        from tfx.dsl.io import fileio

        return fileio.exists(path)
    return os.path.exists(path)


def split_dir(uri: str, split: str) -> str:
    """`<uri>/Split-<split>`: TFX's folder of one split inside a multi-split artifact."""
    return os.path.join(uri, f"Split-{split}")


def statistics_path(uri: str, split: str) -> str:
    return os.path.join(split_dir(uri, split), names.FEATURE_STATS_FILE)


def findings_path(uri: str, split: str) -> str:
    return os.path.join(split_dir(uri, split), names.FINDINGS_FILE)


def anomalies_path(uri: str, split: str) -> str:
    return os.path.join(split_dir(uri, split), names.ANOMALIES_FILE)


def decision_path(uri: str) -> str:
    return os.path.join(uri, names.DECISION_FILE)


def schema_path(uri: str) -> str:
    """The schema file of a Schema artifact folder, or `uri` itself when it names the file."""
    return uri if uri.endswith(".pbtxt") else os.path.join(uri, names.SCHEMA_FILE)


def decode_splits(split_names: Optional[str]) -> List[str]:
    """TFX's `split_names` property (a JSON list) as a list."""
    return json.loads(split_names or "[]")


def baseline_split(splits: Iterable[str]) -> str:
    """The split of training statistics that skew and drift compare with: `train` when there is one."""
    splits = list(splits)
    if not splits:
        raise ValueError("statistics with no split")
    return names.BASELINE_SPLIT if names.BASELINE_SPLIT in splits else splits[0]


def read_statistics(uri: str, split: str):
    """The DatasetFeatureStatisticsList of one split of a statistics artifact."""
    return read_statistics_file(statistics_path(uri, split))


def read_statistics_file(path: str):
    from tensorflow_metadata.proto.v0 import statistics_pb2

    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    with _open(path, "rb") as f:
        statistics.ParseFromString(f.read())
    return statistics


def read_schema(uri: str):
    """The Schema proto in a schema file or a Schema artifact folder."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with _open(schema_path(uri), "r") as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def write_findings(uri: str, split: str, document: dict, anomalies_bytes: bytes) -> None:
    """One split of a DataValidator output: TFDV's Anomalies proto and tfxgate's findings.json."""
    folder = split_dir(uri, split)
    _makedirs(folder)
    with _open(anomalies_path(uri, split), "wb") as f:
        f.write(anomalies_bytes)
    with _open(findings_path(uri, split), "w") as f:
        f.write(json.dumps(document, indent=1, sort_keys=True))


def read_findings(uri: str, splits: Iterable[str], missing_ok: bool = False) -> Dict[str, dict]:
    """{split: findings.json document} of a DataValidator output."""
    result = {}
    for split in splits:
        path = findings_path(uri, split)
        if missing_ok and not exists(path):
            continue
        with _open(path, "r") as f:
            result[split] = json.loads(f.read())
    return result


def write_decision(uri: str, document: dict) -> None:
    _makedirs(uri)
    with _open(decision_path(uri), "w") as f:
        f.write(json.dumps(document, indent=1))


def read_decision(uri: str) -> dict:
    """The decision.json document of a GateDecision artifact folder; InputError in one line when
    the folder holds none (e.g. a URI that is not a gate decision's)."""
    path = decision_path(uri)
    if not exists(path):
        raise InputError(f"{uri}: no {names.DECISION_FILE} (not the `decision` output of a tfxgate gate)")
    with _open(path, "r") as f:
        try:
            return json.loads(f.read())
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not JSON ({e.msg} at character {e.pos})") from None


def _makedirs(folder: str) -> None:
    if "://" in folder:
        from tfx.dsl.io import fileio

        fileio.makedirs(folder)
    else:
        os.makedirs(folder, exist_ok=True)


def profile_path(examples_uri: str) -> str:
    """`<Examples>/profile.json`: the batch's profile, written by tfxgate's ExampleGen."""
    return os.path.join(examples_uri, names.PROFILE_FILE)


def read_profile(examples_uri: Optional[str], split: Optional[str] = None):
    """The profile (core/statistics/profile.py) of an Examples artifact (with `split`: that input split's
    own, where the Examples were read from several), or None where it has none (made before
    profiles, or by another ExampleGen)."""
    if not examples_uri:
        return None
    path = profile_path(examples_uri)
    if split is not None and exists(os.path.join(examples_uri, names.split_profile_file(split))):
        path = os.path.join(examples_uri, names.split_profile_file(split))
    if not exists(path):
        return None
    from core.statistics import profile

    with _open(path, "r") as f:
        return profile.Profile.from_json(json.loads(f.read()))
