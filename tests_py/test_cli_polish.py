"""Item 15 of issue 9: `python -m ccxt_pipeline_rs`, `query -o` in every format, empty results, Ctrl+C messages and
counts, readable venue errors."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from ccxt_pipeline_rs import KINDS, ParquetStore
from ccxt_pipeline_rs.sim import ExchangeSimulator

CLI = [sys.executable, "-m", "ccxt_pipeline_rs.cli"]
SIM_TIME = ["--sim-time", "2025-06-01T00:00:00Z"]


def run(*args: str, env: dict | None = None, cli: list[str] = CLI) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120, env=env)


def test_python_dash_m_runs_the_cli():
    package = [sys.executable, "-m", "ccxt_pipeline_rs"]
    out = run("--help", cli=package)
    assert out.returncode == 0, out.stderr
    assert "fetch-oi" in out.stdout and "query" in out.stdout
    out = run("--sim", "fetch-oi", "BTCUSDT-PERP", "--format", "json", cli=package)
    assert out.returncode == 0, out.stderr
    assert [r["venue"] for r in json.loads(out.stdout)] == ["binance", "bybit", "hyperliquid"]
    out = run("query", "nope", cli=package)
    assert out.returncode == 2 and out.stderr.startswith("error:"), out


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("store") / "D")
    span = ["--from", "2025-05-25", "--to", "2025-06-01"]
    out = run(*SIM_TIME, "fetch-funding", "BTCUSDT-PERP", *span, "--store", "--data-dir", data, "--format", "csv")
    assert out.returncode == 0, out.stderr
    return data


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_query_output_file_in_every_format(filled_store, tmp_path, fmt):
    target = tmp_path / f"out.{fmt}"
    args = ["query", "funding_rate", "BTCUSDT-PERP", "--data-dir", filled_store, "--format", fmt]
    out = run(*args, "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "", "the rows go to the file, not to stdout"
    expected = ParquetStore(filled_store).read("funding_rate", symbol="BTCUSDT-PERP")
    assert expected.num_rows in (2 * (7 * 3 + 1) + 7 * 24, 2 * (7 * 3 + 1) + 7 * 24 + 1)  # 8 h, 8 h, hourly
    if fmt == "parquet":
        assert pq.read_table(target).equals(expected)
        return
    stdout = run(*args)
    assert stdout.returncode == 0, stdout.stderr
    assert target.read_text() == stdout.stdout, "the file holds what stdout would"
    if fmt == "json":
        rows = json.loads(target.read_text())
    else:
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == expected.num_rows
    assert list(rows[0]) == expected.column_names
    assert {r["venue"] for r in rows} == {"binance", "bybit", "hyperliquid"}


def test_query_output_file_needs_a_file_format(filled_store, tmp_path):
    out = run("query", "funding_rate", "--data-dir", filled_store, "-o", str(tmp_path / "x"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_zero_rows_print_an_empty_array_and_a_csv_header(filled_store, tmp_path, kind):
    # Every kind: one with rows elsewhere but not for this symbol or range, and an empty store.
    empty = str(tmp_path / "E")
    ParquetStore(empty)
    for data, extra in [
        (filled_store, ["DOGEUSDT-PERP"]),
        (filled_store, ["--from", "2020-01-01", "--to", "2020-01-02"]),
        (empty, []),
    ]:
        args = ["query", kind, *extra, "--data-dir", data]
        out = run(*args, "--format", "json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == [], out.stdout
        out = run(*args, "--format", "csv")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert len(lines) == 1, out.stdout
        header = lines[0].split(",")
        assert header[:3] == ["venue", "symbol", "instrument_id"] and "ts_event" in header, header
        if kind == "gaps":
            assert {"stream", "reason"} <= set(header)
        target = tmp_path / f"{kind}.json"
        assert run(*args, "--format", "json", "-o", str(target)).returncode == 0
        assert json.loads(target.read_text()) == []


def test_a_fetch_with_zero_rows_prints_an_empty_array(tmp_path):
    # Hyperliquid funding long before BTC was listed there (2023-06): nothing, and json says so.
    args = [
        *SIM_TIME,
        "fetch-funding",
        "BTC",
        "--exchange",
        "hyperliquid",
        "--from",
        "2022-01-01",
        "--to",
        "2022-02-01",
    ]
    out = run(*args, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    out = run(*args, "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("venue,symbol,instrument_id,ts_event")
    assert len(out.stdout.splitlines()) == 1


class Silent(BaseHTTPRequestHandler):
    """A venue that accepts requests and never answers (until the test ends)."""

    def do_GET(self):  # noqa: N802
        time.sleep(30)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    "args",
    [
        ["fetch-oi", "BTCUSDT-PERP", "--exchange", "binance"],
        ["fetch-funding", "BTCUSDT-PERP", "--exchange", "binance", "--format", "json"],
        ["fetch-funding", "BTCUSDT-PERP", "--exchange", "binance", "--from", "2025-01-01", "--store"],
    ],
)
def test_ctrl_c_says_interrupted_instead_of_a_blank_line(tmp_path, args):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = dict(os.environ, CCXT_PIPELINE_BINANCE_URL=url)
    proc = subprocess.Popen(
        [*CLI, *args, "--data-dir", str(tmp_path / "D")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)  # the request is in flight
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "Aborted" not in err
        last = [line for line in err.splitlines() if line.strip()][-1]
        assert last.startswith("interrupted"), err
        assert not err.startswith("\n") and "\n\n" not in err, repr(err)
        if "--store" in args:
            assert re.search(r"interrupted; 0 new rows stored in .*, re-run to resume", last), last
    finally:
        proc.kill()
        server.shutdown()


def test_rows_a_failed_venue_stored_are_counted(tmp_path):
    """Bybit stores some pages, then fails: the count printed is what the store holds, its rows included."""
    data = str(tmp_path / "D")
    with ExchangeSimulator(seed=3) as sim:
        for venue in ("binance", "bybit"):
            sim.set_latency(venue, 0.05)
        env = dict(
            os.environ,
            CCXT_PIPELINE_BINANCE_URL=sim.base_urls["binance"],
            CCXT_PIPELINE_BYBIT_URL=sim.base_urls["bybit"],
        )
        args = ["fetch-funding", "BTCUSDT-PERP", "--exchange", "binance,bybit", "--from", "2022-01-01"]
        proc = subprocess.Popen(
            [*CLI, *args, "--store", "--data-dir", data, "--format", "csv"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while sim.request_count("bybit") < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        body = '{"retCode":10001,"retMsg":"params error","result":{},"time":1}'
        sim.inject_status("bybit", 400, body, count=10_000)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err  # binance answered
    assert re.search(r"error: bybit: exchange error", err), err
    stored = ParquetStore(data).read("funding_rate")
    by_venue = {v: stored.column("venue").to_pylist().count(v) for v in ("binance", "bybit")}
    assert by_venue["bybit"] > 0 and by_venue["binance"] > 0, by_venue
    match = re.search(r"stored (\d+) new rows in", err)
    assert match, err
    assert int(match.group(1)) == stored.num_rows, (err, by_venue)


FORBIDDEN_PAGE = "<html><head><title>403 Forbidden</title></head><body>cloudfront</body></html>"


@pytest.mark.parametrize(
    ("status", "body", "says", "not_shown"),
    [
        (403, FORBIDDEN_PAGE, 'answered HTML (HTTP 403), not JSON: "403 Forbidden"', "<html"),
        (502, "<!DOCTYPE html><html><body>Bad gateway</body></html>", "answered HTML (HTTP 502), not JSON", "<body"),
        (200, "<html><title>captive portal</title></html>", "answered HTML, not JSON", "<html"),
        (200, '{"openInterest": "x", "symbol": "BTCUSDT", "time": 1}', "malformed response", "struct"),
        (200, '{"openInterest": "' + "A" * 5000 + '"}', "malformed response", "A" * 100),
        (400, "B" * 5000, "exchange error", "B" * 301),
        (403, "\x1b[31mForbidden\x1b[0m", "Forbidden", "\x1b"),
        (
            400,
            '{"code": -1130, "msg": "Data sent for parameter startTime is not valid: 1544570770441."}',
            "not valid: 2018-12-11T23:26:10.441Z.",
            "1544570770441",
        ),
    ],
)
def test_venue_errors_read_as_sentences(sim, status, body, says, not_shown):
    sim.inject_status("binance", status, body, count=50)
    env = dict(os.environ, CCXT_PIPELINE_BINANCE_URL=sim.base_urls["binance"])
    out = run("fetch-oi", "BTCUSDT-PERP", "--exchange", "binance", env=env)
    assert out.returncode == 1, out
    assert says in out.stderr, out.stderr
    assert not_shown not in out.stderr, out.stderr
    assert not re.search(r"expected (struct|enum|tuple struct) \w", out.stderr), out.stderr
    assert len(out.stderr) < 600, out.stderr


def test_cli_rerun_of_a_range_starting_before_listing_costs_one_request_per_venue(tmp_path):
    """Issue 9, item 16 from the command line: Hyperliquid funding from 2022 (BTC listed there 2023-06-01)."""
    data = str(tmp_path / "D")
    with ExchangeSimulator(seed=3) as sim:
        sim.server.set_clock_ms(1_748_736_000_000)  # 2025-06-01
        env = dict(os.environ, **{f"CCXT_PIPELINE_{v.upper()}_URL": url for v, url in sim.base_urls.items()})
        args = ["fetch-funding", "BTCUSDT-PERP", "--from", "2022-01-01", "--to", "2023-07-01", "--store"]
        args += ["--data-dir", data, "--format", "json"]
        first = run(*args, env=env)
        assert first.returncode == 0, first.stderr
        stored = ParquetStore(data).read("funding_rate").num_rows
        assert stored == len(json.loads(first.stdout)) > 0
        for _ in range(2):
            before = {v: sim.request_count(v) for v in sim.base_urls}
            again = run(*args, env=env)
            assert again.returncode == 0, again.stderr
            assert json.loads(again.stdout) == []
            assert "stored 0 new rows" in again.stderr
            for venue, count in before.items():
                assert sim.request_count(venue) - count <= 1, venue
        # On Hyperliquid an even earlier start is known to hold nothing (the first run started before its listing;
        # Binance and Bybit listed BTC before 2022, so there an earlier start has rows to fetch).
        before = sim.request_count("hyperliquid")
        earlier = [a if a != "2022-01-01" else "2019-06-01" for a in args]
        earlier = run(*earlier, "--exchange", "hyperliquid", env=env)
        assert earlier.returncode == 0, earlier.stderr
        assert json.loads(earlier.stdout) == []
        assert sim.request_count("hyperliquid") - before <= 1
    assert ParquetStore(data).read("funding_rate").num_rows == stored


def test_progress_bars_say_when_a_venue_waits_out_its_rate_limit():
    import logging

    from ccxt_pipeline_rs.cli import HistoryProgress

    progress = HistoryProgress()
    with progress:
        progress("bybit", "BTCUSDT-LINEAR.BYBIT", 200, 0.1)
        progress("binance", "BTCUSDT-PERP.BINANCE", 500, 0.2)
        logging.getLogger("ccxt_pipeline_rs.net.rate_limit").warning(
            "rate limited; waiting 4.2 s, until 2026-12-06T04:10:05.123Z, for the venue's window to pass before "
            "retrying: bybit: rate limited (HTTP 403) venue=bybit path=/v5/market/funding/history attempt=1"
        )
        fields = {t.description: t.fields["waiting"] for t in progress._bars.tasks}
        assert fields == {
            "bybit BTCUSDT-LINEAR.BYBIT": "rate limit: waiting until 2026-12-06T04:10:05.123Z",
            "binance BTCUSDT-PERP.BINANCE": "",
        }
        progress("bybit", "BTCUSDT-LINEAR.BYBIT", 400, 0.2)
        assert progress._bars.tasks[0].fields["waiting"] == "", "the next page ends the wait"
    assert progress not in logging.getLogger("ccxt_pipeline_rs.net.rate_limit").handlers


def test_a_backfill_held_back_by_the_venues_documented_limit_says_so(sim):
    """730 days of Bybit 5-minute open interest need ~1 050 requests, more than Bybit's 600 per 5 s: our own limiter
    holds the fetch back (no 429 happens) and announces the wait once per window, which the progress bars show."""
    import datetime as dt
    import logging

    from ccxt_pipeline_rs import BybitFetcher
    from ccxt_pipeline_rs.cli import HistoryProgress

    messages: list[str] = []

    class Messages(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("ccxt_pipeline_rs.net.rate_limit")
    collector = Messages()
    logger.addHandler(collector)
    shown: set[str] = set()
    progress = HistoryProgress()

    def on_page(venue: str, instrument_id: str, rows: int, fraction: float) -> None:
        progress(venue, instrument_id, rows, fraction)

    class Shown(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.update(t.fields["waiting"] for t in progress._bars.tasks)

    watcher = Shown()
    try:
        with progress:
            logger.addHandler(watcher)  # after the progress handler: sees the bars it updated
            end = dt.datetime.fromtimestamp(sim.server.now_ms() / 1000, tz=dt.UTC)
            table = BybitFetcher(base_url=sim.base_urls["bybit"]).fetch_open_interest_history(
                "BTCUSDT-PERP", end - dt.timedelta(days=730), end, progress=on_page
            )
    finally:
        logger.removeHandler(collector)
        logger.removeHandler(watcher)
    assert table.num_rows in (730 * 288, 730 * 288 + 1)  # both ends inclusive; now is rarely on the grid
    waits = [m for m in messages if "at the venue's request limit; waiting" in m]
    assert len(waits) == 1, messages
    assert "venue=bybit" in waits[0] and "until 20" in waits[0]
    assert not [m for m in messages if "rate limited" in m], "the venue never had to throttle us"
    assert any(s.startswith("rate limit: waiting until 20") for s in shown), shown
