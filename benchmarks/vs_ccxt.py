"""ccxt_pipeline_rs against ccxt, side by side in one run on one simulator (numbers go to BENCHMARKS.md).

1. Parsers: rows/s of our Rust history-page parsers (criterion, `cargo bench --bench parsers -- history`) against
   ccxt's own Python parsing of the same pages (`json.loads` + ccxt's parse method, or ccxt's fetch method with the
   transport stubbed where ccxt parses inline). Pages come from the simulator at the same seed and frozen clock as
   the criterion bench, so both sides parse byte-identical bodies (checked by size).
2. Backfill: 30 days of 5-minute open interest (Binance, Bybit) and funding history (all three venues) for ten
   symbols, rate limits off everywhere; each side in its own subprocess for wall time and peak RSS; row-for-row
   parity of what both got.
3. Rate-limit-bound speed: a Bybit open-interest backfill of >= 1500 requests with limits on (simulator enforcing
   600 requests / 5 s, our client limiting); achieved requests/s against the allowed 120/s, and refusals.
4. `benchmarks/store_bench.py` in the same build.

    pip install ".[bench]"      # ccxt
    python benchmarks/vs_ccxt.py [--skip-cargo] [--skip-store] [--skip-ccxt-rate-limited]

Prints Markdown. Needs a release build of the package for fair numbers (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SIM_SEED = 0
# Parser pages are taken at this frozen clock (keep in step with HISTORY_CLOCK_MS in benches/parsers.rs).
PARSER_CLOCK_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
# Backfills run with the market clock frozen here; it lies in the past so ccxt's wall-clock pagination agrees.
BACKFILL_CLOCK_MS = PARSER_CLOCK_MS
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
BACKFILL_DAYS = 30
RATE_LIMITED_DAYS = 200  # 10 symbols x 200 days of 5-minute OI = 2890 pages of 200 rows
BYBIT_REQUESTS_PER_WINDOW, BYBIT_WINDOW_S = 600, 5

BASES = ["BTC", "ETH", "SOL", "XRP", "DOGE", "1000PEPE", "BNB", "ADA", "AVAX", "LINK"]
SYMBOLS = [f"{base}USDT-PERP" for base in BASES]
# ccxt's unified symbols (Hyperliquid is USDC-margined and lists PEPE as kPEPE).
CCXT_SYMBOLS = {
    "binance": {base: f"{base}/USDT:USDT" for base in BASES},
    "bybit": {base: f"{base}/USDT:USDT" for base in BASES},
    "hyperliquid": {base: ("KPEPE" if base == "1000PEPE" else base) + "/USDC:USDC" for base in BASES},
}

# The pages of the criterion bench (benches/parsers.rs `history_pages`): name -> (venue, method, path, rows).
PARSER_PAGES = {
    "binance_open_interest_history": (
        "binance",
        "GET",
        "/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=500",
        500,
    ),
    "binance_funding_rate_history": ("binance", "GET", "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1000", 1000),
    "bybit_open_interest_history": (
        "bybit",
        "GET",
        "/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=5min&limit=200",
        200,
    ),
    "bybit_funding_rate_history": (
        "bybit",
        "GET",
        "/v5/market/funding/history?category=linear&symbol=BTCUSDT&limit=200",
        200,
    ),
    "hyperliquid_funding_rate_history": ("hyperliquid", "POST", "/info", 500),
}
PARSER_LABELS = {
    "binance_open_interest_history": "Binance `openInterestHist`",
    "binance_funding_rate_history": "Binance `fundingRate`",
    "bybit_open_interest_history": "Bybit `open-interest`",
    "bybit_funding_rate_history": "Bybit `funding/history`",
    "hyperliquid_funding_rate_history": "Hyperliquid `fundingHistory`",
}


# ---------------------------------------------------------------------------------------------------------------
# ccxt set-up, shared by every part


def ccxt_exchange(venue: str, base_url: str, asynchronous: bool, rate_limit: bool = False):
    """A ccxt exchange of `venue` talking to the simulator: market types restricted to linear/swap, currencies not
    fetched (docs/architecture.md#sim), ccxt's own rate limiter on or off."""
    if asynchronous:
        import ccxt.async_support as ccxt_module
    else:
        import ccxt as ccxt_module
    cls = {"binance": ccxt_module.binanceusdm, "bybit": ccxt_module.bybit, "hyperliquid": ccxt_module.hyperliquid}[
        venue
    ]
    exchange = cls({"enableRateLimit": rate_limit})
    exchange.has["fetchCurrencies"] = False
    api = dict(exchange.urls["api"])
    if venue == "binance":
        # USDⓈ-M endpoints only: `fapiPublic…`/`fapiPrivate…` are …/fapi/vN, `fapiData` is …/futures/data.
        for key, url in api.items():
            if key.startswith(("fapiPublic", "fapiPrivate")):
                api[key] = f"{base_url}/fapi/{url.rsplit('/', 1)[1]}"
        api["fapiData"] = f"{base_url}/futures/data"
        exchange.options["fetchMarkets"] = {"types": ["linear"]}
    elif venue == "bybit":
        api = {key: base_url for key in api}  # spot, futures, v2, public, private: all the same host
        exchange.options["fetchMarkets"] = {**exchange.options["fetchMarkets"], "types": ["linear"]}
    else:
        api = {"public": base_url, "private": base_url}
        exchange.options["fetchMarkets"] = {**exchange.options["fetchMarkets"], "types": ["swap"]}
    exchange.urls["api"] = api
    return exchange


def fetch_page(base_urls: dict[str, str], venue: str, method: str, path: str) -> bytes:
    import urllib.request

    url = base_urls[venue] + path
    if method == "POST":
        body = json.dumps({"type": "fundingHistory", "coin": "BTC", "startTime": PARSER_CLOCK_MS - 500 * HOUR_MS})
        request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    else:
        request = urllib.request.Request(url)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request) as response:
        return response.read()


# ---------------------------------------------------------------------------------------------------------------
# 1. Parsers


def time_per_call(fn, min_seconds: float) -> float:
    """Median seconds per call over batches of >= 50 ms, for at least `min_seconds` and 7 batches."""
    fn()
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= 0.05:
            break
        number *= 2
    samples = [elapsed / number]
    deadline = time.perf_counter() + min_seconds
    while len(samples) < 7 or time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - started) / number)
    return statistics.median(samples)


def run_criterion(skip: bool) -> dict[str, dict]:
    """Runs the history parser benches (unless `skip`) and reads criterion's estimates."""
    if not skip:
        command = [
            "cargo",
            "bench",
            "--bench",
            "parsers",
            "--",
            "history",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
        ]
        print(f"running: {' '.join(command)}", file=sys.stderr)
        subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    results = {}
    for name, (_, _, _, rows) in PARSER_PAGES.items():
        group = target / "criterion" / name
        rows_dir = group / "rows" / str(rows) / "new"
        estimates = json.loads((rows_dir / "estimates.json").read_text())
        # The body size is the parameter of the `bytes` benchmark; older runs may have left other sizes.
        newest = max((group / "bytes").glob("*/new/estimates.json"), key=lambda path: path.stat().st_mtime)
        results[name] = {
            "median_ns": estimates["median"]["point_estimate"],
            "body_bytes": int(newest.parent.parent.name),
        }
    return results


def ccxt_parsers(base_urls: dict[str, str], min_seconds: float) -> dict[str, dict]:
    """Seconds per page for ccxt on each parser page: json.loads + ccxt's parsing, and json.loads alone."""
    exchanges = {venue: ccxt_exchange(venue, base_urls[venue], asynchronous=False) for venue in base_urls}
    for exchange in exchanges.values():
        exchange.load_markets()
    binance, bybit, hyperliquid = exchanges["binance"], exchanges["bybit"], exchanges["hyperliquid"]
    markets = {venue: exchanges[venue].market(CCXT_SYMBOLS[venue]["BTC"]) for venue in exchanges}

    def stubbed(exchange, body: bytes, call):
        """ccxt's fetch method itself, its transport replaced by decoding `body` (ccxt parses these pages inline
        in the fetch method; there is no parse method to call)."""

        def run():
            exchange.fetch = lambda *args, **kwargs: json.loads(body)
            return call()

        return run

    results = {}
    for name, (venue, method, path, rows) in PARSER_PAGES.items():
        body = fetch_page(base_urls, venue, method, path)
        if name == "binance_open_interest_history":
            how = "`json.loads` + `parse_open_interests_history`"
            parse = lambda: binance.parse_open_interests_history(json.loads(body), markets["binance"])  # noqa: E731
        elif name == "binance_funding_rate_history":
            how = "`json.loads` + `parse_funding_rate_histories`"
            parse = lambda: binance.parse_funding_rate_histories(json.loads(body), markets["binance"])  # noqa: E731
        elif name == "bybit_open_interest_history":
            how = "`json.loads` + `add_pagination_cursor_to_result` + `parse_open_interests_history`"
            parse = lambda: bybit.parse_open_interests_history(  # noqa: E731
                bybit.add_pagination_cursor_to_result(json.loads(body)), markets["bybit"]
            )
        elif name == "bybit_funding_rate_history":
            how = "`fetch_funding_rate_history`, transport stubbed (`json.loads`)"
            parse = stubbed(bybit, body, lambda: bybit.fetch_funding_rate_history("BTC/USDT:USDT"))
        else:
            how = "`fetch_funding_rate_history`, transport stubbed (`json.loads`)"
            parse = stubbed(hyperliquid, body, lambda: hyperliquid.fetch_funding_rate_history("BTC/USDC:USDC"))
        parsed = parse()
        assert len(parsed) == rows, (name, len(parsed))
        results[name] = {
            "rows": rows,
            "body_bytes": len(body),
            "how": how,
            "parse_s": time_per_call(parse, min_seconds),
            "json_s": time_per_call(lambda: json.loads(body), min_seconds),
        }
    # What a stubbed fetch costs besides parsing: the same call answered with an empty page.
    empty = {
        "bybit": json.dumps(
            {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}, "retExtInfo": {}, "time": 0}
        ).encode(),
        "hyperliquid": b"[]",
    }
    overhead = {
        "bybit": time_per_call(
            stubbed(bybit, empty["bybit"], lambda: bybit.fetch_funding_rate_history("BTC/USDT:USDT")), min_seconds / 4
        ),
        "hyperliquid": time_per_call(
            stubbed(hyperliquid, empty["hyperliquid"], lambda: hyperliquid.fetch_funding_rate_history("BTC/USDC:USDC")),
            min_seconds / 4,
        ),
    }
    return {"pages": results, "stub_overhead_s": overhead}


def parser_table(ours: dict, theirs: dict) -> list[str]:
    lines = [
        "| page (BTC, from the simulator) | rows | bytes | ours: Rust parser (criterion median) | ccxt: time / page "
        "| ours rows/s | ccxt rows/s | ratio ours ÷ ccxt | ccxt `json.loads` alone, rows/s | ccxt timed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, page in theirs["pages"].items():
        rows = page["rows"]
        our_s = ours[name]["median_ns"] / 1e9
        assert page["body_bytes"] == ours[name]["body_bytes"], (
            f"{name}: ccxt parsed {page['body_bytes']} bytes, criterion {ours[name]['body_bytes']}"
        )
        lines.append(
            f"| {PARSER_LABELS[name]} | {rows} | {page['body_bytes']:,} | {fmt_time(our_s)} | {fmt_time(page['parse_s'])} "
            f"| {fmt_rate(rows / our_s)} | {fmt_rate(rows / page['parse_s'])} | **{page['parse_s'] / our_s:.0f}×** "
            f"| {fmt_rate(rows / page['json_s'])} | {page['how']} |"
        )
    return lines


# ---------------------------------------------------------------------------------------------------------------
# 2. Backfill (children)


def digest(groups: dict[tuple[str, str, str], list[tuple[int, float]]]) -> dict[str, dict]:
    """Per (kind, venue, base): row count, first/last timestamp and a hash of the sorted (ms, value) rows."""
    out = {}
    for (kind, venue, base), rows in groups.items():
        rows.sort()
        sha = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        out["/".join((kind, venue, base))] = {
            "rows": len(rows),
            "unique": len({ts for ts, _ in rows}),
            "first": rows[0][0] if rows else None,
            "last": rows[-1][0] if rows else None,
            "sha": sha,
        }
    return out


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(base_urls: dict[str, str], start_ms: int, end_ms: int) -> dict:
    import pyarrow.compute as pc
    from ccxt_pipeline_rs import Orchestrator

    after_import = rss_mib()
    started = time.perf_counter()
    oi_orchestrator = Orchestrator(exchanges=["binance", "bybit"], base_urls=base_urls, rate_limits=False)
    funding_orchestrator = Orchestrator(base_urls=base_urls, rate_limits=False)

    async def both():
        return await asyncio.gather(
            oi_orchestrator.fetch_open_interest_history_async(SYMBOLS, start_ms, end_ms, period="5m"),
            funding_orchestrator.fetch_funding_rate_history_async(SYMBOLS, start_ms, end_ms),
        )

    oi, funding = asyncio.run(both())
    elapsed = time.perf_counter() - started
    peak = rss_mib()
    failures = [f"{type(e).__name__}: {e}" for e in (*oi.failures, *funding.failures)]
    groups: dict = {}
    for kind, result, column in (("oi", oi, "open_interest"), ("funding", funding, "funding_rate")):
        table = result.table
        ms = pc.divide(table["ts_event"].cast("int64"), 1_000_000).to_pylist()
        for venue, symbol, ts, value in zip(
            table["venue"].to_pylist(), table["symbol"].to_pylist(), ms, table[column].to_pylist(), strict=False
        ):
            base = symbol.removesuffix("-PERP").removesuffix("USDT").removesuffix("USD")
            groups.setdefault((kind, venue, base), []).append((ts, value))
    return {
        "elapsed_s": elapsed,
        "rss_after_import_mib": after_import,
        "peak_rss_mib": peak,
        "failures": failures,
        "warnings": [*oi.warnings, *funding.warnings],
        "digest": digest(groups),
    }


def child_ccxt(base_urls: dict[str, str], start_ms: int, end_ms: int) -> dict:
    import ccxt.async_support  # noqa: F401  (import cost counted in RSS after import, not in the time)

    after_import = rss_mib()
    pagination = {"paginate": True, "until": end_ms, "paginationCalls": 100}

    async def hyperliquid_funding(exchange, symbol):
        # ccxt's Hyperliquid fetchFundingRateHistory has no `paginate` (it would be sent to the venue and ignored):
        # page by hand, 500 settlements per answer, on from the last time + 1.
        rows, since = [], start_ms
        while True:
            page = await exchange.fetch_funding_rate_history(symbol, since, None, {"until": end_ms})
            rows += page
            if len(page) < 500:
                return rows
            since = page[-1]["timestamp"] + 1

    async def run():
        exchanges = {venue: ccxt_exchange(venue, base_urls[venue], asynchronous=True) for venue in base_urls}
        try:
            await asyncio.gather(*(exchange.load_markets() for exchange in exchanges.values()))
            jobs = []
            for base in BASES:
                for venue in ("binance", "bybit"):
                    symbol = CCXT_SYMBOLS[venue][base]
                    jobs.append(
                        (
                            ("oi", venue, base),
                            exchanges[venue].fetch_open_interest_history(
                                symbol, "5m", start_ms, None, dict(pagination)
                            ),
                        )
                    )
                    jobs.append(
                        (
                            ("funding", venue, base),
                            exchanges[venue].fetch_funding_rate_history(symbol, start_ms, None, dict(pagination)),
                        )
                    )
                jobs.append(
                    (
                        ("funding", "hyperliquid", base),
                        hyperliquid_funding(exchanges["hyperliquid"], CCXT_SYMBOLS["hyperliquid"][base]),
                    )
                )
            results = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
            return [key for key, _ in jobs], results
        finally:
            await asyncio.gather(*(exchange.close() for exchange in exchanges.values()))

    started = time.perf_counter()
    keys, results = asyncio.run(run())
    elapsed = time.perf_counter() - started
    peak = rss_mib()
    failures, groups = [], {}
    for key, result in zip(keys, results, strict=False):
        if isinstance(result, BaseException):
            failures.append(f"{'/'.join(key)}: {type(result).__name__}: {result}")
            continue
        value_key = "openInterestAmount" if key[0] == "oi" else "fundingRate"
        groups[key] = [(row["timestamp"], row[value_key]) for row in result]
    return {
        "elapsed_s": elapsed,
        "rss_after_import_mib": after_import,
        "peak_rss_mib": peak,
        "failures": failures,
        "warnings": [],
        "digest": digest(groups),
    }


def child_rate_limited(base_urls: dict[str, str], start_ms: int, end_ms: int) -> dict:
    from ccxt_pipeline_rs import Orchestrator

    retries = []

    class Retries(logging.Handler):
        def emit(self, record):
            retries.append(record.getMessage())

    logging.getLogger("ccxt_pipeline_rs").addHandler(Retries(level=logging.WARNING))
    completions = []

    def progress(venue, instrument_id, rows, fraction):
        completions.append(time.perf_counter())

    orchestrator = Orchestrator(exchanges=["bybit"], base_urls={"bybit": base_urls["bybit"]}, rate_limits=True)
    started = time.perf_counter()
    result = orchestrator.fetch_open_interest_history(SYMBOLS, start_ms, end_ms, period="5m", progress=progress)
    elapsed = time.perf_counter() - started
    return {
        "elapsed_s": elapsed,
        "rows": result.table.num_rows,
        "failures": [f"{type(e).__name__}: {e}" for e in result.failures],
        "warnings": result.warnings,
        "refusals": sum("HTTP 403" in message for message in retries),
        "log_warnings": retries,
        "page_completions_s": [t - started for t in completions],
    }


def child_rate_limited_ccxt(base_urls: dict[str, str], start_ms: int, end_ms: int) -> dict:
    """The same Bybit backfill with ccxt's own rate limiter on (`enableRateLimit=True`, its defaults)."""
    statuses: dict[int, int] = {}

    async def run():
        exchange = ccxt_exchange("bybit", base_urls["bybit"], asynchronous=True, rate_limit=True)
        handle_errors = exchange.handle_errors

        def counting(code, *args):
            # ccxt hands every answer, refusals included, to handle_errors first.
            statuses[code] = statuses.get(code, 0) + 1
            return handle_errors(code, *args)

        exchange.handle_errors = counting
        try:
            await exchange.load_markets()
            return await asyncio.gather(
                *(
                    exchange.fetch_open_interest_history(
                        CCXT_SYMBOLS["bybit"][base],
                        "5m",
                        start_ms,
                        None,
                        {"paginate": True, "until": end_ms, "paginationCalls": 1000},
                    )
                    for base in BASES
                ),
                return_exceptions=True,
            )
        finally:
            await exchange.close()

    started = time.perf_counter()
    results = asyncio.run(run())
    elapsed = time.perf_counter() - started
    failures = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    rows = sum(len(r) for r in results if not isinstance(r, BaseException))
    return {
        "elapsed_s": elapsed,
        "rows": rows,
        "failures": failures,
        "warnings": [],
        "refusals": statuses.get(403, 0),
        "page_completions_s": [],
    }


CHILDREN = {
    "ours": child_ours,
    "ccxt": child_ccxt,
    "rate-limited": child_rate_limited,
    "rate-limited-ccxt": child_rate_limited_ccxt,
}


def run_child(mode: str, base_urls: dict[str, str], start_ms: int, end_ms: int) -> dict:
    """Runs `mode` in a fresh interpreter; returns its report plus wall time and peak RSS seen by the parent."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--urls",
        json.dumps(base_urls),
        "--start",
        str(start_ms),
        "--end",
        str(end_ms),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.stdout.close()
    if status != 0:
        raise RuntimeError(f"child {mode} failed with status {status}")
    report = json.loads(output.decode().strip().splitlines()[-1])
    report["process_wall_s"] = wall
    report["process_peak_rss_mib"] = usage.ru_maxrss / 1024
    return report


# ---------------------------------------------------------------------------------------------------------------
# 2b. What ccxt fetches with its pagination defaults (BTC only; untimed)


async def ccxt_defaults(base_urls: dict[str, str], start_ms: int, end_ms: int) -> list[str]:
    exchanges = {venue: ccxt_exchange(venue, base_urls[venue], asynchronous=True) for venue in base_urls}
    lines = []
    try:
        await asyncio.gather(*(exchange.load_markets() for exchange in exchanges.values()))
        calls = [
            (
                "Binance OI 5m",
                "binance",
                "fetch_open_interest_history",
                ("5m", start_ms, None),
                {"paginate": True, "until": end_ms},
            ),
            ("Binance OI 5m", "binance", "fetch_open_interest_history", ("5m", start_ms, None), {"paginate": True}),
            (
                "Bybit OI 5m",
                "bybit",
                "fetch_open_interest_history",
                ("5m", start_ms, None),
                {"paginate": True, "until": end_ms},
            ),
            ("Bybit OI 5m", "bybit", "fetch_open_interest_history", ("5m", start_ms, None), {"paginate": True}),
            (
                "Hyperliquid funding",
                "hyperliquid",
                "fetch_funding_rate_history",
                (start_ms, None),
                {"paginate": True, "until": end_ms},
            ),
        ]
        for label, venue, method, args, params in calls:
            symbol = CCXT_SYMBOLS[venue]["BTC"]
            call = f"`{method}({symbol!r}, {', '.join(map(repr, args))}, {params})`".replace(str(start_ms), "since")
            call = call.replace(str(end_ms), "until")
            try:
                rows = await getattr(exchanges[venue], method)(symbol, *args, dict(params))
                lines.append(f"| {label} | {call} | {len(rows)} rows |")
            except Exception as error:  # noqa: BLE001 - the point is to show what ccxt does
                lines.append(f"| {label} | {call} | {type(error).__name__}: {str(error)[:120]} |")
    finally:
        await asyncio.gather(*(exchange.close() for exchange in exchanges.values()))
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Formatting and main


def fmt_rate(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.0f} k"
    return f"{per_second:.0f}"


def fmt_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def parity_table(ours: dict, theirs: dict) -> tuple[list[str], bool]:
    lines = [
        "| data | venue | symbols | rows, ours | rows, ccxt | identical (timestamps and values) |",
        "|---|---|---|---|---|---|",
    ]
    all_equal = True
    for kind, venues in (("oi", ("binance", "bybit")), ("funding", ("binance", "bybit", "hyperliquid"))):
        for venue in venues:
            keys = [f"{kind}/{venue}/{base}" for base in BASES]
            ours_rows = sum(ours["digest"].get(key, {}).get("rows", 0) for key in keys)
            ccxt_rows = sum(theirs["digest"].get(key, {}).get("rows", 0) for key in keys)
            same = [key for key in keys if key in ours["digest"] and ours["digest"][key] == theirs["digest"].get(key)]
            all_equal &= len(same) == len(keys)
            label = "OI 5m" if kind == "oi" else "funding"
            lines.append(
                f"| {label} | {venue} | {len(keys)} | {ours_rows:,} | {ccxt_rows:,} | {len(same)}/{len(keys)} symbols |"
            )
    return lines, all_equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--urls")
    parser.add_argument("--start", type=int)
    parser.add_argument("--end", type=int)
    parser.add_argument("--skip-cargo", action="store_true", help="read criterion's last results instead of running")
    parser.add_argument("--skip-store", action="store_true", help="do not run benchmarks/store_bench.py")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="Python timing per ccxt parser")
    parser.add_argument(
        "--skip-ccxt-rate-limited",
        action="store_true",
        help="skip ccxt's rate-limited backfill (about 5 minutes at ccxt's default 10 requests/s)",
    )
    args = parser.parse_args()
    if args.child:
        report = CHILDREN[args.child](json.loads(args.urls), args.start, args.end)
        print(json.dumps(report))
        return

    import ccxt
    from ccxt_pipeline_rs import __version__
    from ccxt_pipeline_rs.sim import ExchangeSimulator

    out: list[str] = []
    out.append(
        f"ccxt {ccxt.__version__}, ccxt_pipeline_rs {__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; simulator seed {SIM_SEED}."
    )

    # 1. Parsers.
    criterion = run_criterion(args.skip_cargo)
    with ExchangeSimulator(seed=SIM_SEED, enforce_rate_limits=False) as sim:
        sim.server.set_clock_ms(PARSER_CLOCK_MS)
        theirs = ccxt_parsers(sim.base_urls, args.min_seconds)
    out += ["", "### Parsers: one full history page, rows/s", ""]
    out += parser_table(criterion, theirs)
    overhead = theirs["stub_overhead_s"]
    out += [
        "",
        "Ours: response bytes to a `Vec` of records in Rust (what the fetch layer then turns into Arrow); "
        "ccxt: response bytes to a list of Python dicts. Both parse the same bytes (sizes checked). "
        f"Stubbed-transport rows include ccxt's request building for one call (measured with an empty page: "
        f"Bybit {fmt_time(overhead['bybit'])}, Hyperliquid {fmt_time(overhead['hyperliquid'])}).",
    ]

    # 2. Backfill.
    end_ms = BACKFILL_CLOCK_MS
    start_ms = end_ms - BACKFILL_DAYS * DAY_MS
    with ExchangeSimulator(seed=SIM_SEED, enforce_rate_limits=False) as sim:
        sim.server.set_clock_ms(BACKFILL_CLOCK_MS)
        reports = {}
        for side in ("ours", "ccxt"):
            before = {venue: sim.request_count(venue) for venue in sim.base_urls}
            reports[side] = run_child(side, sim.base_urls, start_ms, end_ms)
            reports[side]["requests"] = {venue: sim.request_count(venue) - before[venue] for venue in sim.base_urls}
    # ccxt's defaults paginate from the wall clock: show them on a simulator whose clock is the wall clock.
    with ExchangeSimulator(seed=SIM_SEED, enforce_rate_limits=False) as sim:
        now_ms = int(time.time() * 1000) // HOUR_MS * HOUR_MS
        sim.server.set_clock_ms(now_ms)
        defaults = asyncio.run(ccxt_defaults(sim.base_urls, now_ms - BACKFILL_DAYS * DAY_MS, now_ms))
    ours, theirs_bf = reports["ours"], reports["ccxt"]
    out += [
        "",
        f"### Backfill: {BACKFILL_DAYS} days, 10 symbols, OI 5m (Binance, Bybit) + funding (3 venues), rate limits off",
        "",
    ]
    out += ["| | ours | ccxt (async) | ccxt ÷ ours |", "|---|---|---|---|"]
    rows = lambda report: sum(d["rows"] for d in report["digest"].values())  # noqa: E731
    requests = lambda report: sum(report["requests"].values())  # noqa: E731
    out.append(
        f"| wall time (markets + fetch) | {ours['elapsed_s']:.2f} s | {theirs_bf['elapsed_s']:.2f} s | "
        f"**{theirs_bf['elapsed_s'] / ours['elapsed_s']:.1f}×** |"
    )
    out.append(
        f"| process wall time (interpreter start to exit) | {ours['process_wall_s']:.2f} s | "
        f"{theirs_bf['process_wall_s']:.2f} s | {theirs_bf['process_wall_s'] / ours['process_wall_s']:.1f}× |"
    )
    out.append(
        f"| peak RSS (`ru_maxrss` when the fetch returned) | {ours['peak_rss_mib']:.0f} MiB | "
        f"{theirs_bf['peak_rss_mib']:.0f} MiB | **{theirs_bf['peak_rss_mib'] / ours['peak_rss_mib']:.1f}×** |"
    )
    out.append(
        f"| RSS after imports, before fetching | {ours['rss_after_import_mib']:.0f} MiB | "
        f"{theirs_bf['rss_after_import_mib']:.0f} MiB | |"
    )
    out.append(
        f"| peak RSS above imports | {ours['peak_rss_mib'] - ours['rss_after_import_mib']:.0f} MiB | "
        f"{theirs_bf['peak_rss_mib'] - theirs_bf['rss_after_import_mib']:.0f} MiB | |"
    )
    out.append(
        f"| peak RSS of the whole process, parity check included (`wait4`) | "
        f"{ours['process_peak_rss_mib']:.0f} MiB | {theirs_bf['process_peak_rss_mib']:.0f} MiB | |"
    )
    out.append(f"| rows | {rows(ours):,} | {rows(theirs_bf):,} | |")
    out.append(
        f"| requests served (binance / bybit / hyperliquid) | "
        f"{' / '.join(str(v) for v in ours['requests'].values())} | "
        f"{' / '.join(str(v) for v in theirs_bf['requests'].values())} | "
        f"{requests(theirs_bf) / requests(ours):.2f}× |"
    )
    out.append(
        f"| rows/s | {fmt_rate(rows(ours) / ours['elapsed_s'])} | "
        f"{fmt_rate(rows(theirs_bf) / theirs_bf['elapsed_s'])} | |"
    )
    parity, all_equal = parity_table(ours, theirs_bf)
    out += ["", "Row parity (per symbol: same count, timestamps and values):", ""] + parity
    for side, report in reports.items():
        for failure in report["failures"]:
            out.append(f"\n{side} failure: {failure}")
        for warning in report["warnings"]:
            out.append(f"\n{side} warning: {warning}")
    out += [
        "",
        f"ccxt with its pagination defaults (BTC, the last {BACKFILL_DAYS} days up to the wall clock; "
        f"complete = {BACKFILL_DAYS * 288 + 1} OI rows, {BACKFILL_DAYS * 24} Hyperliquid settlements; untimed):",
        "",
        "| data | call | got |",
        "|---|---|---|",
    ] + defaults

    # 3. Rate-limit-bound speed.
    end_ms = BACKFILL_CLOCK_MS
    start_ms = end_ms - RATE_LIMITED_DAYS * DAY_MS
    expected_rows = len(SYMBOLS) * (RATE_LIMITED_DAYS * 288 + 1)
    allowed = BYBIT_REQUESTS_PER_WINDOW / BYBIT_WINDOW_S
    out += [
        "",
        f"### Rate-limit-bound: Bybit OI 5m, 10 symbols × {RATE_LIMITED_DAYS} days, limits on "
        f"(simulator refuses over {BYBIT_REQUESTS_PER_WINDOW} requests / {BYBIT_WINDOW_S} s "
        f"= {allowed:.0f}/s with 403)",
        "",
    ]
    pages = len(SYMBOLS) * math.ceil((RATE_LIMITED_DAYS * 288 + 1) / 200)
    out += [
        "| client | requests served (history pages + other) | rows (expected) | wall time | requests/s "
        "| ÷ 120/s | least time the limit allows for these requests | limit efficiency | 403 refusals | failures |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    timeline = ""
    clients = [
        ("ours (`rate_limits=True`)", "rate-limited"),
        ("ccxt (`enableRateLimit=True`, its defaults)", "rate-limited-ccxt"),
    ]
    for side, mode in clients[:1] if args.skip_ccxt_rate_limited else clients:
        with ExchangeSimulator(seed=SIM_SEED, enforce_rate_limits=True) as sim:
            sim.server.set_clock_ms(BACKFILL_CLOCK_MS)
            report = run_child(mode, sim.base_urls, start_ms, end_ms)
            served = sim.request_count("bybit")
        elapsed = report["elapsed_s"]
        # No client may send more than 600 in any 5 s: request k*600+1 goes no earlier than k*5 s after the first.
        least = (served - 1) // BYBIT_REQUESTS_PER_WINDOW * BYBIT_WINDOW_S
        out.append(
            f"| {side} | {served:,} ({pages:,} + {served - pages}) | {report['rows']:,} ({expected_rows:,}) | "
            f"{elapsed:.2f} s | {served / elapsed:.1f} | {served / elapsed / allowed:.2f} | {least} s | "
            f"{least / elapsed:.0%} | {report['refusals']} | {len(report['failures'])} |"
        )
        for failure in report["failures"][:3]:
            out.append(f"\n{side} failure: {failure}")
        if report["page_completions_s"]:
            buckets: dict[int, int] = {}
            for t in report["page_completions_s"]:
                buckets[int(t // BYBIT_WINDOW_S)] = buckets.get(int(t // BYBIT_WINDOW_S), 0) + 1
            timeline = ", ".join(str(buckets.get(i, 0)) for i in range(max(buckets) + 1))
    if not args.skip_ccxt_rate_limited:
        bybit = ccxt.bybit()
        cost = bybit.api["public"]["get"]["v5/market/open-interest"]["cost"]
        out += [
            "",
            f"ccxt's limiter spaces Bybit requests by `rateLimit` × cost = {bybit.rateLimit} ms × {cost} "
            f"= {bybit.rateLimit * cost:.0f} ms (`v5/market/open-interest`), i.e. "
            f"{1000 / (bybit.rateLimit * cost):.0f} requests/s.",
        ]
    out += [
        "",
        f"Ours, history pages completed per {BYBIT_WINDOW_S} s since the start: {timeline}. 403s are counted "
        "from the client side (ours: `retrying after … HTTP 403` warnings in the `ccxt_pipeline_rs` log; ccxt: "
        'statuses passed to its `handle_errors`); "other" requests are instrument lists (ours 1, ccxt 2: '
        "`Trading` and `PreLaunch`), so no request was repeated. The simulator's per-window peak "
        "(`SimServer::max_weight_in_window`) is not exposed to Python.",
    ]

    # 4. Store.
    if not args.skip_store:
        store = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "store_bench.py")], check=True, capture_output=True, text=True
        )
        out += ["", "### Store (`benchmarks/store_bench.py`)", "", "```", store.stdout.strip(), "```"]

    print("\n".join(out))
    if not all_equal:
        print("\nWARNING: ours and ccxt did not fetch the same rows (see the parity table)", file=sys.stderr)


if __name__ == "__main__":
    main()
