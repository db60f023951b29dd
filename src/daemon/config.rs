//! What the daemon runs, as the runner consumes it. Read from a TOML file, overridden by `CCXT_PIPELINE_*`
//! environment variables, overridden by CLI flags; every source is validated into this one struct.
//!
//! Every setting has one dotted key (its place in the file: `snapshots.open_interest_interval` is
//! `open_interest_interval` in `[snapshots]`) and one parser, whichever source gives it: the file (typed TOML
//! values), the environment and flags (text: lists comma-separated, booleans `true`/`false`). Each key's variable is
//! `CCXT_PIPELINE_` + the key in capitals with `.` as `_` (`CCXT_PIPELINE_SNAPSHOTS_OPEN_INTEREST_INTERVAL`), except
//! the URLs, which keep their established names (`CCXT_PIPELINE_BINANCE_URL`, `CCXT_PIPELINE_BINANCE_WS_URL`).
//! Unknown keys are errors. A bad value is a [`PipelineError::InvalidArgument`] whose one line names where it came
//! from, the key, the value and what is allowed:
//! `examples/daemon.toml: snapshots.open_interest_interval = "1x": expected a duration like …`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::{PipelineError, Result, UnifiedSymbol, Venue};
use crate::venue::hyperliquid::fills::normalize_address;
use crate::venue::OiPeriod;

/// Which perpetuals a venue collects.
#[derive(Debug, Clone, PartialEq)]
pub enum SymbolSelection {
    /// These unified symbols (`BTCUSDT-PERP`) on every configured venue that lists them.
    Listed(Vec<String>),
    /// The `n` perpetuals with the largest open interest (in quote units) per venue, chosen at start.
    TopByOpenInterest(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// The file it was read from, if any (named in error messages and the status).
    pub source: Option<PathBuf>,
    pub venues: Vec<Venue>,
    pub symbols: SymbolSelection,
    /// Root of the Parquet store; the PID file, lock and status file live in it too.
    pub data_dir: PathBuf,
    /// Open interest snapshots every this long, on the wall-clock grid (`1m`: on the minute); `None` = off.
    pub open_interest_interval: Option<Duration>,
    /// Funding snapshots, likewise.
    pub funding_interval: Option<Duration>,
    /// At start (and after an outage), fetch history this far back, from the store's last timestamps; `None` = off.
    pub history_catch_up: Option<Duration>,
    /// Granularity of open interest history catch-up.
    pub history_period: OiPeriod,
    pub liquidations: bool,
    /// Binance whole-market liquidation stream instead of per-symbol streams.
    pub liquidations_all_market: bool,
    /// Hyperliquid addresses whose fills are polled for liquidations (empty: the default liquidator address).
    pub hyperliquid_addresses: Vec<String>,
    /// REST base URL overrides per venue.
    pub base_urls: BTreeMap<Venue, String>,
    /// WebSocket base URL overrides per venue.
    pub ws_urls: BTreeMap<Venue, String>,
    /// Liquidations are written at least this often.
    pub flush_interval: Duration,
    /// Store compaction every this long; `None` = off.
    pub compaction_interval: Option<Duration>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// Log to this file (rotated) instead of stderr.
    pub log_file: Option<PathBuf>,
    /// Serve Prometheus text metrics on 127.0.0.1:port.
    pub metrics_port: Option<u16>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            source: None,
            venues: Venue::ALL.to_vec(),
            symbols: SymbolSelection::Listed(vec!["BTCUSDT-PERP".into(), "ETHUSDT-PERP".into()]),
            data_dir: PathBuf::from("./data"),
            open_interest_interval: Some(Duration::from_secs(60)),
            funding_interval: Some(Duration::from_secs(60)),
            history_catch_up: Some(Duration::from_secs(86_400)),
            history_period: OiPeriod::M5,
            liquidations: true,
            liquidations_all_market: false,
            hyperliquid_addresses: Vec::new(),
            base_urls: BTreeMap::new(),
            ws_urls: BTreeMap::new(),
            flush_interval: Duration::from_secs(5),
            compaction_interval: Some(Duration::from_secs(3600)),
            log_level: "info".into(),
            log_file: None,
            metrics_port: None,
        }
    }
}

/// Every key, as written in the file (dotted: `snapshots.open_interest_interval` is `open_interest_interval` in
/// `[snapshots]`) and as given to [`DaemonConfig::set`].
pub const KEYS: &[&str] = &[
    "data_dir",
    "venues",
    "symbols",
    "top_n_by_open_interest",
    "log_level",
    "log_file",
    "snapshots.open_interest_interval",
    "snapshots.funding_interval",
    "history.catch_up",
    "history.period",
    "liquidations.enabled",
    "liquidations.all_market",
    "liquidations.hyperliquid_addresses",
    "store.flush_interval",
    "store.compaction_interval",
    "urls.binance",
    "urls.binance_ws",
    "urls.bybit",
    "urls.bybit_ws",
    "urls.hyperliquid",
    "urls.hyperliquid_ws",
    "metrics.port",
];

/// The tables of the file; every other top-level key is a plain value.
const TABLES: &[&str] = &[
    "snapshots",
    "history",
    "liquidations",
    "store",
    "urls",
    "metrics",
];

const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];
const MAX_TOP_N: i64 = 1000;
/// Longest accepted duration: past it a typo (`1000d`) is likelier than intent, and timers stay far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// The environment variable that overrides `key`: `CCXT_PIPELINE_` + the key in capitals with `.` as `_`; the URLs
/// keep the names the CLI already reads (`CCXT_PIPELINE_BINANCE_URL`, `CCXT_PIPELINE_BINANCE_WS_URL`).
pub fn env_var(key: &str) -> String {
    match key.strip_prefix("urls.") {
        Some(rest) => match rest.strip_suffix("_ws") {
            Some(venue) => format!("CCXT_PIPELINE_{}_WS_URL", venue.to_ascii_uppercase()),
            None => format!("CCXT_PIPELINE_{}_URL", rest.to_ascii_uppercase()),
        },
        None => format!(
            "CCXT_PIPELINE_{}",
            key.replace('.', "_").to_ascii_uppercase()
        ),
    }
}

/// The names among `names` that look like this configuration's variables (`CCXT_PIPELINE_…`) but are none of them:
/// most likely typos, which the environment cannot refuse the way the file does; the caller warns about them.
pub fn unknown_env_vars<'n>(names: impl IntoIterator<Item = &'n str>) -> Vec<String> {
    let known: Vec<String> = KEYS.iter().map(|key| env_var(key)).collect();
    let mut unknown: Vec<String> = names
        .into_iter()
        .filter(|name| name.starts_with("CCXT_PIPELINE_") && !known.iter().any(|k| k == name))
        .map(str::to_string)
        .collect();
    unknown.sort();
    unknown
}

/// One value for one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// As an environment variable or a command-line flag gives it: lists comma-separated, booleans
    /// `true`/`false` (or `yes`/`no`, `on`/`off`, `1`/`0`), numbers in digits.
    Text(String),
    /// A typed value, as the file (or a Python dict) gives it.
    Value(toml::Value),
}

/// What was wrong with a value; the caller adds where it came from and the key.
struct Bad {
    /// The list element at fault, if any (`symbols[1]`).
    index: Option<usize>,
    /// That element, rendered; `None`: the whole value.
    value: Option<String>,
    expected: String,
}

fn bad(expected: impl Into<String>) -> Bad {
    Bad {
        index: None,
        value: None,
        expected: expected.into(),
    }
}

fn bad_item(index: usize, value: String, expected: impl Into<String>) -> Bad {
    Bad {
        index: Some(index),
        value: Some(value),
        expected: expected.into(),
    }
}

/// A string as it would be written in TOML, shortened so the message stays one readable line.
fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    if text.chars().count() > MAX_CHARS {
        let head: String = text.chars().take(MAX_CHARS).collect();
        format!("{head:?}…")
    } else {
        format!("{text:?}")
    }
}

fn render_value(value: &toml::Value) -> String {
    let text = match value {
        toml::Value::String(s) => return quote(s),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => format!("{f:?}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(render_value).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::Table(table) => {
            let items: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k} = {}", render_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    };
    const MAX_CHARS: usize = 120;
    if text.chars().count() > MAX_CHARS {
        format!("{}…", text.chars().take(MAX_CHARS).collect::<String>())
    } else {
        text
    }
}

impl Setting {
    fn render(&self) -> String {
        match self {
            Setting::Text(text) => quote(text),
            Setting::Value(value) => render_value(value),
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Setting::Text(text) => Some(text),
            Setting::Value(toml::Value::String(text)) => Some(text),
            Setting::Value(_) => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Setting::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => None,
            },
            Setting::Value(toml::Value::Boolean(b)) => Some(*b),
            Setting::Value(_) => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Setting::Text(text) => text.trim().parse().ok(),
            Setting::Value(toml::Value::Integer(i)) => Some(*i),
            Setting::Value(_) => None,
        }
    }

    /// The elements of a list: a TOML array of strings, or comma-separated text (blank elements skipped).
    fn string_items(&self, expected: &str) -> std::result::Result<Vec<String>, Bad> {
        match self {
            Setting::Text(text) => Ok(text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect()),
            Setting::Value(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(bad_item(i, render_value(other), expected)),
                })
                .collect(),
            Setting::Value(_) => Err(bad(expected)),
        }
    }
}

/// A duration: a whole number and a unit, `ms`, `s`, `m`, `h` or `d` (`30s`, `1m`, `1h`, `1d`); `Ok(None)` for
/// `0`/`off` (and `false`, or the integer 0, in the file).
fn duration(setting: &Setting, can_be_off: bool) -> std::result::Result<Option<Duration>, Bad> {
    let expected = if can_be_off {
        "expected a duration like 30s, 1m, 1h or 1d (at least 1s, at most 365d), or \"off\""
    } else {
        "expected a duration like 30s, 1m, 1h or 1d (at least 1s, at most 365d; this one cannot be off)"
    };
    let off = match setting {
        Setting::Value(toml::Value::Integer(0)) | Setting::Value(toml::Value::Boolean(false)) => {
            true
        }
        _ => setting
            .as_str()
            .is_some_and(|s| matches!(s.trim(), "0" | "off")),
    };
    if off {
        return if can_be_off {
            Ok(None)
        } else {
            Err(bad(expected))
        };
    }
    let text = setting.as_str().ok_or_else(|| bad(expected))?.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad(expected))?;
    let millis_per_unit: u64 = match unit.trim_start() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad(expected)),
    };
    let millis = number
        .checked_mul(millis_per_unit)
        .ok_or_else(|| bad(expected))?;
    let value = Duration::from_millis(millis);
    if value.is_zero() && can_be_off {
        return Ok(None);
    }
    if value < Duration::from_secs(1) || value > MAX_DURATION {
        return Err(bad(expected));
    }
    Ok(Some(value))
}

/// The shortest spelling [`duration`] reads back as `value` (`1m`, `90s`, `1500ms`).
pub fn format_duration(value: Duration) -> String {
    let millis = value.as_millis();
    if millis == 0 || !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let secs = millis / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

fn format_optional_duration(value: Option<Duration>) -> String {
    value.map_or_else(|| "off".to_string(), format_duration)
}

fn path(setting: &Setting, expected: &str) -> std::result::Result<PathBuf, Bad> {
    let text = setting.as_str().ok_or_else(|| bad(expected))?;
    if text.trim().is_empty() {
        return Err(bad(expected));
    }
    if text.starts_with('~') {
        return Err(bad(format!(
            "{expected} (~ is not expanded: write the full path)"
        )));
    }
    Ok(PathBuf::from(text))
}

fn venues(setting: &Setting) -> std::result::Result<Vec<Venue>, Bad> {
    const EXPECTED: &str =
        "expected a list of venues from binance, bybit, hyperliquid (like [\"binance\", \"bybit\"]), or \"all\"";
    if setting
        .as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("all"))
    {
        return Ok(Venue::ALL.to_vec());
    }
    if matches!(setting, Setting::Value(toml::Value::String(_))) {
        return Err(bad(EXPECTED));
    }
    let mut out = Vec::new();
    for (i, item) in setting.string_items(EXPECTED)?.into_iter().enumerate() {
        let venue: Venue = item
            .parse()
            .map_err(|_| bad_item(i, quote(&item), EXPECTED))?;
        if !out.contains(&venue) {
            out.push(venue);
        }
    }
    if out.is_empty() {
        return Err(bad(EXPECTED));
    }
    Ok(out)
}

fn symbols(
    setting: &Setting,
    current: &SymbolSelection,
) -> std::result::Result<SymbolSelection, Bad> {
    const EXPECTED: &str = "expected a list of symbols like [\"BTCUSDT-PERP\", \"ETHUSDT-PERP\"] (unified or venue \
                            symbols; they apply to every venue), or \"all\" with top_n_by_open_interest = N";
    if setting
        .as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("all"))
    {
        return match current {
            SymbolSelection::TopByOpenInterest(_) => Ok(current.clone()),
            SymbolSelection::Listed(_) => Err(bad(
                "\"all\" needs top_n_by_open_interest = N: how many perpetuals, the largest by open interest, \
                 to collect per venue",
            )),
        };
    }
    if matches!(setting, Setting::Value(toml::Value::String(_))) {
        return Err(bad(EXPECTED));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in setting.string_items(EXPECTED)?.into_iter().enumerate() {
        // An instrument id names one venue, but these symbols apply to every venue: say so rather than drop it.
        let unified = (!item.contains('.'))
            .then(|| UnifiedSymbol::parse(&item).ok())
            .flatten()
            .ok_or_else(|| bad_item(i, quote(&item), EXPECTED))?
            .to_string();
        if !out.contains(&unified) {
            out.push(unified);
        }
    }
    if out.is_empty() {
        return Err(bad(EXPECTED));
    }
    Ok(SymbolSelection::Listed(out))
}

fn top_n(setting: &Setting) -> std::result::Result<usize, Bad> {
    let expected = format!(
        "expected a whole number from 1 to {MAX_TOP_N}: how many perpetuals, the largest by open interest, to \
         collect per venue"
    );
    match setting.as_int() {
        Some(n) if (1..=MAX_TOP_N).contains(&n) => Ok(n as usize),
        _ => Err(bad(expected)),
    }
}

fn boolean(setting: &Setting) -> std::result::Result<bool, Bad> {
    setting
        .as_bool()
        .ok_or_else(|| bad("expected true or false"))
}

fn log_level(setting: &Setting) -> std::result::Result<String, Bad> {
    let expected = format!("expected one of {}", LOG_LEVELS.join(", "));
    let level = setting
        .as_str()
        .map(|s| s.trim().to_ascii_lowercase())
        .ok_or_else(|| bad(&expected))?;
    let level = if level == "warning" {
        "warn".to_string()
    } else {
        level
    };
    if LOG_LEVELS.contains(&level.as_str()) {
        Ok(level)
    } else {
        Err(bad(expected))
    }
}

fn log_file(setting: &Setting) -> std::result::Result<Option<PathBuf>, Bad> {
    const EXPECTED: &str =
        "expected a file path like \"/var/log/ccxt-pipeline.log\", or \"\" for stderr";
    match setting.as_str() {
        Some(text) if text.trim().is_empty() || text.trim() == "stderr" => Ok(None),
        _ => path(setting, EXPECTED).map(Some),
    }
}

fn history_period(setting: &Setting) -> std::result::Result<OiPeriod, Bad> {
    let expected = "expected one of 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d";
    let text = setting.as_str().ok_or_else(|| bad(expected))?;
    OiPeriod::parse(text).map_err(|_| bad(expected))
}

fn addresses(setting: &Setting) -> std::result::Result<Vec<String>, Bad> {
    const EXPECTED: &str = "expected a list of Hyperliquid addresses (0x followed by 40 hexadecimal digits), like \
                            [\"0x2e3d94f0562703b25c83308a05046ddaf9a8dd14\"]; [] for the default liquidator";
    if matches!(setting, Setting::Value(toml::Value::String(_))) {
        return Err(bad(EXPECTED));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in setting.string_items(EXPECTED)?.into_iter().enumerate() {
        let address = normalize_address(&item).map_err(|_| bad_item(i, quote(&item), EXPECTED))?;
        if !out.contains(&address) {
            out.push(address);
        }
    }
    Ok(out)
}

/// A base URL override; `Ok(None)` for "" (the venue's production URL).
fn url(setting: &Setting, websocket: bool) -> std::result::Result<Option<String>, Bad> {
    let (schemes, expected) = if websocket {
        (
            ["ws://", "wss://"],
            "expected a WebSocket URL like \"wss://fstream.binance.com\", or \"\" for the production URL",
        )
    } else {
        (
            ["http://", "https://"],
            "expected an HTTP URL like \"https://fapi.binance.com\", or \"\" for the production URL",
        )
    };
    let text = setting.as_str().ok_or_else(|| bad(expected))?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let host = schemes
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme))
        .ok_or_else(|| bad(expected))?;
    if host.is_empty() || host.starts_with('/') || text.chars().any(char::is_whitespace) {
        return Err(bad(expected));
    }
    Ok(Some(text.trim_end_matches('/').to_string()))
}

fn port(setting: &Setting) -> std::result::Result<Option<u16>, Bad> {
    const EXPECTED: &str = "expected a port from 1 to 65535, or \"off\"";
    if matches!(setting, Setting::Value(toml::Value::Boolean(false)))
        || setting.as_str().is_some_and(|s| s.trim() == "off")
    {
        return Ok(None);
    }
    match setting.as_int() {
        Some(p) if (1..=65_535).contains(&p) => Ok(Some(p as u16)),
        _ => Err(bad(EXPECTED)),
    }
}

/// One key of a batch, with where it came from (named in errors).
struct Entry {
    key: String,
    value: Setting,
    origin: String,
}

fn error(origin: &str, key: &str, value: &Setting, bad: Bad) -> PipelineError {
    let index = bad.index.map(|i| format!("[{i}]")).unwrap_or_default();
    let shown = bad.value.unwrap_or_else(|| value.render());
    PipelineError::InvalidArgument(format!(
        "{origin}: {key}{index} = {shown}: {}",
        bad.expected
    ))
}

fn unknown_key(entry: &Entry) -> PipelineError {
    let allowed = match entry.key.split_once('.') {
        Some((table, _)) if TABLES.contains(&table) => {
            let keys: Vec<&str> = KEYS
                .iter()
                .filter_map(|k| k.strip_prefix(table)?.strip_prefix('.'))
                .collect();
            format!("[{table}] takes {}", keys.join(", "))
        }
        _ => {
            let mut keys: Vec<String> = KEYS
                .iter()
                .filter(|k| !k.contains('.'))
                .map(|k| k.to_string())
                .collect();
            keys.extend(TABLES.iter().map(|t| format!("[{t}]")));
            format!("expected one of {}", keys.join(", "))
        }
    };
    PipelineError::InvalidArgument(format!(
        "{}: {} = {}: unknown key; {allowed}",
        entry.origin,
        entry.key,
        entry.value.render()
    ))
}

/// Where a TOML parse error is, as `line L, column C` (both from 1).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A table's keys as dotted keys (`[snapshots]` with `funding_interval` is `snapshots.funding_interval`); a table's
/// name with anything but a table is refused.
fn expand_tables(entries: Vec<Entry>) -> Result<Vec<Entry>> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        if !TABLES.contains(&entry.key.as_str()) {
            out.push(entry);
            continue;
        }
        match entry.value {
            Setting::Value(toml::Value::Table(inner)) => {
                out.extend(inner.into_iter().map(|(key, value)| Entry {
                    key: format!("{}.{key}", entry.key),
                    value: Setting::Value(value),
                    origin: entry.origin.clone(),
                }));
            }
            value => {
                let keys: Vec<&str> = KEYS
                    .iter()
                    .filter_map(|k| k.strip_prefix(entry.key.as_str())?.strip_prefix('.'))
                    .collect();
                return Err(PipelineError::InvalidArgument(format!(
                    "{}: {} = {}: expected a table [{}] with {}",
                    entry.origin,
                    entry.key,
                    value.render(),
                    entry.key,
                    keys.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

impl DaemonConfig {
    /// Reads a TOML file over the defaults. Errors name the file as given.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            PipelineError::InvalidArgument(format!(
                "{}: cannot read the config file: {e}",
                path.display()
            ))
        })?;
        Self::from_toml_str(&text, Some(path))
    }

    /// Reads TOML text over the defaults; `source` is the file it came from (kept in [`DaemonConfig::source`] and
    /// named in errors; `None`: errors say `config`).
    pub fn from_toml_str(text: &str, source: Option<&Path>) -> Result<Self> {
        let origin = source.map_or_else(|| "config".to_string(), |p| p.display().to_string());
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|span| {
                    let (line, column) = line_column(text, span.start);
                    format!("line {line}, column {column}: ")
                })
                .unwrap_or_default();
            // What the error points at, when that is a short piece of one line (the key of a duplicate key).
            let near = e
                .span()
                .and_then(|span| text.get(span))
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.chars().count() <= 40 && !s.contains('\n'))
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            let message: Vec<&str> = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            PipelineError::InvalidArgument(format!(
                "{origin}: {at}not valid TOML: {}{near}",
                message.join("; ")
            ))
        })?;
        let mut config = Self::from_toml_table(&table, &origin)?;
        config.source = source.map(Path::to_path_buf);
        Ok(config)
    }

    /// Reads a table laid out like the file over the defaults (a Python dict comes this way); `origin` is named in
    /// errors.
    pub fn from_toml_table(table: &toml::Table, origin: &str) -> Result<Self> {
        let entries = table
            .iter()
            .map(|(key, value)| Entry {
                key: key.clone(),
                value: Setting::Value(value.clone()),
                origin: origin.to_string(),
            })
            .collect();
        let mut config = DaemonConfig::default();
        config.apply_entries(entries)?;
        Ok(config)
    }

    /// Applies the `CCXT_PIPELINE_*` variables that `env` returns (see [`env_var`]); empty ones count as unset.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<()> {
        let entries = KEYS
            .iter()
            .filter_map(|key| {
                let name = env_var(key);
                let value = env(&name).filter(|v| !v.trim().is_empty())?;
                Some(Entry {
                    key: key.to_string(),
                    value: Setting::Text(value),
                    origin: format!("environment variable {name}"),
                })
            })
            .collect();
        self.apply_entries(entries)
    }

    /// [`DaemonConfig::apply_env`] with this process's environment.
    pub fn apply_process_env(&mut self) -> Result<()> {
        self.apply_env(|name| std::env::var(name).ok())
    }

    /// Sets one key from text, as a command-line flag gives it (errors say `command line`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_all([(key, Setting::Text(value.to_string()))], "command line")
    }

    /// Sets several keys at once, all or none; `origin` is named in errors (`command line`, `--log-level`).
    /// Together, `symbols = "all"` and `top_n_by_open_interest` may come in either order.
    pub fn set_all<'k>(
        &mut self,
        settings: impl IntoIterator<Item = (&'k str, Setting)>,
        origin: &str,
    ) -> Result<()> {
        let entries = settings
            .into_iter()
            .map(|(key, value)| Entry {
                key: key.to_string(),
                value,
                origin: origin.to_string(),
            })
            .collect();
        self.apply_entries(entries)
    }

    /// The file (or the defaults without one), then the environment, then `flags`, each over the one before.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(&str, &str)],
    ) -> Result<Self> {
        let mut config = match path {
            Some(path) => Self::from_toml_file(path)?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.set_all(
            flags
                .iter()
                .map(|(key, value)| (*key, Setting::Text(value.to_string()))),
            "command line",
        )?;
        Ok(config)
    }

    /// Validates and applies a batch on a copy, so a bad value leaves `self` as it was.
    fn apply_entries(&mut self, entries: Vec<Entry>) -> Result<()> {
        let mut entries = expand_tables(entries)?;
        if let Some(entry) = entries.iter().find(|e| !KEYS.contains(&e.key.as_str())) {
            return Err(unknown_key(entry));
        }
        // `top_n_by_open_interest` selects the top N; `symbols = "all"` in the same batch agrees with it, a list
        // contradicts it.
        let top_n = entries.iter().find(|e| e.key == "top_n_by_open_interest");
        let listed = entries.iter().rev().find(|e| {
            e.key == "symbols"
                && !e
                    .value
                    .as_str()
                    .is_some_and(|s| s.trim().eq_ignore_ascii_case("all"))
        });
        if let (Some(top_n), Some(listed)) = (top_n, listed) {
            return Err(error(
                &top_n.origin,
                &top_n.key,
                &top_n.value,
                bad(format!(
                    "only with symbols = \"all\", but symbols = {} (from {})",
                    listed.value.render(),
                    listed.origin
                )),
            ));
        }
        entries.sort_by_key(|e| e.key != "top_n_by_open_interest");
        let mut next = self.clone();
        for entry in &entries {
            next.apply_one(&entry.key, &entry.value)
                .map_err(|b| error(&entry.origin, &entry.key, &entry.value, b))?;
        }
        if let Some(entry) = entries
            .iter()
            .find(|e| e.key == "history.period" || e.key == "venues")
        {
            let period = next.history_period;
            if next.venues.contains(&Venue::Bybit) && period.bybit_name().is_none() {
                return Err(PipelineError::InvalidArgument(format!(
                    "{}: history.period = \"{}\": bybit (among venues) has no {} open interest history; expected \
                     one of 5m, 15m, 30m, 1h, 4h, 1d",
                    entry.origin,
                    period.binance_name(),
                    period.binance_name()
                )));
            }
        }
        *self = next;
        Ok(())
    }

    fn apply_one(&mut self, key: &str, value: &Setting) -> std::result::Result<(), Bad> {
        match key {
            "data_dir" => {
                self.data_dir = path(value, "expected a directory path like \"./data\"")?;
            }
            "venues" => self.venues = venues(value)?,
            "symbols" => self.symbols = symbols(value, &self.symbols)?,
            "top_n_by_open_interest" => {
                self.symbols = SymbolSelection::TopByOpenInterest(top_n(value)?);
            }
            "log_level" => self.log_level = log_level(value)?,
            "log_file" => self.log_file = log_file(value)?,
            "snapshots.open_interest_interval" => {
                self.open_interest_interval = duration(value, true)?;
            }
            "snapshots.funding_interval" => self.funding_interval = duration(value, true)?,
            "history.catch_up" => self.history_catch_up = duration(value, true)?,
            "history.period" => self.history_period = history_period(value)?,
            "liquidations.enabled" => self.liquidations = boolean(value)?,
            "liquidations.all_market" => self.liquidations_all_market = boolean(value)?,
            "liquidations.hyperliquid_addresses" => {
                self.hyperliquid_addresses = addresses(value)?;
            }
            "store.flush_interval" => {
                self.flush_interval = duration(value, false)?.expect("cannot be off");
            }
            "store.compaction_interval" => self.compaction_interval = duration(value, true)?,
            "metrics.port" => self.metrics_port = port(value)?,
            _ => {
                let name = key.strip_prefix("urls.").expect("KEYS holds only these");
                let (venue, websocket) = match name.strip_suffix("_ws") {
                    Some(venue) => (venue, true),
                    None => (name, false),
                };
                let venue: Venue = venue.parse().expect("KEYS names venues");
                let urls = if websocket {
                    &mut self.ws_urls
                } else {
                    &mut self.base_urls
                };
                match url(value, websocket)? {
                    Some(url) => urls.insert(venue, url),
                    None => urls.remove(&venue),
                };
            }
        }
        Ok(())
    }

    /// The configuration laid out like the file; [`DaemonConfig::from_toml_table`] reads it back to an equal one
    /// (but for [`DaemonConfig::source`]).
    pub fn to_toml_table(&self) -> toml::Table {
        fn strings<S: ToString>(items: impl IntoIterator<Item = S>) -> toml::Value {
            toml::Value::Array(
                items
                    .into_iter()
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            )
        }
        fn table<const N: usize>(items: [(&str, Option<toml::Value>); N]) -> toml::Value {
            toml::Value::Table(
                items
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_string(), v?)))
                    .collect(),
            )
        }
        let string = |s: String| Some(toml::Value::String(s));
        let mut out = toml::Table::new();
        out.insert(
            "data_dir".into(),
            toml::Value::String(self.data_dir.display().to_string()),
        );
        out.insert("venues".into(), strings(&self.venues));
        match &self.symbols {
            SymbolSelection::Listed(symbols) => {
                out.insert("symbols".into(), strings(symbols));
            }
            SymbolSelection::TopByOpenInterest(n) => {
                out.insert("symbols".into(), toml::Value::String("all".into()));
                out.insert(
                    "top_n_by_open_interest".into(),
                    toml::Value::Integer(*n as i64),
                );
            }
        }
        out.insert(
            "log_level".into(),
            toml::Value::String(self.log_level.clone()),
        );
        if let Some(file) = &self.log_file {
            out.insert(
                "log_file".into(),
                toml::Value::String(file.display().to_string()),
            );
        }
        out.insert(
            "snapshots".into(),
            table([
                (
                    "open_interest_interval",
                    string(format_optional_duration(self.open_interest_interval)),
                ),
                (
                    "funding_interval",
                    string(format_optional_duration(self.funding_interval)),
                ),
            ]),
        );
        out.insert(
            "history".into(),
            table([
                (
                    "catch_up",
                    string(format_optional_duration(self.history_catch_up)),
                ),
                ("period", string(self.history_period.binance_name().into())),
            ]),
        );
        out.insert(
            "liquidations".into(),
            table([
                ("enabled", Some(toml::Value::Boolean(self.liquidations))),
                (
                    "all_market",
                    Some(toml::Value::Boolean(self.liquidations_all_market)),
                ),
                (
                    "hyperliquid_addresses",
                    Some(strings(&self.hyperliquid_addresses)),
                ),
            ]),
        );
        out.insert(
            "store".into(),
            table([
                (
                    "flush_interval",
                    string(format_duration(self.flush_interval)),
                ),
                (
                    "compaction_interval",
                    string(format_optional_duration(self.compaction_interval)),
                ),
            ]),
        );
        let mut urls = toml::Table::new();
        for (venue, url) in &self.base_urls {
            urls.insert(venue.as_str().into(), toml::Value::String(url.clone()));
        }
        for (venue, url) in &self.ws_urls {
            urls.insert(format!("{venue}_ws"), toml::Value::String(url.clone()));
        }
        out.insert("urls".into(), toml::Value::Table(urls));
        out.insert(
            "metrics".into(),
            table([(
                "port",
                self.metrics_port.map(|p| toml::Value::Integer(p.into())),
            )]),
        );
        out
    }

    /// The configuration as a TOML document (what `daemon status` can show as the effective configuration).
    pub fn to_toml_string(&self) -> String {
        toml::to_string(&self.to_toml_table())
            .expect("a table of strings, numbers and booleans serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DaemonConfig> {
        DaemonConfig::from_toml_str(text, Some(Path::new("test.toml")))
    }

    /// The one-line message of a config that must be refused.
    fn refused(text: &str) -> String {
        match parse(text) {
            Err(PipelineError::InvalidArgument(message)) => {
                assert!(!message.contains('\n'), "one line: {message}");
                message
            }
            other => panic!("expected InvalidArgument for {text:?}, got {other:?}"),
        }
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn refusal(result: Result<()>) -> String {
        match result {
            Err(PipelineError::InvalidArgument(message)) => message,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    const FULL: &str = r#"
data_dir = "/srv/ccxt"
venues = ["bybit", "binance"]
symbols = ["btcusdt", "ETH-PERP", "BTCUSDT-PERP", "kPEPE"]
log_level = "DEBUG"
log_file = "/var/log/ccxt.log"
[snapshots]
open_interest_interval = "30s"
funding_interval = "off"
[history]
catch_up = "7d"
period = "1h"
[liquidations]
enabled = false
all_market = true
hyperliquid_addresses = ["0x2E3D94F0562703B25C83308A05046DDAF9A8DD14", "0x0000000000000000000000000000000000000001"]
[store]
flush_interval = "2m"
compaction_interval = 0
[urls]
binance = "http://127.0.0.1:9000/binance/"
binance_ws = "ws://127.0.0.1:9000/binance"
bybit = "https://api-testnet.bybit.com"
bybit_ws = "wss://stream-testnet.bybit.com"
hyperliquid = "https://api.hyperliquid-testnet.xyz"
hyperliquid_ws = "wss://api.hyperliquid-testnet.xyz/ws"
[metrics]
port = 9464
"#;

    #[test]
    fn every_key_is_read() {
        let config = parse(FULL).unwrap();
        let expected = DaemonConfig {
            source: Some(PathBuf::from("test.toml")),
            venues: vec![Venue::Bybit, Venue::Binance],
            symbols: SymbolSelection::Listed(vec![
                "BTCUSDT-PERP".into(),
                "ETHUSDT-PERP".into(),
                "1000PEPEUSD-PERP".into(),
            ]),
            data_dir: PathBuf::from("/srv/ccxt"),
            open_interest_interval: Some(Duration::from_secs(30)),
            funding_interval: None,
            history_catch_up: Some(Duration::from_secs(7 * 86_400)),
            history_period: OiPeriod::H1,
            liquidations: false,
            liquidations_all_market: true,
            hyperliquid_addresses: vec![
                "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14".into(),
                "0x0000000000000000000000000000000000000001".into(),
            ],
            base_urls: BTreeMap::from([
                (Venue::Binance, "http://127.0.0.1:9000/binance".into()),
                (Venue::Bybit, "https://api-testnet.bybit.com".into()),
                (
                    Venue::Hyperliquid,
                    "https://api.hyperliquid-testnet.xyz".into(),
                ),
            ]),
            ws_urls: BTreeMap::from([
                (Venue::Binance, "ws://127.0.0.1:9000/binance".into()),
                (Venue::Bybit, "wss://stream-testnet.bybit.com".into()),
                (
                    Venue::Hyperliquid,
                    "wss://api.hyperliquid-testnet.xyz/ws".into(),
                ),
            ]),
            flush_interval: Duration::from_secs(120),
            compaction_interval: None,
            log_level: "debug".into(),
            log_file: Some(PathBuf::from("/var/log/ccxt.log")),
            metrics_port: Some(9464),
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn the_example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/daemon.toml");
        let config = DaemonConfig::from_toml_file(&path).unwrap();
        assert_eq!(config.source.as_deref(), Some(path.as_path()));
        assert_eq!(config.venues, Venue::ALL.to_vec());
        assert_eq!(
            config.symbols,
            SymbolSelection::Listed(vec!["BTCUSDT-PERP".into(), "ETHUSDT-PERP".into()])
        );
        assert_eq!(config.open_interest_interval, Some(Duration::from_secs(60)));
        assert_eq!(config.funding_interval, Some(Duration::from_secs(60)));
        assert_eq!(config.history_catch_up, Some(Duration::from_secs(86_400)));
        assert_eq!(config.history_period, OiPeriod::M5);
        assert!(config.liquidations);
        assert!(!config.liquidations_all_market);
        assert_eq!(
            config.hyperliquid_addresses,
            vec!["0x2e3d94f0562703b25c83308a05046ddaf9a8dd14".to_string()]
        );
        assert_eq!(config.flush_interval, Duration::from_secs(5));
        assert_eq!(config.compaction_interval, Some(Duration::from_secs(3600)));
        assert!(config.base_urls.is_empty() && config.ws_urls.is_empty());
        assert_eq!(config.metrics_port, None);
        assert_eq!(config.log_file, None);
    }

    #[test]
    fn the_example_file_documents_every_key() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/daemon.toml"),
        )
        .unwrap();
        for key in KEYS {
            let name = key.rsplit('.').next().unwrap();
            assert!(
                text.lines().any(|l| l
                    .trim_start_matches(['#', ' '])
                    .starts_with(&format!("{name} ="))),
                "examples/daemon.toml does not show {key}"
            );
        }
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let config = parse("").unwrap();
        assert_eq!(
            config,
            DaemonConfig {
                source: Some(PathBuf::from("test.toml")),
                ..DaemonConfig::default()
            }
        );
        assert_eq!(
            DaemonConfig::from_toml_str("", None).unwrap(),
            DaemonConfig::default()
        );
    }

    #[test]
    fn all_with_top_n() {
        let config = parse("symbols = \"all\"\ntop_n_by_open_interest = 10").unwrap();
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(10));
        // Order in the file does not matter.
        let config = parse("top_n_by_open_interest = 3\nsymbols = \"ALL\"").unwrap();
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(3));
        // top_n alone selects the top N.
        let config = parse("top_n_by_open_interest = 5").unwrap();
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(5));
    }

    #[test]
    fn all_without_top_n_is_refused() {
        assert_eq!(
            refused("symbols = \"all\""),
            "test.toml: symbols = \"all\": \"all\" needs top_n_by_open_interest = N: how many perpetuals, the \
             largest by open interest, to collect per venue"
        );
    }

    #[test]
    fn top_n_with_a_list_is_refused() {
        assert_eq!(
            refused("symbols = [\"BTCUSDT-PERP\"]\ntop_n_by_open_interest = 10"),
            "test.toml: top_n_by_open_interest = 10: only with symbols = \"all\", but symbols = [\"BTCUSDT-PERP\"] \
             (from test.toml)"
        );
    }

    #[test]
    fn bad_top_n() {
        for value in ["0", "-1", "1001", "\"ten\"", "2.5"] {
            let message = refused(&format!(
                "symbols = \"all\"\ntop_n_by_open_interest = {value}"
            ));
            assert_eq!(
                message,
                format!(
                    "test.toml: top_n_by_open_interest = {value}: expected a whole number from 1 to 1000: how many \
                     perpetuals, the largest by open interest, to collect per venue"
                )
            );
        }
    }

    #[test]
    fn unknown_top_level_key() {
        let message = refused("data_dir = \"./data\"\nintervall = \"1m\"");
        assert!(
            message.starts_with(
                "test.toml: intervall = \"1m\": unknown key; expected one of data_dir, venues, "
            ),
            "{message}"
        );
        assert!(message.ends_with("[urls], [metrics]"), "{message}");
        // An unknown table is an unknown key too.
        let message = refused("[snapshot]\nopen_interest_interval = \"1m\"");
        assert!(
            message.starts_with(
                "test.toml: snapshot = { open_interest_interval = \"1m\" }: unknown key; expected one of"
            ),
            "{message}"
        );
    }

    #[test]
    fn unknown_key_in_a_table() {
        assert_eq!(
            refused("[snapshots]\noi_interval = \"1m\""),
            "test.toml: snapshots.oi_interval = \"1m\": unknown key; [snapshots] takes open_interest_interval, \
             funding_interval"
        );
        assert_eq!(
            refused("[urls]\nbinanceusdm = \"https://fapi.binance.com\""),
            "test.toml: urls.binanceusdm = \"https://fapi.binance.com\": unknown key; [urls] takes binance, \
             binance_ws, bybit, bybit_ws, hyperliquid, hyperliquid_ws"
        );
        // Dotted keys and nested tables are the same thing in TOML.
        assert_eq!(
            refused("store.flush_interval = \"5s\"\nstore.flush = \"5s\""),
            "test.toml: store.flush = \"5s\": unknown key; [store] takes flush_interval, compaction_interval"
        );
        assert_eq!(
            refused("[history.catch_up]\nvalue = \"1d\""),
            "test.toml: history.catch_up = { value = \"1d\" }: expected a duration like 30s, 1m, 1h or 1d (at least \
             1s, at most 365d), or \"off\""
        );
    }

    #[test]
    fn a_table_given_as_a_value() {
        assert_eq!(
            refused("snapshots = \"1m\""),
            "test.toml: snapshots = \"1m\": expected a table [snapshots] with open_interest_interval, \
             funding_interval"
        );
    }

    #[test]
    fn bad_durations() {
        const OFFABLE: &str =
            "expected a duration like 30s, 1m, 1h or 1d (at least 1s, at most 365d), or \"off\"";
        for value in [
            "\"1x\"",
            "\"1\"",
            "\"m\"",
            "\"-1m\"",
            "\"1.5m\"",
            "\"500ms\"",
            "\"366d\"",
            "\"1 minute\"",
            "\"99999999999999999999d\"",
            "60",
            "true",
            "[\"1m\"]",
        ] {
            assert_eq!(
                refused(&format!("[snapshots]\nopen_interest_interval = {value}")),
                format!("test.toml: snapshots.open_interest_interval = {value}: {OFFABLE}")
            );
        }
        assert_eq!(
            refused("[history]\ncatch_up = \"1y\""),
            format!("test.toml: history.catch_up = \"1y\": {OFFABLE}")
        );
        // The flush interval cannot be off.
        for value in ["\"off\"", "\"0\"", "0", "false"] {
            assert_eq!(
                refused(&format!("[store]\nflush_interval = {value}")),
                format!(
                    "test.toml: store.flush_interval = {value}: expected a duration like 30s, 1m, 1h or 1d (at \
                     least 1s, at most 365d; this one cannot be off)"
                )
            );
        }
    }

    #[test]
    fn durations() {
        let cases = [
            ("\"1s\"", Some(1)),
            ("\"45s\"", Some(45)),
            ("\"1m\"", Some(60)),
            ("\" 2h \"", Some(7200)),
            ("\"1d\"", Some(86_400)),
            ("\"365d\"", Some(365 * 86_400)),
            ("\"1500ms\"", None),
            ("\"off\"", None),
            ("\"0\"", None),
            ("\"0s\"", None),
            ("0", None),
            ("false", None),
        ];
        for (value, secs) in cases {
            let config = parse(&format!("[store]\ncompaction_interval = {value}")).unwrap();
            if value == "\"1500ms\"" {
                assert_eq!(
                    config.compaction_interval,
                    Some(Duration::from_millis(1500))
                );
            } else {
                assert_eq!(
                    config.compaction_interval,
                    secs.map(Duration::from_secs),
                    "{value}"
                );
            }
        }
        for (duration, text) in [
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(86_400 * 2), "2d"),
            (Duration::from_millis(1500), "1500ms"),
        ] {
            assert_eq!(format_duration(duration), text);
        }
    }

    #[test]
    fn bad_venues() {
        const EXPECTED: &str =
            "expected a list of venues from binance, bybit, hyperliquid (like [\"binance\", \
                                \"bybit\"]), or \"all\"";
        assert_eq!(
            refused("venues = [\"binance\", \"okx\"]"),
            format!("test.toml: venues[1] = \"okx\": {EXPECTED}")
        );
        assert_eq!(
            refused("venues = \"binance\""),
            format!("test.toml: venues = \"binance\": {EXPECTED}")
        );
        assert_eq!(
            refused("venues = []"),
            format!("test.toml: venues = []: {EXPECTED}")
        );
        assert_eq!(
            refused("venues = [\"binance\", 3]"),
            format!("test.toml: venues[1] = 3: {EXPECTED}")
        );
        let config = parse("venues = [\"Hyperliquid\", \"binanceusdm\", \"binance\"]").unwrap();
        assert_eq!(config.venues, vec![Venue::Hyperliquid, Venue::Binance]);
        assert_eq!(
            parse("venues = \"all\"").unwrap().venues,
            Venue::ALL.to_vec()
        );
    }

    #[test]
    fn bad_symbols() {
        const EXPECTED: &str = "expected a list of symbols like [\"BTCUSDT-PERP\", \"ETHUSDT-PERP\"] (unified or \
                                venue symbols; they apply to every venue), or \"all\" with top_n_by_open_interest = N";
        for (value, at, shown) in [
            ("[\"BTCUSDT-PERP\", \"BTC/USDT!\"]", "[1]", "\"BTC/USDT!\""),
            ("[\"\"]", "[0]", "\"\""),
            (
                "[\"BTCUSDT-PERP.BINANCE\"]",
                "[0]",
                "\"BTCUSDT-PERP.BINANCE\"",
            ),
            ("[\"BTCUSDT\", 1]", "[1]", "1"),
            ("\"BTCUSDT-PERP\"", "", "\"BTCUSDT-PERP\""),
            ("[]", "", "[]"),
            ("42", "", "42"),
        ] {
            assert_eq!(
                refused(&format!("symbols = {value}")),
                format!("test.toml: symbols{at} = {shown}: {EXPECTED}")
            );
        }
    }

    #[test]
    fn bad_addresses() {
        const EXPECTED: &str = "expected a list of Hyperliquid addresses (0x followed by 40 hexadecimal digits), \
                                like [\"0x2e3d94f0562703b25c83308a05046ddaf9a8dd14\"]; [] for the default liquidator";
        for (value, at, shown) in [
            ("[\"0x123\"]", "[0]", "\"0x123\""),
            (
                "[\"0x2e3d94f0562703b25c83308a05046ddaf9a8dd14\", \"2e3d94f0562703b25c83308a05046ddaf9a8dd14\"]",
                "[1]",
                "\"2e3d94f0562703b25c83308a05046ddaf9a8dd14\"",
            ),
            (
                "[\"0xZZ3d94f0562703b25c83308a05046ddaf9a8dd14\"]",
                "[0]",
                "\"0xZZ3d94f0562703b25c83308a05046ddaf9a8dd14\"",
            ),
            (
                "\"0x2e3d94f0562703b25c83308a05046ddaf9a8dd14\"",
                "",
                "\"0x2e3d94f0562703b25c83308a05046ddaf9a8dd14\"",
            ),
        ] {
            assert_eq!(
                refused(&format!("[liquidations]\nhyperliquid_addresses = {value}")),
                format!("test.toml: liquidations.hyperliquid_addresses{at} = {shown}: {EXPECTED}")
            );
        }
        let config = parse("[liquidations]\nhyperliquid_addresses = []").unwrap();
        assert!(config.hyperliquid_addresses.is_empty());
    }

    #[test]
    fn wrong_types() {
        for (text, message) in [
            ("data_dir = 5", "test.toml: data_dir = 5: expected a directory path like \"./data\""),
            ("data_dir = \"\"", "test.toml: data_dir = \"\": expected a directory path like \"./data\""),
            (
                "data_dir = \"~/data\"",
                "test.toml: data_dir = \"~/data\": expected a directory path like \"./data\" (~ is not expanded: \
                 write the full path)",
            ),
            (
                "[liquidations]\nenabled = \"yes\"",
                "test.toml: liquidations.enabled = \"yes\": expected true or false",
            ),
            (
                "[liquidations]\nall_market = 1",
                "test.toml: liquidations.all_market = 1: expected true or false",
            ),
            (
                "log_level = \"loud\"",
                "test.toml: log_level = \"loud\": expected one of error, warn, info, debug, trace",
            ),
            (
                "log_level = 3",
                "test.toml: log_level = 3: expected one of error, warn, info, debug, trace",
            ),
            (
                "log_file = false",
                "test.toml: log_file = false: expected a file path like \"/var/log/ccxt-pipeline.log\", or \"\" \
                 for stderr",
            ),
            (
                "[history]\nperiod = \"3m\"",
                "test.toml: history.period = \"3m\": expected one of 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d",
            ),
            (
                "[metrics]\nport = 70000",
                "test.toml: metrics.port = 70000: expected a port from 1 to 65535, or \"off\"",
            ),
            (
                "[metrics]\nport = \"9464\"",
                "test.toml: metrics.port = \"9464\": expected a port from 1 to 65535, or \"off\"",
            ),
            (
                "[metrics]\nport = 0",
                "test.toml: metrics.port = 0: expected a port from 1 to 65535, or \"off\"",
            ),
            (
                "[urls]\nbinance = \"fapi.binance.com\"",
                "test.toml: urls.binance = \"fapi.binance.com\": expected an HTTP URL like \
                 \"https://fapi.binance.com\", or \"\" for the production URL",
            ),
            (
                "[urls]\nbybit = \"wss://stream.bybit.com\"",
                "test.toml: urls.bybit = \"wss://stream.bybit.com\": expected an HTTP URL like \
                 \"https://fapi.binance.com\", or \"\" for the production URL",
            ),
            (
                "[urls]\nbybit_ws = \"https://api.bybit.com\"",
                "test.toml: urls.bybit_ws = \"https://api.bybit.com\": expected a WebSocket URL like \
                 \"wss://fstream.binance.com\", or \"\" for the production URL",
            ),
            (
                "[urls]\nhyperliquid = \"https://\"",
                "test.toml: urls.hyperliquid = \"https://\": expected an HTTP URL like \"https://fapi.binance.com\", \
                 or \"\" for the production URL",
            ),
            (
                "[urls]\nhyperliquid_ws = 1",
                "test.toml: urls.hyperliquid_ws = 1: expected a WebSocket URL like \"wss://fstream.binance.com\", \
                 or \"\" for the production URL",
            ),
        ] {
            assert_eq!(refused(text), message);
        }
    }

    #[test]
    fn bybit_periods_are_checked_against_venues() {
        assert_eq!(
            refused("[history]\nperiod = \"2h\""),
            "test.toml: history.period = \"2h\": bybit (among venues) has no 2h open interest history; expected \
             one of 5m, 15m, 30m, 1h, 4h, 1d"
        );
        let config = parse("venues = [\"binance\"]\n[history]\nperiod = \"2h\"").unwrap();
        assert_eq!(config.history_period, OiPeriod::H2);
        let mut config = config;
        assert_eq!(
            refusal(config.apply_env(env(&[("CCXT_PIPELINE_VENUES", "binance,bybit")]))),
            "environment variable CCXT_PIPELINE_VENUES: history.period = \"2h\": bybit (among venues) has no 2h \
             open interest history; expected one of 5m, 15m, 30m, 1h, 4h, 1d"
        );
        assert_eq!(
            config.venues,
            vec![Venue::Binance],
            "unchanged after an error"
        );
    }

    #[test]
    fn invalid_toml_is_one_line_with_its_place() {
        let message = refused("data_dir = \"./data\"\nvenues = [\"binance\"\n");
        assert!(
            message.starts_with("test.toml: line 2, column "),
            "{message}"
        );
        assert!(message.contains("not valid TOML"), "{message}");
        let message = refused("log_level = \"info\"\nlog_level = \"debug\"");
        assert_eq!(
            message,
            "test.toml: line 2, column 1: not valid TOML: duplicate key (log_level)"
        );
        // Columns count characters, not bytes.
        let message = refused("# “quoted” ü\ndata_dir = \"é\" x");
        assert!(
            message.starts_with("test.toml: line 2, column 16: not valid TOML: "),
            "{message}"
        );
    }

    #[test]
    fn a_missing_file_names_it() {
        let message = match DaemonConfig::from_toml_file("/nonexistent/daemon.toml") {
            Err(PipelineError::InvalidArgument(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(
            message.starts_with("/nonexistent/daemon.toml: cannot read the config file: "),
            "{message}"
        );
    }

    #[test]
    fn env_names() {
        assert_eq!(env_var("data_dir"), "CCXT_PIPELINE_DATA_DIR");
        assert_eq!(
            env_var("snapshots.open_interest_interval"),
            "CCXT_PIPELINE_SNAPSHOTS_OPEN_INTEREST_INTERVAL"
        );
        assert_eq!(env_var("urls.binance"), "CCXT_PIPELINE_BINANCE_URL");
        assert_eq!(env_var("urls.bybit_ws"), "CCXT_PIPELINE_BYBIT_WS_URL");
        assert_eq!(
            env_var("urls.hyperliquid_ws"),
            "CCXT_PIPELINE_HYPERLIQUID_WS_URL"
        );
        assert_eq!(
            env_var("liquidations.hyperliquid_addresses"),
            "CCXT_PIPELINE_LIQUIDATIONS_HYPERLIQUID_ADDRESSES"
        );
    }

    #[test]
    fn unknown_variables_are_named() {
        assert_eq!(
            unknown_env_vars([
                "PATH",
                "CCXT_PIPELINE_DATA_DIR",
                "CCXT_PIPELINE_SNAPSHOT_INTERVAL",
                "CCXT_PIPELINE_BINANCE_WS_URL",
                "CCXT_PIPELINE_URLS_BINANCE",
            ]),
            vec![
                "CCXT_PIPELINE_SNAPSHOT_INTERVAL".to_string(),
                "CCXT_PIPELINE_URLS_BINANCE".to_string()
            ]
        );
        let all: Vec<String> = KEYS.iter().map(|k| env_var(k)).collect();
        assert!(unknown_env_vars(all.iter().map(String::as_str)).is_empty());
    }

    #[test]
    fn every_key_from_the_environment() {
        let mut config = DaemonConfig::default();
        config
            .apply_env(env(&[
                ("CCXT_PIPELINE_DATA_DIR", "/tmp/ccxt"),
                ("CCXT_PIPELINE_VENUES", "hyperliquid, bybit"),
                ("CCXT_PIPELINE_SYMBOLS", "SOLUSDT-PERP,BTC"),
                ("CCXT_PIPELINE_LOG_LEVEL", "warning"),
                ("CCXT_PIPELINE_LOG_FILE", "/tmp/ccxt.log"),
                ("CCXT_PIPELINE_SNAPSHOTS_OPEN_INTEREST_INTERVAL", "5m"),
                ("CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL", "off"),
                ("CCXT_PIPELINE_HISTORY_CATCH_UP", "0"),
                ("CCXT_PIPELINE_HISTORY_PERIOD", "15m"),
                ("CCXT_PIPELINE_LIQUIDATIONS_ENABLED", "no"),
                ("CCXT_PIPELINE_LIQUIDATIONS_ALL_MARKET", "TRUE"),
                (
                    "CCXT_PIPELINE_LIQUIDATIONS_HYPERLIQUID_ADDRESSES",
                    "0x0000000000000000000000000000000000000002,",
                ),
                ("CCXT_PIPELINE_STORE_FLUSH_INTERVAL", "10s"),
                ("CCXT_PIPELINE_STORE_COMPACTION_INTERVAL", "1d"),
                ("CCXT_PIPELINE_BINANCE_URL", "http://localhost:1/binance"),
                ("CCXT_PIPELINE_BINANCE_WS_URL", "ws://localhost:1/binance"),
                ("CCXT_PIPELINE_BYBIT_URL", "http://localhost:1/bybit"),
                ("CCXT_PIPELINE_BYBIT_WS_URL", "ws://localhost:1/bybit"),
                ("CCXT_PIPELINE_HYPERLIQUID_URL", "http://localhost:1/hl"),
                ("CCXT_PIPELINE_HYPERLIQUID_WS_URL", "ws://localhost:1/hl"),
                ("CCXT_PIPELINE_METRICS_PORT", "9100"),
            ]))
            .unwrap();
        let urls = |kind: &str| {
            Venue::ALL
                .iter()
                .map(|v| {
                    let name = if *v == Venue::Hyperliquid {
                        "hl"
                    } else {
                        v.as_str()
                    };
                    (*v, format!("{kind}://localhost:1/{name}"))
                })
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            config,
            DaemonConfig {
                source: None,
                venues: vec![Venue::Hyperliquid, Venue::Bybit],
                symbols: SymbolSelection::Listed(vec!["SOLUSDT-PERP".into(), "BTCUSD-PERP".into()]),
                data_dir: PathBuf::from("/tmp/ccxt"),
                open_interest_interval: Some(Duration::from_secs(300)),
                funding_interval: None,
                history_catch_up: None,
                history_period: OiPeriod::M15,
                liquidations: false,
                liquidations_all_market: true,
                hyperliquid_addresses: vec!["0x0000000000000000000000000000000000000002".into()],
                base_urls: urls("http"),
                ws_urls: urls("ws"),
                flush_interval: Duration::from_secs(10),
                compaction_interval: Some(Duration::from_secs(86_400)),
                log_level: "warn".into(),
                log_file: Some(PathBuf::from("/tmp/ccxt.log")),
                metrics_port: Some(9100),
            }
        );
        config
            .apply_env(env(&[("CCXT_PIPELINE_TOP_N_BY_OPEN_INTEREST", "20")]))
            .unwrap();
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(20));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let mut config = parse("data_dir = \"/srv\"\n[urls]\nbinance = \"http://x\"").unwrap();
        config
            .apply_env(env(&[
                ("CCXT_PIPELINE_DATA_DIR", ""),
                ("CCXT_PIPELINE_BINANCE_URL", "  "),
            ]))
            .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv"));
        assert_eq!(config.base_urls[&Venue::Binance], "http://x");
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let mut config = DaemonConfig::default();
        for (name, value, message) in [
            (
                "CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL",
                "1x",
                "environment variable CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL: snapshots.funding_interval = \"1x\": \
                 expected a duration like 30s, 1m, 1h or 1d (at least 1s, at most 365d), or \"off\"",
            ),
            (
                "CCXT_PIPELINE_VENUES",
                "binance,kraken",
                "environment variable CCXT_PIPELINE_VENUES: venues[1] = \"kraken\": expected a list of venues from \
                 binance, bybit, hyperliquid (like [\"binance\", \"bybit\"]), or \"all\"",
            ),
            (
                "CCXT_PIPELINE_LIQUIDATIONS_ENABLED",
                "maybe",
                "environment variable CCXT_PIPELINE_LIQUIDATIONS_ENABLED: liquidations.enabled = \"maybe\": expected \
                 true or false",
            ),
            (
                "CCXT_PIPELINE_SYMBOLS",
                "all",
                "environment variable CCXT_PIPELINE_SYMBOLS: symbols = \"all\": \"all\" needs \
                 top_n_by_open_interest = N: how many perpetuals, the largest by open interest, to collect per venue",
            ),
            (
                "CCXT_PIPELINE_METRICS_PORT",
                "http",
                "environment variable CCXT_PIPELINE_METRICS_PORT: metrics.port = \"http\": expected a port from 1 \
                 to 65535, or \"off\"",
            ),
        ] {
            assert_eq!(refusal(config.apply_env(env(&[(name, value)]))), message);
        }
        assert_eq!(config, DaemonConfig::default(), "errors change nothing");
        // Both halves of a top-N selection may come from the environment.
        config
            .apply_env(env(&[
                ("CCXT_PIPELINE_SYMBOLS", "all"),
                ("CCXT_PIPELINE_TOP_N_BY_OPEN_INTEREST", "7"),
            ]))
            .unwrap();
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(7));
        assert_eq!(
            refusal(config.apply_env(env(&[
                ("CCXT_PIPELINE_SYMBOLS", "BTCUSDT"),
                ("CCXT_PIPELINE_TOP_N_BY_OPEN_INTEREST", "7"),
            ]))),
            "environment variable CCXT_PIPELINE_TOP_N_BY_OPEN_INTEREST: top_n_by_open_interest = \"7\": only with \
             symbols = \"all\", but symbols = \"BTCUSDT\" (from environment variable CCXT_PIPELINE_SYMBOLS)"
        );
    }

    #[test]
    fn precedence_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\nlog_level = \"error\"\nsymbols = \"all\"\ntop_n_by_open_interest = 4\n\
             [snapshots]\nopen_interest_interval = \"1h\"\nfunding_interval = \"2h\"\n[urls]\nbybit = \"http://file\"\n",
        )
        .unwrap();
        let environment = env(&[
            ("CCXT_PIPELINE_LOG_LEVEL", "warn"),
            ("CCXT_PIPELINE_SNAPSHOTS_OPEN_INTEREST_INTERVAL", "30m"),
            ("CCXT_PIPELINE_SNAPSHOTS_FUNDING_INTERVAL", "20m"),
            ("CCXT_PIPELINE_BYBIT_URL", "http://env"),
            // `all` from the environment keeps the file's N.
            ("CCXT_PIPELINE_SYMBOLS", "all"),
        ]);
        let config = DaemonConfig::load(
            Some(&path),
            environment,
            &[
                ("snapshots.open_interest_interval", "10m"),
                ("urls.bybit", ""),
            ],
        )
        .unwrap();
        assert_eq!(config.source.as_deref(), Some(path.as_path()));
        assert_eq!(config.data_dir, PathBuf::from("/from/file"), "file only");
        assert_eq!(config.log_level, "warn", "env over file");
        assert_eq!(
            config.funding_interval,
            Some(Duration::from_secs(1200)),
            "env over file"
        );
        assert_eq!(
            config.open_interest_interval,
            Some(Duration::from_secs(600)),
            "flag over env"
        );
        assert!(
            config.base_urls.is_empty(),
            "an empty flag restores production"
        );
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(4));

        // Without a file: defaults, then env, then flags.
        let config = DaemonConfig::load(
            None,
            env(&[("CCXT_PIPELINE_DATA_DIR", "/from/env")]),
            &[("symbols", "all"), ("top_n_by_open_interest", "2")],
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/env"));
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(2));
        assert_eq!(config.source, None);
    }

    #[test]
    fn flags() {
        let mut config = DaemonConfig::default();
        config.set("venues", "bybit").unwrap();
        config.set("symbols", "ethusdt").unwrap();
        config.set("metrics.port", "9464").unwrap();
        config.set("liquidations.enabled", "off").unwrap();
        assert_eq!(config.venues, vec![Venue::Bybit]);
        assert_eq!(
            config.symbols,
            SymbolSelection::Listed(vec!["ETHUSDT-PERP".into()])
        );
        assert_eq!(config.metrics_port, Some(9464));
        assert!(!config.liquidations);
        config.set("metrics.port", "off").unwrap();
        assert_eq!(config.metrics_port, None);
        assert_eq!(
            refusal(config.set("snapshot.interval", "1m")),
            "command line: snapshot.interval = \"1m\": unknown key; expected one of data_dir, venues, symbols, \
             top_n_by_open_interest, log_level, log_file, [snapshots], [history], [liquidations], [store], [urls], \
             [metrics]"
        );
        assert_eq!(
            refusal(config.set("history.period", "2h")),
            "command line: history.period = \"2h\": bybit (among venues) has no 2h open interest history; expected \
             one of 5m, 15m, 30m, 1h, 4h, 1d"
        );
        // A batch is all or nothing, and carries its origin.
        assert_eq!(
            refusal(config.set_all(
                [
                    ("log_level", Setting::Text("debug".into())),
                    ("store.flush_interval", Setting::Text("0".into())),
                ],
                "--flush-interval",
            )),
            "--flush-interval: store.flush_interval = \"0\": expected a duration like 30s, 1m, 1h or 1d (at least 1s, \
             at most 365d; this one cannot be off)"
        );
        assert_eq!(config.log_level, "info");
        // Typed values are read like the file.
        config
            .set_all(
                [
                    (
                        "liquidations.all_market",
                        Setting::Value(toml::Value::Boolean(true)),
                    ),
                    (
                        "top_n_by_open_interest",
                        Setting::Value(toml::Value::Integer(3)),
                    ),
                    ("symbols", Setting::Value(toml::Value::String("all".into()))),
                ],
                "overrides",
            )
            .unwrap();
        assert!(config.liquidations_all_market);
        assert_eq!(config.symbols, SymbolSelection::TopByOpenInterest(3));
        // A table is its dotted keys.
        let table: toml::Table = "open_interest_interval = \"5m\"\nfunding_interval = \"off\""
            .parse()
            .unwrap();
        config
            .set_all(
                [("snapshots", Setting::Value(toml::Value::Table(table)))],
                "overrides",
            )
            .unwrap();
        assert_eq!(
            config.open_interest_interval,
            Some(Duration::from_secs(300))
        );
        assert_eq!(config.funding_interval, None);
        assert_eq!(
            refusal(config.set("snapshots", "5m")),
            "command line: snapshots = \"5m\": expected a table [snapshots] with open_interest_interval, \
             funding_interval"
        );
        assert_eq!(
            refusal(config.set_all(
                [("metrics.port", Setting::Value(toml::Value::Float(1.0)))],
                "overrides"
            )),
            "overrides: metrics.port = 1.0: expected a port from 1 to 65535, or \"off\""
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        let message = refused(&format!("log_level = \"{long}\""));
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("…"), "{message}");
        let message = refused("log_level = \"a\\nb\"");
        assert_eq!(
            message,
            "test.toml: log_level = \"a\\nb\": expected one of error, warn, info, debug, trace"
        );
    }

    #[test]
    fn round_trips_through_a_table_and_text() {
        for config in [
            DaemonConfig::default(),
            DaemonConfig {
                source: None,
                ..parse(FULL).unwrap()
            },
            DaemonConfig {
                source: None,
                ..parse(
                    "symbols = \"all\"\ntop_n_by_open_interest = 25\n[history]\ncatch_up = \"off\"",
                )
                .unwrap()
            },
        ] {
            let table = config.to_toml_table();
            assert_eq!(
                DaemonConfig::from_toml_table(&table, "table").unwrap(),
                config
            );
            let text = config.to_toml_string();
            assert_eq!(
                DaemonConfig::from_toml_str(&text, None).unwrap(),
                config,
                "{text}"
            );
        }
        let text = DaemonConfig::default().to_toml_string();
        assert!(text.contains("open_interest_interval = \"1m\""), "{text}");
        assert!(text.contains("catch_up = \"1d\""), "{text}");
    }
}
