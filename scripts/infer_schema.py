"""Infers a starting schema from CSV files with TFDV (the first step of curating a new version).

    .venv/bin/python scripts/infer_schema.py OUT.pbtxt CSV [CSV ...]

The result is a draft: a person curates it (domains, presence, environments, comparators) before
it is committed as schema/v<N>/schema.pbtxt. See schema/CHANGELOG.md.
"""

import sys

import tensorflow_data_validation as tfdv


def main(out: str, csvs) -> None:
    stats = tfdv.generate_statistics_from_csv(data_location=",".join(csvs) if len(csvs) == 1 else csvs[0].rsplit("/", 3)[0] + "/train/span-*/*.csv")
    schema = tfdv.infer_schema(stats)
    tfdv.write_schema_text(schema, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
