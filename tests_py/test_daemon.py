"""The daemon from the command line against the simulator: start (detached and foreground), status, a second
start refused, stop within its bound, SIGTERM at random moments, SIGKILL and restart, Prometheus metrics, and bad
configuration."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from ccxt_pipeline_rs import CCXTPipelineConfig, DaemonRunner, ParquetStore
from ccxt_pipeline_rs.sim import ExchangeSimulator

CLI = [sys.executable, "-m", "ccxt_pipeline_rs.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path, data_dir, **extra) -> str:
    text = f"""
data_dir = "{data_dir}"
venues = ["binance", "bybit", "hyperliquid"]
symbols = ["BTCUSDT-PERP", "ETHUSDT-PERP"]
[snapshots]
open_interest_interval = "1s"
funding_interval = "2s"
[history]
catch_up = "1h"
[liquidations]
enabled = true
[store]
flush_interval = "1s"
compaction_interval = "5s"
"""
    for key, value in extra.items():
        text = text.replace(f"[{key.split('.')[0]}]", f"[{key.split('.')[0]}]\n{key.split('.')[1]} = {value}", 1)
    path.write_text(text)
    return str(path)


def cli(*args, timeout=60):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def status(data_dir):
    out = cli("daemon", "status", "--data-dir", data_dir, "--format", "json")
    return out.returncode, json.loads(out.stdout)


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def store_rows(data_dir):
    store = ParquetStore(data_dir)
    return {kind: store.read(kind) for kind in ("open_interest", "funding_rate", "liquidation", "gaps")}


def test_start_status_second_start_stop(tmp_path):
    data = str(tmp_path / "data")
    config = write_config(tmp_path / "daemon.toml", data)
    started = cli("--sim", "daemon", "start", "--config", config)
    assert started.returncode == 0, started.stderr
    assert "daemon started (PID" in started.stdout
    try:

        def healthy():
            code, report = status(data)
            jobs = report["jobs"]
            snapshot_jobs = [j for name, j in jobs.items() if name.startswith(("open_interest", "funding_rate"))]
            return code == 0 and len(snapshot_jobs) == 6 and all(j["health"] == "ok" for j in snapshot_jobs)

        wait_for(healthy)
        code, report = status(data)
        assert report["running"] and report["state"] == "running" and report["uptime_s"] > 0
        assert report["streams"]["connected"] >= 3
        assert all(report["jobs"][f"history {v}"]["health"] == "ok" for v in ("binance", "bybit", "hyperliquid"))
        again = cli("--sim", "daemon", "start", "--config", config)
        assert again.returncode == 1 and "already running" in again.stderr, again.stderr
    finally:
        began = time.monotonic()
        stopped = cli("daemon", "stop", "--data-dir", data)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout and time.monotonic() - began < 15
    code, report = status(data)
    assert code == 3 and not report["running"]
    rows = store_rows(data)
    oi = rows["open_interest"]
    hyperliquid = [r for r in oi.column("instrument_id").to_pylist() if r.endswith(".HYPERLIQUID")]
    assert len(hyperliquid) >= 4, "Hyperliquid open interest is built up from the daemon's own snapshots"
    assert rows["liquidation"].num_rows > 0
    assert cli("daemon", "stop", "--data-dir", data).returncode == 0, "stopping a stopped daemon is not an error"


def run_foreground(config, seconds, sig):
    proc = subprocess.Popen(
        [*CLI, "--sim", "daemon", "start", "--foreground", "--config", config],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(seconds)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    return proc.returncode, stderr


@pytest.mark.parametrize("seed", [1, 2])
def test_sigterm_at_a_random_moment_stores_every_fetched_row(tmp_path, seed):
    data = str(tmp_path / "data")
    config = write_config(tmp_path / "daemon.toml", data)
    code, stderr = run_foreground(config, random.Random(seed).uniform(1.5, 5.0), signal.SIGTERM)
    assert code == 0, stderr
    with open(os.path.join(data, "daemon.status.json")) as f:
        final = json.load(f)
    assert final["state"] == "stopped"
    rows = store_rows(data)
    written = sum(job["rows_written"] for job in final["jobs"].values())
    stored = sum(rows[kind].num_rows for kind in ("open_interest", "funding_rate", "liquidation"))
    assert stored == written, "every row the jobs fetched and counted is in the store"


def test_sigkill_leaves_a_readable_store_and_a_restart_continues_without_duplicates(tmp_path):
    data = str(tmp_path / "data")
    config = write_config(tmp_path / "daemon.toml", data)
    code, _ = run_foreground(config, 4, signal.SIGKILL)
    assert code == -signal.SIGKILL
    before = store_rows(data)
    assert before["open_interest"].num_rows > 0
    killed_at = time.time_ns()
    time.sleep(1.5)
    code, stderr = run_foreground(config, 4, signal.SIGINT)
    assert code == 0, stderr
    after = store_rows(data)
    oi = after["open_interest"]
    keys = list(zip(oi.column("instrument_id").to_pylist(), oi.column("ts_event").to_pylist(), strict=True))
    assert len(keys) == len(set(keys)) and len(keys) > before["open_interest"].num_rows
    gaps = after["gaps"].to_pylist()
    downtime = [g for g in gaps if g["reason"] == "shutdown"]
    assert downtime, gaps
    for gap in downtime:
        start = gap["ts_event"].timestamp() * 1e9
        end = gap["ts_init"].timestamp() * 1e9
        assert start <= killed_at <= end + 1e9, "the downtime is covered by the gap"
        assert end - start < 15e9, "and the gap is no longer than the downtime"


def test_metrics_endpoint_is_prometheus_text(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    data = str(tmp_path / "data")
    port = free_port()
    config = write_config(tmp_path / "daemon.toml", data)
    proc = subprocess.Popen(
        [*CLI, "--sim", "daemon", "start", "--foreground", "--config", config, "--metrics-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(4)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["ccxt_pipeline_up"].samples[0].value == 1
    rows = {s.labels["job"]: s.value for s in families["ccxt_pipeline_rows_written"].samples}
    assert rows["open_interest bybit"] > 0
    ages = {s.labels["job"]: s.value for s in families["ccxt_pipeline_last_success_age_seconds"].samples}
    assert 0 <= ages["open_interest binance"] < 5
    assert "ccxt_pipeline_stream_reconnects" in families


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('data_dir = "x"\n[snapshots]\nopen_interest_intervall = "1m"\n')
    out = cli("daemon", "start", "--config", str(bad), "--foreground")
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1
    assert "open_interest_intervall" in out.stderr and str(bad) in out.stderr
    out = cli("daemon", "start", "--config", str(tmp_path / "missing.toml"))
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_a_misspelt_environment_variable_is_warned_about(tmp_path):
    env = dict(os.environ, CCXT_PIPELINE_SNAPSHOT_INTERVAL="1m")
    out = subprocess.run(
        [*CLI, "daemon", "status", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 3
    assert "warning: CCXT_PIPELINE_SNAPSHOT_INTERVAL is not a configuration variable" in out.stderr


def test_python_runner_stops_gracefully_from_another_thread(tmp_path):
    import threading

    with ExchangeSimulator(seed=4) as sim:
        urls = {}
        for venue in ("binance", "bybit", "hyperliquid"):
            urls[venue] = sim.base_urls[venue]
            urls[f"{venue}_ws"] = sim.ws_urls[venue]
        config = CCXTPipelineConfig.from_file(write_config(tmp_path / "d.toml", str(tmp_path / "data")), env=False)
        runner = DaemonRunner(config.with_overrides({f"urls.{k}": v for k, v in urls.items()}))
        threading.Timer(3.0, runner.stop).start()
        began = time.monotonic()
        runner.run()
        assert 2.5 < time.monotonic() - began < 20
    assert ParquetStore(str(tmp_path / "data")).read("open_interest").num_rows >= 6
