"""The detection section of docs/BENCHMARKS.md (benchmarks/detection.py's results): per class of
defect, the smallest blocked magnitude at each batch size, and the clean batches' margins."""

def _pct(x: float) -> str:
    return f"{100 * x:.3g} %"


def detection_cell(entry: dict, result: dict) -> str:
    """The smallest blocked magnitude of one class at one size, with what passed below it."""
    share = entry["unit"] == "share"
    show = _pct if share else (lambda m: f"×{1 + m:.3g}")
    of = f" of {result['pool']:,}" if share and result.get("pool") != result["rows"] else ""
    if result.get("blocked_at") is None:
        return f"not blocked up to {show(result['max'])}{of}"
    text = f"**{show(result['blocked_at'])}**{of}"
    if share:
        changed = f"{result['rows_changed']:,} row{'s' if result['rows_changed'] != 1 else ''}"
        if result.get("passes_at") is None:
            return f"{text} ({changed}; the smallest tried)"
        return f"{text} ({changed}; {result['passes_rows']:,} pass)"
    if result.get("passes_at") is None:
        return f"{text} (the smallest tried)"
    return f"{text} ({show(result['passes_at'])} passes)"


def _grouped(labels) -> str:
    """Finding labels with their slices counted: 'fare skew/L_INFTY (whole batch and 3 slices)'."""
    groups = {}
    for text in labels:
        groups.setdefault(text.partition(" [")[0], []).append(text)
    parts = []
    for base, texts in groups.items():
        sliced = [t for t in texts if t != base]
        if len(texts) == 1:
            parts.append(texts[0])
        else:
            whole = "whole batch and " if len(sliced) < len(texts) else ""
            parts.append(f"{base} ({whole}{len(sliced)} slice{'s' if len(sliced) != 1 else ''})")
    return ", ".join(parts)


def _finding_cell(entry: dict, sizes) -> str:
    texts = {}
    for rows in sizes:
        result = entry["sizes"][str(rows)]
        if result.get("blocked_at") is None:
            text = "—" + (f" (blocking at the largest: {_grouped(result['at_max'])})" if result["at_max"] else "")
        else:
            text = ", ".join(result["finding"])
            if result.get("also_blocking"):
                text += f" (also blocking: {_grouped(result['also_blocking'])})"
            at_max = result.get("expected_at_max") or []
            if at_max and at_max != result["finding"]:
                text += f"; at {_pct(result['max']) if entry['unit'] == 'share' else result['max']}: {', '.join(at_max)}"
        texts.setdefault(text, []).append(rows)
    if len(texts) == 1:
        return next(iter(texts))
    return "; ".join(f"{', '.join(f'{r:,}' for r in rows)} rows: {text}" for text, rows in texts.items())


def detection_section(d: dict) -> str:
    sizes = d["sizes"]
    lines = [
        "## Detection: the smallest defect that blocks",
        "",
        "`python -m benchmarks.detection` (`benchmarks/detection.py`): each class of defect injected into real "
        f"span-3 rows resampled with replacement (seed {d['seed']}) to the batch size, judged in process as "
        "`tfxgate validate` judges a file (rules across columns, slices, profile; the shipped policy): a serving "
        "batch (no label) for skew against span 3, a training span for drift against it. The magnitude is searched "
        f"from the largest (then the smallest), by bisection ({d['steps']} steps at most; in log space while the "
        "bracket spans more than a factor of two), over nested "
        "sets of changed rows; a defect counts as blocked only when the expected finding on the expected feature "
        "blocks. Each cell: the smallest magnitude that blocked and the largest that passed. A 100,000-row "
        "resample repeats span 3's ~4,600 distinct rows, and the profile checks weigh a batch by its distinct "
        "rows, so at that size they judge about 4,600 rows' evidence; TFDV's comparators count every row.",
        "",
        "| class | what is changed | magnitude | " + " | ".join(f"smallest blocked at {r:,} rows" for r in sizes)
        + " | finding (check/rule) |",
        "|---|---|---|" + "---|" * len(sizes) + "---|",
    ]
    for i, entry in enumerate(d["classes"], start=1):
        cells = [detection_cell(entry, entry["sizes"][str(r)]) for r in sizes]
        lines.append(f"| {i}. {entry['name']} ({entry['environment'].lower()}) | {entry['what']} | {entry['magnitude']} | "
                     + " | ".join(cells) + f" | {_finding_cell(entry, sizes)} |")
    clean = d["clean"]
    batches = clean["batches"]
    counts = {r: sum(1 for b in batches if b["rows"] == r) // 2 for r in sizes}
    lines += ["", "False-alarm margin on clean data: clean resampled batches ("
              + ", ".join(f"{n} at {r:,} rows" for r, n in counts.items())
              + "), each judged as serving (skew) and as a training span (drift) against span 3. Per measurement, "
              "the largest value ÷ threshold over the measurements not withdrawn as within the noise of the batch's "
              "size (a ratio over 1 that did not block was held back by another condition of its check, e.g. its "
              "significance). The scale check's value is max(r, 1/r) ≥ 1, so its floor is 1 ÷ 1.4 = 0.71.", "",
              "| check | measurement | " + " | ".join(f"largest value ÷ threshold, {r:,} rows" for r in sizes) + " |",
              "|---|---|" + "---|" * len(sizes)]
    by_key = {}
    for m in clean["margins"]:
        by_key.setdefault((m["check"], m["type"]), {})[m["rows"]] = m
    for (check, kind), per_size in sorted(by_key.items()):
        cells = []
        for r in sizes:
            m = per_size.get(r)
            if m is None:
                cells.append("—")
                continue
            where = m["feature"] + (f" [{m['slice']}]" if m.get("slice") else "")
            ratio = f"**{m['ratio']:.2f}**" if m["ratio"] > 1 else f"{m['ratio']:.2f}"
            cells.append(f"{ratio} ({where})")
        lines.append(f"| {check} | {kind} | " + " | ".join(cells) + " |")
    blocked = [b for b in batches if b["blocked"]]
    warned = [b for b in batches if b["warned"]]
    lines.append("")
    if blocked:
        lines.append("**A clean batch blocked:** " + "; ".join(
            f"{b['environment'].lower()} {b['rows']:,} rows (seed {b['seed']}): {', '.join(b['blocked'])}" for b in blocked)
            + ".")
    else:
        lines.append(f"No clean batch blocked ({len(batches)} judged).")
    if warned:
        lines.append("Warnings on clean batches: " + "; ".join(
            f"{b['environment'].lower()} {b['rows']:,} rows (seed {b['seed']}): {', '.join(b['warned'])}" for b in warned)
            + ".")
    return "\n".join(lines)
