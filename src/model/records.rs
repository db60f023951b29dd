//! Row records of the tables (docs/formats.md#tables) and their Arrow form. Timestamps are UTC nanoseconds; venues
//! speak milliseconds and parsers convert at the edge with [`ms_to_ns`].

use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, StringBuilder, TimestampNanosecondBuilder, UInt16Builder,
};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::model::symbol::InstrumentRef;
use crate::model::venue::Venue;

pub const NANOS_PER_MILLI: i64 = 1_000_000;

pub fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(NANOS_PER_MILLI)
}

/// Current wall-clock time in UTC nanoseconds, truncated to whole microseconds (the `ts_init` of live snapshots).
/// The column stays nanoseconds as NautilusTrader wants, but whole microseconds convert to Python `datetime`
/// without loss, so `table.to_pylist()` works without pandas; the clock is not finer than that anyway.
pub fn now_ns() -> i64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64);
    micros.unwrap_or(0) * 1_000
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenInterest {
    pub venue: Venue,
    pub symbol: String,
    pub instrument_id: String,
    pub ts_event: i64,
    pub ts_init: i64,
    /// Base units (contracts are converted by the parser where a venue counts contracts).
    pub open_interest: f64,
    /// Quote units, only when the venue states it.
    pub open_interest_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FundingRate {
    pub venue: Venue,
    pub symbol: String,
    pub instrument_id: String,
    pub ts_event: i64,
    pub ts_init: i64,
    /// Per funding interval, as the venue states it (not annualised, not rescaled to 8 h).
    pub funding_rate: f64,
    pub interval_minutes: Option<u16>,
    pub next_funding_time: Option<i64>,
    pub mark_price: Option<f64>,
    pub index_price: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Liquidation {
    pub venue: Venue,
    pub symbol: String,
    pub instrument_id: String,
    pub ts_event: i64,
    pub ts_init: i64,
    /// `SELL` = a long was liquidated, `BUY` = a short.
    pub side: Side,
    pub price: f64,
    pub quantity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// What every row has: the identifying columns every table starts with and its two timestamps.
pub trait Row {
    fn venue(&self) -> Venue;
    fn symbol(&self) -> &str;
    fn instrument_id(&self) -> &str;
    fn ts_event(&self) -> i64;
    fn ts_init(&self) -> i64;
}

macro_rules! row {
    ($($ty:ty),*) => {$(
        impl Row for $ty {
            fn venue(&self) -> Venue {
                self.venue
            }
            fn symbol(&self) -> &str {
                &self.symbol
            }
            fn instrument_id(&self) -> &str {
                &self.instrument_id
            }
            fn ts_event(&self) -> i64 {
                self.ts_event
            }
            fn ts_init(&self) -> i64 {
                self.ts_init
            }
        }
    )*};
}
/// An interval in which a subscribed liquidation stream was not delivering, so events of it may be missing.
/// `ts_event` is the first instant not covered (the last sign of life of the old connection), `ts_init` the instant
/// delivery resumed (the new subscription was acknowledged) or, for `shutdown`, when the stream was closed.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamGap {
    pub venue: Venue,
    /// The unified symbol of the stream, or [`ALL_MARKET_SYMBOL`] for a whole-market stream.
    pub symbol: String,
    pub instrument_id: String,
    pub ts_event: i64,
    pub ts_init: i64,
    /// The venue's stream or topic name (`btcusdt@forceOrder`, `allLiquidation.BTCUSDT`, `userFillsByTime 0x…`).
    pub stream: String,
    pub reason: GapReason,
}

/// The `symbol` of gap rows of a whole-market stream (Binance `!forceOrder@arr`); its instrument id is
/// `ALL.<VENUE>`.
pub const ALL_MARKET_SYMBOL: &str = "ALL";

/// Why a stream was not delivering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// Before the first subscription was acknowledged (only recorded when a start was attempted and failed).
    ConnectFailure,
    /// Neither data nor a pong arrived within the idle timeout: the connection was presumed dead and replaced.
    IdleTimeout,
    /// The venue (or the network) closed the connection.
    ServerClose,
    /// The venue refused or did not acknowledge a subscription.
    Resubscribe,
    /// The consumer fell behind and the oldest undelivered events were dropped from its queue.
    Overflow,
    /// The daemon was not running: from the last status it wrote before it stopped (or was killed) to the
    /// start of the next run's streams.
    Shutdown,
    /// A scheduled snapshot (open interest, funding) of the daemon still failed when its interval ended.
    PollFailure,
}

impl GapReason {
    pub const ALL: [GapReason; 7] = [
        GapReason::ConnectFailure,
        GapReason::IdleTimeout,
        GapReason::ServerClose,
        GapReason::Resubscribe,
        GapReason::Overflow,
        GapReason::Shutdown,
        GapReason::PollFailure,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            GapReason::ConnectFailure => "connect_failure",
            GapReason::IdleTimeout => "idle_timeout",
            GapReason::ServerClose => "server_close",
            GapReason::Resubscribe => "resubscribe",
            GapReason::Overflow => "overflow",
            GapReason::Shutdown => "shutdown",
            GapReason::PollFailure => "poll_failure",
        }
    }

    pub fn parse(text: &str) -> Option<GapReason> {
        GapReason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

row!(OpenInterest, FundingRate, Liquidation, StreamGap);

/// The kinds of data a history fetch returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    OpenInterest,
    FundingRate,
}

/// Rows of one history page batch, by kind: what a history hands to its store.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryRows {
    OpenInterest(Vec<OpenInterest>),
    FundingRate(Vec<FundingRate>),
}

/// A row a history fetch returns (open interest, funding rates): its kind, its table form, and how it travels to a
/// history store, so that `fetch` needs nothing of `store`.
pub trait HistoryRow: Row + Clone + Send + Sync + 'static {
    const KIND: HistoryKind;
    fn to_table(rows: &[Self]) -> RecordBatch;
    fn into_history_rows(rows: Vec<Self>) -> HistoryRows;
}

impl HistoryRow for OpenInterest {
    const KIND: HistoryKind = HistoryKind::OpenInterest;
    fn to_table(rows: &[Self]) -> RecordBatch {
        open_interest_batch(rows)
    }
    fn into_history_rows(rows: Vec<Self>) -> HistoryRows {
        HistoryRows::OpenInterest(rows)
    }
}

impl HistoryRow for FundingRate {
    const KIND: HistoryKind = HistoryKind::FundingRate;
    fn to_table(rows: &[Self]) -> RecordBatch {
        funding_rate_batch(rows)
    }
    fn into_history_rows(rows: Vec<Self>) -> HistoryRows {
        HistoryRows::FundingRate(rows)
    }
}

impl InstrumentRef {
    /// A funding row of this instrument; interval, next funding time and prices are filled by the caller where the
    /// venue states them.
    pub fn funding_rate(&self, ts_event: i64, ts_init: i64, funding_rate: f64) -> FundingRate {
        FundingRate {
            venue: self.venue,
            symbol: self.symbol.clone(),
            instrument_id: self.instrument_id.clone(),
            ts_event,
            ts_init,
            funding_rate,
            interval_minutes: None,
            next_funding_time: None,
            mark_price: None,
            index_price: None,
        }
    }

    pub fn liquidation(
        &self,
        ts_event: i64,
        ts_init: i64,
        side: Side,
        price: f64,
        quantity: f64,
    ) -> Liquidation {
        Liquidation {
            venue: self.venue,
            symbol: self.symbol.clone(),
            instrument_id: self.instrument_id.clone(),
            ts_event,
            ts_init,
            side,
            price,
            quantity,
        }
    }

    pub fn open_interest(
        &self,
        ts_event: i64,
        ts_init: i64,
        open_interest: f64,
        value: Option<f64>,
    ) -> OpenInterest {
        OpenInterest {
            venue: self.venue,
            symbol: self.symbol.clone(),
            instrument_id: self.instrument_id.clone(),
            ts_event,
            ts_init,
            open_interest,
            open_interest_value: value,
        }
    }
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn identity_fields() -> Vec<Field> {
    vec![
        Field::new("venue", DataType::Utf8, false),
        Field::new("symbol", DataType::Utf8, false),
        Field::new("instrument_id", DataType::Utf8, false),
        Field::new("ts_event", timestamp_type(), false),
        Field::new("ts_init", timestamp_type(), false),
    ]
}

fn schema_with(extra: Vec<Field>) -> SchemaRef {
    let mut fields = identity_fields();
    fields.extend(extra);
    Arc::new(Schema::new(fields))
}

pub fn open_interest_schema() -> SchemaRef {
    schema_with(vec![
        Field::new("open_interest", DataType::Float64, false),
        Field::new("open_interest_value", DataType::Float64, true),
    ])
}

pub fn funding_rate_schema() -> SchemaRef {
    schema_with(vec![
        Field::new("funding_rate", DataType::Float64, false),
        Field::new("interval_minutes", DataType::UInt16, true),
        Field::new("next_funding_time", timestamp_type(), true),
        Field::new("mark_price", DataType::Float64, true),
        Field::new("index_price", DataType::Float64, true),
    ])
}

pub fn liquidation_schema() -> SchemaRef {
    schema_with(vec![
        Field::new("side", DataType::Utf8, false),
        Field::new("price", DataType::Float64, false),
        Field::new("quantity", DataType::Float64, false),
    ])
}

pub fn stream_gap_schema() -> SchemaRef {
    schema_with(vec![
        Field::new("stream", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ])
}

fn identity_columns<R: Row>(rows: &[R]) -> Vec<ArrayRef> {
    let mut venue = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
    let mut symbol = StringBuilder::with_capacity(rows.len(), rows.len() * 12);
    let mut instrument = StringBuilder::with_capacity(rows.len(), rows.len() * 20);
    let mut ts_event = Vec::with_capacity(rows.len());
    let mut ts_init = Vec::with_capacity(rows.len());
    for row in rows {
        venue.append_value(row.venue().as_str());
        symbol.append_value(row.symbol());
        instrument.append_value(row.instrument_id());
        ts_event.push(row.ts_event());
        ts_init.push(row.ts_init());
    }
    vec![
        Arc::new(venue.finish()),
        Arc::new(symbol.finish()),
        Arc::new(instrument.finish()),
        Arc::new(TimestampNanosecondArray::from(ts_event).with_timezone("UTC")),
        Arc::new(TimestampNanosecondArray::from(ts_init).with_timezone("UTC")),
    ]
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    // Columns are built from the same rows in schema order, so a mismatch is a bug in this file.
    RecordBatch::try_new(schema, columns).expect("record columns match their schema")
}

pub fn open_interest_batch(rows: &[OpenInterest]) -> RecordBatch {
    let mut columns = identity_columns(rows);
    columns.push(Arc::new(
        rows.iter()
            .map(|r| r.open_interest)
            .collect::<Float64Array>(),
    ));
    let mut value = Float64Builder::with_capacity(rows.len());
    value.extend(rows.iter().map(|r| r.open_interest_value));
    columns.push(Arc::new(value.finish()));
    batch(open_interest_schema(), columns)
}

pub fn funding_rate_batch(rows: &[FundingRate]) -> RecordBatch {
    let mut columns = identity_columns(rows);
    columns.push(Arc::new(
        rows.iter()
            .map(|r| r.funding_rate)
            .collect::<Float64Array>(),
    ));
    let mut interval = UInt16Builder::with_capacity(rows.len());
    interval.extend(rows.iter().map(|r| r.interval_minutes));
    columns.push(Arc::new(interval.finish()));
    let mut next = TimestampNanosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
    next.extend(rows.iter().map(|r| r.next_funding_time));
    columns.push(Arc::new(next.finish()));
    let mut mark = Float64Builder::with_capacity(rows.len());
    mark.extend(rows.iter().map(|r| r.mark_price));
    columns.push(Arc::new(mark.finish()));
    let mut index = Float64Builder::with_capacity(rows.len());
    index.extend(rows.iter().map(|r| r.index_price));
    columns.push(Arc::new(index.finish()));
    batch(funding_rate_schema(), columns)
}

pub fn liquidation_batch(rows: &[Liquidation]) -> RecordBatch {
    let mut columns = identity_columns(rows);
    let mut side = StringBuilder::with_capacity(rows.len(), rows.len() * 4);
    rows.iter().for_each(|r| side.append_value(r.side.as_str()));
    columns.push(Arc::new(side.finish()));
    columns.push(Arc::new(
        rows.iter().map(|r| r.price).collect::<Float64Array>(),
    ));
    columns.push(Arc::new(
        rows.iter().map(|r| r.quantity).collect::<Float64Array>(),
    ));
    batch(liquidation_schema(), columns)
}

pub fn stream_gap_batch(rows: &[StreamGap]) -> RecordBatch {
    let mut columns = identity_columns(rows);
    let mut stream = StringBuilder::with_capacity(rows.len(), rows.len() * 20);
    let mut reason = StringBuilder::with_capacity(rows.len(), rows.len() * 12);
    for row in rows {
        stream.append_value(&row.stream);
        reason.append_value(row.reason.as_str());
    }
    columns.push(Arc::new(stream.finish()));
    columns.push(Arc::new(reason.finish()));
    batch(stream_gap_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, TimestampNanosecondType, UInt16Type};

    fn sample_funding() -> FundingRate {
        FundingRate {
            venue: Venue::Bybit,
            symbol: "BTCUSDT-PERP".into(),
            instrument_id: "BTCUSDT-LINEAR.BYBIT".into(),
            ts_event: ms_to_ns(1_672_376_496_682),
            ts_init: ms_to_ns(1_672_376_496_700),
            funding_rate: -0.001034,
            interval_minutes: Some(480),
            next_funding_time: None,
            mark_price: Some(16596.0),
            index_price: None,
        }
    }

    #[test]
    fn schemas_follow_design_column_order() {
        let names = |s: SchemaRef| {
            s.fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            names(open_interest_schema()),
            "venue,symbol,instrument_id,ts_event,ts_init,open_interest,open_interest_value"
        );
        assert_eq!(
            names(funding_rate_schema()),
            "venue,symbol,instrument_id,ts_event,ts_init,funding_rate,interval_minutes,next_funding_time,mark_price,index_price"
        );
        assert_eq!(
            names(liquidation_schema()),
            "venue,symbol,instrument_id,ts_event,ts_init,side,price,quantity"
        );
        assert_eq!(
            *funding_rate_schema().field(3).data_type(),
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
    }

    #[test]
    fn funding_batch_keeps_values_and_nulls() {
        let batch = funding_rate_batch(&[sample_funding()]);
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "bybit");
        assert_eq!(
            batch
                .column(3)
                .as_primitive::<TimestampNanosecondType>()
                .value(0),
            1_672_376_496_682_000_000
        );
        assert_eq!(
            batch.column(5).as_primitive::<Float64Type>().value(0),
            -0.001034
        );
        assert_eq!(batch.column(6).as_primitive::<UInt16Type>().value(0), 480);
        assert!(batch.column(7).is_null(0));
        assert!(batch.column(9).is_null(0));
    }

    #[test]
    fn now_is_whole_microseconds() {
        let now = now_ns();
        assert_eq!(now % 1_000, 0);
        assert!(now > 1_700_000_000_000_000_000);
    }

    #[test]
    fn empty_batches_have_the_schema() {
        assert_eq!(open_interest_batch(&[]).schema(), open_interest_schema());
        assert_eq!(liquidation_batch(&[]).num_rows(), 0);
        assert_eq!(stream_gap_batch(&[]).schema(), stream_gap_schema());
    }

    #[test]
    fn gap_reasons_round_trip_by_name() {
        for reason in GapReason::ALL {
            assert_eq!(GapReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(GapReason::parse("timeout"), None);
    }
}
