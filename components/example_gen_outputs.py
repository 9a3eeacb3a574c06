"""What ExampleGen (components/csv_example_gen.py) writes: the splits of its Examples, and beside
them the rows left out, per input split (`Quarantine/<input split>.csv`); the ReadingReport of
each input split, merged into `typed_reading.json` and the Examples' MLMD properties; and the
profile of each input split, merged into `profile.json`. The Beam pipeline writes one part per
input split; the executor merges them once the pipeline is done."""

import csv
import functools
import json
import os
from typing import Dict, List, Sequence

import apache_beam as beam
import tensorflow as tf
from apache_beam.io import tfrecordio
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.dsl.io import fileio

from core.common import names
from core.reading import report as reading
from core.reading.sources import tfrecord
from core.statistics import profile as profile_lib

PROFILE_FILE = names.PROFILE_FILE  # the batch's profile (core/statistics/profile.py), beside Split-*/
PROFILE_PARTS = ".profile"  # one profile per input split, merged by the executor
READING_FILE = "typed_reading.json"  # the merged ReadingReport, beside Split-*/
READING_PARTS = ".typed_reading"  # one report per input split, merged by the executor
QUARANTINE_FOLDER = names.QUARANTINE_FOLDER  # inside the Examples: the rows left out, per input split
QUARANTINED_ROWS = names.QUARANTINED_ROWS  # the Examples' MLMD property: how many rows were left out


class Splitter:
    """Which output split each record goes to: TFX's own partition function
    (base_example_gen_executor._PartitionFn: the sha256 of the record's bytes, or of its
    `partition_feature_name` feature, into hash buckets), applied to a block of records at once."""

    def __init__(self, buckets: Sequence[int], split_config):
        self._buckets, self._config = list(buckets), split_config
        self._by_feature = bool(split_config.partition_feature_name)

    def __len__(self) -> int:
        return len(self._buckets)

    def __call__(self, records: List[bytes]) -> List[List[bytes]]:
        splits: List[List[bytes]] = [[] for _ in self._buckets]
        n, partition = len(self._buckets), base_example_gen_executor._PartitionFn  # pylint: disable=protected-access
        for record in records:
            key = tf.train.Example.FromString(record) if self._by_feature else record
            splits[partition(key, n, self._buckets, self._config)].append(record)
        return splits


class _BlockSink(tfrecordio._TFRecordSink):  # pylint: disable=protected-access
    """Beam's TFRecord sink (temporary files, then the shards named as WriteToTFRecord names
    them), whose element is a block of records, framed and written in one write."""

    def write_record(self, file_handle, value: List[bytes]) -> None:
        file_handle.write(tfrecord.framed(value))


@beam.ptransform_fn
def WriteSplit(blocks: beam.PCollection, split_uri: str) -> beam.pvalue.PDone:
    """TFX's WriteSplit (write_split.py) without its Reshuffle, a block of serialized records per
    element: the same gzipped TFRecord file, the records in the order they were read. Beam's
    in-memory runner holds a whole PCollection at a GroupByKey, as Python objects; without one,
    the rows stream from the input to the file."""
    sink = _BlockSink(os.path.join(split_uri, write_split.DEFAULT_FILE_NAME), beam.coders.BytesCoder(), ".gz",
                      0, None, beam.io.filesystem.CompressionTypes.AUTO)
    return blocks | "Write" >> beam.io.Write(sink)


class Merge(beam.CombineFn):
    """Merges the per-batch reports or profiles of a split: `empty()` starts, `.merge` combines.

    merge_all: merges a list of them as merging one by one from `empty()` does (byte for byte),
    at once (profile.merge_all: each feature once, not the growing result per batch); the
    accumulator holds at most HELD of them before it merges them into one."""

    HELD = 8  # 64 held 37 profiles at 150,000 rows: a peak of 1,053 MiB against 844 MiB with 8, and no faster

    def __init__(self, empty, merge_all=None):
        self._empty = empty
        self._merge_all = merge_all or (lambda items: functools.reduce(lambda a, b: a.merge(b), items, empty()))

    def create_accumulator(self):
        return []

    def add_input(self, accumulator, item):
        accumulator.append(item)
        if len(accumulator) > self.HELD:
            accumulator[:] = [self._merge_all(accumulator)]
        return accumulator

    def merge_accumulators(self, accumulators):
        return [self._merge_all([self._merge_all(accumulator) for accumulator in accumulators])]

    def extract_output(self, accumulator):
        return self._merge_all(accumulator)


def write_profile(profile: profile_lib.Profile, folder: str, name: str) -> None:
    fileio.makedirs(folder)
    with fileio.open(os.path.join(folder, f"{name}.json"), "w") as f:
        f.write(json.dumps(profile.to_json(), sort_keys=True))


def part_name(split_pattern: str) -> str:
    """A file name for an input split's reading report, from its pattern."""
    return "".join(c if c.isalnum() else "_" for c in split_pattern)


def write_quarantine(rows: List[List[str]], path: str, names: List[str]) -> None:
    """The quarantined rows of one input split, in file and line order."""
    fileio.makedirs(os.path.dirname(path))
    with fileio.open(path, "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(reading.QUARANTINE_HEADER + list(names))
        writer.writerows(sorted(rows, key=lambda row: (row[0], int(row[1] or 0))))


def write_report(report: reading.ReadingReport, folder: str, name: str) -> None:
    fileio.makedirs(folder)
    with fileio.open(os.path.join(folder, f"{name}.json"), "w") as f:
        f.write(json.dumps(report.to_json(), sort_keys=True))


def record_profile(examples, split_of_part: Dict[str, str]) -> None:
    """Merges the input splits' profiles into the Examples' profile.json (the whole input); with
    several input splits, each is also kept as profile-<split>.json (each is an output split)."""
    parts = os.path.join(examples.uri, PROFILE_PARTS)
    profiles = {}
    for path in sorted(fileio.glob(os.path.join(parts, "*.json"))) if fileio.exists(parts) else []:
        with fileio.open(path, "r") as f:
            profiles[split_of_part.get(os.path.basename(path)[: -len(".json")], "")] = f.read()
    merged = profile_lib.merge_all(profile_lib.Profile.from_json(json.loads(t)) for t in profiles.values())
    with fileio.open(os.path.join(examples.uri, PROFILE_FILE), "w") as f:
        f.write(json.dumps(merged.to_json(), sort_keys=True))
    if len(profiles) > 1:
        for split, text in profiles.items():
            with fileio.open(os.path.join(examples.uri, names.split_profile_file(split)), "w") as f:
                f.write(text)
    if fileio.exists(parts):
        fileio.rmtree(parts)


def record_reading(examples, split_of_part: Dict[str, str]) -> reading.ReadingReport:
    """Merges the input splits' reading reports into typed_reading.json and the Examples' MLMD
    property `typed_reading` (the whole input, and each input split by name: with several input
    splits, each is an output split of the same name); returns the merged report."""
    parts = os.path.join(examples.uri, READING_PARTS)
    by_split = {}
    for path in sorted(fileio.glob(os.path.join(parts, "*.json"))) if fileio.exists(parts) else []:
        with fileio.open(path, "r") as f:
            report = reading.ReadingReport.from_json(json.loads(f.read()))
        by_split[split_of_part.get(os.path.basename(path)[: -len(".json")], "")] = report
    merged = reading.merge_all(by_split.values())
    document = merged.to_json()
    if len(by_split) > 1:
        document["splits"] = {name: report.to_json() for name, report in sorted(by_split.items())}
    text = json.dumps(document, sort_keys=True)
    with fileio.open(os.path.join(examples.uri, READING_FILE), "w") as f:
        f.write(text)
    if fileio.exists(parts):
        fileio.rmtree(parts)
    examples.set_string_custom_property(reading.TYPED_READING, text)
    examples.set_int_custom_property(QUARANTINED_ROWS, merged.dropped)
    return merged
