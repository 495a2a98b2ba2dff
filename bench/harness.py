"""Benchmark harness: measure commands in fresh processes, record results, render RESULTS.md.

Every benchmark under bench/ runs its competitors in the same run, through
`measure`, and writes ``bench/results/<name>.json`` with `write_result`. Peak
memory is the largest sum of RSS over the whole process tree, sampled every
20 ms, so multi-process competitors are not flattered.

The benchmark scripts import it as ``harness`` (Python puts bench/ on the path of
``python bench/bench_<name>.py``); ``python bench/harness.py render [BENCH_DIR]``
regenerates RESULTS.md (``shop-analytics bench`` runs that after the benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Measurement:
    """Repeated runs of one command: wall times and the peak tree RSS over all runs."""

    command: list[str]
    wall_seconds: list[float]
    peak_rss_bytes: int

    @property
    def median_seconds(self) -> float:
        """Median wall time."""
        return statistics.median(self.wall_seconds)

    @property
    def peak_rss_mib(self) -> float:
        """Peak RSS in MiB."""
        return self.peak_rss_bytes / 2**20


def machine_info() -> dict:
    """Cores, memory and software of the machine running the benchmark."""
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def measure(
    command: Sequence[str],
    *,
    repeats: int = 3,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    setup: Sequence[str] | None = None,
    timeout: float | None = None,
    ok_returncodes: Sequence[int] = (0,),
) -> Measurement:
    """Run `command` `repeats` times (after `setup` each time, untimed) and measure each run.

    An exit code outside `ok_returncodes` raises CalledProcessError (e.g. ingest's 1, "a batch
    rejected", is a finished run that a benchmark may accept and report).
    """
    full_env = {**os.environ, **(env or {})}
    times, peak = [], 0
    for _ in range(repeats):
        if setup:
            subprocess.run(setup, check=True, env=full_env, cwd=cwd)
        seconds, rss = _run_sampled(list(command), full_env, cwd, timeout, ok_returncodes)
        times.append(seconds)
        peak = max(peak, rss)
    return Measurement(list(command), times, peak)


def _run_sampled(
    command: list[str],
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None,
    timeout: float | None,
    ok_returncodes: Sequence[int] = (0,),
) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=dict(env), cwd=cwd)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(root))
        if timeout is not None and time.perf_counter() - start > timeout:
            proc.kill()
            proc.wait()
            raise TimeoutError(f"{command[0]} exceeded {timeout} s")
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - start
    if proc.returncode not in ok_returncodes:
        raise subprocess.CalledProcessError(proc.returncode, command)
    return seconds, peak


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class TreeRssSampler:
    """The peak RSS of another process tree (a server the measured command talks to), sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak_rss_bytes = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss_bytes = max(self.peak_rss_bytes, _tree_rss(self._root))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_rss_mib(self) -> float:
        """Peak RSS in MiB."""
        return self.peak_rss_bytes / 2**20


def measurement_dict(m: Measurement) -> dict:
    """A measurement as JSON-ready data, with its derived figures."""
    return {**asdict(m), "median_seconds": round(m.median_seconds, 3), "peak_rss_mib": round(m.peak_rss_mib, 1)}


def write_result(results_dir: Path, name: str, payload: dict) -> Path:
    """Write ``<results_dir>/<name>.json`` with the machine and time of the run added."""
    results_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "ran_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        **payload,
    }
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    return path


def render_results(bench_dir: Path) -> Path:
    """Regenerate ``bench/RESULTS.md`` from every ``bench/results/*.json``."""
    lines = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (`shop-analytics bench`) from `bench/results/*.json`; do not edit by hand.",
        "",
    ]
    for path in sorted((bench_dir / "results").glob("*.json")):
        doc = json.loads(path.read_text())
        lines += _render_one(doc)
    out = bench_dir / "RESULTS.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def _render_one(doc: dict) -> list[str]:
    machine = doc.get("machine", {})
    lines = [
        f"## {doc.get('title', doc.get('benchmark', '?'))}",
        "",
        f"Command: `{doc.get('command', '')}` · ran {doc.get('ran_at', '?')} on "
        f"{machine.get('cores', '?')} cores, {machine.get('ram_gib', '?')} GiB RAM ({machine.get('cpu', '')})",
        "",
    ]
    if doc.get("inputs"):
        lines += ["Inputs: " + ", ".join(f"{k}={v}" for k, v in doc["inputs"].items()), ""]
    rows = doc.get("rows", [])
    if rows:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
        lines.append("")
    if doc.get("ratios"):
        lines += ["Ratios: " + "; ".join(f"{k} = {_cell(v)}" for k, v in doc["ratios"].items()), ""]
    for check in _targets(doc.get("targets", [])):
        mark = "met" if check["met"] else "NOT met"
        lines.append(f"- {check['target']}: measured {_cell(check.get('measured', ''))} — **{mark}**")
    if doc.get("targets"):
        lines.append("")
    if doc.get("notes"):
        lines += [doc["notes"], ""]
    return lines


def _targets(targets: list | dict) -> list[dict]:
    # Older results files store targets as {name: met}; newer ones as a list of dicts.
    if isinstance(targets, dict):
        return [{"target": name, "measured": "see rows", "met": bool(met)} for name, met in targets.items()]
    return targets


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """`python bench/harness.py render [BENCH_DIR]`: regenerate BENCH_DIR/RESULTS.md (default: this folder)."""
    parser = argparse.ArgumentParser(prog="python bench/harness.py", description=__doc__)
    parser.add_argument("command", choices=["render"])
    parser.add_argument("bench_dir", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    render_results(args.bench_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
