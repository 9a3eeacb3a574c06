"""What changed between two schema versions, in words: one row per feature and aspect. The one
comparison behind `tfxgate schema diff` and the report's schema table."""

import os
from typing import Dict, List

from google.protobuf import text_format

from core.settings import schema_files


def load(path: str):
    """A schema file named on the command line."""
    return schema_files.load(path, "schema")


def _string_domains(schema) -> Dict[str, List[str]]:
    return {d.name: list(d.value) for d in schema.string_domain}


def _aspects(feature, domains: Dict[str, List[str]]) -> Dict[str, object]:
    """A feature as comparable aspects: type, domain, presence, environments, comparators."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    aspects: Dict[str, object] = {"type": schema_pb2.FeatureType.Name(feature.type)}
    domain_kind = feature.WhichOneof("domain_info")
    if domain_kind == "domain":
        aspects["domain values"] = sorted(domains.get(feature.domain, []))
    elif domain_kind == "string_domain":
        aspects["domain values"] = sorted(feature.string_domain.value)
    elif domain_kind:
        aspects[f"{domain_kind}"] = _compact(getattr(feature, domain_kind))
    for field in ("presence", "value_count", "distribution_constraints", "skew_comparator", "drift_comparator"):
        if feature.HasField(field):
            aspects[field] = _compact(getattr(feature, field))
    aspects["in_environment"] = sorted(feature.in_environment)
    aspects["not_in_environment"] = sorted(feature.not_in_environment)
    aspects["lifecycle_stage"] = schema_pb2.LifecycleStage.Name(feature.lifecycle_stage)
    return aspects


def _compact(message) -> str:
    return text_format.MessageToString(message, as_one_line=True).strip() or "(set, empty)"


def diff_rows(old, new) -> List[Dict[str, str]]:
    """What changed between two schemas, one row per feature and aspect: {feature, aspect, old,
    new, change} (change: added, removed or changed; for a domain, the values added and removed).
    The one comparison behind `tfxgate schema diff` and the report's schema table."""
    rows = []
    if list(old.default_environment) != list(new.default_environment):
        rows.append({"feature": "(schema)", "aspect": "default_environment", "old": str(list(old.default_environment)),
                     "new": str(list(new.default_environment)), "change": "changed"})
    old_domains, new_domains = _string_domains(old), _string_domains(new)
    old_features = {f.name: f for f in old.feature}
    new_features = {f.name: f for f in new.feature}
    for name in sorted(set(new_features) - set(old_features)):
        aspects = _aspects(new_features[name], new_domains)
        rows.append({"feature": name, "aspect": "feature", "old": "(absent)", "new": str(aspects["type"]), "change": "added"})
    for name in sorted(set(old_features) - set(new_features)):
        aspects = _aspects(old_features[name], old_domains)
        rows.append({"feature": name, "aspect": "feature", "old": str(aspects["type"]), "new": "(absent)", "change": "removed"})
    for name in sorted(set(old_features) & set(new_features)):
        a = _aspects(old_features[name], old_domains)
        b = _aspects(new_features[name], new_domains)
        for key in sorted(set(a) | set(b)):
            before, after = a.get(key), b.get(key)
            if before == after:
                continue
            row = {"feature": name, "aspect": key, "old": _shown(before), "new": _shown(after), "change": "changed"}
            if key == "domain values" and isinstance(before, list) and isinstance(after, list):
                added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
                row["change"] = " ".join(p for p in (f"+{added}" if added else "", f"-{removed}" if removed else "") if p)
            rows.append(row)
    return rows


def _shown(value) -> str:
    return "(unset)" if value is None else str(value)


def diff(old, new, old_name: str = "old", new_name: str = "new") -> List[str]:
    """Readable lines: what a reviewer needs to know changed between two schemas."""
    lines = []
    for row in diff_rows(old, new):
        if row["aspect"] == "default_environment":
            lines.append(f"~ default_environment: {row['old']} -> {row['new']}")
        elif row["change"] == "added":
            lines.append(f"+ feature {row['feature']} ({row['new']})")
        elif row["change"] == "removed":
            lines.append(f"- feature {row['feature']}")
        elif row["aspect"] == "domain values":
            lines.append(f"~ {row['feature']}: domain values {row['change']}")
        else:
            lines.append(f"~ {row['feature']}: {row['aspect']}: {row['old']} -> {row['new']}")
    header = f"schema diff {old_name} -> {new_name}: {len(lines)} change(s)"
    return [header] + (lines or ["(no semantic change)"])


def diff_files(old_path: str, new_path: str) -> str:
    return "\n".join(diff(load(old_path), load(new_path), _label(old_path), _label(new_path)))


def _label(path: str) -> str:
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return folder or path
