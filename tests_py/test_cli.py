import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

CLI = [sys.executable, "-m", "ccxt_pipeline_rs.cli"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env)


def test_fetch_oi_sim_prints_three_venues_as_json():
    out = run("--sim", "fetch-oi", "BTCUSDT-PERP", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["venue"] for r in rows] == ["binance", "bybit", "hyperliquid"]
    assert list(rows[0]) == [
        "venue",
        "symbol",
        "instrument_id",
        "ts_event",
        "ts_init",
        "open_interest",
        "open_interest_value",
    ]
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z", row["ts_event"]), row
        assert row["open_interest"] > 0
    assert rows[1]["open_interest_value"] > 0


def test_fetch_oi_default_table_is_readable():
    out = run("--sim", "fetch-oi", "BTCUSDT-PERP")
    assert out.returncode == 0, out.stderr
    for text in ("BTCUSDT-PERP.BINANCE", "BTCUSDT-LINEAR.BYBIT", "BTC-USD-PERP.HYPERLIQUID", "open_interest"):
        assert text in out.stdout


def test_fetch_funding_sim_csv_has_all_fields():
    out = run("--sim", "fetch-funding", "ETHUSDT-PERP", "--format", "csv")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == (
        "venue,symbol,instrument_id,ts_event,ts_init,funding_rate,interval_minutes,next_funding_time,mark_price,index_price"
    )
    assert len(lines) == 4
    for line in lines[1:]:
        fields = line.split(",")
        assert all(fields), line  # rate, interval, next funding, mark and index all present
    assert [line.split(",")[6] for line in lines[1:]] == ["480", "480", "60"]


def test_unknown_symbol_is_one_line_and_exit_2():
    out = run("--sim", "fetch-oi", "NOPE-PERP")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "NOPE-PERP" in lines[0] and "binance" in lines[0] and "hyperliquid" in lines[0]
    assert "Traceback" not in out.stderr


def test_close_matches_are_suggested():
    out = run("--sim", "fetch-oi", "ETHUSDC-PERP", "--exchange", "binance,bybit")
    assert out.returncode == 2
    assert "ETHUSDT-PERP" in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--sim", "fetch-oi", "BTCUSDT-PERP", "--exchange", "binance,kraken"],
        ["--sim", "fetch-oi", "BTC$USDT"],
        ["--sim", "fetch-oi", "BTCUSDT-PERP", "--format", "xml"],
        ["--sim", "fetch-oi"],
    ],
)
def test_bad_input_is_one_line_exit_2(args):
    out = run(*args)
    assert out.returncode == 2, out
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_exchange_accepts_the_venue_aliases_of_the_core():
    out = run("--sim", "fetch-oi", "BTCUSDT-PERP", "--exchange", "binanceusdm, BYBIT", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert [r["venue"] for r in json.loads(out.stdout)] == ["binance", "bybit"]


def test_venue_and_kind_lists_are_the_cores(tmp_path):
    import ccxt_pipeline_rs
    from ccxt_pipeline_rs import InvalidArgumentError, ParquetStore, _core, cli

    assert ccxt_pipeline_rs.VENUES is _core.VENUES
    assert ccxt_pipeline_rs.KINDS is _core.KINDS
    assert _core.VENUES == ("binance", "bybit", "hyperliquid")
    assert _core.KINDS == ("open_interest", "funding_rate", "liquidation", "gaps")
    assert cli.parse_exchanges(None) == list(_core.VENUES)
    assert cli.parse_exchanges("binanceusdm,hyperliquid") == ["binance", "hyperliquid"]
    with pytest.raises(cli.BadInput, match="binance given more than once"):
        cli.parse_exchanges("binanceusdm,binance")  # an alias repeats its venue like any repeated entry
    for venue in _core.VENUES:
        assert _core.venue_from_name(f" {venue.upper()} ") == venue
    assert _core.venue_from_name("binanceusdm") == "binance"
    with pytest.raises(InvalidArgumentError, match="unknown venue 'kraken'"):
        _core.venue_from_name("kraken")
    store = ParquetStore(tmp_path)
    for kind in _core.KINDS:  # every listed kind is one the store knows
        assert store.read(kind).num_rows == 0


def test_base_urls_come_from_the_environment_through_the_core(monkeypatch):
    from ccxt_pipeline_rs import _core
    from ccxt_pipeline_rs.cli import Context

    monkeypatch.setenv("CCXT_PIPELINE_BYBIT_URL", "http://127.0.0.1:1/bybit")
    monkeypatch.setenv("CCXT_PIPELINE_BINANCE_URL", "  ")  # blank counts as unset
    monkeypatch.delenv("CCXT_PIPELINE_HYPERLIQUID_URL", raising=False)
    monkeypatch.setenv("CCXT_PIPELINE_BYBIT_WS_URL", "ws://127.0.0.1:1/bybit")
    monkeypatch.delenv("CCXT_PIPELINE_BINANCE_WS_URL", raising=False)
    assert _core.base_url_from_env("bybit") == "http://127.0.0.1:1/bybit"
    assert _core.base_url_from_env("binanceusdm") == "https://fapi.binance.com"
    assert _core.ws_url_from_env("bybit") == "ws://127.0.0.1:1/bybit"
    assert _core.ws_url_from_env("binance") == "wss://fstream.binance.com"
    assert Context(sim=False, seed=0, sim_time=None).base_urls() == {
        "binance": "https://fapi.binance.com",
        "bybit": "http://127.0.0.1:1/bybit",
        "hyperliquid": "https://api.hyperliquid.xyz",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sim_serve_and_a_failing_venue_on_its_own_line():
    port = free_port()
    server = subprocess.Popen([*CLI, "sim", "serve", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        urls = dict(server.stdout.readline().split() for _ in range(3))
        assert urls["binance"] == f"http://127.0.0.1:{port}/binance"
        with urllib.request.urlopen(urls["binance"] + "/fapi/v1/openInterest?symbol=BTCUSDT", timeout=5) as r:
            assert json.load(r)["symbol"] == "BTCUSDT"
        env = dict(
            os.environ,
            CCXT_PIPELINE_BINANCE_URL=urls["binance"],
            CCXT_PIPELINE_BYBIT_URL=f"http://127.0.0.1:{free_port()}",
            CCXT_PIPELINE_HYPERLIQUID_URL=urls["hyperliquid"],
        )
        out = run("fetch-oi", "BTCUSDT-PERP", "--format", "json", env=env)
        assert out.returncode == 0, out.stderr
        assert [r["venue"] for r in json.loads(out.stdout)] == ["binance", "hyperliquid"]
        errors = out.stderr.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("error: bybit: network error"), out.stderr
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 130


def test_iso_utc_keeps_the_precision_the_value_has():
    from ccxt_pipeline_rs.cli import iso_utc

    assert iso_utc(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert iso_utc(1_700_000_000_123_000_000) == "2023-11-14T22:13:20.123Z"
    assert iso_utc(1_700_000_000_123_456_000) == "2023-11-14T22:13:20.123456Z"
    assert iso_utc(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def test_fetch_store_twice_then_query_shows_rows_once(tmp_path):
    data = str(tmp_path / "D")
    # A frozen simulator clock: both runs see the same venue snapshot (same ts_event).
    args = ["--sim-time", "2025-06-01T12:00:00Z", "fetch-oi", "BTCUSDT-PERP", "--store", "--data-dir", data]
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert "stored 3 new rows (0 already stored)" in first.stderr
    second = run(*args)
    assert second.returncode == 0, second.stderr
    # Binance and Bybit state the snapshot time: stored once. Hyperliquid states none, so its second reading is
    # a second observation (ts_event = arrival time).
    assert "stored 1 new rows (2 already stored)" in second.stderr
    out = run(
        "query", "open_interest", "BTCUSDT-PERP", "--exchange", "binance,bybit", "--data-dir", data, "--format", "json"
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["venue"] for r in rows] == ["binance", "bybit"]
    assert {r["ts_event"] for r in rows} == {"2025-06-01T12:00:00Z"}
    table = run("query", "open_interest", "BTCUSDT-PERP", "--data-dir", data)
    assert table.stdout.count("BTCUSDT-PERP.BINANCE") == 1


def test_query_formats_range_and_summary(tmp_path):
    from ccxt_pipeline_rs import ParquetStore

    data = tmp_path / "D"
    days = [dt.datetime(2025, 6, d, tzinfo=dt.UTC) for d in (1, 2, 3)]
    ts = pa.array([int(d.timestamp()) * 10**9 for d in days], pa.timestamp("ns", tz="UTC"))
    ParquetStore(data).write(
        pa.table(
            {
                "venue": ["binance"] * 3,
                "symbol": ["ETHUSDT-PERP"] * 3,
                "instrument_id": ["ETHUSDT-PERP.BINANCE"] * 3,
                "ts_event": ts,
                "ts_init": ts,
                "funding_rate": [0.0001, -0.0002, 0.0003],
                "interval_minutes": pa.array([480] * 3, pa.uint16()),
                "next_funding_time": pa.array([None] * 3, pa.timestamp("ns", tz="UTC")),
                "mark_price": pa.array([None] * 3, pa.float64()),
                "index_price": pa.array([None] * 3, pa.float64()),
            }
        )
    )
    out = run(
        "query",
        "funding_rate",
        "--data-dir",
        str(data),
        "--from",
        "2025-06-02",
        "--to",
        "2025-06-02T23:59:59Z",
        "--format",
        "csv",
    )
    lines = out.stdout.strip().splitlines()
    assert lines[1:] == [
        "binance,ETHUSDT-PERP,ETHUSDT-PERP.BINANCE,2025-06-02T00:00:00Z,2025-06-02T00:00:00Z,-0.0002,480,,,"
    ]
    target = tmp_path / "f.parquet"
    assert (
        run("query", "funding_rate", "--data-dir", str(data), "--format", "parquet", "-o", str(target)).returncode == 0
    )
    assert pq.read_table(target).column("funding_rate").to_pylist() == [0.0001, -0.0002, 0.0003]
    summary = run("query", "--summary", "--data-dir", str(data), "--format", "json")
    assert json.loads(summary.stdout) == [
        {
            "kind": "funding_rate",
            "instrument_id": "ETHUSDT-PERP.BINANCE",
            "files": 1,  # funding files are yearly
            "rows": 3,
            "first": "2025-06-01T00:00:00+00:00",
            "last": "2025-06-03T00:00:00+00:00",
        }
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["query", "open_interest", "--data-dir", "/nonexistent/store"],
        ["query", "trades"],
        ["query", "open_interest", "--from", "last week"],
    ],
)
def test_query_bad_input_is_one_line(args, tmp_path):
    if "/nonexistent/store" not in args:
        (tmp_path / "data").mkdir()
        args = [*args, "--data-dir", str(tmp_path)]
    out = run(*args)
    assert out.returncode == 2, out
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_ctrl_c_during_a_storing_fetch_exits_130_and_leaves_no_partial_file(tmp_path):
    # A venue that accepts connections and never answers: the fetch hangs until interrupted.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = dict(os.environ, CCXT_PIPELINE_BINANCE_URL=url)
    data = tmp_path / "D"
    proc = subprocess.Popen(
        [*CLI, "fetch-oi", "BTCUSDT-PERP", "--exchange", "binance", "--store", "--data-dir", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        conn, _ = listener.accept()  # the request arrived: the fetch is in flight
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 130
        assert "Traceback" not in err
        leftovers = [p for p in data.rglob("*") if p.is_file() and p.name != ".ccxt_pipeline.lock"]
        assert leftovers == []
        conn.close()
    finally:
        listener.close()
        proc.kill()


def test_history_backfill_40_days(tmp_path):
    data = str(tmp_path / "D")
    common = ["--sim-time", "2025-06-01T00:00:00Z"]
    span = ["--from", "2025-04-22T00:00:00Z", "--to", "2025-06-01T00:00:00Z"]
    out = run(
        *common, "fetch-oi", "BTCUSDT-PERP", *span, "--period", "1h", "--store", "--data-dir", data, "--format", "csv"
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert re.search(r"warning: binance: .*last 30 days only", out.stderr), out.stderr
    assert re.search(
        r"error: hyperliquid: open interest history is not supported: .*no open interest history endpoint", out.stderr
    )
    counts = {}
    for line in out.stdout.strip().splitlines()[1:]:
        counts[line.split(",")[0]] = counts.get(line.split(",")[0], 0) + 1
    assert counts["bybit"] == 40 * 24 + 1  # every hourly row
    assert 30 * 24 <= counts["binance"] <= 30 * 24 + 1

    funding = [*common, "fetch-funding", "BTCUSDT-PERP", *span, "--store", "--data-dir", data, "--format", "json"]
    out = run(*funding)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    by_venue = {v: sum(1 for r in rows if r["venue"] == v) for v in ("binance", "bybit", "hyperliquid")}
    assert by_venue["binance"] == by_venue["bybit"] == 40 * 3 + 1
    assert by_venue["hyperliquid"] in (40 * 24, 40 * 24 + 1)
    again = run(*funding)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout or "[]") == []
    assert "stored 0 new rows" in again.stderr
    assert re.search(r"stored [1-9]\d* new rows", out.stderr), out.stderr


@pytest.mark.timeout(120)  # ~35 pages at 0.4 s, twice
def test_ctrl_c_during_a_history_backfill_keeps_what_arrived(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "sim", "serve", "--port", str(port), "--latency", "0.4"], stdout=subprocess.PIPE, text=True
    )
    try:
        urls = dict(server.stdout.readline().split() for _ in range(3))
        env = dict(os.environ, CCXT_PIPELINE_BYBIT_URL=urls["bybit"])
        data = str(tmp_path / "D")
        args = [
            "fetch-funding",
            "BTCUSDT-PERP",
            "--exchange",
            "bybit",
            "--from",
            "2021-01-01",
            "--store",
            "--data-dir",
            data,
        ]
        proc = subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # instrument list + a few of the ~35 pages at 0.4 s each; pages are stored at least every second
        time.sleep(4)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        said = re.search(r"interrupted; (\d+) new rows stored in .*, re-run to resume", err)
        assert said, err
        from ccxt_pipeline_rs import ParquetStore

        kept = ParquetStore(data).read("funding_rate").num_rows
        assert kept > 0
        assert int(said.group(1)) == kept, "the count is what reached the store"
        done = subprocess.run([*CLI, *args, "--format", "csv"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        table = ParquetStore(data).read("funding_rate")
        ts = table.column("ts_event").cast(pa.int64()).to_pylist()
        assert ts == sorted(set(ts)) and len(ts) > kept
        spacings = {b - a for a, b in zip(ts, ts[1:], strict=False)}
        assert spacings == {8 * 3600 * 10**9}, "no gap where the backfill was cut"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)


def test_a_store_that_cannot_be_written_is_exit_1_not_bad_input(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run("--sim", "fetch-oi", "BTCUSDT-PERP", "--store", "--data-dir", str(blocker / "D"))
    assert out.returncode == 1, out
    assert (
        out.stderr.startswith("error: store error: cannot create folder") and len(out.stderr.strip().splitlines()) == 1
    )
