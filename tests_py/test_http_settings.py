"""Fetchers and the orchestrator resolve URLs as the CLI and the daemon do, and take the HTTP settings users need."""

import pytest
from ccxt_pipeline_rs import (
    VENUES,
    BinanceFetcher,
    BybitFetcher,
    HyperliquidFetcher,
    InvalidArgumentError,
    NetworkError,
    Orchestrator,
    PipelineError,
)

FETCHERS = {"binance": BinanceFetcher, "bybit": BybitFetcher, "hyperliquid": HyperliquidFetcher}
SYMBOL = {"binance": "BTCUSDT-PERP", "bybit": "BTCUSDT-PERP", "hyperliquid": "BTC-USD-PERP"}


@pytest.fixture()
def env_urls(sim, monkeypatch):
    """Every venue's CCXT_PIPELINE_<VENUE>_URL and _WS_URL pointing at the simulator."""
    for venue in VENUES:
        monkeypatch.setenv(f"CCXT_PIPELINE_{venue.upper()}_URL", sim.base_urls[venue])
        monkeypatch.setenv(f"CCXT_PIPELINE_{venue.upper()}_WS_URL", sim.ws_urls[venue])
    return sim


@pytest.mark.parametrize("venue", VENUES)
def test_fetcher_without_base_url_uses_the_environment(env_urls, venue):
    fetcher = FETCHERS[venue]()
    assert fetcher.base_url == env_urls.base_urls[venue]
    before = env_urls.request_count(venue)
    table = fetcher.fetch_open_interest(SYMBOL[venue])
    assert table.num_rows == 1 and table.column("venue")[0].as_py() == venue
    assert env_urls.request_count(venue) > before, "the request went to the simulator"


def test_explicit_base_url_beats_the_environment(sim, monkeypatch):
    monkeypatch.setenv("CCXT_PIPELINE_BINANCE_URL", "http://127.0.0.1:1/nowhere")
    assert BinanceFetcher().base_url == "http://127.0.0.1:1/nowhere"
    assert BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest("BTCUSDT-PERP").num_rows == 1
    monkeypatch.setenv("CCXT_PIPELINE_BINANCE_URL", "  ")  # blank counts as unset: production
    assert BinanceFetcher().base_url == "https://fapi.binance.com"


def test_orchestrator_without_base_urls_uses_the_environment(env_urls):
    result = Orchestrator().fetch_funding_rate("ETHUSDT-PERP")
    assert not result.failures, result.failures
    assert sorted(result.table.column("venue").to_pylist()) == sorted(VENUES)
    # An override for one venue, the environment for the others.
    orchestrator = Orchestrator(["binance", "bybit"], {"bybit": "http://127.0.0.1:1/nowhere"}, retries=0, timeout=2)
    result = orchestrator.fetch_open_interest("BTCUSDT-PERP")
    assert result.table.column("venue").to_pylist() == ["binance"]
    assert [f.venue for f in result.failures] == ["bybit"]


def test_stream_without_ws_url_uses_the_environment(env_urls):
    env_urls.set_liquidation_rate("bybit", 20.0)
    with BybitFetcher().stream_liquidations("BTCUSDT-PERP", batch_seconds=0.2) as stream:
        table = stream.get(timeout=10)
    assert table is not None and table.num_rows > 0
    assert set(table.column("instrument_id").to_pylist()) == {"BTCUSDT-LINEAR.BYBIT"}


def test_retries_are_configurable(sim):
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"], retries=0)
    fetcher.fetch_open_interest("BTCUSDT-PERP")  # loads the instrument list
    sim.inject_status("bybit", 502, "<html>bad gateway</html>")
    before = sim.request_count("bybit")
    with pytest.raises(PipelineError, match="502"):
        fetcher.fetch_open_interest("BTCUSDT-PERP")
    assert sim.request_count("bybit") - before == 1, "retries=0: one attempt"

    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"], retries=2)
    fetcher.fetch_open_interest("BTCUSDT-PERP")
    sim.inject_status("bybit", 502, "<html>bad gateway</html>", count=2)
    assert fetcher.fetch_open_interest("BTCUSDT-PERP").num_rows == 1, "the third attempt gets through"

    sim.inject_status("bybit", 502, "<html>bad gateway</html>", count=3)
    with pytest.raises(PipelineError, match="502"):
        fetcher.fetch_open_interest("BTCUSDT-PERP")


def test_rate_limits_flag(sim):
    fetcher = BybitFetcher(base_url=sim.base_urls["bybit"], rate_limits=False)
    for _ in range(3):
        assert fetcher.fetch_funding_rate("BTCUSDT-PERP").num_rows == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retries": -1},
        {"retries": 21},
        {"retries": True},
        {"retries": "3"},
        {"retries": 1.5},
        {"rate_limits": 0},
        {"rate_limits": "no"},
        {"rate_limits": None},
        {"timeout": 0},
        {"timeout": "10"},
        {"ws_url": "http://127.0.0.1:1/bybit"},
        {"ws_url": 5},
    ],
)
def test_bad_http_settings_are_invalid_arguments(kwargs):
    with pytest.raises(InvalidArgumentError):
        BybitFetcher("http://127.0.0.1:1", **kwargs)
    if "ws_url" not in kwargs:
        with pytest.raises(InvalidArgumentError):
            Orchestrator(**kwargs)


def test_ws_url_is_refused_where_it_would_be_ignored():
    # Hyperliquid's liquidations are polled over REST: a WebSocket URL for it would have no effect.
    with pytest.raises(InvalidArgumentError, match="hyperliquid"):
        HyperliquidFetcher(ws_url="ws://127.0.0.1:1/hyperliquid")
    # A map may name every venue (the simulator's ws_urls, the daemon's configuration): checked, unused.
    Orchestrator(ws_urls={"hyperliquid": "ws://127.0.0.1:1/hyperliquid"})
    with pytest.raises(InvalidArgumentError, match="ws://"):
        Orchestrator(ws_urls={"hyperliquid": "http://127.0.0.1:1/hyperliquid"})
    with pytest.raises(InvalidArgumentError, match="ws://"):
        Orchestrator(ws_urls={"binance": "https://127.0.0.1:1/binance"})
    with pytest.raises(InvalidArgumentError):
        Orchestrator(ws_urls={"kraken": "ws://127.0.0.1:1/kraken"})
    assert BinanceFetcher(ws_url="wss://fstream.binance.com") is not None


def test_timeout_applies_without_base_url(env_urls):
    env_urls.set_latency("bybit", 2.0)
    with pytest.raises(NetworkError, match="timed out"):
        BybitFetcher(timeout=0.2, retries=0).fetch_open_interest("BTCUSDT-PERP")
