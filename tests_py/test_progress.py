"""Progress callbacks of history fetches run on the caller's thread (sync) or event loop (async), never on a tokio
worker; the last update of every (venue, instrument) arrives; a callback that raises does not stop the fetch."""

import asyncio
import datetime as dt
import logging
import threading
import time

import pytest
from ccxt_pipeline_rs import BinanceFetcher, BybitFetcher, Orchestrator

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=10)
OI_ROWS = 10 * 288 + 1  # 5-minute open interest over 10 days, both ends inclusive


@pytest.fixture()
def frozen(sim):
    sim.server.set_clock_ms(int(NOW.timestamp() * 1000))
    return sim


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, float]] = []
        self.threads: set[int] = set()

    def __call__(self, venue: str, instrument_id: str, rows: int, fraction: float) -> None:
        self.calls.append((venue, instrument_id, rows, fraction))
        self.threads.add(threading.get_ident())

    def last(self) -> dict[str, tuple[str, str, int, float]]:
        return {call[1]: call for call in self.calls}


def test_sync_callback_runs_on_the_calling_thread(frozen):
    progress = Recorder()
    table = BinanceFetcher(base_url=frozen.base_urls["binance"]).fetch_open_interest_history(
        "BTCUSDT-PERP", START, NOW, progress=progress
    )
    assert table.num_rows == OI_ROWS
    assert progress.threads == {threading.get_ident()}
    assert progress.calls[-1] == ("binance", "BTCUSDT-PERP.BINANCE", OI_ROWS, 1.0)
    fractions = [c[3] for c in progress.calls]
    assert fractions == sorted(fractions)


def test_orchestrator_callbacks_run_on_the_calling_thread_with_every_last_update(frozen):
    progress = Recorder()
    result = Orchestrator(["binance", "bybit"], frozen.base_urls).fetch_open_interest_history(
        ["BTCUSDT-PERP", "ETHUSDT-PERP"], START, NOW, progress=progress
    )
    assert not result.failures, result.failures
    assert progress.threads == {threading.get_ident()}
    last = progress.last()
    assert set(last) == {
        "BTCUSDT-PERP.BINANCE",
        "ETHUSDT-PERP.BINANCE",
        "BTCUSDT-LINEAR.BYBIT",
        "ETHUSDT-LINEAR.BYBIT",
    }
    assert all(call[3] == 1.0 for call in last.values()), last
    assert sum(call[2] for call in last.values()) == result.table.num_rows


def test_a_slow_callback_gets_the_newest_update_not_every_one(frozen):
    # The fetch never waits for the callback: while one call sleeps, newer updates replace older ones.
    progress = Recorder()

    def slow(*args) -> None:
        progress(*args)
        time.sleep(0.05)

    table = (
        Orchestrator(["binance", "bybit"], frozen.base_urls)
        .fetch_open_interest_history("BTCUSDT-PERP", START, NOW, progress=slow)
        .table
    )
    assert table.num_rows == 2 * OI_ROWS
    last = progress.last()
    assert {call[3] for call in last.values()} == {1.0} and len(last) == 2


def test_async_callback_runs_on_the_event_loop_before_the_result(frozen):
    progress = Recorder()

    async def main():
        loop_thread = threading.get_ident()
        fetcher = BybitFetcher(base_url=frozen.base_urls["bybit"])
        table = await fetcher.fetch_open_interest_history_async("BTCUSDT-PERP", START, NOW, progress=progress)
        # Every update was delivered by the time the await returned.
        delivered = list(progress.calls)
        result = await Orchestrator(["binance", "bybit"], frozen.base_urls).fetch_funding_rate_history_async(
            "BTCUSDT-PERP", START, NOW, progress=progress
        )
        return loop_thread, table, delivered, result

    loop_thread, table, delivered, result = asyncio.run(main())
    assert progress.threads == {loop_thread}
    assert delivered[-1] == ("bybit", "BTCUSDT-LINEAR.BYBIT", table.num_rows, 1.0)
    last = progress.last()
    assert last["BTCUSDT-PERP.BINANCE"][3] == 1.0 and last["BTCUSDT-LINEAR.BYBIT"][3] == 1.0
    assert not result.failures


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_callback_that_raises_is_logged_and_the_fetch_goes_on(frozen, caplog, asynchronous):
    calls = []

    def broken(*args) -> None:
        calls.append(args)
        raise RuntimeError("display broke")

    fetcher = BinanceFetcher(base_url=frozen.base_urls["binance"])
    with caplog.at_level(logging.WARNING, logger="ccxt_pipeline_rs"):
        if asynchronous:

            async def main():
                return await fetcher.fetch_open_interest_history_async("BTCUSDT-PERP", START, NOW, progress=broken)

            table = asyncio.run(main())
        else:
            table = fetcher.fetch_open_interest_history("BTCUSDT-PERP", START, NOW, progress=broken)
    assert table.num_rows == OI_ROWS
    assert calls and calls[-1][3] == 1.0, "it kept being called after raising"
    raised = [r for r in caplog.records if "progress callback raised" in r.getMessage()]
    assert raised and "display broke" in raised[0].getMessage()
