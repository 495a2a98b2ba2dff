"""The check framework: the Check protocol, one result type, one runner, one report.

A check is any object with a `name` and a call `check(con, relations)`. `con` is a read-only
connection to the dbt build file; `relations` are the tables and views being checked (the
ones `shop-analytics publish` would publish). It returns a CheckResult, or, for short
plug-ins, a list of failure descriptions (empty = pass), which the runner turns into one.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import duckdb

if TYPE_CHECKING:
    from shop_analytics.warehouse.relations import Relation

MAX_EXAMPLES = 5


class Status(enum.StrEnum):
    """What a check concluded."""

    PASS = "pass"
    FAIL = "fail"  # blocks `publish` and makes `check` exit non-zero
    WARN = "warn"  # reported, does not block
    NOT_APPLICABLE = "not applicable"  # what the check needs is not there (a mart not built or not published)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: status, a one-line detail, and for failures the count and a few examples."""

    name: str
    status: Status
    detail: str
    count: int = 0  # offending rows, values or relations
    examples: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """True when the check ran and found a problem that blocks publishing."""
        return self.status is Status.FAIL

    @classmethod
    def passed(cls, name: str, detail: str) -> CheckResult:
        """A pass."""
        return cls(name, Status.PASS, detail)

    @classmethod
    def failure(cls, name: str, detail: str, count: int, examples: Sequence[object] = ()) -> CheckResult:
        """A failure with the number of offending items and the first few of them."""
        return cls(name, Status.FAIL, detail, count, tuple(str(e) for e in examples[:MAX_EXAMPLES]))

    @classmethod
    def warning(cls, name: str, detail: str, count: int, examples: Sequence[object] = ()) -> CheckResult:
        """A finding that is reported but does not block."""
        return cls(name, Status.WARN, detail, count, tuple(str(e) for e in examples[:MAX_EXAMPLES]))

    @classmethod
    def not_applicable(cls, name: str, why: str) -> CheckResult:
        """The check had nothing to look at."""
        return cls(name, Status.NOT_APPLICABLE, why)


@runtime_checkable
class Check(Protocol):
    """A post-build check over the build file."""

    @property
    def name(self) -> str:
        """What the report calls it."""

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult | Sequence[str]:
        """Check `relations` of the build file `con`: a result, or the failures found (empty: pass)."""
        ...


def run_checks(
    con: duckdb.DuckDBPyConnection, relations: Sequence[Relation], checks: Iterable[Check]
) -> list[CheckResult]:
    """Run every check; a check that raises counts as failed with its error, so all of them get reported."""
    results = []
    for check in checks:
        try:
            outcome = check(con, relations)
        except Exception as exc:  # noqa: BLE001 - a crashing check must fail the run, not hide the others
            outcome = CheckResult.failure(check.name, f"the check raised {type(exc).__name__}: {exc}", 1)
        results.append(outcome if isinstance(outcome, CheckResult) else _from_failures(check.name, outcome))
    return results


def _from_failures(name: str, failures: Sequence[str]) -> CheckResult:
    if not failures:
        return CheckResult.passed(name, "no failures")
    return CheckResult.failure(name, f"{len(failures):,} failure(s)", len(failures), list(failures))


def format_report(results: Sequence[CheckResult]) -> str:
    """One line per check with its status and detail, examples under failures and warnings, a summary."""
    lines = []
    for result in results:
        lines.append(f"[{result.status.value.upper():^14}] {result.name}: {result.detail}")
        lines += [f"{'':17}e.g. {example}" for example in result.examples]
    counts = {status: sum(r.status is status for r in results) for status in Status}
    lines.append(
        f"{len(results)} checks: {counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
        f"{counts[Status.WARN]} warned, {counts[Status.NOT_APPLICABLE]} not applicable"
    )
    return "\n".join(lines)


def load_checks(spec: str) -> list[Check]:
    """Checks named by `package.module:attribute` (a check, a list of checks, or a function returning them)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--check wants package.module:attribute, got {spec!r}")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load check {spec!r}: {exc}") from exc
    if not isinstance(target, Check) and callable(target) and not hasattr(target, "name"):
        target = target()  # a factory such as default_checks
    found = [target] if isinstance(target, Check) else list(target)
    bad = [c for c in found if not isinstance(c, Check)]
    if bad:
        raise ValueError(f"{spec!r} gave objects that are not checks (need .name and a call): {bad!r}")
    return found
