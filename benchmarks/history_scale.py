"""History backfills against their range, and the store's per-flush cost, side by side in one run (BENCHMARKS.md).

1. Range x {no store, store}: 30/180/365/730 days of 5-minute open interest (Bybit, ten symbols) and of funding
   (Bybit and Hyperliquid, ten symbols) through the Python API on the simulator, rate limits off. Each case runs in
   its own subprocess: rows, rows/s and peak RSS above the RSS after imports (pyarrow's memory pool initialised by a
   one-row table, as in any pyarrow session). Without a store the call returns the
   table (its `nbytes` is reported); with `store=` it runs with `collect=False` (a summary table, nothing kept).
2. Rate-limit-bound scaling: one symbol's 5-minute Bybit open interest over 365 and 730 days with limits on (the
   simulator enforcing Bybit's 600 requests per 5 s, our client limiting): requests, seconds, the least time the
   limit allows, and the rate-limit waits the core announced (what the CLI's progress bar shows).
3. Per-flush cost: a one-row liquidation flush appended to a day file of 10 k / 100 k / 345 k rows (median of many
   flushes, each a separate `ParquetStore.write`), and one compaction of that day afterwards.

    python benchmarks/history_scale.py [--days 30,180,365,730] [--flushes 200]

Prints Markdown. Needs a release build of the package for fair numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

SYMBOLS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE", "BNB", "ADA", "AVAX", "LINK"]
NS = 1_000_000_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(kind: str, days: int, store: bool, base_urls: dict[str, str]) -> None:
    """One backfill in this process; prints a JSON line."""
    import pyarrow as pa
    from ccxt_pipeline_rs import Orchestrator, ParquetStore

    # pyarrow's memory pool (mimalloc) maps ~50 MB on its first table: part of "imports" for any pyarrow user.
    pa.table({"warm": [1]})

    symbols = [f"{c}USDT-PERP" for c in SYMBOLS]
    venues = ["bybit"] if kind == "open_interest" else ["bybit", "hyperliquid"]
    orchestrator = Orchestrator(exchanges=venues, base_urls=base_urls, rate_limits=False)
    end = datetime.fromtimestamp(int(os.environ["HISTORY_SCALE_NOW_MS"]) / 1000, tz=UTC)
    start = end - timedelta(days=days)
    with tempfile.TemporaryDirectory() as root:
        target = ParquetStore(root) if store else None
        baseline = rss_bytes()
        started = time.perf_counter()
        if kind == "open_interest":
            result = orchestrator.fetch_open_interest_history(
                symbols, start, end, period="5m", store=target, collect=not store
            )
        else:
            result = orchestrator.fetch_funding_rate_history(symbols, start, end, store=target, collect=not store)
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if result.failures:
            raise SystemExit(f"failures: {result.failures}")
        if store:
            rows = sum(result.table.column("rows_fetched").to_pylist())
            stored = result.rows_stored
            table_bytes = None
        else:
            rows = result.table.num_rows
            stored = 0
            table_bytes = result.table.nbytes
    print(
        json.dumps(
            {
                "rows": rows,
                "stored": stored,
                "seconds": elapsed,
                "peak_above_imports": peak - baseline,
                "table_bytes": table_bytes,
            }
        )
    )


def run_child(kind: str, days: int, store: bool, base_urls: dict[str, str], now_ms: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(days), "store" if store else "nostore", json.dumps(base_urls)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HISTORY_SCALE_NOW_MS": str(now_ms)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def liquidation_table(instrument_id: str, start_ns: int, count: int, step_ns: int):
    import pyarrow as pa

    ts = pa.array(range(start_ns, start_ns + count * step_ns, step_ns), pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    return pa.table(
        {
            "venue": pa.array(["binance"] * count),
            "symbol": pa.array(["BTCUSDT-PERP"] * count),
            "instrument_id": pa.array([instrument_id] * count),
            "ts_event": ts,
            "ts_init": ts,
            "side": pa.array(["SELL" if i % 2 else "BUY" for i in range(count)]),
            "price": pa.array([90_000.0 + i % 1000 for i in range(count)]),
            "quantity": pa.array([0.001 * (1 + i % 7) for i in range(count)]),
        }
    )


def flush_costs(sizes: list[int], flushes: int) -> list[tuple[int, float, float, float]]:
    """(day rows, median ms per one-row flush, p90 ms, compaction ms)."""
    from ccxt_pipeline_rs import ParquetStore

    day0 = 1_735_689_600 * NS  # 2025-01-01
    out = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as root:
            store = ParquetStore(root)
            step = (20 * 3600 * NS) // size  # the day's first 20 hours
            store.write(liquidation_table("BTCUSDT-PERP.BINANCE", day0, size, step))
            times = []
            for i in range(flushes):
                row = liquidation_table("BTCUSDT-PERP.BINANCE", day0 + 21 * 3600 * NS + i * NS, 1, NS)
                started = time.perf_counter()
                store.write(row)
                times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            store.compact()
            compact_ms = (time.perf_counter() - started) * 1000
            times.sort()
            out.append((size, statistics.median(times), times[int(len(times) * 0.9)], compact_ms))
    return out


def rate_limited(days_list: list[int]) -> list[tuple[int, int, float, float, int]]:
    """(days, requests, seconds, least seconds the limit allows, rate-limit waits announced)."""
    import logging

    from ccxt_pipeline_rs import Orchestrator
    from ccxt_pipeline_rs.sim import ExchangeSimulator

    waits: list[str] = []

    class Waits(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            waits.append(record.getMessage())

    logger = logging.getLogger("ccxt_pipeline_rs.net.rate_limit")
    logger.addHandler(Waits())
    logger.setLevel(logging.INFO)
    out = []
    for days in days_list:
        with ExchangeSimulator(seed=0, enforce_rate_limits=True) as sim:
            orchestrator = Orchestrator(exchanges=["bybit"], base_urls={"bybit": sim.server.base_url("bybit")})
            end = datetime.fromtimestamp(sim.server.now_ms() / 1000, tz=UTC)
            waits.clear()
            started = time.perf_counter()
            result = orchestrator.fetch_open_interest_history(["BTCUSDT-PERP"], end - timedelta(days=days), end)
            elapsed = time.perf_counter() - started
            assert not result.failures, result.failures
            requests = sim.server.request_count("bybit")
            least = ((requests - 1) // 600) * 5.0
            out.append((days, requests, elapsed, least, len(waits)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", default="30,180,365,730")
    parser.add_argument("--flushes", type=int, default=200)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, days, store, urls = args.child
        child(kind, int(days), store == "store", json.loads(urls))
        return

    from ccxt_pipeline_rs.sim import ExchangeSimulator

    mib = 1024 * 1024
    with ExchangeSimulator(seed=0, enforce_rate_limits=False) as sim:
        base_urls = {v: sim.server.base_url(v) for v in ("bybit", "hyperliquid")}
        now_ms = sim.server.now_ms()
        print(
            "| kind | days | rows | no store: rows/s | no store: peak RSS above imports (MB) | table (MB) "
            "| store: rows/s | store: peak RSS above imports (MB) | store / no store |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for kind in ("open_interest", "funding_rate"):
            for days in [int(d) for d in args.days.split(",")]:
                free = run_child(kind, days, False, base_urls, now_ms)
                stored = run_child(kind, days, True, base_urls, now_ms)
                assert stored["rows"] == free["rows"], (stored, free)
                free_rate = free["rows"] / free["seconds"]
                store_rate = stored["rows"] / stored["seconds"]
                print(
                    f"| {kind} | {days} | {free['rows']:,} | {free_rate:,.0f} | {free['peak_above_imports'] / mib:.0f} "
                    f"| {free['table_bytes'] / mib:.0f} | {store_rate:,.0f} | {stored['peak_above_imports'] / mib:.0f} "
                    f"| {store_rate / free_rate:.2f}x |",
                    flush=True,
                )
    print()
    print("| days (limits on) | requests | seconds | least the limit allows (s) | rate-limit waits announced |")
    print("|---:|---:|---:|---:|---:|")
    for days, requests, elapsed, least, waits in rate_limited([365, 730]):
        print(f"| {days} | {requests:,} | {elapsed:.1f} | {least:.1f} | {waits} |", flush=True)
    print()
    print("| day file (rows) | one-row flush, median (ms) | p90 (ms) | compaction of the day afterwards (ms) |")
    print("|---:|---:|---:|---:|")
    for size, median, p90, compact_ms in flush_costs([10_000, 100_000, 345_600], args.flushes):
        print(f"| {size:,} | {median:.2f} | {p90:.2f} | {compact_ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
