"""The local exchange simulator (DESIGN §8): Binance, Bybit and Hyperliquid REST on one loopback port.

with ExchangeSimulator(seed=0) as sim:
    BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest("BTCUSDT-PERP")
"""

from __future__ import annotations

from ccxt_pipeline_rs import VENUES
from ccxt_pipeline_rs._core import SimServer


class ExchangeSimulator:
    """Runs the simulator in this process (on the Rust runtime's threads) while the context is open."""

    def __init__(self, seed: int = 0, port: int = 0, enforce_rate_limits: bool = True) -> None:
        self._seed = seed
        self._port = port
        self._enforce_rate_limits = enforce_rate_limits
        self._server: SimServer | None = None

    def start(self) -> ExchangeSimulator:
        if self._server is None:
            self._server = SimServer(self._seed, self._port, self._enforce_rate_limits)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> ExchangeSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def server(self) -> SimServer:
        if self._server is None:
            raise RuntimeError("the simulator is not running: use it as a context manager or call start()")
        return self._server

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base_urls(self) -> dict[str, str]:
        """Venue name → base URL to give a fetcher, the orchestrator or ccxt."""
        return {venue: self.server.base_url(venue) for venue in VENUES}

    def set_latency(self, venue: str, seconds: float) -> None:
        self.server.set_latency(venue, seconds)

    def inject_status(
        self, venue: str, status: int, body: str, count: int = 1, retry_after_secs: int | None = None
    ) -> None:
        """Answer the next ``count`` requests of ``venue`` with ``status`` and ``body``."""
        self.server.inject_status(venue, status, body, count, retry_after_secs)

    def request_count(self, venue: str) -> int:
        return self.server.request_count(venue)
