"""Tables cross into polars and duckdb through the Arrow PyCapsule interface, sharing buffers."""

import duckdb
import polars as pl
import pyarrow as pa
from ccxt_pipeline_rs import Orchestrator


def fetch_table(sim) -> pa.Table:
    return Orchestrator(base_urls=sim.base_urls).fetch_funding_rate("BTCUSDT-PERP").table


def value_buffer_address(array) -> int:
    return array.buffers()[1].address


def test_table_exports_arrow_c_stream(sim):
    table = fetch_table(sim)
    assert hasattr(table, "__arrow_c_stream__")
    # Reading the capsule back gives the same buffers: the hand-over is by reference.
    again = pa.table(table)
    assert value_buffer_address(again.column("funding_rate").chunk(0)) == value_buffer_address(
        table.column("funding_rate").chunk(0)
    )


def test_polars_shares_buffers(sim):
    table = fetch_table(sim)
    frame = pl.DataFrame(table)
    assert frame["venue"].to_list() == ["binance", "bybit", "hyperliquid"]
    assert frame["funding_rate"].to_list() == table.column("funding_rate").to_pylist()
    exported = frame["mark_price"].to_arrow()
    assert value_buffer_address(exported) == value_buffer_address(table.column("mark_price").chunk(0))


def test_duckdb_queries_the_table_in_place(sim):
    funding = fetch_table(sim)
    rows = duckdb.sql("select venue, interval_minutes from funding order by venue").fetchall()
    assert rows == [("binance", 480), ("bybit", 480), ("hyperliquid", 60)]
    total = duckdb.sql("select sum(mark_price) from funding").fetchall()[0][0]
    assert abs(total - sum(funding.column("mark_price").to_pylist())) < 1e-6
