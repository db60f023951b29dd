"""Hardening (issue 9): no panic reaches Python, hostile venue answers end in PipelineError subclasses."""

import asyncio

import pytest
from ccxt_pipeline_rs import BinanceFetcher, BybitFetcher, InternalError, PipelineError, RateLimitError, _core


def test_a_panic_in_a_sync_call_is_an_internal_error_not_a_panic_exception():
    with pytest.raises(InternalError) as info:
        _core._panic_for_tests()
    assert isinstance(info.value, PipelineError)
    assert "internal error" in str(info.value) and "index out of bounds" in str(info.value)


async def test_a_panic_in_an_awaitable_is_an_internal_error_not_a_panic_exception():
    with pytest.raises(InternalError):
        await _core._panic_for_tests(asynchronous=True)
    # The loop and the runtime survive it.
    await asyncio.sleep(0)
    with pytest.raises(PipelineError):
        await _core._panic_for_tests(asynchronous=True)


@pytest.mark.parametrize(
    ("fetcher", "venue", "status", "seconds"),
    [
        (BinanceFetcher, "binance", 429, 18446744073709551615),
        (BinanceFetcher, "binance", 418, 2**63),
        (BybitFetcher, "bybit", 403, 18446744073709551615),
    ],
)
def test_absurd_retry_after_is_a_rate_limit_error(sim, fetcher, venue, status, seconds):
    sim.inject_status(venue, status, '{"code":-1003,"msg":"Way too many requests"}', retry_after_secs=seconds)
    with pytest.raises(RateLimitError) as info:
        fetcher(base_url=sim.base_urls[venue]).fetch_open_interest("BTCUSDT-PERP")
    # Clamped to a week: still far longer than anyone waits, and a finite number.
    assert info.value.retry_after == 7 * 86400
    assert info.value.status == status
