//! Records, Arrow schemas, unified symbols, instrument ids and errors. No I/O.

pub mod error;
pub mod records;
pub mod symbol;
pub mod time;
pub mod venue;

pub use error::{PipelineError, Result};
pub use records::{
    FundingRate, GapReason, HistoryKind, HistoryRow, HistoryRows, Liquidation, OpenInterest, Side,
    StreamGap,
};
pub use symbol::{InstrumentRef, UnifiedSymbol};
pub use venue::{SymbolStyle, Venue, VenueFacts};
