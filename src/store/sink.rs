//! The store as the destination of liquidation streams.

use crate::model::{InstrumentRef, Liquidation, Result, StreamGap, Venue};
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
