"""Daemon soak, accelerated (numbers and a picture go to BENCHMARKS.md).

`DaemonRunner` in its own process against the simulator in another: 10 symbols x 3 venues, open interest and
funding snapshots every 1 s (production: 1 m, so 60x faster), history catch-up 1 d at start, liquidation streams on
at a high rate with every Binance and Bybit connection dropped periodically, store flush 1 s, compaction every
30 s (production default: 1 h). Every second the daemon's RSS is sampled; every 5 s also the Parquet files under the
data dir, the rows its jobs wrote and its streams' gaps (from its status file). Then SIGTERM, and the store is read
back: rows per kind, duplicates, files per instrument and day.

    pip install psutil matplotlib
    python benchmarks/daemon_soak.py [--seconds 300] [--plot benchmarks/soak_rss.png]

Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYMBOLS = [
    f"{base}USDT-PERP" for base in ["BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE", "BNB", "ADA", "AVAX", "LINK"]
]

CONFIG = """
data_dir = "{data}"
venues = ["binance", "bybit", "hyperliquid"]
symbols = {symbols}
log_level = "warn"
[snapshots]
open_interest_interval = "1s"
funding_interval = "1s"
[history]
catch_up = "1d"
[liquidations]
enabled = true
[store]
flush_interval = "1s"
compaction_interval = "30s"
[urls]
binance = "{binance}"
binance_ws = "{binance_ws}"
bybit = "{bybit}"
bybit_ws = "{bybit_ws}"
hyperliquid = "{hyperliquid}"
hyperliquid_ws = "{hyperliquid_ws}"
"""


def run_daemon(config: str) -> None:
    from ccxt_pipeline_rs import CCXTPipelineConfig, DaemonRunner

    DaemonRunner(CCXTPipelineConfig.from_file(config, env=False)).run()


def parquet_files(data: str) -> list[str]:
    found = []
    for root, _, files in os.walk(data):
        found += [os.path.join(root, f) for f in files if f.endswith(".parquet")]
    return found


def status(data: str) -> dict:
    try:
        with open(os.path.join(data, "daemon.status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def rows_by_kind(report: dict) -> dict[str, int]:
    rows: Counter = Counter()
    for name, job in report.get("jobs", {}).items():
        rows[name.split(" ")[0]] += job.get("rows_written", 0)
    return dict(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", nargs="?", default="soak")
    parser.add_argument("config", nargs="?")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=20.0, help="liquidations/s/symbol on Binance and Bybit")
    parser.add_argument("--drop-every", type=float, default=20.0)
    parser.add_argument("--plot", default=str(HERE / "soak_rss.png"))
    args = parser.parse_args()
    if args.command == "run":
        run_daemon(args.config)
        return

    import psutil

    sys.path.insert(0, str(HERE))
    from stream_bench import start_server, stop_server

    server, urls = start_server(args.rate, args.drop_every, rate_limits=False)
    work = tempfile.mkdtemp(prefix="daemon-soak-")
    data = os.path.join(work, "data")
    config = os.path.join(work, "daemon.toml")
    fields = {venue: urls["base_urls"][venue] for venue in ("binance", "bybit", "hyperliquid")}
    fields.update({f"{venue}_ws": urls["ws_urls"][venue] for venue in ("binance", "bybit", "hyperliquid")})
    Path(config).write_text(CONFIG.format(data=data, symbols=json.dumps(SYMBOLS), **fields))
    load_before = os.getloadavg()
    daemon = subprocess.Popen([sys.executable, __file__, "run", config], stderr=subprocess.PIPE, text=True)
    process = psutil.Process(daemon.pid)
    rss = []  # (s, bytes)
    every5 = []  # (s, files, rows by kind, gaps, reconnects, events, stored)
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < args.seconds:
            rss.append((elapsed, process.memory_info().rss))
            if len(rss) % 5 == 1:
                report = status(data)
                streams = report.get("streams") or {}
                every5.append(
                    (
                        elapsed,
                        len(parquet_files(data)),
                        rows_by_kind(report),
                        streams.get("gaps", 0),
                        streams.get("reconnects", 0),
                        streams.get("events", 0),
                        streams.get("stored", 0),
                    )
                )
            time.sleep(max(0.0, started + len(rss) - time.monotonic()))
        cpu = process.cpu_times()
        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=60)
        stop_seconds = time.monotonic() - stopping
    finally:
        if daemon.poll() is None:
            daemon.kill()
        emitted = stop_server(server)["emitted"]
    load_after = os.getloadavg()
    final = status(data)

    from ccxt_pipeline_rs import ParquetStore

    store = ParquetStore(data)
    tables = {kind: store.read(kind) for kind in ("open_interest", "funding_rate", "liquidation", "gaps")}
    duplicates = {}
    for kind in ("open_interest", "funding_rate"):
        t = tables[kind]
        keys = list(zip(t.column("instrument_id").to_pylist(), t.column("ts_event").to_pylist(), strict=True))
        duplicates[kind] = len(keys) - len(set(keys))
    files = parquet_files(data)
    per_folder = Counter(os.path.dirname(f) for f in files)
    gap_reasons = Counter(tables["gaps"].column("reason").to_pylist())

    mib = 1024 * 1024
    values = [v for _, v in rss]
    after_first_minute = [v for t, v in rss if t >= 60]
    out = [
        f"Daemon soak: {args.seconds:g} s, 10 symbols x 3 venues, snapshots every 1 s, compaction every 30 s, "
        f"liquidations {args.rate:g}/s/symbol with WebSocket drops every {args.drop_every:g} s; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}",
        "",
        "| RSS at 5 s | after 60 s | peak | end | min..max after 60 s | CPU s (user+sys) |",
        "|---|---|---|---|---|---|",
        f"| {rss[5][1] / mib:.1f} MiB | {after_first_minute[0] / mib:.1f} MiB | {max(values) / mib:.1f} MiB "
        f"| {values[-1] / mib:.1f} MiB | {min(after_first_minute) / mib:.1f}..{max(after_first_minute) / mib:.1f} MiB "
        f"| {cpu.user + cpu.system:.1f} |",
        "",
        "Every 30 s (from the 5-s samples): elapsed s, Parquet files, rows written by the snapshot jobs (open "
        "interest / funding; history catch-up not included), liquidations stored by the streams, stream gaps, "
        "reconnects (all from the daemon's status file):",
        "",
        "| s | files | OI rows | funding rows | liquidation rows | gaps | reconnects | RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for elapsed, nfiles, rows, gaps, reconnects, _events, stored in every5:
        if round(elapsed) % 30 < 5:
            at = min(rss, key=lambda s, e=elapsed: abs(s[0] - e))[1]
            out.append(
                f"| {elapsed:.0f} | {nfiles} | {rows.get('open_interest', 0):,} | {rows.get('funding_rate', 0):,} "
                f"| {stored:,} | {gaps} | {reconnects} | {at / mib:.1f} |"
            )
    out += [
        "",
        f"Final store: open interest {tables['open_interest'].num_rows:,} rows, funding "
        f"{tables['funding_rate'].num_rows:,}, liquidations {tables['liquidation'].num_rows:,}, gaps "
        f"{tables['gaps'].num_rows:,} ({', '.join(f'{k} {v}' for k, v in sorted(gap_reasons.items()))}); "
        f"duplicate (instrument, ts_event) keys: OI {duplicates['open_interest']}, funding "
        f"{duplicates['funding_rate']}; {len(files)} Parquet files in {len(per_folder)} instrument folders, at most "
        f"{max(per_folder.values()) if per_folder else 0} in one. Jobs' rows written (status file): "
        f"{rows_by_kind(final)}. Simulator emitted liquidations: {emitted}. SIGTERM to exit: {stop_seconds:.1f} s, "
        f"exit code {daemon.returncode}.",
        "",
    ]
    if stderr.strip():
        out.append("Daemon stderr (last 5 lines): " + " / ".join(stderr.strip().splitlines()[-5:]))
    print("\n".join(out))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3), dpi=80)
    ax.plot([t / 60 for t, _ in rss], [v / mib for _, v in rss], color="tab:blue", linewidth=1)
    ax.set_xlabel("minutes")
    ax.set_ylabel("daemon RSS (MiB)", color="tab:blue")
    ax.set_ylim(0, max(values) / mib * 1.15)
    twin = ax.twinx()
    twin.plot([e[0] / 60 for e in every5], [e[1] for e in every5], color="tab:orange", linewidth=1)
    twin.set_ylabel("Parquet files", color="tab:orange")
    twin.set_ylim(0, max(e[1] for e in every5) * 1.15 + 1)
    ax.set_title("Daemon soak: 10 symbols x 3 venues, 1 s snapshots, compaction every 30 s", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=80)
    print(f"plot: {args.plot} ({os.path.getsize(args.plot) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
