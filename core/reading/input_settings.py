"""What a data folder declares about its files, in `tfxgate-input.yaml` beside them (or above
them: a data root's file holds for every span under it), and what the command line overrides.

    delimiter: ";"        # CSV's field delimiter (default ",")
    format: parquet       # csv, jsonl, parquet or tfrecord: overrides what the content says
    missing: [NA, '\\N']   # cell texts read as missing, in every column of every file

One reader of the file for `tfxgate validate`, the local runner, `tfxgate init` and the
pipeline's ExampleGen (which gets the settings in its custom_config).
"""

import dataclasses
import os
from typing import Optional, Tuple

from core.common.errors import InputError

SETTINGS_FILE = "tfxgate-input.yaml"
FORMATS = ("csv", "jsonl", "parquet", "tfrecord")
_KEYS = ("delimiter", "format", "missing")


@dataclasses.dataclass(frozen=True)
class InputSettings:
    delimiter: Optional[str] = None
    format: Optional[str] = None  # one of FORMATS; None: from the content, then the name
    missing: Tuple[str, ...] = ()  # markers read as missing (besides an empty cell or a null)

    def overridden(self, delimiter: Optional[str] = None, format: Optional[str] = None,
                   missing: Optional[Tuple[str, ...]] = None) -> "InputSettings":
        """These settings with what the command line names in their place."""
        return InputSettings(delimiter or self.delimiter, check_format(format, "--format-in") or self.format,
                             tuple(missing) if missing else self.missing)


def check_format(value: Optional[str], where: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if value not in FORMATS:
        raise InputError(f"{where}: format {value!r} is not one of {', '.join(FORMATS)}")
    return value


def of_folder(folder: str) -> InputSettings:
    """The settings `folder` declares in its SETTINGS_FILE (none: defaults)."""
    path = os.path.join(folder, SETTINGS_FILE)
    if not os.path.isfile(path):
        return InputSettings()
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            settings = yaml.safe_load(f) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputError(f"{path}: cannot read it ({str(e).splitlines()[0]})") from None
    unknown = set(settings) - set(_KEYS) if isinstance(settings, dict) else {"(not a mapping)"}
    if unknown:
        raise InputError(f"{path}: unknown settings {sorted(unknown)} (only {', '.join(_KEYS)})")
    missing = settings.get("missing") or []
    if isinstance(missing, str):
        missing = [missing]
    if not isinstance(missing, list) or not all(isinstance(m, (str, int, float)) for m in missing):
        raise InputError(f"{path}: `missing` must be a list of texts, e.g. [NA, '\\N']")
    delimiter = settings.get("delimiter")
    if delimiter is not None and not isinstance(delimiter, str):
        raise InputError(f"{path}: `delimiter` must be text, e.g. \";\"")
    return InputSettings(delimiter, check_format(settings.get("format"), path), tuple(str(m) for m in missing))


def of_data(path: str) -> InputSettings:
    """The settings that hold for a data file or folder: its folder's file, else its parent's (a
    data root's file holds for the spans under it)."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for candidate in (folder, os.path.dirname(folder)):
        if os.path.isfile(os.path.join(candidate, SETTINGS_FILE)):
            return of_folder(candidate)
    return InputSettings()
