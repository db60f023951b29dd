//! The store as the destination of liquidation streams and of histories.

use crate::fetch::HistoryStore;
use crate::model::{
    HistoryKind, HistoryRows, InstrumentRef, Liquidation, Result, StreamGap, Venue,
};
use crate::store::{Kind, ParquetStore};
use crate::stream::LiquidationSink;

impl LiquidationSink for ParquetStore {
    fn write_liquidations(&self, rows: &[Liquidation]) -> Result<()> {
        self.write(rows).map(|_| ())
    }

    fn write_gaps(&self, gaps: &[StreamGap]) -> Result<()> {
        self.write(gaps).map(|_| ())
    }

    fn newest_liquidation_ns(&self, venue: Venue) -> Result<Option<i64>> {
        let mut newest = None;
        for instrument_id in self.instruments(Kind::Liquidation, None)? {
            if InstrumentRef::from_instrument_id(&instrument_id)
                .is_ok_and(|inst| inst.venue == venue)
            {
                newest = newest.max(self.last_timestamp(Kind::Liquidation, &instrument_id)?);
            }
        }
        Ok(newest)
    }
}

impl From<HistoryKind> for Kind {
    fn from(kind: HistoryKind) -> Kind {
        match kind {
            HistoryKind::OpenInterest => Kind::OpenInterest,
            HistoryKind::FundingRate => Kind::FundingRate,
        }
    }
}

impl HistoryStore for ParquetStore {
    fn uncovered(
        &self,
        dataset: &str,
        instrument_id: &str,
        (start, end): (i64, i64),
    ) -> Option<(i64, i64)> {
        self.read_coverage(dataset, instrument_id)
            .uncovered(start, end)
    }

    fn gap_free_run(
        &self,
        kind: HistoryKind,
        instrument_id: &str,
        window: (i64, i64),
        step: i64,
    ) -> Result<Option<i64>> {
        ParquetStore::gap_free_run(self, kind.into(), instrument_id, window, step)
    }

    fn record_coverage(
        &self,
        dataset: &str,
        instrument_id: &str,
        range: Option<(i64, i64)>,
        first_available_ms: Option<i64>,
    ) -> Result<()> {
        ParquetStore::record_coverage(self, dataset, instrument_id, range, first_available_ms)
    }

    fn write_history(&self, rows: HistoryRows) -> Result<usize> {
        let summary = match rows {
            HistoryRows::OpenInterest(rows) => self.write(&rows)?,
            HistoryRows::FundingRate(rows) => self.write(&rows)?,
        };
        Ok(summary.rows_added)
    }

    fn pending_write(&self) -> Box<dyn Send> {
        Box::new(ParquetStore::pending_write(self))
    }
}
