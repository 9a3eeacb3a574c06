"""Infers a draft schema from CSV files with TFDV: the first step of curating a new version.

    .venv/bin/python scripts/infer_schema.py OUT.pbtxt 'data/train/span-*/*.csv'

The result is a draft. A person curates it (domains, fill rates, environments, comparators; see
schema/CHANGELOG.md) before it is committed as schema/v<N>/schema.pbtxt.
"""

import sys

import tensorflow_data_validation as tfdv


def main(out: str, pattern: str) -> None:
    stats = tfdv.generate_statistics_from_csv(data_location=pattern)
    tfdv.write_schema_text(tfdv.infer_schema(stats), out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    main(sys.argv[1], sys.argv[2])
