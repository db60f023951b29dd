import logging

from ccxt_pipeline_rs import BybitFetcher


def test_rust_retry_warnings_reach_python_logging(sim, caplog):
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"])
    fetcher.fetch_open_interest("BTCUSDT-PERP")
    sim.inject_status("bybit", 502, "<html>bad gateway</html>")
    with caplog.at_level(logging.DEBUG, logger="ccxt_pipeline_rs"):
        fetcher.fetch_open_interest("BTCUSDT-PERP")
    retries = [r for r in caplog.records if r.name == "ccxt_pipeline_rs.net.http"]
    assert retries, [r.name for r in caplog.records]
    assert retries[0].levelno == logging.WARNING
    assert "bybit" in retries[0].getMessage() and "502" in retries[0].getMessage()


def test_debug_logs_are_filtered_by_python_level(sim, caplog):
    with caplog.at_level(logging.WARNING, logger="ccxt_pipeline_rs"):
        BybitFetcher(base_url=sim.base_urls["bybit"]).fetch_open_interest("BTCUSDT-PERP")
    assert not [r for r in caplog.records if r.name.startswith("ccxt_pipeline_rs") and r.levelno < logging.WARNING]
