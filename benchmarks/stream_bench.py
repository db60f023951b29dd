"""Liquidation streams end to end against the simulator on loopback (numbers go to BENCHMARKS.md).

1. Bursts, ours against ccxt.pro side by side: Bybit `allLiquidation` bursts of increasing size (the simulator's
   `burst` fault, liquidation rate 0 otherwise) to a client in its own process. Ours streams into
   `ParquetStore(tmp)` and the store is then compared with the simulator's ground truth (zero loss, no
   duplicates); ccxt.pro (`ccxt.pro.bybit.watch_liquidations`, one task per symbol, URLs pointed at the simulator)
   counts what it parsed and what `watch_liquidations` handed back. Per client: events, events/s from the frame's
   send time, latency percentiles, CPU seconds, RSS.
2. Latency at a steady rate (Binance and Bybit, 10 symbols, 20 liquidations/s/symbol), ours and ccxt.pro:
   per event, wall clock when the caller got it minus the frame's send time (ground truth `sent_at_ms`, ms
   resolution, clocks of one machine); for ours also minus the row's `ts_init` (when the frame arrived in Rust).
3. RSS of a long accelerated run: 10 symbols x 3 venues (Hyperliquid polls an address), high liquidation rate,
   Binance and Bybit connections dropped periodically, store on; the simulator runs in its own process so only the
   client's memory is sampled (once a second, /proc/self/statm).

    pip install ".[bench]" psutil        # ccxt (ccxt.pro) for part 1 and 2, bench only
    python benchmarks/stream_bench.py [--parts burst,latency,rss] [--bursts 1000,10000,100000] [--rss-seconds 180]

Prints Markdown. Needs a release build of the package (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASES = ["BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE", "BNB", "ADA", "AVAX", "LINK"]
SYMBOLS = [f"{base}USDT-PERP" for base in BASES]
NATIVES = [f"{base}USDT" for base in BASES]
CCXT_SYMBOLS = [f"{base}/USDT:USDT" for base in BASES]
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def anon_bytes() -> int:
    """Resident memory that is not file-backed (statm resident − shared): the heap, without library pages."""
    with open("/proc/self/statm") as f:
        fields = f.read().split()
    return (int(fields[1]) - int(fields[2])) * PAGE


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def emit(obj) -> None:
    print(json.dumps(obj), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Clients, each in its own process: `stream_bench.py client ours|ccxt VENUE WS_BASE REST_BASE MODE ...`.
# They print {"ready": …} once subscribed, then one JSON result line.


def ours_client(args) -> None:
    import pyarrow as pa
    from ccxt_pipeline_rs import BinanceFetcher, BybitFetcher, ParquetStore

    fetcher_class = {"binance": BinanceFetcher, "bybit": BybitFetcher}[args.venue]
    fetcher = fetcher_class(base_url=args.rest, ws_url=args.ws)
    store = ParquetStore(args.store) if args.store else None
    options = {"queue_rows": 4_000_000}
    if args.mode == "latency" and args.batch_rows:
        options.update(batch_rows=args.batch_rows)
    # pyarrow loads its compute kernels on the first cast (a few hundred ms): done here, not on the first table.
    pa.array([0], pa.timestamp("ns", tz="UTC")).cast("int64").to_pylist()
    stream = fetcher.stream_liquidations(SYMBOLS, store=store, **options)
    deadline = time.monotonic() + 10
    while stream.connected < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    cpu0, rss_ready = cpu_seconds(), rss_bytes()
    emit({"ready": True, "rss_ready": rss_ready})
    recv = array.array("q")  # wall clock ns when the caller got each row
    lag = array.array("q")  # ... minus the row's ts_init
    times = array.array("q")  # ts_event ms (to join with the ground truth)
    symbols = []
    t_events = t_stored = None
    peak = rss_ready
    started = time.monotonic()
    last_progress = time.monotonic()
    while True:
        table = stream.get(timeout=0.005)
        now = time.time_ns()
        if table is not None:
            n = table.num_rows
            recv.extend([now] * n)
            ts_init = table.column("ts_init").cast("int64").to_pylist()
            lag.extend(now - t for t in ts_init)
            if args.mode == "latency":
                times.extend(t // 1_000_000 for t in table.column("ts_event").cast("int64").to_pylist())
                symbols.extend(s.split("-")[0] for s in table.column("instrument_id").to_pylist())
            last_progress = time.monotonic()
        if t_events is None and stream.events >= args.expect > 0:
            t_events = now
        if t_stored is None and store is not None and stream.stored >= args.expect > 0:
            t_stored = now
        peak = max(peak, rss_bytes()) if table is not None else peak
        if args.mode == "burst":
            if len(recv) >= args.expect and (store is None or t_stored is not None):
                break
            if time.monotonic() - last_progress > 8:
                break
        elif time.monotonic() - started > args.seconds:
            break
    cpu = cpu_seconds() - cpu0
    stream.close()
    result = {
        "received": len(recv),
        "events": stream.events,
        "stored": stream.stored,
        "dropped": stream.dropped,
        "duplicates": stream.duplicates,
        "reconnects": stream.reconnects,
        "t_events": t_events,
        "t_stored": t_stored,
        "t_last": max(recv) if recv else None,
        "recv_p50": percentile(recv, 0.5),
        "recv_p99": percentile(recv, 0.99),
        "lag_p50": percentile(lag, 0.5),
        "lag_p99": percentile(lag, 0.99),
        "cpu_s": cpu,
        "rss_ready": rss_ready,
        "rss_peak": max(peak, rss_bytes()),
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    if args.mode == "latency":
        result["rows"] = list(zip(symbols, times.tolist(), recv.tolist(), lag.tolist(), strict=True))
    emit(result)


def ccxt_exchange(venue: str, rest: str, ws: str):
    """A ccxt.pro exchange talking to the simulator: REST as in vs_ccxt.py (linear markets only, no currencies),
    WebSockets per DESIGN §8 (binanceusdm turns a linear base ending in /ws into <base>/market/ws/<n>; bybit uses
    <base>/v5/public/linear)."""
    import ccxt.pro

    exchange = {"binance": ccxt.pro.binanceusdm, "bybit": ccxt.pro.bybit}[venue]({"enableRateLimit": False})
    exchange.has["fetchCurrencies"] = False
    api = dict(exchange.urls["api"])
    if venue == "binance":
        for key, url in list(api.items()):
            if key.startswith(("fapiPublic", "fapiPrivate")):
                api[key] = f"{rest}/fapi/{url.rsplit('/', 1)[1]}"
        api["fapiData"] = f"{rest}/futures/data"
        api["ws"] = {**api["ws"], "linear": f"{ws}/ws"}
        exchange.options["fetchMarkets"] = {"types": ["linear"]}
    else:
        api = {key: rest for key in api if key != "ws"}
        api["ws"] = {"public": {"linear": f"{ws}/v5/public/linear"}}
        exchange.options["fetchMarkets"] = {**exchange.options["fetchMarkets"], "types": ["linear"]}
    exchange.urls["api"] = api
    return exchange


def ccxt_client(args) -> None:
    async def run():
        exchange = ccxt_exchange(args.venue, args.rest, args.ws)
        await exchange.load_markets()
        parsed = array.array("q")  # wall clock ns when ccxt parsed each event
        delivered = array.array("q")  # ... when watch_liquidations handed it back
        rows = []
        original = exchange.parse_ws_liquidation

        def counting_parse(*a, **k):
            parsed.append(time.time_ns())
            return original(*a, **k)

        exchange.parse_ws_liquidation = counting_parse

        async def watch(symbols):
            while True:
                if args.venue == "binance":
                    got = await exchange.watch_liquidations_for_symbols(symbols)
                else:
                    got = await exchange.watch_liquidations(symbols[0])
                now = time.time_ns()
                for liquidation in got:
                    delivered.append(now)
                    if args.mode == "latency":
                        info = liquidation["info"]
                        rows.append((info["s"], int(info["T"]), now))

        groups = [CCXT_SYMBOLS] if args.venue == "binance" else [[s] for s in CCXT_SYMBOLS]
        tasks = [asyncio.create_task(watch(g)) for g in groups]
        await asyncio.sleep(2.0)  # subscriptions sent and acknowledged
        cpu0, rss_ready = cpu_seconds(), rss_bytes()
        emit({"ready": True, "rss_ready": rss_ready})
        started = time.monotonic()
        last_count, last_progress, peak = 0, time.monotonic(), rss_ready
        while True:
            await asyncio.sleep(0.005)
            if len(parsed) != last_count:
                last_count, last_progress = len(parsed), time.monotonic()
                peak = max(peak, rss_bytes())
            if args.mode == "burst":
                if len(parsed) >= args.expect or time.monotonic() - last_progress > 8:
                    break
            elif time.monotonic() - started > args.seconds:
                break
        cpu = cpu_seconds() - cpu0
        for task in tasks:
            task.cancel()
        await exchange.close()
        result = {
            "received": len(delivered),
            "parsed": len(parsed),
            "t_events": parsed[-1] if len(parsed) >= args.expect > 0 else None,
            "t_last": max(delivered) if delivered else None,
            "t_parsed_last": parsed[-1] if parsed else None,
            "recv_p50": percentile(delivered, 0.5),
            "recv_p99": percentile(delivered, 0.99),
            "parsed_p50": percentile(parsed, 0.5),
            "parsed_p99": percentile(parsed, 0.99),
            "cpu_s": cpu,
            "rss_ready": rss_ready,
            "rss_peak": max(peak, rss_bytes()),
            "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        if args.mode == "latency":
            result["rows"] = rows
        emit(result)

    asyncio.run(run())


def start_client(kind: str, venue: str, sim, mode: str, expect: int = 0, seconds: float = 0.0, **extra):
    cmd = [sys.executable, __file__, "client", kind, venue, sim.ws_urls[venue], sim.base_urls[venue], mode]
    cmd += ["--expect", str(expect), "--seconds", str(seconds)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    assert ready.get("ready"), ready
    return proc


def finish_client(proc) -> dict:
    out, _ = proc.communicate(timeout=600)
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------------
# 1. Bursts


def store_keys(store_dir: str) -> list[tuple]:
    from ccxt_pipeline_rs import ParquetStore

    table = ParquetStore(store_dir).read("liquidation")
    ts = table.column("ts_event").cast("int64").to_pylist()
    ids = table.column("instrument_id").to_pylist()
    sides = table.column("side").to_pylist()
    prices = table.column("price").to_pylist()
    quantities = table.column("quantity").to_pylist()
    return [
        (i.split("-")[0], t // 1_000_000, s, round(p, 10), round(q, 10))
        for i, t, s, p, q in zip(ids, ts, sides, prices, quantities, strict=True)
    ]


def truth_keys(events) -> list[tuple]:
    return [(e["symbol"], e["time_ms"], e["side"], round(e["price"], 10), round(e["quantity"], 10)) for e in events]


def burst_part(sizes: list[int]) -> list[str]:
    from ccxt_pipeline_rs.sim import ExchangeSimulator

    out = ["## Bursts: Bybit `allLiquidation`, 10 symbols, ours (store on) vs ccxt.pro (one run)", ""]
    out.append(
        "| burst | client | events received | stored = ground truth | events/s parsed | events/s delivered "
        "| events/s stored | latency p50 / p99 (ms) | CPU s | RSS ready → peak (MiB) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    mib = 1024 * 1024
    with ExchangeSimulator(seed=0, enforce_rate_limits=False, liquidation_rate=0.0) as sim:
        for venue in ("binance", "bybit"):
            sim.set_liquidation_rate(venue, 0.0)
        for size in sizes:
            for kind in ("ours", "ccxt"):
                store_dir = tempfile.mkdtemp(prefix="stream-bench-") if kind == "ours" else None
                extra = {"store": store_dir} if store_dir else {}
                proc = start_client(kind, "bybit", sim, "burst", expect=size, **extra)
                time.sleep(1.0)
                before = len(sim.liquidations_emitted("bybit"))
                sim.inject_ws_fault("bybit", "burst", count=size)
                result = finish_client(proc)
                burst = sim.liquidations_emitted("bybit")[before:]
                sent_ns = min(e["sent_at_ms"] for e in burst) * 1_000_000
                assert len(burst) == size, (len(burst), size)
                if any(e["delivered"] != 1 for e in burst):
                    print(
                        f"warning: {kind} {size}: not every event was written to exactly one connection",
                        file=sys.stderr,
                    )

                def rate(t, sent_ns=sent_ns, size=size):
                    return f"{size / ((t - sent_ns) / 1e9):,.0f}" if t else "—"

                def ms(t, sent_ns=sent_ns):
                    return (t - sent_ns) / 1e6

                if kind == "ours":
                    stored = store_keys(store_dir)
                    truth = truth_keys(burst)
                    exact = sorted(stored) == sorted(truth) and len(set(stored)) == len(stored)
                    check = f"{'yes' if exact else 'NO'} ({len(stored):,} rows)"
                    parsed_rate = rate(result["t_events"])
                    stored_rate = rate(result["t_stored"])
                    lat = f"{ms(result['recv_p50']):.1f} / {ms(result['recv_p99']):.1f}"
                else:
                    check = f"— (parsed {result['parsed']:,})"
                    parsed_rate = rate(result["t_events"])
                    stored_rate = "—"
                    lat = f"{ms(result['recv_p50']):.1f} / {ms(result['recv_p99']):.1f}" if result["received"] else "—"
                out.append(
                    f"| {size:,} | {kind} | {result['received']:,} | {check} | {parsed_rate} | {rate(result['t_last'])} "
                    f"| {stored_rate} | {lat} | {result['cpu_s']:.2f} "
                    f"| {result['rss_ready'] / mib:.0f} → {result['rss_peak'] / mib:.0f} |"
                )
                print(out[-1], file=sys.stderr, flush=True)
    out += [
        "",
        "events/s = burst size ÷ (when the last event was parsed / handed to the caller / stored − the frame's send "
        "time). Latency = when the caller got an event − the frame's send time.",
        "",
    ]
    return out


# ---------------------------------------------------------------------------------------------------------------
# 2. Latency at a steady rate


def latency_part(seconds: float, rate: float) -> list[str]:
    from ccxt_pipeline_rs.sim import ExchangeSimulator

    out = [
        f"## Latency at a steady rate: 10 symbols, {rate:g} liquidations/s/symbol, {seconds:g} s per client",
        "",
        "| venue | client | batching | events | from frame sent: p50 / p99 (ms) | from frame arrival in Rust "
        "(`ts_init`): p50 / p99 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    with ExchangeSimulator(seed=0, enforce_rate_limits=False, liquidation_rate=rate) as sim:
        for venue in ("binance", "bybit"):
            for kind, batch_rows, label in (
                ("ours", 1, "`batch_rows=1`"),
                ("ours", 0, "defaults (1000 rows / 1 s)"),
                ("ccxt", 0, "—"),
            ):
                extra = {"batch_rows": batch_rows} if kind == "ours" else {}
                proc = start_client(kind, venue, sim, "latency", seconds=seconds, **extra)
                result = finish_client(proc)
                sent = {(e["symbol"], e["time_ms"]): e["sent_at_ms"] for e in sim.liquidations_emitted(venue)}
                from_sent = []
                from_init = []
                for row in result["rows"]:
                    symbol, time_ms, recv_ns = row[0], row[1], row[2]
                    if (symbol, time_ms) in sent:
                        from_sent.append((recv_ns - sent[(symbol, time_ms)] * 1_000_000) / 1e6)
                    if len(row) > 3:
                        from_init.append(row[3] / 1e6)
                init = f"{percentile(from_init, 0.5):.3f} / {percentile(from_init, 0.99):.3f}" if from_init else "—"
                events = f"{len(from_sent):,}"
                if kind == "ccxt":
                    events += f" (parsed {result['parsed']:,})"
                out.append(
                    f"| {venue} | {kind} | {label} | {events} | {percentile(from_sent, 0.5):.2f} / "
                    f"{percentile(from_sent, 0.99):.2f} | {init} |"
                )
                print(out[-1], file=sys.stderr, flush=True)
    out += [
        "",
        "The frame's send time is the simulator's wall clock in whole milliseconds (Binance `E`, Bybit `ts`), so "
        "'from frame sent' carries up to 1 ms of rounding. `ts_init` is stamped in Rust when the frame is read "
        "off the socket; both are compared with `time.time_ns()` when the table reached the Python caller.",
        "",
    ]
    return out


# ---------------------------------------------------------------------------------------------------------------
# 3. RSS over a long accelerated run


def serve(args) -> None:
    """The simulator in its own process: prints its URLs, runs until stdin closes."""
    from ccxt_pipeline_rs.sim import ExchangeSimulator

    with ExchangeSimulator(seed=0, enforce_rate_limits=not args.no_rate_limits, liquidation_rate=args.rate) as sim:
        if args.drop_every:
            for venue in ("binance", "bybit"):
                sim.inject_ws_fault(venue, "drop_every", seconds=args.drop_every)
        emit({"base_urls": sim.base_urls, "ws_urls": sim.ws_urls})
        sys.stdin.read()
        emitted = {venue: len(sim.liquidations_emitted(venue)) for venue in ("binance", "bybit")}
        emit({"emitted": emitted})


def start_server(rate: float, drop_every: float, rate_limits: bool = True):
    cmd = [sys.executable, __file__, "serve", "--rate", str(rate), "--drop-every", str(drop_every)]
    if not rate_limits:
        cmd.append("--no-rate-limits")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    urls = json.loads(proc.stdout.readline())
    return proc, urls


def stop_server(proc) -> dict:
    out, _ = proc.communicate(input="", timeout=60)
    return json.loads(out.strip().splitlines()[-1])


def rss_client(args) -> None:
    from ccxt_pipeline_rs import Orchestrator, ParquetStore

    urls = json.loads(args.urls)
    store = ParquetStore(args.store)
    orchestrator = Orchestrator(["binance", "bybit", "hyperliquid"], urls["base_urls"], ws_urls=urls["ws_urls"])
    samples = []
    stop = threading.Event()

    def sample():
        t0 = time.monotonic()
        while not stop.is_set():
            samples.append((round(time.monotonic() - t0, 1), rss_bytes(), anon_bytes()))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = 0
    with orchestrator.stream_liquidations(SYMBOLS, store=store, poll_interval=1.0) as stream:
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            table = stream.get(timeout=0.2)
            if table is not None:
                rows += table.num_rows
    stop.set()
    sampler.join()
    emit(
        {
            "samples": samples,
            "rows": rows,
            "events": stream.events,
            "stored": stream.stored,
            "reconnects": stream.reconnects,
            "gaps": stream.gaps.num_rows,
            "gap_reasons": dict(Counter(stream.gaps.column("reason").to_pylist())),
            "gap_seconds": round(
                sum(
                    (e - b).total_seconds()
                    for b, e in zip(
                        stream.gaps.column("ts_event").to_pylist(),
                        stream.gaps.column("ts_init").to_pylist(),
                        strict=True,
                    )
                ),
                1,
            ),
            "dropped": stream.dropped,
            "cpu_s": cpu_seconds(),
        }
    )


def rss_part(seconds: float, rate: float, drop_every: float) -> list[str]:
    server, urls = start_server(rate, drop_every)
    store_dir = tempfile.mkdtemp(prefix="stream-rss-")
    try:
        cmd = [sys.executable, __file__, "rss-client", "--urls", json.dumps(urls), "--store", store_dir]
        cmd += ["--seconds", str(seconds)]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=seconds + 300, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        emitted = stop_server(server)["emitted"]
    mib = 1024 * 1024
    samples = result["samples"]
    values = [v for _, v, _ in samples]
    minute = [v for t, v, _ in samples if t >= 60]
    anon = [a for _, _, a in samples]
    anon_minute = [a for t, _, a in samples if t >= 60]
    out = [
        f"## RSS over {seconds:g} s: 10 symbols x 3 venues, {rate:g} liquidations/s/symbol, Binance and Bybit "
        f"connections dropped every {drop_every:g} s, store on",
        "",
        "| memory | start (1 s) | after 60 s | peak | end |",
        "|---|---|---|---|---|",
        f"| RSS | {values[1] / mib:.1f} MiB | {minute[0] / mib:.1f} MiB | {max(values) / mib:.1f} MiB "
        f"| {values[-1] / mib:.1f} MiB |",
        f"| RSS without file-backed pages (heap) | {anon[1] / mib:.1f} MiB | {anon_minute[0] / mib:.1f} MiB "
        f"| {max(anon) / mib:.1f} MiB | {anon[-1] / mib:.1f} MiB |",
        "",
        f"Events {result['events']:,}, stored {result['stored']:,}, reconnects {result['reconnects']}, gaps "
        f"{result['gaps']} ({result['gap_reasons']}; {result['gap_seconds']} stream-seconds), dropped from the "
        f"iterator {result['dropped']}, CPU {result['cpu_s']:.1f} s.",
        "",
        f"Simulator emitted (Binance, Bybit, all subscribers): {emitted['binance']:,}, {emitted['bybit']:,}.",
        "RSS / heap every 10 s (MiB): "
        + ", ".join(f"{v / mib:.1f}/{a / mib:.1f}" for t, v, a in samples if int(t) % 10 == 0),
        "",
    ]
    return out


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    client = sub.add_parser("client")
    client.add_argument("kind", choices=["ours", "ccxt"])
    client.add_argument("venue", choices=["binance", "bybit"])
    client.add_argument("ws")
    client.add_argument("rest")
    client.add_argument("mode", choices=["burst", "latency"])
    client.add_argument("--expect", type=int, default=0)
    client.add_argument("--seconds", type=float, default=0.0)
    client.add_argument("--store", default=None)
    client.add_argument("--batch-rows", type=int, default=0)
    server = sub.add_parser("serve")
    server.add_argument("--rate", type=float, default=2.0)
    server.add_argument("--drop-every", type=float, default=0.0)
    server.add_argument("--no-rate-limits", action="store_true")
    rss = sub.add_parser("rss-client")
    rss.add_argument("--urls", required=True)
    rss.add_argument("--store", required=True)
    rss.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--parts", default="burst,latency,rss")
    parser.add_argument("--bursts", default="1000,10000,100000")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--latency-rate", type=float, default=20.0)
    parser.add_argument("--rss-seconds", type=float, default=180.0)
    parser.add_argument("--rss-rate", type=float, default=50.0)
    parser.add_argument("--rss-drop-every", type=float, default=10.0)
    args = parser.parse_args()
    if args.command == "client":
        (ours_client if args.kind == "ours" else ccxt_client)(args)
        return
    if args.command == "serve":
        serve(args)
        return
    if args.command == "rss-client":
        rss_client(args)
        return
    import ccxt

    load = os.getloadavg()
    lines = [
        f"Python {sys.version.split()[0]}, ccxt {ccxt.__version__}, {os.cpu_count()} cores, load average before: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "",
    ]
    parts = args.parts.split(",")
    if "burst" in parts:
        lines += burst_part([int(s) for s in args.bursts.split(",")])
    if "latency" in parts:
        lines += latency_part(args.latency_seconds, args.latency_rate)
    if "rss" in parts:
        lines += rss_part(args.rss_seconds, args.rss_rate, args.rss_drop_every)
    load = os.getloadavg()
    lines.append(f"Load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
