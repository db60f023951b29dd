"""The local exchange simulator (docs/architecture.md#sim): Binance, Bybit and Hyperliquid REST and WebSockets on one
loopback port.

with ExchangeSimulator(seed=0) as sim:
    BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest("BTCUSDT-PERP")
    sim.ws_urls["bybit"] + "/v5/public/linear"  # allLiquidation.<SYMBOL> pushes
    sim.liquidations_emitted("bybit")  # the ground truth of what was pushed, with delivery counts

WebSocket routes: Binance ``/binance/market/ws``, ``/binance/market/ws/<stream>``,
``/binance/market/stream?streams=…`` (``forceOrder``; the legacy ``/binance/ws`` and ``/binance/public/ws`` connect but
stay silent), Bybit ``/bybit/v5/public/linear`` (``allLiquidation.<SYMBOL>``), Hyperliquid ``/hyperliquid/ws``
(pings and subscription acks only: its liquidations are the fills ``userFillsByTime`` serves).
"""

from __future__ import annotations

import json
from typing import Any

from ccxt_pipeline_rs import VENUES
from ccxt_pipeline_rs._core import SimServer

#: The kinds ``inject_ws_fault`` accepts.
WS_FAULTS = ("drop", "drop_every", "stop_dropping", "stall", "malformed", "refuse", "burst")


class ExchangeSimulator:
    """Runs the simulator in this process (on the Rust runtime's threads) while the context is open."""

    def __init__(
        self,
        seed: int = 0,
        port: int = 0,
        enforce_rate_limits: bool = True,
        liquidation_rate: float | None = None,
    ) -> None:
        """``liquidation_rate``: liquidations per second per symbol on Binance and Bybit (default 2; 0 = none)."""
        self._seed = seed
        self._port = port
        self._enforce_rate_limits = enforce_rate_limits
        self._liquidation_rate = liquidation_rate
        self._server: SimServer | None = None

    def start(self) -> ExchangeSimulator:
        if self._server is None:
            self._server = SimServer(self._seed, self._port, self._enforce_rate_limits, self._liquidation_rate)
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

    @property
    def ws_urls(self) -> dict[str, str]:
        """Venue name → WebSocket base URL (``ws://127.0.0.1:N/<venue>``); the venue's own paths follow."""
        return {venue: self.server.ws_base_url(venue) for venue in VENUES}

    def set_liquidation_rate(self, venue: str, per_second: float) -> None:
        """Liquidations per second per symbol ``venue`` generates from now on (0 stops them)."""
        self.server.set_liquidation_rate(venue, per_second)

    def liquidations_emitted(self, venue: str) -> list[dict[str, Any]]:
        """Every liquidation ``venue`` pushed, oldest first: ``venue``, ``symbol`` (native), ``time_ms`` (the frame's
        trade time), ``side`` (``"SELL"`` = a long was liquidated), ``price``, ``quantity``, ``order_price`` (Binance
        ``p``; ``price`` is its ``ap``), ``sent_at_ms`` and ``delivered`` (connections the frame was written to)."""
        return self.server.liquidations_emitted(venue)

    def ws_connection_attempts(self, venue: str) -> list[tuple[int, bool]]:
        """Every WebSocket upgrade request to ``venue``: (wall-clock ms, accepted)."""
        return self.server.ws_connection_attempts(venue)

    def ws_open_connections(self, venue: str) -> int:
        return self.server.ws_open_connections(venue)

    def inject_ws_fault(self, venue: str, kind: str, seconds: float | None = None, count: int | None = None) -> None:
        """One of ``WS_FAULTS``: ``drop`` (close every connection now, no close frame), ``drop_every`` (every
        ``seconds``; 0 or None stops), ``stop_dropping``, ``stall`` (send and read nothing for ``seconds``),
        ``malformed`` (one extra invalid JSON frame next), ``refuse`` (upgrades get HTTP 503 for ``seconds``),
        ``burst`` (``count`` extra liquidations at once)."""
        self.server.inject_ws_fault(venue, kind, seconds, count)

    def set_ws_ping_interval(self, seconds: float) -> None:
        """Seconds between server Pings on connections opened from now on (default 20)."""
        self.server.set_ws_ping_interval(seconds)

    def set_ws_queue_capacity(self, frames: int) -> None:
        """Frames a slow reader may have queued before the server drops it, for connections opened from now on."""
        self.server.set_ws_queue_capacity(frames)

    def hyperliquid_user_fills(self, user: str, start_ms: int, end_ms: int | None = None) -> list[dict[str, Any]]:
        """The ground truth of ``userFillsByTime``: every fill of ``user`` in [start_ms, end_ms], uncapped."""
        fills: list[dict[str, Any]] = json.loads(self.server.hyperliquid_user_fills_json(user, start_ms, end_ms))
        return fills
