"""The exception classes: plain Python classes with typed attributes, raised by the Rust core."""

import datetime as dt
import pickle
import typing
import warnings

import ccxt_pipeline_rs
import ccxt_pipeline_rs._core as core
import pytest
from ccxt_pipeline_rs import (
    BinanceFetcher,
    ExchangeError,
    IncompleteHistoryWarning,
    InternalError,
    InvalidArgumentError,
    MalformedResponseError,
    NetworkError,
    ParquetStore,
    PipelineError,
    RateLimitError,
    StoreError,
    SymbolNotFoundError,
    UnsupportedError,
)
from ccxt_pipeline_rs import errors as errors_module

ERRORS = [
    NetworkError,
    RateLimitError,
    ExchangeError,
    MalformedResponseError,
    SymbolNotFoundError,
    UnsupportedError,
    InvalidArgumentError,
    StoreError,
    InternalError,
]
ATTRIBUTES = {
    "venue": str | None,
    "code": int | None,
    "status": int | None,
    "retry_after": float | None,
    "suggestions": list[str],
}


def test_core_reexports_the_python_classes():
    for name in errors_module.__all__:
        cls = getattr(errors_module, name)
        assert getattr(core, name) is cls
        assert getattr(ccxt_pipeline_rs, name) is cls
        assert name in core.__all__ and name in ccxt_pipeline_rs.__all__
        assert cls.__module__ == "ccxt_pipeline_rs.errors"


def test_hierarchy():
    for cls in ERRORS:
        assert issubclass(cls, PipelineError) and issubclass(cls, Exception)
    assert issubclass(MalformedResponseError, ExchangeError)
    assert issubclass(InvalidArgumentError, ValueError) and issubclass(InvalidArgumentError, TypeError)
    assert issubclass(IncompleteHistoryWarning, UserWarning)
    assert not issubclass(IncompleteHistoryWarning, PipelineError)


def test_attributes_are_declared_with_types():
    assert typing.get_type_hints(PipelineError) == ATTRIBUTES
    for cls in ERRORS:
        assert typing.get_type_hints(cls) == ATTRIBUTES


@pytest.mark.parametrize("cls", ERRORS)
def test_defaults_and_keywords(cls):
    bare = cls("what happened")
    assert (bare.venue, bare.code, bare.status, bare.retry_after, bare.suggestions) == (None, None, None, None, [])
    assert str(bare) == bare.message == "what happened"
    full = cls("boom", venue="bybit", code=10001, status=400, retry_after=1.5, suggestions=["BTCUSDT-PERP"])
    assert (full.venue, full.code, full.status, full.retry_after, full.suggestions) == (
        "bybit",
        10001,
        400,
        1.5,
        ["BTCUSDT-PERP"],
    )
    assert full.args == ("boom",)


@pytest.mark.parametrize("cls", ERRORS)
def test_pickle_round_trip(cls):
    err = cls("boom", venue="binance", code=-1130, status=400, retry_after=2.0, suggestions=["ETHUSDT-PERP"])
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == "boom"
    assert (back.venue, back.code, back.status, back.retry_after, back.suggestions) == (
        "binance",
        -1130,
        400,
        2.0,
        ["ETHUSDT-PERP"],
    )


def test_invalid_argument_from_rust_is_caught_as_value_and_type_error():
    with pytest.raises(ValueError):
        BinanceFetcher(base_url="fapi.binance.com")
    with pytest.raises(TypeError):
        BinanceFetcher(timeout="10")
    try:
        core.venue_from_name("kraken")
    except ValueError as err:
        assert type(err) is InvalidArgumentError
        assert (err.venue, err.code, err.status, err.retry_after, err.suggestions) == (None, None, None, None, [])
        assert "kraken" in str(err)
    else:
        pytest.fail("an unknown venue must raise")


def test_error_raised_from_rust_is_the_python_class_with_attributes(sim):
    fetcher = BinanceFetcher(base_url=sim.base_urls["binance"])
    with pytest.raises(SymbolNotFoundError) as info:
        fetcher.fetch_open_interest("BTCUSD-PERP")
    err = info.value
    assert type(err) is errors_module.SymbolNotFoundError
    assert err.venue == "binance" and "BTCUSDT-PERP" in err.suggestions
    assert isinstance(err.suggestions, list) and all(isinstance(s, str) for s in err.suggestions)
    assert (err.code, err.status, err.retry_after) == (None, None, None)
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), str(back), back.suggestions) == (SymbolNotFoundError, str(err), err.suggestions)

    sim.inject_status("binance", 400, '{"code":-1130,"msg":"Data sent for parameter is not valid."}')
    with pytest.raises(ExchangeError) as info:
        fetcher.fetch_open_interest("BTCUSDT-PERP")
    assert type(info.value.code) is int and type(info.value.status) is int
    assert (info.value.code, info.value.status, info.value.venue) == (-1130, 400, "binance")


def test_rate_limit_from_rust_has_float_retry_after(sim):
    sim.inject_status("binance", 418, '{"code":-1003,"msg":"IP banned"}', retry_after_secs=600)
    with pytest.raises(RateLimitError) as info:
        BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest("BTCUSDT-PERP")
    assert type(info.value.retry_after) is float and info.value.retry_after == 600.0
    assert info.value.status == 418 and info.value.venue == "binance"


def test_store_error_and_internal_error_from_rust(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError) as info:
        ParquetStore(tmp_path / "file" / "store")
    assert info.value.venue is None and info.value.suggestions == []
    with pytest.raises(InternalError, match="internal error"):
        core._panic_for_tests()


def test_incomplete_history_warning_from_rust(sim):
    # Binance keeps 30 days of open interest history: asking for more warns with the Python class.
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    sim.server.set_clock_ms(int(now.timestamp() * 1000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BinanceFetcher(base_url=sim.base_urls["binance"]).fetch_open_interest_history(
            "BTCUSDT-PERP", now - dt.timedelta(days=90), now, period="1d"
        )
    assert any(w.category is IncompleteHistoryWarning for w in caught), [w.message for w in caught]
