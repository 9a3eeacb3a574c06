"""The "StatisticsGen speed" section of docs/BENCHMARKS.md (benchmarks/statistics_gen_speed.py's
results): TFX's StatisticsGen executor, which the pipeline runs, beside the same statistics
computed in process the way `tfxgate validate` computes them, on the same Examples."""

_NAMES = {"tfx": "TFX's `StatisticsGen` executor (what the pipeline's StatisticsGen and ServingStatisticsGen run)",
          "ours": "in process: TFDV's in-memory generators a record batch at a time, no Beam (as `tfxgate validate`)"}


def statistics_gen_speed_section(s: dict) -> str:
    """The section: a row per kind, the ratio, then the account of where the time goes."""
    lines = [
        "## StatisticsGen speed",
        "",
        "`python -m benchmarks.statistics_gen_speed`: statistics of one Examples artifact (the newest "
        "ServingExampleGen output of the large serving batch section), each run the only work of a fresh process, "
        "alternating, on the local runner's Beam arguments (DirectRunner in memory, one worker). The pipeline has no "
        "StatisticsGen executor of its own: both its StatisticsGen nodes are TFX's, with no stats options and no schema. "
        "Seconds of the work (imports excluded, median), rows per second, peak resident memory of the process (in "
        "brackets: once the imports are done).",
        "",
        f"Examples: {s['examples_mib']:,.0f} MiB of gzipped TFRecords.",
        "",
        "| Statistics | Rows | Seconds | Rows/s | Peak memory |",
        "|---|---|---|---|---|",
    ]
    for kind in ("tfx", "ours"):
        e = s.get(kind)
        if e:
            lines.append(f"| {_NAMES[kind]} | {e['rows']:,} | {e['seconds']:.1f} | {e['rows_per_second']:,.0f} | "
                         f"{e['peak_mib']:,.0f} MiB ({e['peak_before_mib']:,.0f} MiB) |")
    if s.get("ours_over_tfx"):
        lines += ["", f"In process took {s['ours_over_tfx']:.2f}x the time of TFX's executor on the same Examples."]
    return "\n".join(lines + ["", WHY])


WHY = """### Where StatisticsGen's time goes (2026-12-07)

To be measured.
"""
