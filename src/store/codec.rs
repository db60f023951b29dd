//! The kinds of rows between their two Arrow forms: the table form returned to Python (docs/formats.md#tables) and
//! the on-disk form NautilusTrader reads (docs/formats.md#folders-and-columns). The disk form holds one instrument per
//! file, so identity columns (venue, symbol) are rebuilt from the folder's instrument id on the way back.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder, UInt16Builder, UInt64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt16Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::model::records::{
    funding_rate_batch, funding_rate_schema, liquidation_batch, liquidation_schema,
    open_interest_batch, open_interest_schema, stream_gap_batch, stream_gap_schema, Row,
    ALL_MARKET_SYMBOL,
};
use crate::model::time::{catalog_timestamp, NANOS_PER_DAY};
use crate::model::{
    FundingRate, GapReason, InstrumentRef, Liquidation, OpenInterest, PipelineError, Result, Side,
    StreamGap, Venue,
};

/// What a dataset holds; the names are the ones users type (`query open_interest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    OpenInterest,
    FundingRate,
    Liquidation,
    /// Intervals in which a liquidation stream was not delivering ([`StreamGap`]).
    Gaps,
}

/// First storable timestamp (ns): 1970-01-01T00:00:00Z. Catalog file names and NautilusTrader's unsigned
/// timestamps have nothing before it.
pub const MIN_TIMESTAMP: i64 = 0;
/// Last storable timestamp (ns): 2262-04-10T23:59:59.999999999Z, the end of the last UTC day that ends inside
/// `i64` nanoseconds (the next day's file name would end after 2262-04-11T23:47:16.854775807Z, the largest `i64`).
pub const MAX_TIMESTAMP: i64 = (i64::MAX / NANOS_PER_DAY) * NANOS_PER_DAY - 1;

/// ISO-8601 UTC of any `i64` nanosecond value, for messages.
pub fn iso(ns: i64) -> String {
    let mut text = catalog_timestamp(ns).into_bytes();
    // `2025-01-01T00-00-00-000000000Z` → `2025-01-01T00:00:00.000000000Z` (same positions for 4-digit years).
    if text.len() == 30 {
        text[13] = b':';
        text[16] = b':';
        text[19] = b'.';
    }
    String::from_utf8(text).unwrap_or_default()
}

/// Refuses a timestamp outside [`MIN_TIMESTAMP`, `MAX_TIMESTAMP`], naming the column, the value and the instrument.
pub fn check_timestamp(column: &str, ns: i64, instrument_id: &str) -> Result<()> {
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ns) {
        Ok(())
    } else {
        Err(invalid_table(format!(
            "{column} {} ({ns} ns) of {instrument_id} is outside the storable range {} to {}",
            iso(ns),
            iso(MIN_TIMESTAMP),
            iso(MAX_TIMESTAMP)
        )))
    }
}

/// The instrument of a store folder or of a row to store: a NautilusTrader instrument id of a supported venue, or,
/// for stream gaps only, `ALL.<VENUE>` (a whole-market stream such as Binance `!forceOrder@arr`). Either is safe
/// as a folder name (letters, digits, `-` and one `.`).
pub fn parse_instrument(kind: Kind, id: &str) -> Result<InstrumentRef> {
    if kind == Kind::Gaps {
        if let Some(inst) = whole_market(id) {
            return Ok(inst);
        }
    }
    InstrumentRef::from_instrument_id(id)
}

/// `ALL.BINANCE` → the whole-market pseudo-instrument of Binance (symbol `ALL`).
pub fn whole_market(id: &str) -> Option<InstrumentRef> {
    let venue_name = id.strip_prefix(ALL_MARKET_SYMBOL)?.strip_prefix('.')?;
    let venue = Venue::ALL
        .into_iter()
        .find(|v| v.as_str().to_ascii_uppercase() == venue_name)?;
    Some(whole_market_of(venue))
}

/// The whole-market pseudo-instrument of `venue`: instrument id `ALL.<VENUE>`, symbol `ALL`.
pub fn whole_market_of(venue: Venue) -> InstrumentRef {
    InstrumentRef {
        venue,
        symbol: ALL_MARKET_SYMBOL.to_string(),
        native: ALL_MARKET_SYMBOL.to_string(),
        instrument_id: format!(
            "{ALL_MARKET_SYMBOL}.{}",
            venue.as_str().to_ascii_uppercase()
        ),
    }
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::OpenInterest,
        Kind::FundingRate,
        Kind::Liquidation,
        Kind::Gaps,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Kind::OpenInterest => "open_interest",
            Kind::FundingRate => "funding_rate",
            Kind::Liquidation => "liquidation",
            Kind::Gaps => "gaps",
        }
    }

    /// The catalog folder under `<root>/data/` (NautilusTrader's name for the data class).
    pub const fn folder(self) -> &'static str {
        match self {
            Kind::OpenInterest => "custom_open_interest",
            Kind::FundingRate => "funding_rate_update",
            Kind::Liquidation => "custom_liquidation",
            Kind::Gaps => "custom_stream_gap",
        }
    }

    /// The calendar span of its files, by density (see [`Granule`]).
    pub const fn granule(self) -> crate::store::Granule {
        use crate::store::Granule;
        match self {
            Kind::OpenInterest => Granule::Month,
            Kind::FundingRate | Kind::Gaps => Granule::Year,
            Kind::Liquidation => Granule::Day,
        }
    }

    /// The columns every data file of this kind has (NautilusTrader reads them by name).
    pub const fn disk_columns(self) -> &'static [&'static str] {
        match self {
            Kind::OpenInterest => &[
                "instrument_id",
                "open_interest",
                "open_interest_value",
                "ts_event",
                "ts_init",
            ],
            Kind::FundingRate => &["rate", "interval", "next_funding_ns", "ts_event", "ts_init"],
            Kind::Liquidation => &[
                "instrument_id",
                "side",
                "price",
                "quantity",
                "ts_event",
                "ts_init",
            ],
            Kind::Gaps => &["instrument_id", "stream", "reason", "ts_event", "ts_init"],
        }
    }

    pub fn parse(name: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name.trim())
            .ok_or_else(|| {
                PipelineError::InvalidArgument(format!(
                "unknown data kind '{name}': expected open_interest, funding_rate, liquidation or gaps"
            ))
            })
    }

    pub fn table_schema(self) -> SchemaRef {
        match self {
            Kind::OpenInterest => open_interest_schema(),
            Kind::FundingRate => funding_rate_schema(),
            Kind::Liquidation => liquidation_schema(),
            Kind::Gaps => stream_gap_schema(),
        }
    }

    /// Recognises a table by its column names (docs/formats.md#tables).
    pub fn of_table(schema: &Schema) -> Result<Kind> {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        Kind::ALL
            .into_iter()
            .find(|k| k.table_schema().fields().iter().map(|f| f.name().as_str()).eq(names.iter().copied()))
            .ok_or_else(|| {
                PipelineError::InvalidArgument(format!(
                    "table columns [{}] are not an open interest, funding rate, liquidation or stream gap table (see docs/formats.md#tables): \
                     expected e.g. [{}]",
                    names.join(", "),
                    Kind::OpenInterest.table_schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
                ))
            })
    }
}

/// A row kind that the store can keep.
pub trait StoredRow: Row + Clone + Send + Sync + 'static {
    const KIND: Kind;
    /// De-duplication key: (instrument, `ts_event`) for snapshots; (instrument, `ts_event`, side, price,
    /// quantity) for liquidations, so one event received twice (two connections, two receive times) is kept once;
    /// the whole row for stream gaps. The instrument is fixed per folder, so it is not part of the key.
    type Key: Eq + std::hash::Hash + Clone + Send;

    fn key(&self) -> Self::Key;
    /// Refuses a row the store must not keep (timestamps outside the storable range, impossible values), naming
    /// the value; every row is checked before a write touches the disk.
    fn check(&self) -> Result<()> {
        check_timestamp("ts_event", self.ts_event(), self.instrument_id())?;
        check_timestamp("ts_init", self.ts_init(), self.instrument_id())
    }
    fn to_table(rows: &[Self]) -> RecordBatch;
    fn from_table(batch: &RecordBatch) -> Result<Vec<Self>>;
    fn disk_schema(instrument_id: &str) -> SchemaRef;
    fn to_disk(rows: &[Self], instrument_id: &str) -> RecordBatch;
    fn from_disk(batch: &RecordBatch, inst: &InstrumentRef) -> Result<Vec<Self>>;
    /// The file columns [`Self::disk_to_table`] reads (`None`: all); the others are not decoded.
    const TABLE_COLUMNS: Option<&'static [&'static str]> = None;
    /// A file's batch in table form; the dense kinds override it to build the table column by column, reusing the
    /// file's buffers, without records in between.
    fn disk_to_table(batch: &RecordBatch, inst: &InstrumentRef) -> Result<RecordBatch> {
        Ok(Self::to_table(&Self::from_disk(batch, inst)?))
    }
}

/// The five identity columns of a table read from a file of `inst` (venue, symbol and instrument id repeated; the
/// times reinterpreted as UTC timestamps without a copy), followed by `rest`.
fn table_from_disk(
    kind: Kind,
    batch: &RecordBatch,
    inst: &InstrumentRef,
    rest: Vec<ArrayRef>,
) -> Result<RecordBatch> {
    let n = batch.num_rows();
    let time = |name: &str| -> Result<ArrayRef> {
        Ok(Arc::new(
            disk_i64(batch, name)?
                .reinterpret_cast::<TimestampNanosecondType>()
                .with_timezone("UTC"),
        ))
    };
    let constant = |value: &str| -> ArrayRef { Arc::new(StringArray::new_repeated(value, n)) };
    let mut columns = vec![
        constant(inst.venue.as_str()),
        constant(&inst.symbol),
        constant(&inst.instrument_id),
        time("ts_event")?,
        time("ts_init")?,
    ];
    columns.extend(rest);
    RecordBatch::try_new(kind.table_schema(), columns).map_err(|e| disk_err(e.to_string()))
}

fn store_error(what: impl std::fmt::Display) -> PipelineError {
    PipelineError::Store(what.to_string())
}

fn invalid_table(what: impl std::fmt::Display) -> PipelineError {
    PipelineError::InvalidArgument(what.to_string())
}

/// A column by name with the type it must have, or an error naming both.
fn column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    accepts: fn(&DataType) -> bool,
    expected: &str,
    err: fn(String) -> PipelineError,
) -> Result<&'a ArrayRef> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| err(format!("missing column '{name}' ({expected})")))?;
    if accepts(column.data_type()) {
        Ok(column)
    } else {
        Err(err(format!(
            "column '{name}' is {}, expected {expected}",
            column.data_type()
        )))
    }
}

fn table_err(msg: String) -> PipelineError {
    invalid_table(msg)
}

fn disk_err(msg: String) -> PipelineError {
    store_error(format!(
        "stored file does not have the catalog schema: {msg}"
    ))
}

fn is_timestamp_ns(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(TimeUnit::Nanosecond, _))
}

fn table_strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    Ok(column(batch, name, |t| *t == DataType::Utf8, "utf8", table_err)?.as_string::<i32>())
}

fn table_f64<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float64Array> {
    Ok(column(
        batch,
        name,
        |t| *t == DataType::Float64,
        "float64",
        table_err,
    )?
    .as_primitive::<Float64Type>())
}

fn table_ts(
    batch: &RecordBatch,
    name: &str,
) -> Result<arrow_array::PrimitiveArray<TimestampNanosecondType>> {
    Ok(column(
        batch,
        name,
        is_timestamp_ns,
        "timestamp[ns, UTC]",
        table_err,
    )?
    .as_primitive::<TimestampNanosecondType>()
    .clone())
}

fn required<T>(value: Option<T>, column: &str, row: usize) -> Result<T> {
    value.ok_or_else(|| {
        invalid_table(format!(
            "column '{column}' is null in row {row}; it is required"
        ))
    })
}

/// The identity columns of one table row, with the instrument id checked (it becomes a folder name).
fn table_identity(
    batch: &RecordBatch,
    kind: Kind,
) -> Result<impl Fn(usize) -> Result<(InstrumentRef, i64, i64)> + '_> {
    let ids = table_strings(batch, "instrument_id")?;
    let venues = table_strings(batch, "venue")?;
    let ts_event = table_ts(batch, "ts_event")?;
    let ts_init = table_ts(batch, "ts_init")?;
    Ok(move |row: usize| {
        let id = required(
            ids.is_valid(row).then(|| ids.value(row)),
            "instrument_id",
            row,
        )?;
        let inst = parse_instrument(kind, id)?;
        if venues.is_valid(row) && venues.value(row) != inst.venue.as_str() {
            return Err(invalid_table(format!(
                "row {row}: venue '{}' does not match instrument id '{id}'",
                venues.value(row)
            )));
        }
        let event = required(
            ts_event.is_valid(row).then(|| ts_event.value(row)),
            "ts_event",
            row,
        )?;
        let init = required(
            ts_init.is_valid(row).then(|| ts_init.value(row)),
            "ts_init",
            row,
        )?;
        check_timestamp("ts_event", event, id).map_err(|e| in_row(row, e))?;
        check_timestamp("ts_init", init, id).map_err(|e| in_row(row, e))?;
        Ok((inst, event, init))
    })
}

/// Prefixes an invalid-argument message with the table row it is about.
fn in_row(row: usize, e: PipelineError) -> PipelineError {
    match e {
        PipelineError::InvalidArgument(m) => invalid_table(format!("row {row}: {m}")),
        other => other,
    }
}

/// A quantity that must be a finite number, not negative (open interest, prices, sizes).
fn check_amount(column: &str, value: f64, instrument_id: &str) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid_table(format!(
            "{column} {value} of {instrument_id} is not a finite, non-negative number"
        )))
    }
}

fn disk_strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    Ok(column(batch, name, |t| *t == DataType::Utf8, "string", disk_err)?.as_string::<i32>())
}

fn disk_f64<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float64Array> {
    Ok(column(
        batch,
        name,
        |t| *t == DataType::Float64,
        "float64",
        disk_err,
    )?
    .as_primitive::<Float64Type>())
}

fn disk_i64<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Int64Array> {
    Ok(
        column(batch, name, |t| *t == DataType::Int64, "int64", disk_err)?
            .as_primitive::<Int64Type>(),
    )
}

fn disk_u64<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a UInt64Array> {
    Ok(
        column(batch, name, |t| *t == DataType::UInt64, "uint64", disk_err)?
            .as_primitive::<UInt64Type>(),
    )
}

fn custom_schema(fields: Vec<Field>) -> SchemaRef {
    let mut all = vec![Field::new("instrument_id", DataType::Utf8, true)];
    all.extend(fields);
    all.push(Field::new("type", DataType::Utf8, true));
    all.push(Field::new("ts_event", DataType::Int64, true));
    all.push(Field::new("ts_init", DataType::Int64, true));
    Arc::new(Schema::new(all))
}

fn repeated(value: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::new_repeated(value, n))
}

fn i64_column<R>(rows: &[R], f: impl Fn(&R) -> i64) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Int64Array>())
}

fn f64_column<R>(rows: &[R], f: impl Fn(&R) -> f64) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Float64Array>())
}

fn disk_batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema, columns).expect("disk columns are built in schema order")
}

impl StoredRow for OpenInterest {
    const KIND: Kind = Kind::OpenInterest;
    type Key = i64;

    fn key(&self) -> i64 {
        self.ts_event
    }
    fn check(&self) -> Result<()> {
        check_timestamp("ts_event", self.ts_event, &self.instrument_id)?;
        check_timestamp("ts_init", self.ts_init, &self.instrument_id)?;
        check_amount("open_interest", self.open_interest, &self.instrument_id)?;
        match self.open_interest_value {
            Some(v) => check_amount("open_interest_value", v, &self.instrument_id),
            None => Ok(()),
        }
    }
    fn to_table(rows: &[Self]) -> RecordBatch {
        open_interest_batch(rows)
    }

    fn from_table(batch: &RecordBatch) -> Result<Vec<Self>> {
        let identity = table_identity(batch, Self::KIND)?;
        let oi = table_f64(batch, "open_interest")?;
        let value = table_f64(batch, "open_interest_value")?;
        (0..batch.num_rows())
            .map(|row| {
                let (inst, ts_event, ts_init) = identity(row)?;
                let open_interest = required(
                    oi.is_valid(row).then(|| oi.value(row)),
                    "open_interest",
                    row,
                )?;
                let value = value
                    .is_valid(row)
                    .then(|| value.value(row))
                    .filter(|v| !v.is_nan());
                let oi = inst.open_interest(ts_event, ts_init, open_interest, value);
                oi.check().map_err(|e| in_row(row, e))?;
                Ok(oi)
            })
            .collect()
    }

    fn disk_schema(_: &str) -> SchemaRef {
        custom_schema(vec![
            Field::new("open_interest", DataType::Float64, true),
            Field::new("open_interest_value", DataType::Float64, true),
        ])
    }

    fn to_disk(rows: &[Self], instrument_id: &str) -> RecordBatch {
        disk_batch(
            Self::disk_schema(instrument_id),
            vec![
                repeated(instrument_id, rows.len()),
                f64_column(rows, |r| r.open_interest),
                // NautilusTrader's float field has no null: absent is NaN.
                f64_column(rows, |r| r.open_interest_value.unwrap_or(f64::NAN)),
                repeated("OpenInterest", rows.len()),
                i64_column(rows, |r| r.ts_event),
                i64_column(rows, |r| r.ts_init),
            ],
        )
    }

    fn from_disk(batch: &RecordBatch, inst: &InstrumentRef) -> Result<Vec<Self>> {
        let oi = disk_f64(batch, "open_interest")?;
        let value = disk_f64(batch, "open_interest_value")?;
        let (ts_event, ts_init) = (disk_i64(batch, "ts_event")?, disk_i64(batch, "ts_init")?);
        Ok((0..batch.num_rows())
            .map(|i| {
                let v = value.value(i);
                inst.open_interest(
                    ts_event.value(i),
                    ts_init.value(i),
                    oi.value(i),
                    (value.is_valid(i) && !v.is_nan()).then_some(v),
                )
            })
            .collect())
    }

    const TABLE_COLUMNS: Option<&'static [&'static str]> = Some(&[
        "open_interest",
        "open_interest_value",
        "ts_event",
        "ts_init",
    ]);

    fn disk_to_table(batch: &RecordBatch, inst: &InstrumentRef) -> Result<RecordBatch> {
        let oi = disk_f64(batch, "open_interest")?;
        // NautilusTrader's NaN for "no value" is a null in table form.
        let value: Float64Array = disk_f64(batch, "open_interest_value")?
            .iter()
            .map(|v| v.filter(|v| !v.is_nan()))
            .collect();
        table_from_disk(
            Self::KIND,
            batch,
            inst,
            vec![Arc::new(oi.clone()), Arc::new(value)],
        )
    }
}

impl StoredRow for FundingRate {
    const KIND: Kind = Kind::FundingRate;
    type Key = i64;

    fn key(&self) -> i64 {
        self.ts_event
    }
    fn check(&self) -> Result<()> {
        check_timestamp("ts_event", self.ts_event, &self.instrument_id)?;
        check_timestamp("ts_init", self.ts_init, &self.instrument_id)?;
        if !self.funding_rate.is_finite() {
            return Err(invalid_table(format!(
                "funding_rate {} of {} is not a number",
                self.funding_rate, self.instrument_id
            )));
        }
        Ok(())
    }
    fn to_table(rows: &[Self]) -> RecordBatch {
        funding_rate_batch(rows)
    }

    fn from_table(batch: &RecordBatch) -> Result<Vec<Self>> {
        let identity = table_identity(batch, Self::KIND)?;
        let rate = table_f64(batch, "funding_rate")?;
        let interval = column(
            batch,
            "interval_minutes",
            |t| *t == DataType::UInt16,
            "uint16",
            table_err,
        )?
        .as_primitive::<UInt16Type>();
        let next = table_ts(batch, "next_funding_time")?;
        let mark = table_f64(batch, "mark_price")?;
        let index = table_f64(batch, "index_price")?;
        (0..batch.num_rows())
            .map(|row| {
                let (inst, ts_event, ts_init) = identity(row)?;
                let funding_rate = required(
                    rate.is_valid(row).then(|| rate.value(row)),
                    "funding_rate",
                    row,
                )?;
                if !funding_rate.is_finite() {
                    return Err(invalid_table(format!(
                        "row {row}: funding_rate {funding_rate} is not a number"
                    )));
                }
                Ok(FundingRate {
                    venue: inst.venue,
                    symbol: inst.symbol,
                    instrument_id: inst.instrument_id,
                    ts_event,
                    ts_init,
                    funding_rate,
                    interval_minutes: interval.is_valid(row).then(|| interval.value(row)),
                    next_funding_time: next
                        .is_valid(row)
                        .then(|| next.value(row))
                        .filter(|t| *t >= 0),
                    mark_price: mark.is_valid(row).then(|| mark.value(row)),
                    index_price: index.is_valid(row).then(|| index.value(row)),
                })
            })
            .collect()
    }

    /// NautilusTrader's `FundingRateUpdate` layout: the instrument lives in the schema metadata.
    fn disk_schema(instrument_id: &str) -> SchemaRef {
        let metadata = [("instrument_id".to_string(), instrument_id.to_string())]
            .into_iter()
            .collect();
        Arc::new(Schema::new_with_metadata(
            vec![
                Field::new("rate", DataType::Binary, false),
                Field::new("interval", DataType::UInt16, true),
                Field::new("next_funding_ns", DataType::UInt64, true),
                Field::new("ts_event", DataType::UInt64, false),
                Field::new("ts_init", DataType::UInt64, false),
            ],
            metadata,
        ))
    }

    fn to_disk(rows: &[Self], instrument_id: &str) -> RecordBatch {
        let mut rate = BinaryBuilder::with_capacity(rows.len(), rows.len() * 12);
        let mut interval = UInt16Builder::with_capacity(rows.len());
        let mut next = UInt64Builder::with_capacity(rows.len());
        for r in rows {
            // The decimal as a JSON string, quotes included; Rust's shortest round-trip form never uses an
            // exponent, so it is also a valid `Decimal` literal.
            rate.append_value(format!("\"{}\"", r.funding_rate));
            interval.append_option(r.interval_minutes);
            next.append_option(r.next_funding_time.map(|t| t as u64));
        }
        disk_batch(
            Self::disk_schema(instrument_id),
            vec![
                Arc::new(rate.finish()),
                Arc::new(interval.finish()),
                Arc::new(next.finish()),
                Arc::new(
                    rows.iter()
                        .map(|r| r.ts_event as u64)
                        .collect::<UInt64Array>(),
                ),
                Arc::new(
                    rows.iter()
                        .map(|r| r.ts_init as u64)
                        .collect::<UInt64Array>(),
                ),
            ],
        )
    }

    fn from_disk(batch: &RecordBatch, inst: &InstrumentRef) -> Result<Vec<Self>> {
        let rate = column(
            batch,
            "rate",
            |t| {
                matches!(
                    t,
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                )
            },
            "binary",
            disk_err,
        )?;
        let rate = binary_values(rate)?;
        let interval = column(
            batch,
            "interval",
            |t| *t == DataType::UInt16,
            "uint16",
            disk_err,
        )?
        .as_primitive::<UInt16Type>();
        let next = disk_u64(batch, "next_funding_ns")?;
        let (ts_event, ts_init) = (disk_u64(batch, "ts_event")?, disk_u64(batch, "ts_init")?);
        (0..batch.num_rows())
            .map(|i| {
                let text = std::str::from_utf8(&rate[i]).unwrap_or("");
                let funding_rate = text.trim_matches('"').parse::<f64>().map_err(|_| {
                    store_error(format!(
                        "stored funding rate {text:?} of {} is not a quoted decimal",
                        inst.instrument_id
                    ))
                })?;
                Ok(FundingRate {
                    venue: inst.venue,
                    symbol: inst.symbol.clone(),
                    instrument_id: inst.instrument_id.clone(),
                    ts_event: ts_event.value(i) as i64,
                    ts_init: ts_init.value(i) as i64,
                    funding_rate,
                    interval_minutes: interval.is_valid(i).then(|| interval.value(i)),
                    next_funding_time: next.is_valid(i).then(|| next.value(i) as i64),
                    // Not part of NautilusTrader's FundingRateUpdate, so not stored.
                    mark_price: None,
                    index_price: None,
                })
            })
            .collect()
    }
}

/// The binary values of a `rate` column, whichever binary layout a writer chose.
fn binary_values(array: &ArrayRef) -> Result<Vec<Vec<u8>>> {
    let values: Vec<Vec<u8>> = match array.data_type() {
        DataType::Binary => array
            .as_binary::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_vec())
            .collect(),
        DataType::LargeBinary => array
            .as_binary::<i64>()
            .iter()
            .map(|v| v.unwrap_or_default().to_vec())
            .collect(),
        DataType::BinaryView => array
            .as_binary_view()
            .iter()
            .map(|v| v.unwrap_or_default().to_vec())
            .collect(),
        other => return Err(disk_err(format!("column 'rate' is {other}"))),
    };
    Ok(values)
}

impl StoredRow for Liquidation {
    const KIND: Kind = Kind::Liquidation;
    type Key = (i64, &'static str, u64, u64);

    /// Not `ts_init`: the same event received twice (two overlapping connections) has two receive times.
    fn key(&self) -> Self::Key {
        (
            self.ts_event,
            self.side.as_str(),
            self.price.to_bits(),
            self.quantity.to_bits(),
        )
    }
    fn check(&self) -> Result<()> {
        check_timestamp("ts_event", self.ts_event, &self.instrument_id)?;
        check_timestamp("ts_init", self.ts_init, &self.instrument_id)?;
        check_amount("price", self.price, &self.instrument_id)?;
        check_amount("quantity", self.quantity, &self.instrument_id)
    }
    fn to_table(rows: &[Self]) -> RecordBatch {
        liquidation_batch(rows)
    }

    fn from_table(batch: &RecordBatch) -> Result<Vec<Self>> {
        let identity = table_identity(batch, Self::KIND)?;
        let side = table_strings(batch, "side")?;
        let price = table_f64(batch, "price")?;
        let quantity = table_f64(batch, "quantity")?;
        (0..batch.num_rows())
            .map(|row| {
                let (inst, ts_event, ts_init) = identity(row)?;
                let side = match side.is_valid(row).then(|| side.value(row)) {
                    Some("BUY") => Side::Buy,
                    Some("SELL") => Side::Sell,
                    other => {
                        return Err(invalid_table(format!(
                            "row {row}: side {other:?} must be BUY or SELL"
                        )))
                    }
                };
                let liquidation = Liquidation {
                    venue: inst.venue,
                    symbol: inst.symbol,
                    instrument_id: inst.instrument_id,
                    ts_event,
                    ts_init,
                    side,
                    price: required(price.is_valid(row).then(|| price.value(row)), "price", row)?,
                    quantity: required(
                        quantity.is_valid(row).then(|| quantity.value(row)),
                        "quantity",
                        row,
                    )?,
                };
                liquidation.check().map_err(|e| in_row(row, e))?;
                Ok(liquidation)
            })
            .collect()
    }

    fn disk_schema(_: &str) -> SchemaRef {
        custom_schema(vec![
            Field::new("side", DataType::Utf8, true),
            Field::new("price", DataType::Float64, true),
            Field::new("quantity", DataType::Float64, true),
        ])
    }

    fn to_disk(rows: &[Self], instrument_id: &str) -> RecordBatch {
        let mut side = StringBuilder::with_capacity(rows.len(), rows.len() * 4);
        rows.iter().for_each(|r| side.append_value(r.side.as_str()));
        disk_batch(
            Self::disk_schema(instrument_id),
            vec![
                repeated(instrument_id, rows.len()),
                Arc::new(side.finish()),
                f64_column(rows, |r| r.price),
                f64_column(rows, |r| r.quantity),
                repeated("Liquidation", rows.len()),
                i64_column(rows, |r| r.ts_event),
                i64_column(rows, |r| r.ts_init),
            ],
        )
    }

    fn from_disk(batch: &RecordBatch, inst: &InstrumentRef) -> Result<Vec<Self>> {
        let side = disk_strings(batch, "side")?;
        let (price, quantity) = (disk_f64(batch, "price")?, disk_f64(batch, "quantity")?);
        let (ts_event, ts_init) = (disk_i64(batch, "ts_event")?, disk_i64(batch, "ts_init")?);
        (0..batch.num_rows())
            .map(|i| {
                let side = match side.value(i) {
                    "BUY" => Side::Buy,
                    "SELL" => Side::Sell,
                    other => {
                        return Err(store_error(format!(
                            "stored side '{other}' of {} is not BUY or SELL",
                            inst.instrument_id
                        )))
                    }
                };
                Ok(Liquidation {
                    venue: inst.venue,
                    symbol: inst.symbol.clone(),
                    instrument_id: inst.instrument_id.clone(),
                    ts_event: ts_event.value(i),
                    ts_init: ts_init.value(i),
                    side,
                    price: price.value(i),
                    quantity: quantity.value(i),
                })
            })
            .collect()
    }

    const TABLE_COLUMNS: Option<&'static [&'static str]> =
        Some(&["side", "price", "quantity", "ts_event", "ts_init"]);

    fn disk_to_table(batch: &RecordBatch, inst: &InstrumentRef) -> Result<RecordBatch> {
        let side = disk_strings(batch, "side")?;
        if let Some(other) = side.iter().find(|s| !matches!(s, Some("BUY" | "SELL"))) {
            return Err(store_error(format!(
                "stored side '{}' of {} is not BUY or SELL",
                other.unwrap_or("null"),
                inst.instrument_id
            )));
        }
        let (price, quantity) = (disk_f64(batch, "price")?, disk_f64(batch, "quantity")?);
        table_from_disk(
            Self::KIND,
            batch,
            inst,
            vec![
                Arc::new(side.clone()),
                Arc::new(price.clone()),
                Arc::new(quantity.clone()),
            ],
        )
    }
}

impl StoredRow for StreamGap {
    const KIND: Kind = Kind::Gaps;
    type Key = (i64, i64, String, &'static str);

    /// The whole row: two gaps of one stream never share both ends and the reason unless they are one gap.
    fn key(&self) -> Self::Key {
        (
            self.ts_event,
            self.ts_init,
            self.stream.clone(),
            self.reason.as_str(),
        )
    }
    fn check(&self) -> Result<()> {
        check_timestamp("ts_event", self.ts_event, &self.instrument_id)?;
        check_timestamp("ts_init", self.ts_init, &self.instrument_id)?;
        if self.ts_event > self.ts_init {
            return Err(invalid_table(format!(
                "stream gap of {} on '{}' ends ({}) before it starts ({})",
                self.instrument_id,
                self.stream,
                iso(self.ts_init),
                iso(self.ts_event)
            )));
        }
        Ok(())
    }
    fn to_table(rows: &[Self]) -> RecordBatch {
        stream_gap_batch(rows)
    }

    fn from_table(batch: &RecordBatch) -> Result<Vec<Self>> {
        let identity = table_identity(batch, Self::KIND)?;
        let stream = table_strings(batch, "stream")?;
        let reason = table_strings(batch, "reason")?;
        (0..batch.num_rows())
            .map(|row| {
                let (inst, ts_event, ts_init) = identity(row)?;
                let stream = required(
                    stream.is_valid(row).then(|| stream.value(row)),
                    "stream",
                    row,
                )?;
                let reason = required(
                    reason.is_valid(row).then(|| reason.value(row)),
                    "reason",
                    row,
                )?;
                let reason = GapReason::parse(reason).ok_or_else(|| {
                    invalid_table(format!(
                        "row {row}: reason '{reason}' is not one of {}",
                        GapReason::ALL.map(GapReason::as_str).join(", ")
                    ))
                })?;
                let gap = StreamGap {
                    venue: inst.venue,
                    symbol: inst.symbol,
                    instrument_id: inst.instrument_id,
                    ts_event,
                    ts_init,
                    stream: stream.to_string(),
                    reason,
                };
                gap.check().map_err(|e| in_row(row, e))?;
                Ok(gap)
            })
            .collect()
    }

    fn disk_schema(_: &str) -> SchemaRef {
        custom_schema(vec![
            Field::new("stream", DataType::Utf8, true),
            Field::new("reason", DataType::Utf8, true),
        ])
    }

    fn to_disk(rows: &[Self], instrument_id: &str) -> RecordBatch {
        let mut stream = StringBuilder::with_capacity(rows.len(), rows.len() * 20);
        let mut reason = StringBuilder::with_capacity(rows.len(), rows.len() * 12);
        for r in rows {
            stream.append_value(&r.stream);
            reason.append_value(r.reason.as_str());
        }
        disk_batch(
            Self::disk_schema(instrument_id),
            vec![
                repeated(instrument_id, rows.len()),
                Arc::new(stream.finish()),
                Arc::new(reason.finish()),
                repeated("StreamGap", rows.len()),
                i64_column(rows, |r| r.ts_event),
                i64_column(rows, |r| r.ts_init),
            ],
        )
    }

    fn from_disk(batch: &RecordBatch, inst: &InstrumentRef) -> Result<Vec<Self>> {
        let (stream, reason) = (
            disk_strings(batch, "stream")?,
            disk_strings(batch, "reason")?,
        );
        let (ts_event, ts_init) = (disk_i64(batch, "ts_event")?, disk_i64(batch, "ts_init")?);
        (0..batch.num_rows())
            .map(|i| {
                let reason = GapReason::parse(reason.value(i)).ok_or_else(|| {
                    store_error(format!(
                        "stored gap reason '{}' of {} is not one this version knows",
                        reason.value(i),
                        inst.instrument_id
                    ))
                })?;
                Ok(StreamGap {
                    venue: inst.venue,
                    symbol: inst.symbol.clone(),
                    instrument_id: inst.instrument_id.clone(),
                    ts_event: ts_event.value(i),
                    ts_init: ts_init.value(i),
                    stream: stream.value(i).to_string(),
                    reason,
                })
            })
            .collect()
    }
}
