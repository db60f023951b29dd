"""CLI output costs O(rows shown): the table view converts only its head and tail, csv and json stream in chunks.

The proof is memory, not time: the CLI runs in a subprocess under ``tracemalloc``, which counts the Python objects
made (Arrow buffers live outside it). Converting every row of the result to a dict, as the CLI once did, takes
hundreds of MB of Python objects for these tables; the bounded conversion a few MB.
"""

import csv
import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from ccxt_pipeline_rs import ParquetStore

ROWS = 300_000
START_NS = 1_748_736_000_000_000_000  # 2025-06-01T00:00:00Z
STEP_NS = 1_000_000_000
# Peak of Python allocations allowed while the CLI renders; all rows as dicts would be far above.
PEAK_LIMIT = 40 << 20

DRIVER = textwrap.dedent(
    """
    import sys, tracemalloc
    from ccxt_pipeline_rs.cli import main
    import rich.console, rich.table  # imported before measuring: module code is not output

    tracemalloc.start()
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
    else:
        code = 0
    peak = tracemalloc.get_traced_memory()[1]
    print(f"PEAK {peak}", file=sys.stderr)
    sys.exit(code)
    """
)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    ts = pa.array(range(START_NS, START_NS + ROWS * STEP_NS, STEP_NS), pa.timestamp("ns", tz="UTC"))
    table = pa.table(
        {
            "venue": pa.array(["binance"] * ROWS),
            "symbol": pa.array(["BTCUSDT-PERP"] * ROWS),
            "instrument_id": pa.array(["BTCUSDT-PERP.BINANCE"] * ROWS),
            "ts_event": ts,
            "ts_init": ts,
            "open_interest": pa.array(range(ROWS), pa.float64()),
            "open_interest_value": pa.array([None] * ROWS, pa.float64()),
        }
    )
    assert ParquetStore(root).write(table)["rows_added"] == ROWS
    return root


def run_measured(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    out = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    peak = int(out.stderr.rsplit("PEAK ", 1)[1].split()[0])
    return out, peak


def test_query_table_view_converts_only_the_rows_it_shows(big_store):
    out, peak = run_measured("query", "open_interest", "--data-dir", str(big_store))
    lines = out.stdout.splitlines()
    values = [line.split("│")[4].strip() for line in lines if line.startswith("│ binance")]
    # The first and last 20 rows, the rest summarised.
    assert values == [f"{float(i)}" for i in range(20)] + [f"{float(i)}" for i in range(ROWS - 20, ROWS)]
    assert f"… {ROWS - 40} more rows …" in out.stdout
    assert "2025-06-01 00:00:00" in out.stdout and "2025-06-04 11:19:59" in out.stdout  # first and last ts_event
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.1f} MiB of Python objects to show 40 rows"


def test_query_csv_streams(big_store, tmp_path):
    target = tmp_path / "all.csv"
    out, peak = run_measured("query", "open_interest", "--data-dir", str(big_store), "--format", "csv", "-o", target)
    with open(target, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "venue",
        "symbol",
        "instrument_id",
        "ts_event",
        "ts_init",
        "open_interest",
        "open_interest_value",
    ]
    assert len(rows) == ROWS + 1
    assert rows[1][3] == "2025-06-01T00:00:00Z" and rows[1][5] == "0.0"
    assert rows[-1][3] == "2025-06-04T11:19:59Z" and rows[-1][5] == f"{float(ROWS - 1)}" and rows[-1][6] == ""
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.1f} MiB of Python objects to write csv"


def test_query_json_streams_and_is_one_json_document(big_store, tmp_path):
    target = tmp_path / "all.json"
    out, peak = run_measured("query", "open_interest", "--data-dir", str(big_store), "--format", "json", "-o", target)
    text = target.read_text()
    rows = json.loads(text)
    assert len(rows) == ROWS
    assert rows[0]["ts_event"] == "2025-06-01T00:00:00Z" and rows[-1]["open_interest"] == ROWS - 1
    assert text.startswith('[\n  {\n    "venue": "binance",\n') and text.endswith("\n  }\n]\n")
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.1f} MiB of Python objects to write json"
