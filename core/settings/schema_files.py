"""Curated schema versions on disk: `schema/v<N>/schema.pbtxt`, never edited in place.

The one place that knows how a version is named, which version is the newest, and how a schema
file is loaded with a one-line error.
"""

import os
import pathlib
import re
from typing import Dict, List, Tuple

from core.common import names
from core.common.errors import ConfigError, InputError

_VERSION_DIR = re.compile(r"^v(\d+)$")
DRAFTS = "drafts"  # schema/drafts/v<N>/: proposals no run or command uses until a person accepts one


def version_of(schema_path: str) -> str:
    """'v3' for '.../schema/v3/schema.pbtxt'; the folder name is the version."""
    folder = pathlib.PurePath(schema_path).parent.name
    if not _VERSION_DIR.match(folder):
        raise ConfigError(f"schema {schema_path}: its folder must be named v<N> (the schema version)")
    return folder


def version_label(schema_path: str) -> str:
    """The folder name of a schema path, unchecked: how a recorded path names its version."""
    return pathlib.PurePath(schema_path).parent.name


def versions(schema_dir) -> List[Tuple[int, str]]:
    """(N, path) of every schema/v<N>/schema.pbtxt, oldest first."""
    schema_dir = pathlib.Path(schema_dir)
    found = []
    for child in schema_dir.iterdir() if schema_dir.is_dir() else ():
        match = _VERSION_DIR.match(child.name)
        if match and (child / names.SCHEMA_FILE).is_file():
            found.append((int(match.group(1)), str(child / names.SCHEMA_FILE)))
    return sorted(found)


def drafts(schema_dir) -> List[Tuple[int, str]]:
    """(N, folder) of every draft schema/drafts/v<N>/ (written by `tfxgate schema propose`)."""
    folder = pathlib.Path(schema_dir) / DRAFTS
    found = []
    for child in folder.iterdir() if folder.is_dir() else ():
        match = _VERSION_DIR.match(child.name)
        if match and (child / names.SCHEMA_FILE).is_file():
            found.append((int(match.group(1)), str(child)))
    return sorted(found)


def latest_path(schema_dir) -> str:
    """The newest curated schema: schema/v<N>/schema.pbtxt with the largest N."""
    found = versions(schema_dir)
    if not found:
        raise ConfigError(f"{schema_dir}: no curated schema (expected v<N>/{names.SCHEMA_FILE})")
    return found[-1][1]


def version_path(schema_dir: str, version: str) -> str:
    """<schema_dir>/<version>/schema.pbtxt of a version named `v<N>`; ConfigError in one line,
    naming the versions there, when it has no such version (a run parameter, a flag)."""
    if not _VERSION_DIR.match(str(version)):
        raise ConfigError(f"schema version {version!r}: expected v<N>, e.g. v3")
    path = os.path.join(str(schema_dir), str(version), names.SCHEMA_FILE)
    if not os.path.isfile(path):
        known = ", ".join(f"v{n}" for n, _ in versions(schema_dir)) or "none"
        raise ConfigError(f"schema version {version}: no {path} (the versions there: {known})")
    return path


def read_version(schema_path: str) -> Dict[str, str]:
    """{schema_text, constraints_text, checks_text} of the schema version at `schema_path`: the
    schema and the files beside it, each checked to parse (one-line errors); '' for a file that is
    not there. What a run carries to its components, read once here for the runner and for the
    tasks that read a version chosen at run time (a Kubeflow run parameter)."""
    from core.settings import check_settings
    from core import rules as rules_lib

    schema = load(schema_path)
    features = [f.name for f in schema.feature]
    with open(schema_path, encoding="utf-8") as f:
        texts = {"schema_text": f.read()}
    for key, file_name, parse in (("constraints_text", names.CONSTRAINTS_FILE, rules_lib.parse),
                                  ("checks_text", names.CHECKS_FILE, check_settings.parse)):
        text = check_settings.read_text(schema_path, file_name)
        parse(text, check_settings.path_beside(schema_path, file_name), features)
        texts[key] = text
    return texts


def load(path: str, what: str = "--schema"):
    """The Schema proto in a text-format file; InputError in one line when it is not one."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not os.path.isfile(path):
        raise InputError(f"{what} {path}: no such file")
    schema = schema_pb2.Schema()
    try:
        with open(path, encoding="utf-8") as f:
            text_format.Parse(f.read(), schema)
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise InputError(f"{what} {path}: not a schema in text format ({str(e).splitlines()[0]})") from None
    return schema


UNIT_TAG = "unit:"  # a feature's unit, as the schema gives it: `annotation { tag: "unit:USD" }`
_TIME_UNITS = {"UNIX_DAYS": "days since 1970-01-01", "UNIX_SECONDS": "seconds since 1970-01-01 UTC",
               "UNIX_MILLISECONDS": "milliseconds since 1970-01-01 UTC",
               "UNIX_MICROSECONDS": "microseconds since 1970-01-01 UTC",
               "UNIX_NANOSECONDS": "nanoseconds since 1970-01-01 UTC"}


def units(schema) -> Dict[str, str]:
    """{feature: unit} where the schema gives one: an annotation tag `unit:<unit>` (the schema
    proto has no unit field; annotations are its place for what TFDV does not check), or a time
    domain's integer format. Features without one are left out."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    found = {}
    for feature in schema.feature:
        tags = [t[len(UNIT_TAG):].strip() for t in feature.annotation.tag if t.startswith(UNIT_TAG)]
        if tags and tags[0]:
            found[feature.name] = tags[0]
        elif feature.HasField("time_domain") and feature.time_domain.HasField("integer_format"):
            name = schema_pb2.TimeDomain.IntegerTimeFormat.Name(feature.time_domain.integer_format)
            if name in _TIME_UNITS:
                found[feature.name] = _TIME_UNITS[name]
    return found


def features_in(schema, environment: str) -> set:
    """The names of the schema's features that belong to `environment`."""
    result = set()
    for feature in schema.feature:
        envs = set(feature.in_environment) or set(schema.default_environment)
        if environment in envs and environment not in feature.not_in_environment:
            result.add(feature.name)
    return result


def write(schema, path: str) -> str:
    """Writes a Schema proto as text (the form every schema version is kept in); returns `path`."""
    from google.protobuf import text_format

    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(schema))
    return path


def structure_problems(schema) -> List[str]:
    """What makes a schema unusable as a whole though every line of it parses, one phrase each:
    a feature declared twice, a type that is none of INT, FLOAT and BYTES, a domain the schema
    does not define (or one that holds no value), an environment no feature list can be in. [] when none.

    TFDV takes such a schema silently and then judges every batch against it: a `fare` declared
    FLOAT and again BYTES blocks every batch; an `in_environment: "SERVNG"` checks a feature nowhere."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    problems = []
    types: Dict[str, List[str]] = {}
    for feature in schema.feature:
        types.setdefault(feature.name, []).append(schema_pb2.FeatureType.Name(feature.type))
    for group in ("sparse_feature", "weighted_feature"):
        for feature in getattr(schema, group):
            types.setdefault(feature.name, []).append(group)
    for name, declared in types.items():
        if len(declared) > 1:
            problems.append(f"feature {name!r} is declared {len(declared)} times ({', '.join(declared)})")
    for feature in schema.feature:
        if feature.type not in (schema_pb2.INT, schema_pb2.FLOAT, schema_pb2.BYTES):
            problems.append(f"feature {feature.name!r} has no known type ({schema_pb2.FeatureType.Name(feature.type)}; "
                            "expected INT, FLOAT or BYTES)")
    domains: Dict[str, int] = {}
    for domain in schema.string_domain:
        domains[domain.name] = domains.get(domain.name, 0) + 1
        if not domain.value:
            problems.append(f"string_domain {domain.name!r} holds no value")
    problems += [f"string_domain {name!r} is defined {count} times" for name, count in domains.items() if count > 1]
    environments = set(schema.default_environment)
    for feature in schema.feature:
        kind = feature.WhichOneof("domain_info")
        if kind == "domain" and feature.domain not in domains:
            problems.append(f"feature {feature.name!r} names domain {feature.domain!r}, which the schema does not define")
        for bounded in ("int_domain", "float_domain"):
            if kind == bounded:
                domain = getattr(feature, bounded)
                if domain.HasField("min") and domain.HasField("max") and domain.min > domain.max:
                    problems.append(f"feature {feature.name!r}: {bounded} min {domain.min:g} > max {domain.max:g}")
        for field in ("in_environment", "not_in_environment"):
            for environment in getattr(feature, field):
                if environment not in environments:
                    problems.append(f"feature {feature.name!r}: {field} {environment!r} is not one of the schema's "
                                    f"environments ({', '.join(schema.default_environment) or 'none declared'})")
    return problems
