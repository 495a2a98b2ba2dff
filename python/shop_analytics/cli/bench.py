"""`shop-analytics bench`: run benchmarks under bench/ and refresh bench/RESULTS.md."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `bench` subcommand."""
    bench = subparsers.add_parser("bench", help="run benchmarks under bench/ and refresh bench/RESULTS.md")
    bench.add_argument("names", nargs="*", help="benchmark names (bench/bench_<name>.py); default: all")
    bench.add_argument("--bench-dir", type=Path, default=Path("bench"))
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark scripts, each in its own process, then render RESULTS.md."""
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
