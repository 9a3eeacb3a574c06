"""What to do about a verdict, in one sentence: the line under each reason at the top of the
report, in the notebook and in `tfxgate validate`'s text output.

Every sentence says the two ways out: fix the data (where, as precisely as the finding knows),
or, when the change is legitimate, change what the data is judged against (a reviewed schema
version through `tfxgate schema propose`, the rules beside it, or the gate policy).
"""

from core.common import findings as f
from core.judging.policy import Verdict, shown_name

PROPOSE = "run `tfxgate schema propose` and review the draft it writes"
POLICY = "or change its rule in schema/policy.yaml"


def next_step(verdict: Verdict) -> str:
    """One sentence: what a person should do about this verdict."""
    finding = verdict.finding
    name = shown_name(finding.feature)
    where = f" in slice {finding.slice}" if finding.slice else ""
    types = set(finding.types)
    if finding.rule == "typed_reading":
        return (f"Fix the export of {name}: some rows hold values its schema type cannot hold (they are quarantined "
                f"with file and line); if the type really changed, {PROPOSE}.")
    if finding.check == f.CONSTRAINT:
        return (f"Fix the rows breaking rule {finding.rule or name}{where} upstream; if the rule no longer holds, "
                f"drop or change it in constraints.yaml of a new schema version.")
    if finding.check == f.SCHEMA:
        if "SCHEMA_MISSING_COLUMN" in types:
            return (f"Restore column {name} in the export; if it was dropped on purpose, {PROPOSE} "
                    f"(the draft no longer requires it).")
        if "SCHEMA_NEW_COLUMN" in types:
            return f"Drop column {name} from the export, or {PROPOSE} to add it to the schema."
        return (f"Fix {name}{where} upstream if these values are wrong; if they are legitimate, {PROPOSE}, "
                f"{POLICY}.")
    if finding.check == f.FILL_RATE:
        return (f"Find why {name}{where} is missing in more rows than the schema allows (a join or an extraction "
                f"upstream); if it is optional now, {PROPOSE}.")
    if finding.check == f.SKEW:
        return (f"Compare how serving and training produce {name}{where} (the same preprocessing, units and "
                f"source); if the world changed, retrain on a newer span, {POLICY}.")
    if finding.check == f.DRIFT:
        return (f"Confirm upstream that {name}{where} really changed since the last accepted span; if it did, "
                f"accept it ({POLICY}) and this span becomes the next baseline.")
    if finding.check == f.DEGENERATE:
        return (f"{name}{where} collapsed (a constant, lost precision or far fewer distinct values): check the "
                f"source for a default value or a rounding step; {POLICY}.")
    if finding.check == f.TAILS:
        return (f"{name}{where} gained extreme values: check a few of the rows in its tail for a unit change or a "
                f"sentinel value; {POLICY}.")
    return f"Look at {name}{where} upstream; if the change is legitimate, {PROPOSE}, {POLICY}."
