"""Store benchmarks, side by side in one run (numbers go to BENCHMARKS.md).

1. Rows/s written: one bulk write of a year of 5-minute OI (105 120 rows → 12 monthly files), and a collector day of
   per-minute flushes of one row for 3 instruments.
2. Reading a 1-day slice of that 1-year store: `ParquetStore.read` against `pyarrow.dataset` over the same folder
   with the same filter.
3. Reading the whole year: `ParquetStore.read` (what `query` uses) against `polars.scan_parquet` of the same files.

    python benchmarks/store_bench.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from ccxt_pipeline_rs import ParquetStore

NS = 1_000_000_000
START = 1_704_067_200 * NS  # 2024-01-01T00:00:00Z
FIVE_MIN = 300 * NS
YEAR_ROWS = 365 * 288


def oi_table(instrument_id: str, venue: str, start: int, count: int, step: int) -> pa.Table:
    ts = pa.array(range(start, start + count * step, step), pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    return pa.table(
        {
            "venue": pa.array([venue] * count),
            "symbol": pa.array(["BTCUSDT-PERP"] * count),
            "instrument_id": pa.array([instrument_id] * count),
            "ts_event": ts,
            "ts_init": ts,
            "open_interest": pa.array([float(i) for i in range(count)]),
            "open_interest_value": pa.array([None] * count, pa.float64()),
        }
    )


def timed(fn, repeat: int) -> float:
    """Median seconds of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        store = ParquetStore(root)
        year = oi_table("BTCUSDT-PERP.BINANCE", "binance", START, YEAR_ROWS, FIVE_MIN)
        started = time.perf_counter()
        store.write(year)
        bulk = time.perf_counter() - started
        files = len(list((Path(root) / "data" / "custom_open_interest" / "BTCUSDT-PERP.BINANCE").glob("*.parquet")))
        print(f"bulk write: {YEAR_ROWS} rows, {files} files in {bulk:.2f} s = {YEAR_ROWS / bulk:,.0f} rows/s")

        flush_root = Path(root) / "collector"
        collector = ParquetStore(flush_root)
        ids = [
            ("BTCUSDT-PERP.BINANCE", "binance"),
            ("BTCUSDT-LINEAR.BYBIT", "bybit"),
            ("BTC-USD-PERP.HYPERLIQUID", "hyperliquid"),
        ]
        started = time.perf_counter()
        for minute in range(1440):
            for instrument_id, venue in ids:
                collector.write(oi_table(instrument_id, venue, START + minute * 60 * NS, 1, 1))
        flushes = time.perf_counter() - started
        print(
            f"collector day: {1440 * 3} one-row flushes in {flushes:.2f} s = {1440 * 3 / flushes:,.0f} flushes/s "
            f"({flushes / (1440 * 3) * 1000:.2f} ms per flush into a growing day file)"
        )

        day_start = START + 180 * 86_400 * NS
        day_end = day_start + 86_400 * NS - 1
        folder = Path(root) / "data" / "custom_open_interest" / "BTCUSDT-PERP.BINANCE"

        def ours():
            table = store.read(
                "open_interest", symbol="BTCUSDT-PERP.BINANCE", start=day_start // 1_000_000, end=day_end // 1_000_000
            )
            assert table.num_rows == 288, table.num_rows

        def pyarrow_dataset():
            dataset = ds.dataset(folder, format="parquet")
            table = dataset.to_table(filter=(pc.field("ts_init") >= day_start) & (pc.field("ts_init") <= day_end))
            assert table.num_rows == 288, table.num_rows

        t_ours = timed(ours, args.repeat)
        t_pa = timed(pyarrow_dataset, args.repeat)
        print(
            f"1-day slice of a 1-year store: ParquetStore.read {t_ours * 1000:.2f} ms, "
            f"pyarrow.dataset {t_pa * 1000:.2f} ms, ratio {t_pa / t_ours:.1f}x"
        )

        import polars as pl

        def ours_year():
            assert store.read("open_interest", symbol="BTCUSDT-PERP.BINANCE").num_rows == YEAR_ROWS

        def polars_year():
            assert pl.scan_parquet(str(folder / "*.parquet")).collect().height == YEAR_ROWS

        t_ours = timed(ours_year, args.repeat)
        t_pl = timed(polars_year, args.repeat)
        print(
            f"whole year: ParquetStore.read {t_ours * 1000:.2f} ms, polars.scan_parquet {t_pl * 1000:.2f} ms, "
            f"ratio {t_pl / t_ours:.2f}x"
        )


if __name__ == "__main__":
    main()
