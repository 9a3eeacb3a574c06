"""The "validate speed" section of docs/BENCHMARKS.md: measured by hand, side by side, before and
after the whole-column profile and number reading (2026-12-07); `make bench` keeps it as written
until a run measures it again."""

VALIDATE_SPEED = """\
## validate speed (2026-12-07)

`tfxgate validate` of the 1.5 M resampled rows (benchmarks/data.py, as in the formats section),
every check on (checks.yaml's three slice keys, constraints.yaml's rules, the domains), no
baseline, timed in one warm process (`tfxgate.validation.validate.run`, as `benchmarks/formats.py
warm` calls it). The machine's two cores were shared with a full `make test` and another
helper's benchmarks throughout (load average 4–6), so only figures measured side by side mean
much: each pair below is the code before (commit of the golden digests) and after, in processes
run one after the other, each timing CSV and Parquet alternately after a warm-up call.

What changed (outputs byte-identical: tests/test_validate_identity.py compares the SHA-256 of
validate's JSON answer, the profile and the quarantine, for the 28 defects of tests/defects.py and
a 120,000-row batch of six reading blocks that reaches the profile's caps, with digests written
by the code before):

- **Profiling the slices** (core/statistics/grouping.py, core/statistics/profile.py): each
  feature of a block is factorised once (pandas' hash table, not a sort), and the (slice, value)
  pairs of all slices of a key are counted at once (`np.bincount` of combined codes, or a sort of
  them where that table would be mostly empty); a feature takes a block's values already counted
  (`FeatureProfile.add_counted`), settled at the same points as before, so rounding past the caps
  falls on the same values. Before: `np.unique` per slice and feature (56,000 calls, numpy's
  sorts 5.5 s of a 30 s profiled call).
- **Typing plain numbers** (core/reading/cells.py `_plain_ascii`): a column whose bytes are all
  digits and a minus sign (INT), or digits, sign, point and exponent (FLOAT), is read by one byte
  check over its buffer and one Arrow cast, without the trim and the two regular expressions per
  cell; anything else takes the general path as before. Checked against the old function on
  40,000 random columns of number-like text: the same values, rows and reasons.

| 1.5 M rows, warm, seconds (side by side) | before | after |
|---|---|---|
| CSV, pair 1 (after slices only) | 26.9 / 33.1 | 20.5 / 20.5 |
| Parquet, pair 1 (after slices only) | 28.2 / 29.3 | 17.2 / 17.3 |
| CSV, pair 2 (both changes) | 26.0 / 26.7 | 13.0 / 16.4 |
| Parquet, pair 2 (both changes) | 26.3 / 27.7 | 15.6 / 17.1 |
| CSV, pair 3 (both changes; pyarrow.csv.read_csv 1.0–1.3 s beside) | 18.7 / 19.1 | 9.8 / 11.5 |
| Parquet, pair 3 (pyarrow.parquet.read_table 0.26–0.37 s beside) | 19.4 / 19.4 | 10.9 / 11.0 |

With both changes the call takes a little over half the time it took (pair 2: 0.55× on CSV,
0.60× on Parquet; pair 3: 0.57× and 0.56×); against the read floor measured in the same processes, about 8–10× `read_csv` for CSV
(before: about 16×) and about 35–40× `read_table` for Parquet (before: about 55×). On an idle
machine the before figure was 9.7 s for CSV (0.49 s read_csv), so about 5 s is to be expected
after.

cProfile of one warm call, top entries (cumulative seconds, share of the call):

| | CSV before (29.8 s) | CSV after (18.4 s) | Parquet before (61.0 s, heavier load) | Parquet after (15.4 s) |
|---|---|---|---|---|
| the profile (`Profile.add`) | 14.1 (47 %) | 6.6 (36 %) | 29.0 (48 %) | 4.7 (31 %) |
| of which the slices | 10.9 | 3.8 | 22.4 | 2.6 |
| typing the cells (`cells.read_column`) | 6.2 (21 %) | 1.9 (10 %) | 11.6 (19 %) | 1.5 (10 %) |
| TFDV's statistics (`add_input`) | 4.3 (14 %) | 4.6 (25 %) | 8.0 (13 %) | 4.0 (26 %) |
| `rows.judge` (domains: `Domain.outside`) | 2.0 (7 %) | 2.1 (11 %) | | 1.8 (12 %) |
| reading the source's blocks | 1.9 (6 %) | 1.9 (10 %) | | 2.6 (17 %) |

**Target not met** (5× the CSV read floor, 2× on Parquet). What is left after these changes
is spread: TFDV's basic and top-k statistics (a quarter of the call, TFDV's own code over the
typed columns), the profile's own factorisations and its slices (a third), `Domain.outside` in
core/reading/report.py (a Python comprehension per row of every column with a domain, about
10 %: done since, below), and reading the text cells (CSV's parser; for Parquet the
cast of float columns to text, `arrow_text._floats`). The floor that stops the target is TFDV's
statistics: at about 0.1 s per 33,000-row block, it alone is about 4 s in these runs, several
times `pyarrow.csv.read_csv` of the file; no reading or profiling change can bring the call
within 5× of the read while TFDV's generators run over every row.

**Domains over whole columns** (later the same day; core/reading/report.py, core/checks/rows.py):
a string domain's values are looked up in the column's text as read, by one
`pyarrow.compute.is_in` per column (rows.judge hands `Domain.outside` the read column), not by a
Python membership test per row; ranges were whole-column already. Checked against the old
function, kept in tests/test_domain_vector.py, on 3,000 random columns of real rows (missing
cells, other columns' values, NaN, -0.0, bounds the values hit) and on rows.judge's whole
report; the golden digests hold. Side by side, in-process timers around `rows.judge` and
`Domain.outside` over the second of two calls per format (the two string domains, `payment_type` and `company`):

| 1.5 M rows, warm, seconds (side by side, load 4–7) | before | after |
|---|---|---|
| `rows.judge`, CSV / Parquet (pair 1) | 1.99 / 1.75 | 1.20 / 1.28 |
| of which `Domain.outside` | 1.23 / 1.11 | 0.45 / 0.50 |
| `rows.judge`, CSV / Parquet (pair 2) | 2.05 / 1.95 | 1.25 / 0.97 |
| of which `Domain.outside` | 1.30 / 1.28 | 0.43 / 0.36 |
| the whole call, CSV (3 pairs of 2 rounds; read_csv 1.4–2.8 s beside) | 39.0 / 23.0, 18.1 / 12.4, 21.6 / 20.1 | 21.8 / 21.8, 17.0 / 13.6, 15.5 / 15.8 |
| the whole call, Parquet (read_table 0.35–0.62 s beside) | 29.3 / 19.5, 16.9 / 13.4, 20.7 / 21.1 | 20.8 / 21.2, 17.7 / 17.8, 14.3 / 13.6 |

`Domain.outside` costs about a third of what it did (0.8 s less per call); the whole call's
pairs, on two cores shared with tests and another helper's runs (load 4–7), vary by more than
that and show it only in pair 3. **Targets still not met**: about 7–9× `read_csv` on CSV and
22–38× `read_table` on Parquet in these runs (after); TFDV's statistics alone stay several times the read.
(ExampleGen, not validate: a split's per-batch profiles are now merged at once, `profile.merge_all`
in its CombineFn, byte for byte the one-by-one merge; 37 profiles of 4,096 rows: 5.0 s -> 0.95 s.)
"""
