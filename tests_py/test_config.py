"""CCXTPipelineConfig: the daemon's configuration from a TOML file, the environment and overrides."""

import datetime as dt
import os
import pathlib
import textwrap
import tomllib

import pytest
from ccxt_pipeline_rs import CCXTPipelineConfig, InvalidArgumentError, PipelineError

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "daemon.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No CCXT_PIPELINE_* variable of the machine running the tests leaks into them."""
    for name in list(os.environ):
        if name.startswith("CCXT_PIPELINE_"):
            monkeypatch.delenv(name)


def write(tmp_path, text: str) -> pathlib.Path:
    path = tmp_path / "daemon.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_example_file():
    config = CCXTPipelineConfig.from_file(EXAMPLE)
    assert config.source == str(EXAMPLE)
    assert config.data_dir == "./data"
    assert config.venues == ["binance", "bybit", "hyperliquid"]
    assert config.symbols == ["BTCUSDT-PERP", "ETHUSDT-PERP"]
    assert config.top_n_by_open_interest is None
    assert config.open_interest_interval == dt.timedelta(minutes=1)
    assert config.funding_interval == dt.timedelta(minutes=1)
    assert config.history_catch_up == dt.timedelta(days=1)
    assert config.history_period == "5m"
    assert config.liquidations is True
    assert config.liquidations_all_market is False
    assert config.hyperliquid_addresses == ["0x2e3d94f0562703b25c83308a05046ddaf9a8dd14"]
    assert config.flush_interval == dt.timedelta(seconds=5)
    assert config.compaction_interval == dt.timedelta(hours=1)
    assert config.base_urls == {}
    assert config.ws_urls == {}
    assert config.log_level == "info"
    assert config.log_file is None
    assert config.metrics_port is None


def test_every_key_of_a_file(tmp_path):
    path = write(
        tmp_path,
        """
        data_dir = "/srv/ccxt"
        venues = ["hyperliquid", "binance"]
        symbols = "all"
        top_n_by_open_interest = 10
        log_level = "debug"
        log_file = "/var/log/ccxt.log"
        [snapshots]
        open_interest_interval = "30s"
        funding_interval = "off"
        [history]
        catch_up = "2h"
        period = "12h"
        [liquidations]
        enabled = false
        all_market = true
        hyperliquid_addresses = []
        [store]
        flush_interval = "1m"
        compaction_interval = "1d"
        [urls]
        binance = "http://127.0.0.1:8000/binance/"
        hyperliquid_ws = "ws://127.0.0.1:8000/hyperliquid"
        [metrics]
        port = 9464
        """,
    )
    config = CCXTPipelineConfig.from_file(path)
    assert config.data_dir == "/srv/ccxt"
    assert config.venues == ["hyperliquid", "binance"]
    assert config.symbols is None
    assert config.top_n_by_open_interest == 10
    assert config.log_level == "debug"
    assert config.log_file == "/var/log/ccxt.log"
    assert config.open_interest_interval == dt.timedelta(seconds=30)
    assert config.funding_interval is None
    assert config.history_catch_up == dt.timedelta(hours=2)
    assert config.history_period == "12h"
    assert config.liquidations is False
    assert config.liquidations_all_market is True
    assert config.hyperliquid_addresses == []
    assert config.flush_interval == dt.timedelta(minutes=1)
    assert config.compaction_interval == dt.timedelta(days=1)
    assert config.base_urls == {"binance": "http://127.0.0.1:8000/binance"}
    assert config.ws_urls == {"hyperliquid": "ws://127.0.0.1:8000/hyperliquid"}
    assert config.metrics_port == 9464


def test_defaults_and_keyword_arguments():
    config = CCXTPipelineConfig()
    assert config.venues == ["binance", "bybit", "hyperliquid"]
    assert config.symbols == ["BTCUSDT-PERP", "ETHUSDT-PERP"]
    assert config.source is None
    config = CCXTPipelineConfig(
        venues=["bybit"],
        symbols=["solusdt", "ETH-PERP"],
        snapshots={"open_interest_interval": dt.timedelta(minutes=5)},
        store={"compaction_interval": False},
        data_dir=pathlib.Path("/tmp/x"),
    )
    assert config.venues == ["bybit"]
    assert config.symbols == ["SOLUSDT-PERP", "ETHUSDT-PERP"]
    assert config.open_interest_interval == dt.timedelta(minutes=5)
    assert config.compaction_interval is None
    assert config.data_dir == "/tmp/x"
    # The environment is not read by the constructor.
    assert config.funding_interval == dt.timedelta(minutes=1)


def test_to_dict_round_trips_and_is_the_file_layout():
    config = CCXTPipelineConfig.from_file(EXAMPLE).with_overrides(
        {"symbols": "all", "top_n_by_open_interest": 5, "urls.bybit_ws": "ws://localhost:1", "metrics.port": 9100}
    )
    data = config.to_dict()
    assert data["symbols"] == "all"
    assert data["top_n_by_open_interest"] == 5
    assert data["snapshots"] == {"open_interest_interval": "1m", "funding_interval": "1m"}
    assert data["urls"] == {"bybit_ws": "ws://localhost:1"}
    assert data["metrics"] == {"port": 9100}
    again = CCXTPipelineConfig.from_dict(data)
    assert again.to_dict() == data
    assert again.source is None
    assert CCXTPipelineConfig(**data) == again
    # to_toml is a TOML document with the same content.
    assert tomllib.loads(config.to_toml()) == data
    assert CCXTPipelineConfig.from_dict(tomllib.loads(config.to_toml())) == again


def test_from_dict_takes_dotted_keys():
    config = CCXTPipelineConfig.from_dict({"snapshots.funding_interval": "8h", "liquidations": {"enabled": False}})
    assert config.funding_interval == dt.timedelta(hours=8)
    assert config.liquidations is False


def test_overrides_are_copies_applied_all_or_none():
    base = CCXTPipelineConfig.from_file(EXAMPLE)
    changed = base.with_overrides(
        {
            "snapshots.open_interest_interval": "30s",
            "venues": "binance,bybit",
            "liquidations.enabled": "false",
            "liquidations.all_market": True,
            "store.flush_interval": dt.timedelta(seconds=10),
            "log_file": None,  # None leaves a key as it is
            "metrics.port": "9464",
        }
    )
    assert changed.open_interest_interval == dt.timedelta(seconds=30)
    assert changed.venues == ["binance", "bybit"]
    assert changed.liquidations is False
    assert changed.liquidations_all_market is True
    assert changed.flush_interval == dt.timedelta(seconds=10)
    assert changed.log_file is None
    assert changed.metrics_port == 9464
    assert changed.source == str(EXAMPLE)
    # The original is untouched.
    assert base.open_interest_interval == dt.timedelta(minutes=1)
    assert base.venues == ["binance", "bybit", "hyperliquid"]
    # A bad value anywhere changes nothing.
    with pytest.raises(InvalidArgumentError):
        base.with_overrides({"log_level": "debug", "store.flush_interval": "off"})
    assert base.log_level == "info"
    # Both halves of a top-N selection, in either order.
    top = base.with_overrides({"top_n_by_open_interest": "3", "symbols": "all"})
    assert top.symbols is None and top.top_n_by_open_interest == 3
    # A table is its dotted keys.
    tabled = base.with_overrides({"snapshots": {"funding_interval": "off", "open_interest_interval": "5m"}})
    assert tabled.funding_interval is None
    assert tabled.open_interest_interval == dt.timedelta(minutes=5)


def test_precedence_file_then_environment_then_overrides(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        """
        data_dir = "/from/file"
        log_level = "error"
        [snapshots]
        open_interest_interval = "1h"
        funding_interval = "2h"
        """,
    )
    monkeypatch.setenv("CCXT_PIPELINE_LOG_LEVEL", "warn")
    monkeypatch.setenv("CCXT_PIPELINE_SNAPSHOTS_OPEN_INTEREST_INTERVAL", "30m")
    monkeypatch.setenv("CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL", "20m")
    monkeypatch.setenv("CCXT_PIPELINE_BINANCE_URL", "http://from-env")
    monkeypatch.setenv("CCXT_PIPELINE_SYMBOLS", "BTCUSDT-PERP,SOLUSDT")
    monkeypatch.setenv("CCXT_PIPELINE_DATA_DIR", "")  # empty: unset
    config = CCXTPipelineConfig.from_file(path).with_overrides(
        {"snapshots.open_interest_interval": "10m"}, origin="command line"
    )
    assert config.data_dir == "/from/file"
    assert config.log_level == "warn"
    assert config.funding_interval == dt.timedelta(minutes=20)
    assert config.open_interest_interval == dt.timedelta(minutes=10)
    assert config.base_urls == {"binance": "http://from-env"}
    assert config.symbols == ["BTCUSDT-PERP", "SOLUSDT-PERP"]
    # env=False reads the file alone; with_env applies the environment later.
    alone = CCXTPipelineConfig.from_file(path, env=False)
    assert alone.log_level == "error"
    assert alone.with_env().log_level == "warn"
    assert CCXTPipelineConfig.from_dict({}, env=True).log_level == "warn"


def test_env_var_names():
    assert CCXTPipelineConfig.env_var("data_dir") == "CCXT_PIPELINE_DATA_DIR"
    assert CCXTPipelineConfig.env_var("urls.bybit_ws") == "CCXT_PIPELINE_BYBIT_WS_URL"
    assert CCXTPipelineConfig.env_var("store.flush_interval") == "CCXT_PIPELINE_STORE_FLUSH_INTERVAL"
    assert "snapshots.open_interest_interval" in CCXTPipelineConfig.KEYS
    assert len(CCXTPipelineConfig.KEYS) == 22
    with pytest.raises(InvalidArgumentError, match="unknown key 'nope'"):
        CCXTPipelineConfig.env_var("nope")


def test_unknown_variables_are_listed(monkeypatch):
    assert CCXTPipelineConfig.unknown_env_vars() == []
    monkeypatch.setenv("CCXT_PIPELINE_SNAPSHOT_INTERVAL", "1m")
    monkeypatch.setenv("CCXT_PIPELINE_VENUES", "binance")
    assert CCXTPipelineConfig.unknown_env_vars() == ["CCXT_PIPELINE_SNAPSHOT_INTERVAL"]
    # They are ignored, not applied.
    assert CCXTPipelineConfig().with_env().venues == ["binance"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[snapshots]\nopen_interest_interval = "1x"\n',
            'snapshots.open_interest_interval = "1x": expected a duration like 30s, 1m, 1h or 1d',
        ),
        (
            '[snapshots]\noi_interval = "1m"\n',
            'snapshots.oi_interval = "1m": unknown key; [snapshots] takes open_interest_interval, funding_interval',
        ),
        ('interval = "1m"\n', 'interval = "1m": unknown key; expected one of data_dir, venues'),
        ('venues = ["binance", "kraken"]\n', 'venues[1] = "kraken": expected a list of venues from binance, bybit'),
        ('symbols = ["BTCUSDT-PERP", "BTC/USDT!"]\n', 'symbols[1] = "BTC/USDT!": expected a list of symbols'),
        ('symbols = "all"\n', 'symbols = "all": "all" needs top_n_by_open_interest = N'),
        (
            '[liquidations]\nhyperliquid_addresses = ["0x12"]\n',
            'liquidations.hyperliquid_addresses[0] = "0x12": expected a list of Hyperliquid addresses',
        ),
        ('[liquidations]\nenabled = "yes"\n', 'liquidations.enabled = "yes": expected true or false'),
        ("[metrics]\nport = 99999\n", "metrics.port = 99999: expected a port from 1 to 65535"),
        ('[store]\nflush_interval = "off"\n', 'store.flush_interval = "off": expected a duration'),
        ('[history]\nperiod = "2h"\n', 'history.period = "2h": bybit (among venues) has no 2h open interest history'),
        ('[urls]\nbinance = "ftp://x"\n', 'urls.binance = "ftp://x": expected an HTTP URL'),
        ('log_level = "loud"\n', 'log_level = "loud": expected one of error, warn, info, debug, trace'),
        ('venues = ["binance"\n', "line 1, column 20: not valid TOML: unclosed array"),
        ('log_level = "info"\nlog_level = "debug"\n', "line 2, column 1: not valid TOML: duplicate key (log_level)"),
    ],
)
def test_bad_files_name_the_file_key_and_value(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(InvalidArgumentError) as info:
        CCXTPipelineConfig.from_file(path)
    message = str(info.value)
    assert f"{path}: {expected}" in message
    assert "\n" not in message
    assert isinstance(info.value, PipelineError)


def test_a_missing_file(tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"nope\.toml: cannot read the config file"):
        CCXTPipelineConfig.from_file(tmp_path / "nope.toml")


def test_bad_environment_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL", "soon")
    with pytest.raises(InvalidArgumentError) as info:
        CCXTPipelineConfig.from_file(EXAMPLE)
    assert (
        'environment variable CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL: snapshots.funding_interval = "soon": '
        "expected a duration" in str(info.value)
    )
    # Without the environment the same file is fine.
    assert CCXTPipelineConfig.from_file(EXAMPLE, env=False).funding_interval == dt.timedelta(minutes=1)


def test_bad_overrides_and_arguments_name_key_and_value():
    base = CCXTPipelineConfig()
    with pytest.raises(InvalidArgumentError) as info:
        base.with_overrides({"snapshots.open_interest_interval": "1x"}, origin="--oi-interval")
    assert '--oi-interval: snapshots.open_interest_interval = "1x": expected a duration' in str(info.value)
    with pytest.raises(InvalidArgumentError, match=r'overrides: snapshot\.interval = "1m": unknown key'):
        base.with_overrides({"snapshot.interval": "1m"})
    with pytest.raises(InvalidArgumentError, match=r"overrides: top_n_by_open_interest = 5: only with symbols"):
        base.with_overrides({"top_n_by_open_interest": 5, "symbols": ["BTCUSDT-PERP"]})
    with pytest.raises(InvalidArgumentError, match=r"arguments: venues\[0\] = \"okx\": expected a list of venues"):
        CCXTPipelineConfig(venues=["okx"])
    with pytest.raises(InvalidArgumentError, match=r'arguments: colour = "red": unknown key'):
        CCXTPipelineConfig(colour="red")
    with pytest.raises(InvalidArgumentError, match=r"arguments: data_dir = <object .*not object"):
        CCXTPipelineConfig(data_dir=object())
    with pytest.raises(InvalidArgumentError, match=r"store\.flush_interval = .*at least 1s"):
        CCXTPipelineConfig(store={"flush_interval": dt.timedelta(milliseconds=10)})
    with pytest.raises(InvalidArgumentError, match=r"metrics\.port = 1\.5: expected a port"):
        base.with_overrides({"metrics.port": 1.5})


def test_repr():
    config = CCXTPipelineConfig.from_file(EXAMPLE, env=False)
    assert repr(config) == (
        f"CCXTPipelineConfig(source='{EXAMPLE}', data_dir='./data', venues=['binance', 'bybit', 'hyperliquid'], "
        "symbols=['BTCUSDT-PERP', 'ETHUSDT-PERP'], open_interest_interval='1m', funding_interval='1m', "
        "history_catch_up='1d', liquidations=True)"
    )
    top = CCXTPipelineConfig(symbols="all", top_n_by_open_interest=3, snapshots={"funding_interval": "off"})
    assert "symbols='all' (top 3 by open interest)" in repr(top)
    assert "funding_interval='off'" in repr(top)


def test_properties_are_read_only():
    config = CCXTPipelineConfig()
    with pytest.raises(AttributeError):
        config.data_dir = "/elsewhere"  # type: ignore[misc]
