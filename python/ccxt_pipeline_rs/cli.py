"""``ccxt-cli``: a thin command line over the Python API (DESIGN §6).

Bad input is one line on stderr and exit code 2; Ctrl+C exits 130; venue failures are reported one per line while
the other venues' rows are still shown.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterator

import click
import pyarrow as pa

from ccxt_pipeline_rs import (
    KINDS,
    VENUES,
    InvalidArgumentError,
    MultiVenueResult,
    Orchestrator,
    ParquetStore,
    PipelineError,
    SymbolNotFoundError,
    UnsupportedError,
)
from ccxt_pipeline_rs._core import history_date_ns, to_epoch_ns

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

# Columns shown by the default table format; csv and json carry every column of the DESIGN §3 schema.
TABLE_COLUMNS = {
    "open_interest": ["venue", "instrument_id", "ts_event", "open_interest", "open_interest_value"],
    "funding_rate": [
        "venue",
        "instrument_id",
        "ts_event",
        "funding_rate",
        "interval_minutes",
        "next_funding_time",
        "mark_price",
        "index_price",
    ],
    "liquidation": ["venue", "instrument_id", "ts_event", "side", "price", "quantity"],
}
# The table format shows the head and tail of long results; csv, json and parquet carry every row.
TABLE_MAX_ROWS = 40


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


def iso_utc(ns: int) -> str:
    """ISO-8601 UTC with as many fractional digits as the value needs (none, ms, µs or ns)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for digits in (0, 3, 6, 9):
        unit = 10 ** (9 - digits)
        if frac % unit == 0:
            return f"{text}.{frac // unit:0{digits}d}Z" if digits else f"{text}Z"
    raise AssertionError("unreachable: 9 digits always divide")


def table_rows(table: pa.Table) -> Iterator[dict]:
    """Rows as plain Python values; timestamps become ISO strings (nanoseconds kept)."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            ns = column.cast(pa.int64()).to_pylist()
            columns[name] = [None if v is None else iso_utc(v) for v in ns]
        else:
            columns[name] = column.to_pylist()
    for i in range(table.num_rows):
        yield {name: values[i] for name, values in columns.items()}


def render(table: pa.Table, kind: str, fmt: str) -> None:
    rows = list(table_rows(table))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=table.column_names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        shown = TABLE_COLUMNS[kind]
        out = Table(show_header=True, header_style="bold")
        for name in shown:
            label = f"{name} (UTC)" if name.startswith(("ts_", "next_")) else name
            out.add_column(label, justify="left" if name in ("venue", "instrument_id") else "right", no_wrap=True)
        half = TABLE_MAX_ROWS // 2
        shown_rows = rows if len(rows) <= TABLE_MAX_ROWS else rows[:half] + [None] + rows[-half:]
        for row in shown_rows:
            if row is None:
                out.add_row(f"… {len(rows) - 2 * half} more rows …", *([""] * (len(shown) - 1)))
            else:
                out.add_row(*(display(name, row[name]) for name in shown))
        # Piped output has no terminal width to honour; never cut values there.
        console = Console() if sys.stdout.isatty() else Console(width=240)
        console.print(out)


def display(column: str, value: object) -> str:
    if value is None:
        return "—"
    if column == "funding_rate":
        return f"{value:.8f}"
    if isinstance(value, str) and column.startswith(("ts_", "next_")):
        # 2026-11-25T12:00:00.123Z → 2026-11-25 12:00:00.123 (the header says UTC)
        return value.replace("T", " ").rstrip("Z")
    return str(value)


def parse_exchanges(value: str | None) -> list[str]:
    if value is None:
        return list(VENUES)
    expected = f"expected a comma list of {', '.join(VENUES)}"
    names = [v.strip().lower() for v in value.split(",")]
    if not any(names) or "" in names:
        raise BadInput(f"empty exchange name in --exchange {value!r}: {expected}")
    unknown = [n for n in names if n not in VENUES]
    if unknown:
        raise BadInput(f"unknown exchange {', '.join(unknown)}: {expected}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise BadInput(f"exchange {', '.join(repeated)} given more than once in --exchange {value!r}")
    return names


def check_history_args(start: str | None, end: str | None, period: str | None) -> tuple[int | None, int | None]:
    """History bounds as epoch ns, refused before any request: --to or --period without --from, dates before the
    venues existed (with a hint for epoch seconds), an end before the start."""
    if start is None:
        given = [name for name, v in (("--to", end), ("--period", period)) if v is not None]
        if given:
            raise BadInput(f"{' and '.join(given)} need --from: without it the current value is fetched")
        return None, None
    try:
        start_ns = history_date_ns(start, "--from")
        end_ns = history_date_ns(end, "--to") if end is not None else None
    except InvalidArgumentError as e:
        raise BadInput(str(e).removeprefix("invalid argument: ")) from None
    if end_ns is not None and end_ns < start_ns:
        raise BadInput(f"--to {end} is before --from {start}")
    return start_ns, end_ns


def report(symbol: str, result: MultiVenueResult, kind: str, fmt: str, store: ParquetStore | None = None) -> None:
    """Rows to stdout (and the store), one line per failed venue to stderr; exit 2 when the symbol is unknown
    everywhere."""
    failures = list(result.failures)
    if result.table.num_rows == 0 and failures and all(isinstance(f, SymbolNotFoundError) for f in failures):
        venues = ", ".join(f.venue for f in failures)
        hints = sorted({s for f in failures for s in f.suggestions})
        hint = f" (close matches: {', '.join(hints)})" if hints else " (no close matches)"
        raise BadInput(f"unknown symbol '{symbol}' on {venues}{hint}")
    if result.table.num_rows:
        render(result.table, kind, fmt)
        if store is not None:
            written = store.write(result.table)
            click.echo(
                f"stored {written['rows_added']} new rows ({written['rows_duplicate']} already stored) in {store.root}",
                err=True,
            )
    for warning in getattr(result, "warnings", []):
        click.echo(f"warning: {warning}", err=True)
    for failure in failures:
        click.echo(f"error: {failure}", err=True)
    if result.table.num_rows == 0 and failures:
        sys.exit(1)


class Context:
    """What every command needs: where each venue lives (simulator, env override or production)."""

    def __init__(self, sim: bool, seed: int, sim_time: str | None, timeout: float = 10.0) -> None:
        self.sim_enabled = sim or sim_time is not None
        self.timeout = timeout
        self.seed = seed
        self.sim_time_ns = to_epoch_ns(sim_time) if sim_time is not None else None
        self._stack = contextlib.ExitStack()

    def base_urls(self) -> dict[str, str]:
        if self.sim_enabled:
            from ccxt_pipeline_rs.sim import ExchangeSimulator

            sim = self._stack.enter_context(ExchangeSimulator(seed=self.seed))
            if self.sim_time_ns is not None:
                sim.server.set_clock_ms(self.sim_time_ns // 1_000_000)
            return sim.base_urls
        urls = {}
        for venue in VENUES:
            url = os.environ.get(f"CCXT_PIPELINE_{venue.upper()}_URL")
            if url:
                urls[venue] = url
        return urls

    def orchestrator(self, exchanges: str | None) -> Orchestrator:
        return Orchestrator(parse_exchanges(exchanges), self.base_urls(), timeout=self.timeout)

    def close(self) -> None:
        self._stack.close()


format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
exchange_option = click.option("--exchange", "exchanges", help="Comma list of venues (default: all three).")
store_option = click.option("--store", "store", is_flag=True, help="Also write the rows to the Parquet store.")
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=lambda: os.environ.get("CCXT_PIPELINE_DATA_DIR", "./data"),
    show_default="$CCXT_PIPELINE_DATA_DIR or ./data",
    help="Root of the Parquet store (NautilusTrader catalog layout).",
)


def open_store(data_dir: str) -> ParquetStore:
    return ParquetStore(data_dir)


@click.group()
@click.option("--sim", is_flag=True, help="Run against the built-in exchange simulator instead of the network.")
@click.option(
    "--seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True, help="Simulator seed (with --sim)."
)
@click.option("--sim-time", help="Freeze the simulator clock at this ISO-8601 time or epoch ms (implies --sim).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=86400),
    default=10.0,
    show_default=True,
    help="Seconds one request to a venue may take in all (connect, send, read).",
)
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs (stderr).")
@click.version_option(package_name="ccxt_pipeline_rs")
@click.pass_context
def cli(ctx: click.Context, sim: bool, seed: int, sim_time: str | None, timeout: float, verbose: int) -> None:
    """Open interest, funding and liquidations from Binance, Bybit and Hyperliquid."""
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Waiting out a venue's rate limit can take a minute: always say so, and until when.
    logging.getLogger("ccxt_pipeline_rs.net.rate_limit").setLevel(min(level, logging.WARNING))
    state = Context(sim, seed, sim_time, timeout)
    ctx.obj = state
    ctx.call_on_close(state.close)


history_options = [
    click.option(
        "--from", "start", help="Fetch history from this date (ISO-8601 or epoch ms) instead of the current value."
    ),
    click.option("--to", "end", help="End of the history range (default: now)."),
]


def with_options(options):
    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


class HistoryProgress:
    """One progress bar per (venue, instrument), fed from the Rust side after every page."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.rows: dict[str, int] = {}
        self._tasks: dict[str, int] = {}
        self._bars = Progress(
            TextColumn("{task.description:<40}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[rows]:>8} rows"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )

    def __enter__(self) -> HistoryProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def __call__(self, venue: str, instrument_id: str, rows: int, fraction: float) -> None:
        key = f"{venue} {instrument_id}"
        if key not in self._tasks:
            self._tasks[key] = self._bars.add_task(key, total=1.0, rows=0)
        self.rows[key] = rows
        self._bars.update(self._tasks[key], completed=fraction, rows=rows)


def fetch_history(state: Context, kind: str, symbol: str, exchanges, start, end, period, fmt, store, data_dir) -> None:
    """History mode of fetch-oi / fetch-funding: progress bars, pages stored as they arrive, Ctrl+C keeps them."""
    import warnings

    from ccxt_pipeline_rs import IncompleteHistoryWarning

    warnings.simplefilter("ignore", IncompleteHistoryWarning)  # printed below as one line each
    target = open_store(data_dir) if store else None
    orchestrator = state.orchestrator(exchanges)
    progress = HistoryProgress()
    try:
        with progress:
            if kind == "open_interest":
                result = orchestrator.fetch_open_interest_history(symbol, start, end, period, progress, target)
            else:
                result = orchestrator.fetch_funding_rate_history(symbol, start, end, progress, target)
    except KeyboardInterrupt:
        fetched = sum(progress.rows.values())
        kept = f"; the {fetched} rows fetched are stored, re-run to resume" if target is not None else ""
        click.echo(f"interrupted{kept}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    report(symbol, result, kind, fmt)
    if target is not None:
        click.echo(f"stored {result.rows_stored} new rows in {target.root}", err=True)


@cli.command("fetch-oi")
@click.argument("symbol")
@exchange_option
@with_options(history_options)
@click.option("--period", help="History granularity (with --from): 5m 15m 30m 1h 2h 4h 6h 12h 1d.  [default: 5m]")
@format_option
@store_option
@data_dir_option
@click.pass_obj
def fetch_oi(
    state: Context, symbol: str, exchanges, start, end, period: str, fmt: str, store: bool, data_dir: str
) -> None:
    """Open interest of SYMBOL (e.g. BTCUSDT-PERP) on each venue: current, or history with --from."""
    check_history_args(start, end, period)
    parse_exchanges(exchanges)
    if start is not None:
        period = period or "5m"
        fetch_history(state, "open_interest", symbol, exchanges, start, end, period, fmt, store, data_dir)
        return
    target = open_store(data_dir) if store else None  # an unusable store fails before any request
    report(symbol, state.orchestrator(exchanges).fetch_open_interest(symbol), "open_interest", fmt, target)


@cli.command("fetch-funding")
@click.argument("symbol")
@exchange_option
@with_options(history_options)
@format_option
@store_option
@data_dir_option
@click.pass_obj
def fetch_funding(state: Context, symbol: str, exchanges, start, end, fmt: str, store: bool, data_dir: str) -> None:
    """Funding of SYMBOL: current rate, interval, next funding time, mark and index price; or history with --from."""
    check_history_args(start, end, None)
    parse_exchanges(exchanges)
    if start is not None:
        fetch_history(state, "funding_rate", symbol, exchanges, start, end, None, fmt, store, data_dir)
        return
    target = open_store(data_dir) if store else None
    report(symbol, state.orchestrator(exchanges).fetch_funding_rate(symbol), "funding_rate", fmt, target)


@cli.command("query")
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.argument("symbol", required=False)
@exchange_option
@click.option("--from", "start", help="Start (inclusive, on ts_init): ISO-8601 date/time or epoch ms.")
@click.option("--to", "end", help="End (inclusive, on ts_init): ISO-8601 date/time or epoch ms.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File for --format parquet.")
@click.option("--summary", is_flag=True, help="List every dataset with row count and first/last timestamp.")
@data_dir_option
def query(
    kind: str | None,
    symbol: str | None,
    exchanges: str | None,
    start: str | None,
    end: str | None,
    fmt: str,
    output: str | None,
    summary: bool,
    data_dir: str,
) -> None:
    """Rows of KIND (open_interest, funding_rate, liquidation) from the store, optionally for one SYMBOL."""
    if not os.path.isdir(os.path.join(data_dir, "data")):
        raise BadInput(f"no store at {data_dir}: fetch with --store first, or pass --data-dir")
    store = open_store(data_dir)
    if summary:
        render_summary(store.summary(), fmt)
        return
    if kind is None:
        raise BadInput("missing KIND: one of " + ", ".join(KINDS) + " (or --summary)")
    venues = ",".join(parse_exchanges(exchanges)) if exchanges else None
    table = store.read(kind, symbol=symbol, venue=venues, start=start, end=end)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        if output is None and sys.stdout.isatty():
            raise BadInput("--format parquet writes binary: give -o FILE or redirect stdout")
        pq.write_table(table, output or sys.stdout.buffer)
    else:
        render(table, kind, fmt)


def render_summary(datasets: list[dict], fmt: str) -> None:
    rows = [
        {**d, "first": d["first"] and d["first"].isoformat(), "last": d["last"] and d["last"].isoformat()}
        for d in datasets
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(
            sys.stdout, fieldnames=["kind", "instrument_id", "files", "rows", "first", "last"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        out = Table(show_header=True, header_style="bold")
        for name in ("kind", "instrument_id", "files", "rows", "first (UTC)", "last (UTC)"):
            out.add_column(name, no_wrap=True)
        for r in rows:
            out.add_row(
                r["kind"], r["instrument_id"], str(r["files"]), str(r["rows"]), r["first"] or "—", r["last"] or "—"
            )
        (Console() if sys.stdout.isatty() else Console(width=240)).print(out)


@cli.group()
def sim() -> None:
    """The local exchange simulator."""


@sim.command("serve")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port on 127.0.0.1 (0 = any)."
)
@click.option("--seed", "sim_seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
@click.option("--no-rate-limits", is_flag=True, help="Do not enforce the venues' rate limits.")
@click.option(
    "--latency", type=click.FloatRange(0, 60), default=0.0, show_default=True, help="Seconds before every answer."
)
def sim_serve(port: int, sim_seed: int, no_rate_limits: bool, latency: float) -> None:
    """Serve Binance, Bybit and Hyperliquid REST under /binance, /bybit, /hyperliquid until Ctrl+C."""
    import time

    from ccxt_pipeline_rs.sim import ExchangeSimulator

    with ExchangeSimulator(seed=sim_seed, port=port, enforce_rate_limits=not no_rate_limits) as server:
        for venue in server.base_urls:
            server.set_latency(venue, latency)
        for venue, url in server.base_urls.items():
            click.echo(f"{venue:12} {url}")
        click.echo("serving; Ctrl+C to stop", err=True)
        sys.stdout.flush()
        while True:
            time.sleep(3600)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="ccxt-cli", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        sys.exit(0)
    except click.ClickException as e:
        # One line, no usage block: scripts read it, people act on it.
        click.echo(f"error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except (InvalidArgumentError, SymbolNotFoundError, UnsupportedError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except PipelineError as e:
        # The request was fine; the venue, the network or the disk was not.
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except OSError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
