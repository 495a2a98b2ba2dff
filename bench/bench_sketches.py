"""Benchmark the project's sketches against well-kept libraries, side by side in one run.

Usage: PYTHONPATH=python python bench/bench_sketches.py [--rows N] [--repeats R] [--out PATH]

Compares, on the same keys and machine:
- Bloom filter: ours (standard and split-block, vectorized NumPy) vs rbloom vs
  fastbloom-rs at equal target FPR
  (build time, lookups/s for present and absent keys, measured FPR, bits/element);
- distinct count: our HyperLogLog vs Apache DataSketches HLL at lg_k = p = 12
  (update throughput, relative error over several trials);
- heavy hitters: our Misra-Gries vs DataSketches frequent_items_sketch at equal
  counter budget on a bounded Zipf(1.1) stream (throughput, top-100 recall);
- Bloom lookups through the DuckDB UDF (bloom_contains over range(N)).
Times are medians over repeats; results go to bench/results/sketches.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc

from harness import write_result
from shop_analytics.dbt.udfs import register_udfs
from shop_analytics.sketches import BlockedBloomFilter, BloomFilter, HeavyHitters, HyperLogLog, relative_standard_error
from udf_ceiling import register_empty_udf


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median wall time of fn over repeats, all times, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def rss_mib() -> float:
    """Current resident set size in MiB."""
    return psutil.Process().memory_info().rss / 2**20


def software() -> dict[str, Any]:
    """Load and library versions for the results file (cores, RAM and CPU come from write_result)."""
    from importlib.metadata import version

    return {
        "load_average_at_start": os.getloadavg(),
        "versions": {p: version(p) for p in ("numpy", "pyarrow", "duckdb", "datasketches", "rbloom", "fastbloom-rs")},
    }


def summary(results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Table rows (one per implementation) and target checks for RESULTS.md."""
    rows: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    bloom = results.get("bloom")
    if bloom:
        for name in ("ours", "ours_blocked", "rbloom", "fastbloom_rs"):
            r = bloom[name]
            rows.append(
                {
                    "sketch": "bloom",
                    "implementation": {
                        "ours": "ours BloomFilter",
                        "ours_blocked": "ours BlockedBloomFilter (split block)",
                    }.get(name, name),
                    "build keys/s": round(r["build_keys_per_s"]),
                    "lookups/s present": round(r["lookup_present_keys_per_s"]),
                    "lookups/s absent": round(r["lookup_absent_keys_per_s"]),
                    "measured FPR": round(r["measured_fpr"], 5),
                    "bits/element": round(r["bits_per_element"], 2),
                }
            )
        for mine in ("ours", "ours_blocked"):
            sp = bloom[f"ratio_{mine}_vs_rbloom"]
            worst = min(sp["build_speedup"], sp["lookup_present_speedup"], sp["lookup_absent_speedup"])
            targets.append(
                {
                    "target": f"Python Bloom API ({mine}) faster than rbloom at equal FPR",
                    "measured": f"build {sp['build_speedup']:.2f}x, lookups {sp['lookup_present_speedup']:.2f}x "
                    f"(present) / {sp['lookup_absent_speedup']:.2f}x (absent)",
                    "met": worst > 1.0,
                }
            )
    hll = results.get("hll")
    if hll:
        for name in ("ours", "datasketches_HLL_8", "datasketches_HLL_4"):
            rows.append(
                {
                    "sketch": "distinct (p = lg_k = 12)",
                    "implementation": name,
                    "update keys/s": round(hll[name]["keys_per_s"]),
                    "rel. error": round(hll[name]["rel_error_full_n"], 4),
                }
            )
    hh = results.get("heavy_hitters")
    if hh:
        for name in ("ours", "datasketches_weighted", "datasketches_per_item"):
            rows.append(
                {
                    "sketch": f"heavy hitters ({hh['counters']} counters)",
                    "implementation": name,
                    "update keys/s": round(hh[name]["items_per_s"]),
                    "top-100 recall": hh[name].get("top100_recall", ""),
                }
            )
    udf = results.get("duckdb_udf")
    if udf:
        rows.append(
            {
                "sketch": "bloom via SQL UDF",
                "implementation": "bloom_contains(bloom_ref(split block), k)",
                "lookups/s present": round(udf["blocked_filter_keys_per_s"]),
                "measured FPR": round(udf["blocked_measured_fpr"], 5),
            }
        )
        rows.append(
            {
                "sketch": "bloom via SQL UDF",
                "implementation": "empty arrow UDF (ceiling)",
                "lookups/s present": round(udf["noop_arrow_udf_rows_per_s"]),
            }
        )
    return rows, targets


def keys_for(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n member keys (even) and n absent keys (odd), random int64."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**61, size=2 * n, dtype=np.int64) * 2
    return base[:n], base[n:] + 1


def bench_bloom(n: int, fpr: float, repeats: int) -> dict[str, Any]:
    """Ours vs rbloom vs fastbloom-rs: build, lookups/s, measured FPR, bits/element."""
    import fastbloom_rs
    import rbloom

    members, absent = keys_for(n, seed=1)
    members_list, absent_list = members.tolist(), absent.tolist()
    out: dict[str, Any] = {"n": n, "target_fpr": fpr, "optimal_bits_per_element": 1.44 * np.log2(1 / fpr)}

    def ours_build() -> BloomFilter:
        bf = BloomFilter.for_capacity(n, fpr)
        bf.add(members)
        return bf

    for label, cls in (("ours", BloomFilter), ("ours_blocked", BlockedBloomFilter)):

        def build(cls: Any = cls) -> Any:
            f = cls.for_capacity(n, fpr)
            f.add(members)
            return f

        t_build, all_build, bf = timed(build, repeats)
        t_pos, _, pos = timed(lambda bf=bf: bf.contains(members), repeats)
        t_neg, _, neg = timed(lambda bf=bf: bf.contains(absent), repeats)
        assert pos.all(), f"{label}: false negative"
        chunk = members[:2048]
        t_chunk, _, _ = timed(lambda bf=bf, chunk=chunk: [bf.contains(chunk) for _ in range(100)], repeats)
        out[label] = {
            "api": f"{cls.__name__}.add(np.ndarray) / contains(np.ndarray); XXH64, stable across processes",
            "build_s": t_build,
            "build_s_all": all_build,
            "build_keys_per_s": n / t_build,
            "lookup_present_keys_per_s": n / t_pos,
            "lookup_absent_keys_per_s": n / t_neg,
            "lookup_2048_key_chunk_us": t_chunk / 100 * 1e6,
            "measured_fpr": float(neg.mean()),
            "bits_per_element": bf.num_bits / n,
            "num_hashes": bf.num_hashes,
            "serialized_bytes": len(bf.to_bytes()),
        }

    def rb_build() -> Any:
        r = rbloom.Bloom(n, fpr)
        r.update(members_list)
        return r

    t_build, all_build, rb = timed(rb_build, repeats)
    t_conv, _, _ = timed(lambda: members.tolist(), repeats)
    contains = rb.__contains__
    t_pos, _, pos_count = timed(lambda: sum(map(contains, members_list)), repeats)
    t_neg, _, neg_count = timed(lambda: sum(map(contains, absent_list)), repeats)
    assert pos_count == n
    out["rbloom"] = {
        "api": "Bloom.update(list) / sum(map(bf.__contains__, list)) on Python ints (builtin hash, not stable for str)",
        "build_s": t_build,
        "build_s_all": all_build,
        "build_keys_per_s": n / t_build,
        "numpy_to_list_s": t_conv,
        "lookup_present_keys_per_s": n / t_pos,
        "lookup_absent_keys_per_s": n / t_neg,
        "measured_fpr": neg_count / n,
        "bits_per_element": rb.size_in_bits / n,
    }

    def fb_build() -> Any:
        f = fastbloom_rs.FilterBuilder(n, fpr).build_bloom_filter()
        f.add_int_batch(members_list)
        return f

    t_build, all_build, fb = timed(fb_build, repeats)
    t_pos, _, pos_res = timed(lambda: fb.contains_int_batch(members_list), repeats)
    t_neg, _, neg_res = timed(lambda: fb.contains_int_batch(absent_list), repeats)
    assert all(pos_res)
    cfg = fb.config()
    out["fastbloom_rs"] = {
        "api": "add_int_batch(list) / contains_int_batch(list)",
        "build_s": t_build,
        "build_s_all": all_build,
        "build_keys_per_s": n / t_build,
        "lookup_present_keys_per_s": n / t_pos,
        "lookup_absent_keys_per_s": n / t_neg,
        "measured_fpr": sum(neg_res) / n,
        "bits_per_element": cfg.size() / n,
        "num_hashes": fb.hashes(),
    }
    for mine in ("ours", "ours_blocked"):
        for lib in ("rbloom", "fastbloom_rs"):
            out[f"ratio_{mine}_vs_{lib}"] = {
                "build_speedup": out[lib]["build_s"] / out[mine]["build_s"],
                "build_speedup_incl_numpy_to_list": (out[lib]["build_s"] + out["rbloom"]["numpy_to_list_s"])
                / out[mine]["build_s"],
                "lookup_absent_speedup": out[mine]["lookup_absent_keys_per_s"] / out[lib]["lookup_absent_keys_per_s"],
                "lookup_present_speedup": out[mine]["lookup_present_keys_per_s"]
                / out[lib]["lookup_present_keys_per_s"],
            }
    out["rss_mib_after"] = rss_mib()
    return out


def bench_hll(n: int, repeats: int, trials: int, trial_n: int) -> dict[str, Any]:
    """Our HLL vs DataSketches HLL_8/HLL_4 at lg_k 12: update throughput and error."""
    import datasketches as dsk

    keys, _ = keys_for(n, seed=2)
    keys_list = keys.tolist()

    def ours() -> HyperLogLog:
        h = HyperLogLog(12)
        h.update(keys)
        return h

    t_ours, all_ours, h = timed(ours, repeats)
    out: dict[str, Any] = {"n": n, "p_or_lg_k": 12, "stated_rse_ours": relative_standard_error(12)}
    out["ours"] = {
        "api": "HyperLogLog.update(np.ndarray)",
        "update_s": t_ours,
        "update_s_all": all_ours,
        "keys_per_s": n / t_ours,
        "rel_error_full_n": h.estimate() / n - 1,
        "serialized_bytes": len(h.to_bytes()),
    }
    for tgt in ("HLL_8", "HLL_4"):

        def theirs(tgt: str = tgt) -> Any:
            s = dsk.hll_sketch(12, getattr(dsk.tgt_hll_type, tgt))
            upd = s.update
            for k in keys_list:
                upd(k)
            return s

        t, all_t, s = timed(theirs, repeats)
        out[f"datasketches_{tgt}"] = {
            "api": "hll_sketch.update(int) per item (no batch API)",
            "update_s": t,
            "update_s_all": all_t,
            "keys_per_s": n / t,
            "rel_error_full_n": s.get_estimate() / n - 1,
            "serialized_bytes": len(s.serialize_compact()),
        }
    # Accuracy over independent trials (different key sets). DataSketches uses
    # its HIP estimator on a single stream, which unions lose; the roll-up use
    # case (daily sketches merged to windows) is the union, so measure both.
    errs: dict[str, list[float]] = {
        k: []
        for k in (
            "ours_p12",
            "ours_p13",
            "ours_p14",
            "ours_p12_union_of_4",
            "ds_hll8_lgk12",
            "ds_hll8_lgk12_union_of_4",
        )
    }
    for trial in range(trials):
        k, _ = keys_for(trial_n, seed=100 + trial)
        for p in (12, 13, 14):
            mine = HyperLogLog(p)
            mine.update(k)
            errs[f"ours_p{p}"].append(mine.estimate() / trial_n - 1)
        parts = np.array_split(k, 4)
        merged = HyperLogLog(12)
        for part in parts:
            h4 = HyperLogLog(12)
            h4.update(part)
            merged.merge(h4)
        errs["ours_p12_union_of_4"].append(merged.estimate() / trial_n - 1)
        s = dsk.hll_sketch(12, dsk.tgt_hll_type.HLL_8)
        for v in k.tolist():
            s.update(v)
        errs["ds_hll8_lgk12"].append(s.get_estimate() / trial_n - 1)
        union = dsk.hll_union(12)
        for part in parts:
            sp = dsk.hll_sketch(12, dsk.tgt_hll_type.HLL_8)
            for v in part.tolist():
                sp.update(v)
            union.update(sp)
        errs["ds_hll8_lgk12_union_of_4"].append(union.get_estimate() / trial_n - 1)

    def rms(e: list[float]) -> float:
        return float(np.sqrt(np.mean(np.square(e))))

    out["accuracy"] = {
        "trials": trials,
        "distinct_per_trial": trial_n,
        "rms_rel_error": {k: rms(v) for k, v in errs.items()},
        "stated_rse": {f"ours_p{p}": relative_standard_error(p) for p in (12, 13, 14)},
        "errors": errs,
    }
    for p in (13, 14):
        t_p, _, _ = timed(lambda p=p: HyperLogLog(p).update(keys), repeats)
        out[f"ours_p{p}_keys_per_s"] = n / t_p
    out["ratio_ours_vs_datasketches_hll8_throughput"] = (
        out["ours"]["keys_per_s"] / out["datasketches_HLL_8"]["keys_per_s"]
    )
    out["rss_mib_after"] = rss_mib()
    return out


def bench_heavy_hitters(n: int, repeats: int, universe: int = 1_000_000, batch: int = 1 << 20) -> dict[str, Any]:
    """Misra-Gries (ours) vs DataSketches frequent_items at an equal counter budget."""
    import datasketches as dsk

    rng = np.random.default_rng(3)
    weights = 1.0 / np.arange(1, universe + 1) ** 1.1
    cdf = np.cumsum(weights / weights.sum())
    stream = np.searchsorted(cdf, rng.random(n)).astype(np.int64)  # bounded Zipf(1.1) over `universe` items
    values, counts = np.unique(stream, return_counts=True)
    order = np.lexsort((values, -counts))
    true_top = set(values[order[:100]].tolist())
    lg_map = 11
    capacity = int(0.75 * (1 << lg_map))  # DataSketches' map holds 3/4 of 2**lg_max_map_size counters

    def ours() -> HeavyHitters:
        hh = HeavyHitters(capacity)
        for s in range(0, n, batch):
            hh.update(stream[s : s + batch])
        return hh

    t_ours, all_ours, hh = timed(ours, repeats)
    top = hh.top(100)
    out: dict[str, Any] = {
        "n": n,
        "universe": universe,
        "zipf_exponent": 1.1,
        "counters": capacity,
        "batch_rows": batch,
    }
    out["ours"] = {
        "api": "HeavyHitters.update(np.ndarray) per batch",
        "update_s": t_ours,
        "update_s_all": all_ours,
        "items_per_s": n / t_ours,
        "top100_recall": len(set(top.column("item").to_pylist()) & true_top) / 100,
        "max_error_bound": hh.error,
        "bounds_hold": bool(np.all((hh.bounds(values)[0] <= counts) & (counts <= hh.bounds(values)[1]))),
    }

    def theirs_weighted() -> Any:
        # The fastest way DataSketches offers: pre-aggregate each batch, one weighted update per distinct item.
        s = dsk.frequent_items_sketch(lg_map)
        upd = s.update
        for start in range(0, n, batch):
            vc = pc.value_counts(pa.array(stream[start : start + batch]))
            for item, w in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
                upd(str(item), w)
        return s

    t_w, all_w, s = timed(theirs_weighted, repeats)
    items = s.get_frequent_items(dsk.frequent_items_error_type.NO_FALSE_NEGATIVES)
    ds_top = {int(i[0]) for i in items[:100]}
    out["datasketches_weighted"] = {
        "api": "frequent_items_sketch.update(str(item), weight) after value_counts per batch",
        "update_s": t_w,
        "update_s_all": all_w,
        "items_per_s": n / t_w,
        "top100_recall": len(ds_top & true_top) / 100,
    }
    per_item_n = min(n, 2_000_000)
    sample = [str(v) for v in stream[:per_item_n].tolist()]

    def theirs_per_item() -> Any:
        s2 = dsk.frequent_items_sketch(lg_map)
        upd = s2.update
        for v in sample:
            upd(v)
        return s2

    t_p, _, _ = timed(theirs_per_item, 1)
    out["datasketches_per_item"] = {
        "api": "frequent_items_sketch.update(str(item)) per item",
        "rows": per_item_n,
        "items_per_s": per_item_n / t_p,
    }
    out["ratio_ours_vs_datasketches_weighted_throughput"] = (
        out["ours"]["items_per_s"] / out["datasketches_weighted"]["items_per_s"]
    )
    out["rss_mib_after"] = rss_mib()
    return out


def bench_duckdb_udf(n: int, fpr: float, repeats: int) -> dict[str, Any]:
    """Bloom lookups through DuckDB SQL: count(*) over range(n) WHERE bloom_contains(...)."""
    bf = BloomFilter.for_capacity(n, fpr)
    bf.add(np.arange(0, 2 * n, 2, dtype=np.int64))  # even numbers: half of range(2n) is present
    con = duckdb.connect()
    con.execute("SET threads = 2")
    register_udfs(con)
    con.execute("CREATE TABLE f AS SELECT ?::BLOB AS blob", [bf.to_bytes()])
    register_empty_udf(con, "noop_udf")
    q_ref = f"SELECT count(*) FROM range({n}) t(k) WHERE bloom_contains((SELECT bloom_ref(blob) FROM f), k)"
    q_noop = f"SELECT count(*) FROM range({n}) t(k) WHERE noop_udf(k)"
    q_sql = f"SELECT count(*) FROM range({n}) t(k) WHERE k % 2 = 0"
    blocked = BlockedBloomFilter.for_capacity(n, fpr)
    blocked.add(np.arange(0, 2 * n, 2, dtype=np.int64))
    con.execute("CREATE TABLE fb AS SELECT ?::BLOB AS blob", [blocked.to_bytes()])
    q_blocked = q_ref.replace("FROM f)", "FROM fb)")
    t_blocked, all_blocked, hits_blocked = timed(lambda: con.sql(q_blocked).fetchone()[0], repeats)
    t_ref, all_ref, hits = timed(lambda: con.sql(q_ref).fetchone()[0], repeats)
    con.execute("SET threads = 1")
    t_ref1, all_ref1, _ = timed(lambda: con.sql(q_ref).fetchone()[0], repeats)
    t_noop1, _, _ = timed(lambda: con.sql(q_noop).fetchone()[0], repeats)
    con.execute("SET threads = 2")
    t_noop, _, _ = timed(lambda: con.sql(q_noop).fetchone()[0], repeats)
    t_sql, _, _ = timed(lambda: con.sql(q_sql).fetchone()[0], repeats)
    small = BloomFilter.for_capacity(10_000, fpr)
    small.add(np.arange(10_000))
    con.execute("CREATE TABLE small AS SELECT ?::BLOB AS blob", [small.to_bytes()])
    direct_rows = 200_000
    q_direct = f"SELECT count(*) FROM range({direct_rows}) t(k) WHERE bloom_contains((SELECT blob FROM small), k)"
    t_direct, _, _ = timed(lambda: con.sql(q_direct).fetchone()[0], 1)
    expected = n // 2
    return {
        "n": n,
        "filter_bytes": len(bf.to_bytes()),
        "query": q_ref,
        "bloom_contains_via_ref_s": t_ref,
        "bloom_contains_via_ref_s_all": all_ref,
        "bloom_contains_keys_per_s": n / t_ref,
        "target_keys_per_s": 10_000_000,
        "measured_fpr": (hits - expected) / (n - expected),
        "blocked_filter_via_ref_s": t_blocked,
        "blocked_filter_via_ref_s_all": all_blocked,
        "blocked_filter_keys_per_s": n / t_blocked,
        "blocked_measured_fpr": (hits_blocked - expected) / (n - expected),
        "threads_1": {
            "bloom_contains_via_ref_s": t_ref1,
            "bloom_contains_via_ref_s_all": all_ref1,
            "bloom_contains_keys_per_s": n / t_ref1,
            "noop_arrow_udf_rows_per_s": n / t_noop1,
        },
        "noop_arrow_udf_s": t_noop,
        "noop_arrow_udf_rows_per_s": n / t_noop,
        "plain_sql_predicate_s": t_sql,
        "direct_blob_small_filter": {
            "rows": direct_rows,
            "filter_bytes": len(small.to_bytes()),
            "s": t_direct,
            "keys_per_s": direct_rows / t_direct,
            "note": "DuckDB copies the BLOB argument into every row of each 2048-row chunk",
        },
        "rss_mib_after": rss_mib(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run all benchmarks and write the JSON results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="keys per benchmark (default 10M)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fpr", type=float, default=0.01)
    ap.add_argument("--hll-trials", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sketches.json")
    ap.add_argument(
        "--only",
        choices=["bloom", "hll", "heavy_hitters", "duckdb_udf"],
        action="append",
        help="run only these sections and update them in an existing results file",
    )
    args = ap.parse_args(argv)
    sections = args.only or ["bloom", "hll", "heavy_hitters", "duckdb_udf"]
    previous = json.loads(args.out.read_text()) if args.only and args.out.exists() else {}
    command = " ".join(
        ["PYTHONPATH=python python", "bench/bench_sketches.py", *(argv if argv is not None else sys.argv[1:])]
    )
    results: dict[str, Any] = {
        **{k: previous[k] for k in ("bloom", "hll", "heavy_hitters", "duckdb_udf") if k in previous},
        "inputs": {"rows": args.rows, "repeats": args.repeats, "fpr": args.fpr, "hll_trials": args.hll_trials},
        "software": software(),
    }
    runners = {
        "bloom": lambda: bench_bloom(args.rows, args.fpr, args.repeats),
        "hll": lambda: bench_hll(args.rows, args.repeats, args.hll_trials, min(args.rows, 1_000_000)),
        "heavy_hitters": lambda: bench_heavy_hitters(args.rows, args.repeats),
        "duckdb_udf": lambda: bench_duckdb_udf(args.rows, args.fpr, args.repeats),
    }
    for name in sections:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        results[name] = runners[name]()
        results[name]["section_wall_s"] = time.perf_counter() - t0
        results[name]["load_average_after"] = os.getloadavg()
        results[name]["command"] = command
        print(json.dumps(results[name], indent=1, default=float)[:2000], flush=True)
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_average_at_end"] = os.getloadavg()
    rows, targets = summary(results)
    path = write_result(
        args.out.parent,
        args.out.stem,
        {
            "title": "Sketches vs libraries: Bloom (rbloom, fastbloom-rs), HLL and heavy hitters (DataSketches)",
            "command": command,
            "inputs": results.pop("inputs"),
            "rows": rows,
            "targets": targets,
            "notes": (
                f"Load average {results['software']['load_average_at_start']} at start and "
                f"{results['load_average_at_end']} at end on a 2-core machine shared with other jobs: absolute "
                "rates are inflated, compare within a section. --only re-runs keep the other sections' figures "
                "(each section records its own command). Library-vs-own decisions: sketches_decisions.md."
            ),
            **results,
        },
    )
    print(f"[bench] wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
