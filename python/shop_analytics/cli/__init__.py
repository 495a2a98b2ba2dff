"""The `shop-analytics` command: generate, ingest, check, publish, shell, bench and ratings-to-landing."""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import errno
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from shop_analytics.exit_codes import ExitCode
from shop_analytics.settings import DataLayout


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"shop-analytics {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop-analytics", description=__doc__)
    parser.add_argument("--data-dir", help="data root holding landing/, lake/, quarantine/ "
                        "(default: $SHOP_ANALYTICS_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic landing batches and a manifest")
    gen.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M page views, 100k purchases (default 1)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", help="landing folder (default: <data-dir>/landing)")
    gen.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    gen.add_argument("--dirty-rate", type=float, default=0.02, help="share of fact rows with one defect")
    gen.add_argument("--late-rate", type=float, default=0.01, help="share of fact rows delivered late")
    gen.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per file; bounds memory")
    gen.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    gen.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    gen.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2019, 1, 1), help="exclusive")
    for source in ("users", "items", "page_views", "purchases", "ratings"):
        gen.add_argument(f"--{source.replace('_', '-')}", type=int, dest=f"rows_{source}",
                         help=f"exact number of {source} rows (overrides --scale)")
    gen.add_argument("--overwrite", action="store_true", help="replace an existing landing folder")
    gen.add_argument("--no-progress", action="store_true")
    gen.set_defaults(run=_generate)

    ing = sub.add_parser("ingest", help="admit landing batches into the lake; quarantine the rest",
                         description="Exit codes: 0 all good (pending batches included), 1 a batch rejected, "
                                     "refused or in conflict, 3 a batch over its quarantine threshold, 4 an "
                                     "operational failure (disk full, permissions, I/O, catalog locked); the most "
                                     "severe wins. See docs/quality_gate.md.")
    ing.add_argument("--countries", type=Path, default=Path("seeds/countries.csv"),
                     help="CSV with a country_code column (default: seeds/countries.csv)")
    ing.add_argument("--memory-limit", default="2GB")
    ing.add_argument("--contracts", type=Path, default=Path("contracts"),
                     help="the maintainers' schema contracts, <source>.yml each, read only (default: contracts)")
    ing.add_argument("--strict", action="store_true",
                     help="stop at the first rejected batch (default: quarantine it, go on, exit 1 at the end)")
    ing.add_argument("--quiet-seconds", type=float, default=None, metavar="N",
                     help="also ingest batch folders without a _SUCCESS marker once neither they nor their files "
                          "changed for N seconds (for producers that cannot write the marker)")
    ing.add_argument("--max-quarantine-share", type=float, default=0.05, metavar="SHARE",
                     help="exit 3 when a batch quarantines more than this share of its rows, or all of them "
                          "(default 0.05)")
    ing.add_argument("--data-docs", type=Path, default=None,
                     help="build GX Data Docs here (default: <data-dir>/quality/data_docs)")
    ing.add_argument("--no-data-docs", action="store_true", help="skip building GX Data Docs")
    ing.add_argument("--no-progress", action="store_true")
    ing.set_defaults(run=_ingest)

    pub = sub.add_parser("publish", help="publish a complete, checked build to the read-only serving file and "
                         "Parquet exports (exit 4 operational failure, 5 build incomplete, 6 a check failed)")
    pub.add_argument("--build-file", type=Path, help="dbt build file (default: $SHOP_ANALYTICS_WAREHOUSE)")
    pub.add_argument("--serving-root", type=Path, help="folder for serving/ and exports/ "
                     "(default: $SHOP_ANALYTICS_SERVING_ROOT or the build file's folder)")
    pub.add_argument("--schemas", help="comma-separated schemas to publish "
                     "(default: $SHOP_ANALYTICS_PUBLISH_SCHEMAS or marts,reference)")
    pub.add_argument("--keep", type=int, default=5, help="versions kept for rollback (default 5)")
    pub.add_argument("--no-exports", action="store_true", help="skip the Parquet exports")
    pub.add_argument("--check", action="append", default=[], metavar="MODULE:ATTR",
                     help="extra post-build checks to run before publishing (repeatable)")
    pub.add_argument("--rollback", action="store_true", help="serve the previous kept version instead")
    pub.add_argument("--to-version", type=int, help="with --rollback: the version to serve")
    pub.add_argument("--list", action="store_true", help="list kept versions and exit")
    pub.add_argument("--no-progress", action="store_true")
    pub.set_defaults(run=_publish)

    chk = sub.add_parser("check", help="the post-build checks publish runs, as a report (exit 6 on a failure)")
    chk.add_argument("--warehouse", "--build-file", dest="warehouse", type=Path, default=None,
                     help="dbt build file (default: $SHOP_ANALYTICS_WAREHOUSE or warehouse/shop_analytics.duckdb)")
    chk.add_argument("--schemas", help="comma-separated schemas to check "
                     "(default: $SHOP_ANALYTICS_PUBLISH_SCHEMAS or marts,reference, as publish)")
    chk.add_argument("--check", action="append", default=[], metavar="MODULE:ATTR",
                     help="extra checks, as for publish (repeatable)")
    chk.set_defaults(run=_check)

    shell = sub.add_parser("shell", help="the DuckDB shell on the serving file: read-only, safe mode, bounded")
    shell.add_argument("--serving-root", type=Path, help="folder holding serving/ "
                       "(default: $SHOP_ANALYTICS_SERVING_ROOT or the build file's folder)")
    shell.add_argument("--duckdb-bin", help="DuckDB shell to run (default: the one next to this Python, else PATH)")
    shell.add_argument("--print", action="store_true", help="print the command instead of running it")
    shell.add_argument("shell_args", nargs=argparse.REMAINDER,
                       help="after --: more DuckDB shell options, e.g. -- -csv -c 'SELECT 1'")
    shell.set_defaults(run=_shell)

    bench = sub.add_parser("bench", help="run benchmarks under bench/ and refresh bench/RESULTS.md")
    bench.add_argument("names", nargs="*", help="benchmark names (bench/bench_<name>.py); default: all")
    bench.add_argument("--bench-dir", type=Path, default=Path("bench"))
    bench.set_defaults(run=_bench)

    from shop_analytics.cli import ratings_to_landing

    ratings_to_landing.register(sub)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from shop_analytics.datagen import GeneratorConfig, generate

    overrides = tuple((name, value) for name, value in
                      ((k.removeprefix("rows_"), v) for k, v in vars(args).items() if k.startswith("rows_"))
                      if value is not None)
    config = GeneratorConfig(scale=args.scale, seed=args.seed, start=args.start, end=args.end,
                             file_format=args.format, chunk_rows=args.chunk_rows, dirty_rate=args.dirty_rate,
                             late_rate=args.late_rate, overrides=overrides)
    out = Path(args.out) if args.out else DataLayout.from_env(args.data_dir).landing
    manifest = generate(config, out, workers=args.workers, overwrite=args.overwrite,
                        progress=False if args.no_progress else None)
    print(f"wrote {out}")
    for name, entry in manifest["sources"].items():
        dirty = {k: v for k, v in entry["counts"].items() if k not in ("anonymous_views", "same_day_repeat_rows",
                                                                       "revision_rows", "late_arriving")}
        print(f"  {name:<11} {entry['rows']:>12,} rows in {entry['files']:>4} files"
              + (f"; dirty: {sum(dirty.values()):,}" if dirty else ""))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from shop_analytics.exit_codes import ExitCode
    from shop_analytics.ingest import IngestSettings, OperationalError, exit_code, ingest
    from shop_analytics.ingest.report import FAILED, PENDING, threshold_message

    layout = DataLayout.from_env(args.data_dir)
    if not args.countries.exists():
        raise FileNotFoundError(f"{args.countries} not found; run from the project folder or pass --countries")
    if args.quiet_seconds is not None and args.quiet_seconds < 0:
        raise ValueError("--quiet-seconds must be >= 0")
    if not 0 <= args.max_quarantine_share <= 1:
        raise ValueError("--max-quarantine-share must be between 0 and 1")
    docs = None if args.no_data_docs else (args.data_docs or layout.root / "quality" / "data_docs")
    settings = IngestSettings(countries_csv=args.countries, contracts_dir=args.contracts,
                              memory_limit=args.memory_limit, progress=False if args.no_progress else None,
                              strict=args.strict, data_docs_dir=docs, quiet_seconds=args.quiet_seconds,
                              max_quarantine_share=args.max_quarantine_share)
    try:
        reports = ingest(layout, settings)
    except OperationalError as exc:
        print(f"shop-analytics ingest: operational error: {exc}; fix the cause and re-run: the next run rolls "
              f"back what this one left uncommitted and carries on", file=sys.stderr)
        return ExitCode.OPERATIONAL
    totals: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for report in reports:
        total = totals[report.source]
        total[report.status] += 1
        total["rows_in"] += report.rows_in
        total["admitted"] += report.rows_admitted
        total["quarantined"] += report.rows_quarantined
        for reason, count in report.quarantined_by_reason.items():
            total[f"  {reason}"] += count
    print(f"lake: {layout.lake}\nquarantine: {layout.quarantine}")
    for source, total in totals.items():
        print(f"  {source:<11} batches ingested {total['ingested']}, skipped {total['skipped']} (already in), "
              f"rejected {total['rejected']}, refused {total['refused']}, conflict {total['conflict']}, "
              f"pending {total['pending']}")
        balanced = total["rows_in"] == total["admitted"] + total["quarantined"]
        print(f"      reconciliation: rows in {total['rows_in']:,} = admitted {total['admitted']:,} + "
              f"quarantined {total['quarantined']:,}: {'OK' if balanced else 'MISMATCH'}")
        for key in sorted(k for k in total if k.startswith("  ")):
            print(f"      {key.strip():<36} {total[key]:>10,}")
    if docs is not None and (docs / "index.html").exists():
        print(f"GX Data Docs: {docs / 'index.html'}")
    for report in reports:
        if report.status == PENDING:
            print(f"PENDING {report.message}")
        elif report.status in FAILED:
            batch = f" batch {report.batch_id}" if report.batch_id else ""
            print(f"{report.status.upper()} {report.source}{batch}: {report.message}", file=sys.stderr)
    for report in reports:
        if report.over_threshold:
            print(f"QUARANTINE THRESHOLD {threshold_message(report, args.max_quarantine_share)}", file=sys.stderr)
    code = exit_code(reports)
    failed = sum(r.status in FAILED for r in reports)
    if failed:
        print(f"{failed} batch(es) or landing entries rejected, refused or in conflict; rejected batches are in "
              f"quarantine/<source>/<batch>/ with reason.json, the others are still in landing", file=sys.stderr)
    return code


def _publish(args: argparse.Namespace) -> int:
    import duckdb

    from shop_analytics import publish as serving

    build_file = (args.build_file or serving.default_build_file()).resolve()
    # Without --serving-root or $SHOP_ANALYTICS_SERVING_ROOT, serve next to the build file.
    layout = serving.ServingLayout.from_env(args.serving_root or os.environ.get("SHOP_ANALYTICS_SERVING_ROOT")
                                            or build_file.parent)
    if args.to_version is not None and not args.rollback:
        raise ValueError("--to-version goes with --rollback")
    if args.list:
        for version, served, exported in serving.status(layout):
            print(f"  v{version:06d}{'  served' if served else ''}{'  +parquet' if exported else ''}")
        return ExitCode.OK
    schemas = [s.strip() for s in args.schemas.split(",") if s.strip()] if args.schemas else None
    try:
        if args.rollback:
            version = serving.rollback(layout, args.to_version)
            print(f"now serving version {version}: {layout.serving_file}")
            return ExitCode.OK
        checks = _checks(args.check)
        result = serving.publish(build_file, layout, schemas=schemas, keep=args.keep, exports=not args.no_exports,
                                 checks=checks, progress=False if args.no_progress else None)
    except serving.RollbackError as exc:
        return _fail("publish", str(exc), ExitCode.USAGE)
    except serving.BuildIncompleteError as exc:
        return _fail("publish", f"refused, the build is incomplete: {exc}{_still_served(layout)}",
                     ExitCode.BUILD_INCOMPLETE)
    except serving.ChecksFailedError as exc:
        print(exc.report, file=sys.stderr)
        return _fail("publish", f"refused, a post-build check failed{_still_served(layout)}", ExitCode.CHECKS_FAILED)
    except (OSError, duckdb.IOException, duckdb.PermissionException, serving.BuildFileLockedError,
            serving.PublishError) as exc:
        return _fail("publish", f"{_operational(exc)}; nothing was published{_still_served(layout)}",
                     ExitCode.OPERATIONAL)
    print(f"build: {result.build}")
    for note in result.notes:
        print(f"note: {note}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"checks: {sum(not r.failed for r in result.checks)} of {len(result.checks)} passed or not applicable")
    print(f"published version {result.version} in {result.seconds:.2f} s: {result.serving_file}")
    for table, rows in result.row_counts.items():
        print(f"  {table:<48} {rows:>12,} rows")
    if result.export_dir:
        print(f"parquet: {result.export_dir} (also {layout.exports_current})")
    if result.pruned:
        print(f"pruned old versions: {', '.join(map(str, result.pruned))}")
    return ExitCode.OK


def _check(args: argparse.Namespace) -> int:
    import duckdb

    from shop_analytics import publish as serving
    from shop_analytics.checks import format_report

    build_file = (args.warehouse or serving.default_build_file()).resolve()
    schemas = [s.strip() for s in args.schemas.split(",") if s.strip()] if args.schemas else None
    try:
        checked = serving.check_build(build_file, schemas=schemas, checks=_checks(args.check))
    except (OSError, duckdb.IOException, serving.BuildFileLockedError) as exc:
        return _fail("check", _operational(exc), ExitCode.OPERATIONAL)
    print(f"build: {checked.verdict.reason}")
    print(format_report(checked.results))
    return ExitCode.CHECKS_FAILED if any(r.failed for r in checked.results) else ExitCode.OK


def _checks(specs: Sequence[str]) -> list:
    from shop_analytics.checks import default_checks, load_checks

    return default_checks() + [c for spec in specs for c in load_checks(spec)]


def _shell(args: argparse.Namespace) -> int:
    from shop_analytics import publish as serving

    layout = serving.ServingLayout.from_env(args.serving_root)
    if not layout.serving_file.exists():
        return _fail("shell", f"no serving file at {layout.serving_file}; run `shop-analytics publish` first",
                     ExitCode.USAGE)
    extra = args.shell_args[1:] if args.shell_args[:1] == ["--"] else args.shell_args
    command = serving.shell_command(layout.serving_file, args.duckdb_bin or serving.default_duckdb_bin()) + extra
    if args.print:
        print(shlex.join(command))
        return ExitCode.OK
    sys.stdout.flush()
    # exec keeps this pid, which names the private spill folder: it is swept once the shell has exited.
    os.execvp(command[0], command)
    return ExitCode.OPERATIONAL  # not reached


def _fail(command: str, message: str, code: ExitCode) -> int:
    print(f"shop-analytics {command}: error: {message}", file=sys.stderr)
    return code


def _operational(exc: BaseException) -> str:
    """One line for an operational failure: disk full, permission denied, I/O error, a lock held."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    errno_ = getattr(exc, "errno", None)
    lowered = text.lower()
    if errno_ == errno.ENOSPC or "no space left" in lowered or "could not write all bytes" in lowered:
        return f"disk full: {text}. Free space (or point SHOP_ANALYTICS_SERVING_ROOT elsewhere) and run it again"
    if errno_ in (errno.EACCES, errno.EPERM, errno.EROFS) or "permission" in lowered:
        return f"permission denied: {text}"
    return text


def _still_served(layout: object) -> str:
    from shop_analytics.publish import versions

    try:
        current = versions.current_version(layout)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the message must not fail on a damaged serving folder
        return ""
    return f" (still serving version {current}, unchanged)" if current else " (nothing is served yet)"


def _bench(args: argparse.Namespace) -> int:
    scripts = sorted(args.bench_dir.glob("bench_*.py"))
    if args.names:
        wanted = {f"bench_{n}.py" for n in args.names}
        missing = wanted - {s.name for s in scripts}
        if missing:
            raise ValueError(f"no such benchmark: {', '.join(sorted(missing))}")
        scripts = [s for s in scripts if s.name in wanted]
    harness = args.bench_dir / "harness.py"
    if not harness.exists():
        raise FileNotFoundError(f"no benchmark harness at {harness}; run from the project folder or pass --bench-dir")
    for script in scripts:
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True)
    subprocess.run([sys.executable, str(harness), "render", str(args.bench_dir)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
