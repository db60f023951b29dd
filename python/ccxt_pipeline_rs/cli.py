"""``ccxt-cli``: a thin command line over the Python API (docs/architecture.md#cli).

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
import signal
import sys
from collections.abc import Iterator
from typing import IO

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
from ccxt_pipeline_rs._core import base_url_from_env, history_date_ns, to_epoch_ns, venue_from_name

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

# Columns shown by the default table format; csv and json carry every column (docs/formats.md#tables).
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
    # A gap runs from ts_event (last sign of life) to ts_init (delivery resumed).
    "gaps": ["venue", "instrument_id", "stream", "reason", "ts_event", "ts_init"],
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


def table_rows(table: pa.Table | pa.RecordBatch) -> Iterator[dict]:
    """Rows as plain Python values; timestamps become ISO strings (nanoseconds kept). Converts every row of
    `table` at once: slice it first (`render` converts one chunk at a time)."""
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


# csv and json are written this many rows at a time: memory stays bounded whatever the size of the result.
CHUNK_ROWS = 8192


def chunked_rows(table: pa.Table) -> Iterator[dict]:
    """Every row of `table`, converted to Python values one chunk at a time."""
    for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
        yield from table_rows(batch)


def write_json(rows: Iterator[dict], out: IO[str]) -> None:
    """The bytes of `json.dumps(list(rows), indent=2) + "\n"`, written a row at a time. A row dumped on its own
    has no raw newline inside a value (json escapes them), so indenting each of its lines by two spaces nests it."""
    first = True
    for row in rows:
        out.write("[\n  " if first else ",\n  ")
        out.write(json.dumps(row, indent=2).replace("\n", "\n  "))
        first = False
    out.write("[]\n" if first else "\n]\n")


def render(table: pa.Table, kind: str, fmt: str, output: str | None = None) -> None:
    """Rows to stdout, or with `output` (csv and json) to that file. Zero rows are `[]` in json and the header in
    csv. csv and json are streamed a chunk at a time; the table format converts only the rows it shows."""
    if fmt in ("json", "csv"):
        with open(output, "w", newline="", encoding="utf-8") if output else contextlib.nullcontext(sys.stdout) as out:
            if fmt == "json":
                write_json(chunked_rows(table), out)
            else:
                writer = csv.DictWriter(out, fieldnames=table.column_names, lineterminator="\n")
                writer.writeheader()
                for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
                    writer.writerows(table_rows(batch))
    else:
        from rich.console import Console
        from rich.table import Table

        shown = TABLE_COLUMNS[kind]
        out = Table(show_header=True, header_style="bold")
        for name in shown:
            label = f"{name} (UTC)" if name.startswith(("ts_", "next_")) else name
            out.add_column(label, justify="left" if name in ("venue", "instrument_id") else "right", no_wrap=True)
        total = table.num_rows
        half = TABLE_MAX_ROWS // 2
        # Only the shown columns of the shown rows become Python objects.
        table = table.select(shown)
        if total <= TABLE_MAX_ROWS:
            shown_rows: list[dict | None] = list(table_rows(table))
        else:
            shown_rows = [*table_rows(table.slice(0, half)), None, *table_rows(table.slice(total - half, half))]
        for row in shown_rows:
            if row is None:
                out.add_row(f"… {total - 2 * half} more rows …", *([""] * (len(shown) - 1)))
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
    venues, unknown = [], []
    for name in names:
        try:
            venues.append(venue_from_name(name))  # the core's names and aliases (binanceusdm)
        except InvalidArgumentError:
            unknown.append(name)
    if unknown:
        raise BadInput(f"unknown exchange {', '.join(unknown)}: {expected}")
    repeated = sorted({v for v in venues if venues.count(v) > 1})
    if repeated:
        raise BadInput(f"exchange {', '.join(repeated)} given more than once in --exchange {value!r}")
    return venues


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
    if result.table.num_rows or fmt in ("json", "csv"):
        render(result.table, kind, fmt)
    if result.table.num_rows:
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

    def __init__(
        self, sim: bool, seed: int, sim_time: str | None, timeout: float = 10.0, sim_ws_drop_every: float | None = None
    ) -> None:
        self.sim_enabled = sim or sim_time is not None or sim_ws_drop_every is not None
        self.timeout = timeout
        self.seed = seed
        self.sim_time_ns = to_epoch_ns(sim_time) if sim_time is not None else None
        self.sim_ws_drop_every = sim_ws_drop_every
        self._stack = contextlib.ExitStack()
        self._sim = None

    def simulator(self):
        if self._sim is None:
            from ccxt_pipeline_rs.sim import ExchangeSimulator

            self._sim = self._stack.enter_context(ExchangeSimulator(seed=self.seed))
            if self.sim_time_ns is not None:
                self._sim.server.set_clock_ms(self.sim_time_ns // 1_000_000)
            if self.sim_ws_drop_every is not None:
                for venue in VENUES:
                    self._sim.inject_ws_fault(venue, "drop_every", seconds=self.sim_ws_drop_every)
        return self._sim

    def base_urls(self) -> dict[str, str]:
        if self.sim_enabled:
            return self.simulator().base_urls
        # CCXT_PIPELINE_<VENUE>_URL if set, else production: resolved by the core, as for the daemon.
        return {venue: base_url_from_env(venue) for venue in VENUES}

    def ws_urls(self) -> dict[str, str]:
        """The simulator's WebSocket URLs with --sim; otherwise the core reads CCXT_PIPELINE_<VENUE>_WS_URL."""
        return self.simulator().ws_urls if self.sim_enabled else {}

    def orchestrator(self, exchanges: str | None) -> Orchestrator:
        return Orchestrator(parse_exchanges(exchanges), self.base_urls(), timeout=self.timeout, ws_urls=self.ws_urls())

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


def show_store_warnings() -> None:
    """The store's warnings (a skipped unreadable file, a wait for another writer's lock) reach stderr even without
    -v: they explain missing rows and a silent wait."""
    logger = logging.getLogger("ccxt_pipeline_rs.store")
    if logger.getEffectiveLevel() > logging.WARNING and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def open_store(data_dir: str) -> ParquetStore:
    show_store_warnings()
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
@click.option(
    "--sim-ws-drop-every",
    type=click.FloatRange(min=0.1),
    help="Simulator WebSockets drop every connection this often, in seconds (implies --sim).",
)
@click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: debug logs (stderr).")
@click.version_option(package_name="ccxt_pipeline_rs")
@click.pass_context
def cli(
    ctx: click.Context,
    sim: bool,
    seed: int,
    sim_time: str | None,
    timeout: float,
    sim_ws_drop_every: float | None,
    verbose: int,
) -> None:
    """Open interest, funding and liquidations from Binance, Bybit and Hyperliquid."""
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Waiting out a venue's rate limit can take a minute: always say so, and until when.
    logging.getLogger("ccxt_pipeline_rs.net.rate_limit").setLevel(min(level, logging.WARNING))
    state = Context(sim, seed, sim_time, timeout, sim_ws_drop_every)
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


class HistoryProgress(logging.Handler):
    """One progress bar per (venue, instrument), fed from the Rust side after every page. It also listens to the
    core's rate-limit log: while a venue's window is waited out, that venue's bars say so and until when."""

    RATE_LIMIT_LOGGER = "ccxt_pipeline_rs.net.rate_limit"

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(level=logging.WARNING)
        self.rows: dict[str, int] = {}
        self._tasks: dict[str, int] = {}
        self._bars = Progress(
            TextColumn("{task.description:<40}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[rows]:>8} rows"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[waiting]}"),
            console=Console(stderr=True),
            transient=False,
        )

    def __enter__(self) -> HistoryProgress:
        # The bars start with the first page: a fetch that never gets one leaves no empty line behind.
        logging.getLogger(self.RATE_LIMIT_LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(self.RATE_LIMIT_LOGGER).removeHandler(self)
        if self._tasks:  # rich prints an empty line when a display that never started stops
            self._bars.stop()

    def __call__(self, venue: str, instrument_id: str, rows: int, fraction: float) -> None:
        key = f"{venue} {instrument_id}"
        if key not in self._tasks:
            if not self._tasks:
                self._bars.start()
            self._tasks[key] = self._bars.add_task(key, total=1.0, rows=0, waiting="")
        self.rows[key] = rows
        # A page arrived: whatever wait the venue imposed is over.
        self._bars.update(self._tasks[key], completed=fraction, rows=rows, waiting="")

    def emit(self, record: logging.LogRecord) -> None:
        """A rate-limit wait of the core ("… waiting 4.2 s, until <ISO>, … venue=bybit …") shown on the bars."""
        import re

        message = record.getMessage()
        until = re.search(r"until (\S+?),", message)
        venue = re.search(r"\bvenue=(\w+)", message)
        if until is None or venue is None:
            return
        for key, task in self._tasks.items():
            if key.startswith(venue.group(1) + " "):
                self._bars.update(task, waiting=f"rate limit: waiting until {until.group(1)}")


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
        # Counted by the store as rows reached the disk: every venue's, a failed one's included, and the pages
        # already handed to the disk when the fetch was cancelled.
        if target is not None:
            target.wait_for_writes()
        kept = f"; {target.rows_added} new rows stored in {target.root}, re-run to resume" if target is not None else ""
        click.echo(f"interrupted{kept}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    report(symbol, result, kind, fmt)
    if target is not None:
        click.echo(f"stored {target.rows_added} new rows in {target.root}", err=True)


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


HYPERLIQUID_COVERAGE = (
    "note: Hyperliquid has no public liquidation feed; polling the fills of {addresses} every {poll:g} s. "
    "Coverage is partial: only liquidations these addresses took part in are seen."
)
DEFAULT_LIQUIDATOR = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14"


def liquidation_line(row: dict) -> str:
    when = row["ts_event"].replace("T", " ").rstrip("Z")
    venue, instrument, side = row["venue"], row["instrument_id"], row["side"]
    return f"{when}  {venue:<11} {instrument:<28} {side:<4} {row['quantity']:>14g} @ {row['price']:g}"


@cli.command("stream-liquidations")
@click.argument("symbols", nargs=-1)
@exchange_option
@click.option("--all-market", is_flag=True, help="The whole market where a venue streams it (Binance !forceOrder@arr).")
@click.option(
    "--address",
    "addresses",
    multiple=True,
    help=f"Hyperliquid address whose fills are polled (repeatable; default {DEFAULT_LIQUIDATOR}, the HLP liquidator).",
)
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after S seconds (default: Ctrl+C).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--batch-rows", type=click.IntRange(min=1), default=1000, show_default=True, help="Store every M rows…")
@click.option(
    "--batch-seconds", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, help="…or N s."
)
@store_option
@data_dir_option
@click.pass_obj
def stream_liquidations(
    state: Context,
    symbols: tuple[str, ...],
    exchanges: str | None,
    all_market: bool,
    addresses: tuple[str, ...],
    duration: float | None,
    fmt: str,
    batch_rows: int,
    batch_seconds: float,
    store: bool,
    data_dir: str,
) -> None:
    """Live liquidations of SYMBOLS as they happen, until Ctrl+C or --duration; gaps and reconnects on stderr."""
    import time
    from collections import Counter

    if not symbols and not all_market:
        raise BadInput("name at least one SYMBOL (e.g. BTCUSDT-PERP) or use --all-market")
    target = open_store(data_dir) if store else None
    orchestrator = state.orchestrator(exchanges)
    if "hyperliquid" in orchestrator.exchanges:
        click.echo(HYPERLIQUID_COVERAGE.format(addresses=", ".join(addresses) or DEFAULT_LIQUIDATOR, poll=5), err=True)
    stream = orchestrator.stream_liquidations(
        list(symbols),
        store=target,
        all_market=all_market,
        addresses=list(addresses) or None,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
    )
    for failure in stream.failures:
        click.echo(f"error: {failure}", err=True)
    per_venue: Counter[str] = Counter()
    shown_gaps = 0
    connected = -1

    def show(table: pa.Table) -> None:
        for row in table_rows(table):
            per_venue[row["venue"]] += 1
            click.echo(json.dumps(row) if fmt == "json" else liquidation_line(row))

    def report_state() -> None:
        nonlocal shown_gaps, connected
        if stream.connected != connected:
            connected = stream.connected
            click.echo(f"connections delivering: {connected}", err=True)
        gaps = stream.gaps
        for row in table_rows(gaps.slice(shown_gaps)):
            click.echo(
                f"gap: {row['venue']} {row['stream']} {row['ts_event']} → {row['ts_init']} ({row['reason']})", err=True
            )
        shown_gaps = gaps.num_rows

    deadline = None if duration is None else time.monotonic() + duration
    interrupted = False
    try:
        while deadline is None or time.monotonic() < deadline:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            table = stream.get(timeout=wait) if wait > 0 else None
            if table is not None:
                show(table)
            report_state()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stream.close()
    while (table := stream.get(timeout=0.001)) is not None:
        show(table)
    report_state()
    reasons = Counter(stream.gaps.column("reason").to_pylist())
    events = ", ".join(f"{venue} {count}" for venue, count in sorted(per_venue.items())) or "none"
    gaps = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items())) or "none"
    stored = f"; stored {stream.stored} rows in {target.root}" if target is not None else ""
    prefix = "interrupted; " if interrupted else ""
    click.echo(f"{prefix}events: {events}; reconnects: {stream.reconnects}; gaps: {gaps}{stored}", err=True)


@cli.command("query")
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.argument("symbol", required=False)
@exchange_option
@click.option("--from", "start", help="Start (inclusive, on ts_init): ISO-8601 date/time or epoch ms.")
@click.option("--to", "end", help="End (inclusive, on ts_init): ISO-8601 date/time or epoch ms.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write csv, json or parquet to this file.")
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
    """Rows of KIND (open_interest, funding_rate, liquidation, gaps) from the store, optionally for one SYMBOL
    (for gaps, ALL selects the whole-market streams). Reads take no lock: a read-only store is fine."""
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
    elif output is not None and fmt == "table":
        raise BadInput("-o FILE needs --format csv, json or parquet")
    else:
        render(table, kind, fmt, output)


SUMMARY_COLUMNS = ["kind", "instrument_id", "files", "rows", "first", "last"]


def render_summary(datasets: list[dict], fmt: str) -> None:
    """One row per dataset; unreadable and quarantined files are named on stderr in every format (csv and json keep
    their columns) and counted in the table."""
    rows = [
        {
            **{k: d[k] for k in SUMMARY_COLUMNS},
            "first": d["first"] and d["first"].isoformat(),
            "last": d["last"] and d["last"].isoformat(),
        }
        for d in datasets
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        problems = any(d.get("corrupt") or d.get("quarantined") for d in datasets)
        out = Table(show_header=True, header_style="bold")
        names = ["kind", "instrument_id", "files", "rows", "first (UTC)", "last (UTC)"]
        for name in names + (["corrupt", "quarantined"] if problems else []):
            out.add_column(name, no_wrap=True)
        for r, d in zip(rows, datasets, strict=True):
            cells = [r["kind"], r["instrument_id"], str(r["files"]), str(r["rows"])]
            cells += [r["first"] or "—", r["last"] or "—"]
            if problems:
                cells += [str(len(d.get("corrupt", []))), str(len(d.get("quarantined", [])))]
            out.add_row(*cells)
        (Console() if sys.stdout.isatty() else Console(width=240)).print(out)
    for d in datasets:
        for path in d.get("corrupt", []):
            click.echo(
                f"corrupt: {path} cannot be read and is skipped; the next write into its day or compact() moves it "
                "to the quarantine folder",
                err=True,
            )
        for path in d.get("quarantined", []):
            click.echo(f"quarantined: {path}", err=True)


@cli.group()
def daemon() -> None:
    """Collect 24/7 from a config file: start, stop, status."""


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="TOML config (see examples/daemon.toml)."
)
daemon_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Overrides the config's data_dir (and CCXT_PIPELINE_DATA_DIR)."
)

# Exit codes a supervisor can use: 0 done, 1 failed or refused (e.g. already running), 2 bad config, 3 not running.
EXIT_NOT_RUNNING = 3


def daemon_config(
    state: Context, config_path: str | None, data_dir: str | None, metrics_port: int | None = None, urls: bool = False
):
    """The config file (if any) under the environment under the flags; with --sim and `urls`, the simulator's."""
    from ccxt_pipeline_rs import CCXTPipelineConfig

    if config_path is not None and not os.path.isfile(config_path):
        raise BadInput(f"config file {config_path} does not exist")
    config = CCXTPipelineConfig.from_file(config_path) if config_path else CCXTPipelineConfig().with_env()
    for name in CCXTPipelineConfig.unknown_env_vars():
        click.echo(f"warning: {name} is not a configuration variable (misspelt?); it is ignored", err=True)
    overrides: dict[str, object] = {"data_dir": data_dir, "metrics.port": metrics_port}
    if state.sim_enabled and urls:
        sim = state.simulator()
        for venue in VENUES:
            overrides[f"urls.{venue}"] = sim.base_urls[venue]
            overrides[f"urls.{venue}_ws"] = sim.ws_urls[venue]
    return config.with_overrides(overrides, origin="command line")


def forward_global_options(state: Context) -> list[str]:
    args = []
    if state.sim_enabled:
        args += ["--sim", "--seed", str(state.seed)]
    if state.sim_ws_drop_every is not None:
        args += ["--sim-ws-drop-every", str(state.sim_ws_drop_every)]
    return args


@daemon.command("start")
@config_option
@daemon_data_dir_option
@click.option("--foreground", is_flag=True, help="Run in this process, logging to stderr (for systemd).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve Prometheus metrics on 127.0.0.1:PORT.")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a detached start.",
)
@click.pass_obj
def daemon_start(
    state: Context,
    config_path: str | None,
    data_dir: str | None,
    foreground: bool,
    metrics_port: int | None,
    wait_s: float,
) -> None:
    """Start the collector (detached unless --foreground). A second daemon on the same data dir refuses."""
    import json as _json
    import subprocess
    import time

    from ccxt_pipeline_rs import DaemonRunner
    from ccxt_pipeline_rs._core import daemon_pid

    # The detached parent only needs the data dir: its child starts the simulator it runs against.
    config = daemon_config(state, config_path, data_dir, metrics_port, urls=foreground)
    running = daemon_pid(config.data_dir)
    if running is not None:
        click.echo(f"error: a daemon is already running on {config.data_dir} (PID {running})", err=True)
        sys.exit(1)
    if foreground:
        configure_daemon_logging(config)
        DaemonRunner(config).run()
        click.echo("daemon stopped", err=True)
        return
    os.makedirs(config.data_dir, exist_ok=True)
    log_path = config.log_file or os.path.join(config.data_dir, "daemon.log")
    args = [
        sys.executable,
        "-m",
        "ccxt_pipeline_rs.cli",
        *forward_global_options(state),
        "daemon",
        "start",
        "--foreground",
    ]
    if config_path:
        args += ["--config", config_path]
    if data_dir:
        args += ["--data-dir", data_dir]
    if metrics_port:
        args += ["--metrics-port", str(metrics_port)]
    with open(log_path, "ab") as log:
        child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    status_path = os.path.join(config.data_dir, "daemon.status.json")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            click.echo(f"error: the daemon exited at start (code {child.returncode}); see {log_path}", err=True)
            sys.exit(1)
        try:
            with open(status_path) as f:
                status = _json.load(f)
            if status.get("pid") == child.pid and status.get("state") == "running":
                click.echo(f"daemon started (PID {child.pid}); data in {config.data_dir}; log {log_path}")
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    click.echo(
        f"error: the daemon (PID {child.pid}) did not report running within {wait_s:g} s; see {log_path}", err=True
    )
    sys.exit(1)


def configure_daemon_logging(config) -> None:
    """stderr for --foreground (systemd's journal), or a rotating file when the config names one."""
    import logging.handlers

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if config.log_file:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            config.log_file, maxBytes=50 * 2**20, backupCount=5
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    levels = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO}
    root.setLevel(levels.get(config.log_level, logging.DEBUG))


@daemon.command("stop")
@config_option
@daemon_data_dir_option
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=30.0, show_default=True)
@click.pass_obj
def daemon_stop(state: Context, config_path: str | None, data_dir: str | None, timeout_s: float) -> None:
    """Stop the daemon: SIGTERM, wait for it to flush and exit; SIGKILL (and say so) after --timeout."""
    import time

    from ccxt_pipeline_rs._core import daemon_pid

    config = daemon_config(state, config_path, data_dir)
    pid = daemon_pid(config.data_dir)
    if pid is None:
        click.echo(f"no daemon is running on {config.data_dir}")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if daemon_pid(config.data_dir) is None:
            click.echo(f"daemon (PID {pid}) stopped")
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    click.echo(f"daemon (PID {pid}) did not stop within {timeout_s:g} s: escalated to SIGKILL", err=True)
    sys.exit(1)


def job_health(job: dict, now_ms: int) -> str:
    if job.get("last_error_ms") and (job.get("last_success_ms") or 0) < job["last_error_ms"]:
        return "failing"
    if job.get("last_success_ms") is None:
        return "pending"
    return "ok"


@daemon.command("status")
@config_option
@daemon_data_dir_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def daemon_status(state: Context, config_path: str | None, data_dir: str | None, fmt: str) -> None:
    """Running or not, uptime, per job last success / error / next run / rows; streams; store size.
    Exit 0 if running, 3 if not."""
    import json as _json
    import time

    from ccxt_pipeline_rs._core import daemon_pid

    config = daemon_config(state, config_path, data_dir)
    pid = daemon_pid(config.data_dir)
    try:
        with open(os.path.join(config.data_dir, "daemon.status.json")) as f:
            status = _json.load(f)
    except (OSError, ValueError):
        status = {}
    now = time.time_ns() // 1_000_000
    jobs = {name: {**job, "health": job_health(job, now)} for name, job in status.get("jobs", {}).items()}
    report = {
        "running": pid is not None,
        "pid": pid,
        "state": status.get("state") if pid is not None else "stopped",
        "uptime_s": (now - status["started_ms"]) / 1000 if pid is not None and "started_ms" in status else None,
        "data_dir": config.data_dir,
        "config": status.get("config"),
        "jobs": jobs,
        "streams": status.get("streams"),
        "store_bytes": status.get("store_bytes"),
        "updated": iso_utc(status["updated_ms"] * 1_000_000) if "updated_ms" in status else None,
    }
    if fmt == "json":
        click.echo(_json.dumps(report, indent=2))
    else:
        when = lambda ms: iso_utc(ms * 1_000_000).replace("T", " ").rstrip("Z") if ms else "—"  # noqa: E731
        if pid is None:
            click.echo(f"not running (data dir {config.data_dir}; last status {report['updated'] or 'none'})")
        else:
            click.echo(f"running, PID {pid}, up {report['uptime_s']:.0f} s, data dir {config.data_dir}")
        for name, job in sorted(jobs.items()):
            click.echo(
                f"  {name:<26} {job['health']:<8} last ok {when(job.get('last_success_ms'))}  "
                f"next {when(job.get('next_run_ms'))}  rows {job.get('rows_written', 0)}"
                + (f"  error: {job['last_error']}" if job["health"] == "failing" else "")
            )
        streams = report["streams"]
        if streams:
            click.echo(
                f"  streams: {streams['connected']} connected, {streams['events']} events, "
                f"{streams['reconnects']} reconnects, {streams['gaps_24h']} gaps in 24 h"
            )
        if report["store_bytes"] is not None:
            click.echo(f"  store: {report['store_bytes'] / 2**20:.1f} MiB")
    if pid is None:
        sys.exit(EXIT_NOT_RUNNING)


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
@click.option(
    "--liquidation-rate",
    type=click.FloatRange(min=0.0),
    default=2.0,
    show_default=True,
    help="Liquidations per second per symbol on the Binance and Bybit streams (0 = none).",
)
@click.option(
    "--ws-drop-every",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Drop every WebSocket connection of every venue this often (seconds).",
)
def sim_serve(
    port: int, sim_seed: int, no_rate_limits: bool, latency: float, liquidation_rate: float, ws_drop_every: float | None
) -> None:
    """Serve Binance, Bybit and Hyperliquid REST and WebSockets under /binance, /bybit, /hyperliquid until Ctrl+C."""
    import time

    from ccxt_pipeline_rs.sim import ExchangeSimulator

    with ExchangeSimulator(
        seed=sim_seed, port=port, enforce_rate_limits=not no_rate_limits, liquidation_rate=liquidation_rate
    ) as server:
        for venue in server.base_urls:
            server.set_latency(venue, latency)
            if ws_drop_every is not None:
                server.inject_ws_fault(venue, "drop_every", seconds=ws_drop_every)
        for venue, url in server.base_urls.items():
            click.echo(f"{venue:15} {url}")
        for venue, url in server.ws_urls.items():
            click.echo(f"{venue + ' ws':15} {url}")
        click.echo("serving; Ctrl+C to stop", err=True)
        sys.stdout.flush()
        while True:
            time.sleep(3600)


def run_cli(argv: list[str] | None) -> None:
    """What click's `main` does without its own Ctrl+C handling (which prints a blank line and raises Abort)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with cli.make_context("ccxt-cli", args) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as e:
        if e.exit_code:
            sys.exit(e.exit_code)


def main(argv: list[str] | None = None) -> None:
    try:
        run_cli(argv)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
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
