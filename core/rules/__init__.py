"""Row-level rules across columns ("constraints"): parsed from a reviewed YAML file beside each
schema version (`schema/vN/constraints.yaml`), evaluated vectorised on every row of a batch, and
mined from training data as candidates for a person to review.

The file::

    version: 1                       # optional; 1 is the only version
    rules:
      - name: hour_of_timestamp      # required, unique, [a-z0-9_]+
        expect: "trip_start_hour == hour(trip_start_timestamp)"  # a true/false expression per row
        why: "the hour is derived from the timestamp (UTC)"      # optional
      - name: tips_when_cash
        when: "payment_type == 'Cash'"   # optional: the rule applies only where this holds
        expect: "tips == 0"
        tolerance: 0.01                  # optional: absolute tolerance of == and != in this rule
      - name: payment_company
        allowed:                         # instead of expect: the combinations allowed
          columns: [payment_type, company]
          values: [["Cash", "Flash Cab"], ["Credit Card", "Flash Cab"]]

An expression is a safe subset of Python, read with `ast` and interpreted (never `eval`): feature
names (a name that is not an identifier in backquotes: `` `odd name` ``), numbers and quoted text,
`+ - * / // % **`, unary `-` and `not`, comparisons (chained too: `0 <= x <= 23`), `and`, `or`,
`x in [...]` and `not in`, and the functions `abs`, `round(x, ndigits=0)` (halves to even),
`floor`, `ceil`, `min(a, b, ...)`, `max(a, b, ...)` (per row), `isnull(x)`, and on epoch seconds
in UTC `hour` (0-23), `day_of_week` (1 = Sunday ... 7 = Saturday, as BigQuery), `month` (1-12),
`year` and `day` (of the month). Between numbers, `==` and `!=` hold within the rule's tolerance,
by default 1e-6 * max(1, |a|, |b|); `when` may limit `allowed` too.

A row is evaluated when every feature the rule reads has a value there (a feature read only
inside `isnull()` need not), no arithmetic in it is undefined (a division by zero), and `when`
holds; it violates the rule when `expect` is false there (or its combination is not allowed).

The room: `parsing.py` (the file, each rule checked), `expression.py` (an expression read and its
kinds checked), `evaluating.py` (rules on the rows of a block), `mining.py` (candidates mined from
data). Callers use this package's names (`from core import rules as rules_lib`). It imports only
core.common.
"""

from core.rules.parsing import VERSION, Evaluation, Rule, first_column, load, parse, to_yaml  # noqa: E402
from core.rules.evaluating import View, evaluate, views  # noqa: E402
from core.rules.mining import CROSSED_MIN, mine  # noqa: E402

__all__ = ["VERSION", "Evaluation", "Rule", "first_column", "load", "parse", "to_yaml", "View", "evaluate", "views",
           "CROSSED_MIN", "mine"]
