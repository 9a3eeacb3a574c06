"""docs/BENCHMARKS.md from a results JSON: tables of medians with their spread, and each target
said as met or missed, with the margin."""

from typing import Optional


def _s(entry: Optional[dict], unit: str = "s", digits: int = 2) -> str:
    if not entry:
        return "n/a"
    if "error" in entry:
        return f"failed: {entry['error'][:60]}"
    fmt = f"{{:.{digits}f}}"
    return f"{fmt.format(entry['median'])} {unit} ({fmt.format(entry['min'])}–{fmt.format(entry['max'])})"


def _target(label: str, value: Optional[float], limit: float, unit: str = "×") -> str:
    if value is None:
        return f"- {label}: not measured"
    verdict = "met" if value <= limit else f"**missed** by {value / limit:.2f}× the target"
    return f"- {label}: {value:.3f}{unit} (target ≤ {limit}{unit}): {verdict}"


def markdown(r: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Reproduce with `make bench` (`python -m benchmarks.run`; `--quick` for a smoke run). Results "
        "of each run are kept in `benchmarks/results/<date>.json`; this page is rewritten from the "
        "latest. Figures are medians with the spread (min–max) over repeated runs; ratios compare "
        "figures measured in the same run. Data is the shipped sample resampled with ~1 % noise "
        "(`benchmarks/data.py`), never downloaded.",
        "",
        f"Run of {r['date']}: {r['repeats']} repeat(s); machine: {r['machine']['cpus']} CPUs, "
        f"{r['machine']['memory_gib']} GiB, Python {r['machine']['python']}, {r['machine']['platform']}.",
        "",
        "## Targets",
        "",
    ]
    latency = r.get("latency", {}).get("sizes", {}).get("1000", {})
    lines.append(_target("1,000-row validation in process over TFDV's Beam path, warm (both in a running process)",
                         latency.get("in_process_over_beam"), 0.1))
    lines.append(_target("the same, first call in a fresh process (both sides)", latency.get("first_call_over_beam"), 0.1))
    lines.append(_target("1,000-row `tfxgate validate` as a whole process over a bare `import tensorflow_data_validation`",
                         latency.get("whole_over_import"), 1.15))
    pipeline = r.get("pipeline", {})
    lines.append(_target("cached re-run over cold run", pipeline.get("cached_over_cold"), 0.15))
    throughput = r.get("throughput", {})
    biggest = max(throughput, key=int) if throughput else None
    if biggest:
        lines.append(_target(f"statistics + validation at {int(biggest):,} rows over the pyarrow read floor",
                             throughput[biggest].get("ours_over_floor"), 5.0))
        if throughput[biggest].get("typed_over_inferred") is not None:
            lines.append(_target(f"cells typed by the curated schema over types inferred from the batch, "
                                 f"{int(biggest):,} rows", throughput[biggest].get("typed_over_inferred"), 1.10))
        sizes = sorted(throughput, key=int)
        peaks = [throughput[s]["ours"].get("peak_mib", {}).get("median") for s in sizes]
        if len(peaks) >= 2 and all(peaks):
            growth = peaks[-1] / peaks[-2]
            lines.append(f"- peak memory of tfxgate's statistics from {int(sizes[-2]):,} to {int(sizes[-1]):,} rows: "
                         f"{peaks[-2]:.0f} → {peaks[-1]:.0f} MiB (×{growth:.2f}; streamed: "
                         f"{'flat' if growth < 1.25 else '**grows**'})")

    if pipeline:
        lines += ["", "## 1. The whole local pipeline on the sample", "",
                  "| run | wall time | peak memory |", "|---|---|---|",
                  f"| tfxgate, cold | {_s(pipeline['cold_seconds'])} | {_s(pipeline['peak_mib'], 'MiB', 0)} |",
                  f"| tfxgate, cached (nothing changed) | {_s(pipeline['cached_seconds'])} | |"]
        reference = r.get("reference", {})
        if reference and "error" not in reference:
            lines += [f"| TFX's reference taxi pipeline (native Keras, with Evaluator), cold | {_s(reference['cold_seconds'])} | |",
                      f"| TFX's reference taxi pipeline, cached | {_s(reference['cached_seconds'])} | |"]
        elif reference:
            lines.append(f"| TFX's reference taxi pipeline | failed: {reference['error'][:80]} | |")
        lines += ["", "Per component (seconds the console reports):", "", "| component | cold | cached |", "|---|---|---|"]
        names = sorted({k.split(":", 1)[1] for k in pipeline["components"]})
        for name in names:
            lines.append(f"| {name} | {_s(pipeline['components'].get('cold:' + name))} | "
                         f"{_s(pipeline['components'].get('cached:' + name))} |")

    if r.get("latency"):
        lat = r["latency"]
        lines += ["", "## 2. Batch validation latency", "",
                  f"Floor: a bare `python -c 'import tensorflow_data_validation'`: {_s(lat['import_tfdv_seconds'])}.", "",
                  "| rows | `tfxgate validate` (whole process) | ÷ import | tfxgate in process, first / warm | TFDV Beam path, first / warm | tfxgate ÷ Beam, warm |",
                  "|---|---|---|---|---|---|"]
        for rows, e in sorted(lat["sizes"].items(), key=lambda kv: int(kv[0])):
            ratio = e.get("in_process_over_beam")
            lines.append(f"| {int(rows):,} | {_s(e['whole_process_seconds'])} | {e['whole_over_import']:.2f} | "
                         f"{_s(e['in_process'].get('seconds'), digits=3)} / {_s(e['in_process'].get('warm_seconds'), digits=3)} | "
                         f"{_s(e['tfdv_beam'].get('seconds'), digits=3)} / {_s(e['tfdv_beam'].get('warm_seconds'), digits=3)} | "
                         f"{'n/a' if ratio is None else f'{ratio:.3f}'} |")

    if throughput:
        lines += ["", "## 3. Statistics + validation throughput and memory", "",
                  "| rows | file | tfxgate (streamed, in memory) | rows/s | peak | pyarrow read (floor) | peak | ÷ floor | TFDV Beam, in_memory | peak | TFDV Beam, multi_processing | peak |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for rows, e in sorted(throughput.items(), key=lambda kv: int(kv[0])):
            def cell(key, field="seconds", unit="s", digits=2):
                return _s(e.get(key, {}).get(field), unit, digits) if "error" not in e.get(key, {}) else _s(e.get(key))
            lines.append(
                f"| {int(rows):,} | {e['file_mib']:.0f} MiB | {cell('ours')} | {e.get('ours_rows_per_second', 0):,.0f} | "
                f"{cell('ours', 'peak_mib', 'MiB', 0)} | {cell('pyarrow_floor')} | {cell('pyarrow_floor', 'peak_mib', 'MiB', 0)} | "
                f"{e.get('ours_over_floor', 0):.2f} | {cell('tfdv_beam_in_memory')} | {cell('tfdv_beam_in_memory', 'peak_mib', 'MiB', 0)} | "
                f"{cell('tfdv_beam_multi_processing')} | {cell('tfdv_beam_multi_processing', 'peak_mib', 'MiB', 0)} |")
        lines += ["", "Peak memory of the in-process figures includes the interpreter with TensorFlow and TFDV "
                  "loaded (about 0.9 GiB before any data)."]
        typed = [(rows, e) for rows, e in sorted(throughput.items(), key=lambda kv: int(kv[0]))
                 if "typed_over_inferred" in e]
        if typed:
            lines += ["", "Schema-typed reading (`core/cells.py`) against the types inferred from the batch "
                      "(the reading before it), same statistics and validation:", "",
                      "| rows | typed by the schema | inferred | typed ÷ inferred |", "|---|---|---|---|"]
            for rows, e in typed:
                lines.append(f"| {int(rows):,} | {_s(e['ours'].get('seconds'))} | "
                             f"{_s(e['ours_inferred_types'].get('seconds'))} | {e['typed_over_inferred']:.3f} |")
    lines += ["", _WHY]
    return "\n".join(lines) + "\n"


_WHY = """## Where the missed targets go

- **Cached re-run.** Every component is served from the cache in 0.0 s (table 1); what remains is
  the process itself. Importing what the runner needs (`tfx.v1`, TensorFlow, TFDV, Transform)
  took 28.5 s in a bare `python -c` on this machine, about the whole cached run; building the
  two module wheels (which TFX does on every run, to hash them into the cache key) adds a few
  seconds. No process that imports TFX can answer faster, so 15 % of a ~86 s cold run (13 s) is
  under that floor. What would close it: a long-lived runner process (the imports paid once) and
  reusing module wheels whose source hash has not changed.
- **Statistics at 1.5 million rows.** A profile at 150,000 rows: about 40 % in tfxgate's own
  conversion of text columns to typed lists (pyarrow casts and filters, once per pass), 20 %
  reading the file twice (a first pass settles each column's type over the whole file, as
  CsvExampleGen does), 40 % in TFDV's statistics generators (basic stats, quantile histograms,
  top-k). The floor is pyarrow's multi-threaded C++ parser. What would close it: one pass with
  speculative typing (re-cast a column only when a later block breaks its type), dropping the
  whitespace trim where the data has none, and feeding blocks to TFDV's combiners on both cores.
  Against TFDV's own Beam path on the same file tfxgate is 13–18× faster, with less than half
  the peak memory."""
