//! The Parquet store in the NautilusTrader catalog layout (DESIGN §4):
//! `<root>/data/<kind folder>/<INSTRUMENT_ID>/<start>_<end>.parquet`, one file per instrument per UTC day.
//!
//! Guarantees and how they are kept:
//! - atomic: a file is written under a hidden temporary name, fsynced and renamed over its final name, and the
//!   folder is fsynced; a reader sees the old or the new file, never a torn one;
//! - de-duplicated on (instrument, `ts_event`) for OI and funding (the first stored row wins, so re-runs change
//!   nothing) and on the whole row for liquidations, across separate writes;
//! - one writer at a time: writes and compaction hold an exclusive lock on `<root>/.ccxt_pipeline.lock`, so a
//!   second process waits instead of interleaving, and every write re-reads the day it merges into under the lock;
//! - a flush rewrites only the days it touches (today's file), so it costs O(new rows + that file);
//! - reads open only the files whose interval (from the file name) intersects the range, and the last timestamp
//!   comes from the newest file's footer statistics, without reading data pages;
//! - instrument ids are checked (known venue suffix, letters and digits only) before they become folder names.

mod codec;
mod files;
mod sink;

pub use codec::{Kind, StoredRow};

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use crate::model::{
    FundingRate, InstrumentRef, Liquidation, OpenInterest, PipelineError, Result, UnifiedSymbol,
    Venue,
};
use files::{DataFile, StoreLock};

/// Rows of one kind read back from the store, in table form (DESIGN §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive bounds on `ts_init` (ns); `None` = unbounded. For REST history rows `ts_init = ts_event`.
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl TimeRange {
    fn contains(&self, ts: i64) -> bool {
        self.start.is_none_or(|s| ts >= s) && self.end.is_none_or(|e| ts <= e)
    }

    fn intersects(&self, first: i64, last: i64) -> bool {
        self.start.is_none_or(|s| last >= s) && self.end.is_none_or(|e| first <= e)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Rows that were not in the store before.
    pub rows_added: usize,
    /// Rows given that the store already had (same key).
    pub rows_duplicate: usize,
    pub files_written: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub kind: Kind,
    pub instrument_id: String,
    pub files: usize,
    pub rows: u64,
    /// `ts_init` of the first and last row (ns).
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactSummary {
    pub files_before: usize,
    pub files_after: usize,
    pub stale_temp_files_removed: usize,
}

#[derive(Debug, Clone)]
pub struct ParquetStore {
    root: PathBuf,
}

impl ParquetStore {
    /// Opens (creating if needed) a store at `root`. An unusable root is a `Store` error naming the path.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        files::create_dir_all(&root.join("data"))?;
        Ok(ParquetStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn kind_dir(&self, kind: Kind) -> PathBuf {
        self.root.join("data").join(kind.folder())
    }

    fn instrument_dir(&self, kind: Kind, instrument_id: &str) -> Result<PathBuf> {
        // Parsing rejects anything that is not `<letters/digits><venue suffix>`: no separators, no `..`.
        InstrumentRef::from_instrument_id(instrument_id)?;
        Ok(self.kind_dir(kind).join(instrument_id))
    }

    /// Writes a table in DESIGN §3 form (any of the three kinds).
    pub fn write_batches(&self, batches: &[RecordBatch]) -> Result<WriteSummary> {
        let Some(first) = batches.first() else {
            return Ok(WriteSummary::default());
        };
        match Kind::of_table(first.schema().as_ref())? {
            Kind::OpenInterest => self.write(&rows_of::<OpenInterest>(batches)?),
            Kind::FundingRate => self.write(&rows_of::<FundingRate>(batches)?),
            Kind::Liquidation => self.write(&rows_of::<Liquidation>(batches)?),
        }
    }

    /// Merges `rows` into the store: per instrument and UTC day of `ts_init`, under the store lock.
    pub fn write<R: StoredRow>(&self, rows: &[R]) -> Result<WriteSummary> {
        let mut groups: BTreeMap<(&str, i64), Vec<R>> = BTreeMap::new();
        for row in rows {
            let (day_start, _) = crate::model::time::utc_day_bounds(row.ts_init());
            groups
                .entry((row.instrument_id(), day_start))
                .or_default()
                .push(row.clone());
        }
        let mut summary = WriteSummary::default();
        if groups.is_empty() {
            return Ok(summary);
        }
        let _lock = StoreLock::acquire(&self.root)?;
        for ((instrument_id, day_start), new_rows) in groups {
            let dir = self.instrument_dir(R::KIND, instrument_id)?;
            files::create_dir_all(&dir)?;
            files::remove_stale_temp_files(&dir)?;
            let (added, duplicate) =
                self.merge_into_day::<R>(&dir, instrument_id, day_start, new_rows)?;
            summary.rows_added += added;
            summary.rows_duplicate += duplicate;
            summary.files_written += usize::from(added > 0);
        }
        tracing::debug!(
            kind = R::KIND.name(),
            rows_added = summary.rows_added,
            files = summary.files_written,
            "store write"
        );
        Ok(summary)
    }

    /// Merges `new_rows` (all in the UTC day starting at `day_start`) with whatever the folder holds for that
    /// day, and replaces those files with one. Returns (rows added, duplicates skipped).
    fn merge_into_day<R: StoredRow>(
        &self,
        dir: &Path,
        instrument_id: &str,
        day_start: i64,
        new_rows: Vec<R>,
    ) -> Result<(usize, usize)> {
        let day = (day_start, day_start + crate::model::time::NANOS_PER_DAY - 1);
        let listed = DataFile::list(dir)?;
        // The target interval grows to cover every file it overlaps (files from other writers may span days),
        // so the folder never holds overlapping intervals.
        let mut interval = day;
        let mut merged: Vec<&DataFile> = Vec::new();
        loop {
            let before = merged.len();
            merged = listed
                .iter()
                .filter(|f| f.start <= interval.1 && f.end >= interval.0)
                .collect();
            for f in &merged {
                interval = (interval.0.min(f.start), interval.1.max(f.end));
            }
            if merged.len() == before {
                break;
            }
        }
        let inst = InstrumentRef::from_instrument_id(instrument_id)?;
        let mut rows: Vec<R> = Vec::new();
        for file in &merged {
            rows.extend(file.read::<R>(&inst, &TimeRange::default())?);
        }
        let existing = rows.len();
        let mut seen: HashSet<R::Key> = rows.iter().map(R::key).collect();
        let given = new_rows.len();
        rows.extend(new_rows.into_iter().filter(|r| seen.insert(r.key())));
        let added = rows.len() - existing;
        let target = dir.join(files::file_name(interval.0, interval.1));
        // Nothing new and already one file under its own name: leave it untouched (no rewrite, no empty file).
        let unchanged =
            added == 0 && (merged.is_empty() || (merged.len() == 1 && merged[0].path == target));
        if unchanged {
            return Ok((0, given));
        }
        rows.sort_by_key(|r| (r.ts_init(), r.ts_event()));
        files::write_atomically(&target, &R::to_disk(&rows, instrument_id))?;
        for old in merged.iter().filter(|f| f.path != target) {
            files::remove_file(&old.path)?;
        }
        Ok((added, given - added))
    }

    /// Rows of `kind` for the given instruments (all when `None`) with `ts_init` in `range`, sorted by instrument
    /// then `ts_init`. Also returns how many files were opened.
    pub fn read<R: StoredRow>(
        &self,
        instrument_ids: Option<&[String]>,
        range: &TimeRange,
    ) -> Result<(Vec<R>, usize)> {
        let mut rows = Vec::new();
        let mut opened = 0;
        for instrument_id in self.instruments(R::KIND, instrument_ids)? {
            let inst = InstrumentRef::from_instrument_id(&instrument_id)?;
            // `inst` parsed, so the id is safe as a folder name.
            let dir = self.kind_dir(R::KIND).join(&instrument_id);
            let (folder_rows, folder_opened) = self.read_folder::<R>(&dir, &inst, range)?;
            rows.extend(folder_rows);
            opened += folder_opened;
        }
        Ok((rows, opened))
    }

    /// Reads without the lock: files are replaced atomically, but a compaction may remove a file between listing
    /// and opening; then the folder is listed again.
    fn read_folder<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        range: &TimeRange,
    ) -> Result<(Vec<R>, usize)> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        'listing: loop {
            let (mut rows, mut opened) = (Vec::new(), 0);
            let listed: Vec<DataFile> = DataFile::list(dir)?
                .into_iter()
                .filter(|f| range.intersects(f.start, f.end))
                .collect();
            // Overlapping intervals exist only between a merge's rename and its removal of the replaced files:
            // the rows are then in both, so keep each once.
            let overlapping = listed.windows(2).any(|pair| pair[1].start <= pair[0].end);
            for file in &listed {
                opened += 1;
                match file.read::<R>(inst, range) {
                    Ok(file_rows) => rows.extend(file_rows),
                    Err(_) if attempt < ATTEMPTS && !file.path.exists() => {
                        attempt += 1;
                        continue 'listing;
                    }
                    Err(e) => return Err(e),
                }
            }
            if overlapping {
                let mut seen = HashSet::new();
                rows.retain(|r: &R| seen.insert(r.key()));
                rows.sort_by_key(|r| (r.ts_init(), r.ts_event()));
            }
            return Ok((rows, opened));
        }
    }

    /// Instrument folders present for `kind`, restricted to `wanted` when given; in venue order (as fetches
    /// return rows), then by id.
    fn instruments(&self, kind: Kind, wanted: Option<&[String]>) -> Result<Vec<String>> {
        let mut present = files::list_dirs(&self.kind_dir(kind))?;
        present.sort_by_cached_key(|id| {
            (
                InstrumentRef::from_instrument_id(id).map(|i| i.venue).ok(),
                id.clone(),
            )
        });
        Ok(match wanted {
            None => present,
            Some(wanted) => {
                for id in wanted {
                    InstrumentRef::from_instrument_id(id)?;
                }
                present.into_iter().filter(|p| wanted.contains(p)).collect()
            }
        })
    }

    /// Instrument folders of `kind` on `venues` (all when `None`) and for `symbol` (any form users type; all
    /// when `None`). An instrument id selects exactly that instrument.
    pub fn select(
        &self,
        kind: Kind,
        venues: Option<&[Venue]>,
        symbol: Option<&str>,
    ) -> Result<Vec<String>> {
        let wanted: Option<Vec<String>> = match symbol {
            None => None,
            Some(symbol) => Some(match InstrumentRef::from_instrument_id(symbol.trim()) {
                Ok(inst) => vec![inst.instrument_id],
                Err(_) => {
                    let unified = UnifiedSymbol::parse(symbol)?;
                    Venue::ALL
                        .iter()
                        .map(|v| unified.instrument_id(*v))
                        .collect()
                }
            }),
        };
        Ok(self
            .instruments(kind, wanted.as_deref())?
            .into_iter()
            .filter(|id| {
                venues.is_none_or(|vs| {
                    InstrumentRef::from_instrument_id(id).is_ok_and(|i| vs.contains(&i.venue))
                })
            })
            .collect())
    }

    /// [`Self::read`] for a kind chosen at run time, as a table in DESIGN §3 form; also the files opened.
    pub fn read_table(
        &self,
        kind: Kind,
        instrument_ids: &[String],
        range: &TimeRange,
    ) -> Result<(RecordBatch, usize)> {
        fn table<R: StoredRow>(
            store: &ParquetStore,
            ids: &[String],
            range: &TimeRange,
        ) -> Result<(RecordBatch, usize)> {
            let (rows, opened) = store.read::<R>(Some(ids), range)?;
            Ok((R::to_table(&rows), opened))
        }
        match kind {
            Kind::OpenInterest => table::<OpenInterest>(self, instrument_ids, range),
            Kind::FundingRate => table::<FundingRate>(self, instrument_ids, range),
            Kind::Liquidation => table::<Liquidation>(self, instrument_ids, range),
        }
    }

    /// Largest `ts_event` stored for the instrument, from the newest file's footer statistics (no data read).
    pub fn last_timestamp(&self, kind: Kind, instrument_id: &str) -> Result<Option<i64>> {
        let dir = self.instrument_dir(kind, instrument_id)?;
        match DataFile::list(&dir)?.last() {
            Some(file) => file.max_ts_event(),
            None => Ok(None),
        }
    }

    /// Every dataset with its file count, row count (from footers) and first/last `ts_init`.
    pub fn summary(&self) -> Result<Vec<DatasetSummary>> {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            for instrument_id in self.instruments(kind, None)? {
                let listed = DataFile::list(&self.kind_dir(kind).join(&instrument_id))?;
                let mut rows = 0;
                let (mut first_ts, mut last_ts) = (None, None);
                for file in &listed {
                    let stats = file.footer_stats()?;
                    rows += stats.rows;
                    first_ts = first_ts.or(stats.min_ts_init);
                    last_ts = stats.max_ts_init.or(last_ts);
                }
                out.push(DatasetSummary {
                    kind,
                    instrument_id,
                    files: listed.len(),
                    rows,
                    first_ts,
                    last_ts,
                });
            }
        }
        Ok(out)
    }

    /// Merges files that share a UTC day into one file per day and clears temporary files left by killed
    /// writers. Each merge is atomic like a write; rows are de-duplicated as on write.
    pub fn compact(&self) -> Result<CompactSummary> {
        let _lock = StoreLock::acquire(&self.root)?;
        let mut summary = CompactSummary::default();
        for kind in Kind::ALL {
            for instrument_id in self.instruments(kind, None)? {
                let dir = self.kind_dir(kind).join(&instrument_id);
                summary.stale_temp_files_removed += files::remove_stale_temp_files(&dir)?;
                let before = DataFile::list(&dir)?.len();
                match kind {
                    Kind::OpenInterest => {
                        self.compact_folder::<OpenInterest>(&dir, &instrument_id)?
                    }
                    Kind::FundingRate => {
                        self.compact_folder::<FundingRate>(&dir, &instrument_id)?
                    }
                    Kind::Liquidation => {
                        self.compact_folder::<Liquidation>(&dir, &instrument_id)?
                    }
                }
                summary.files_before += before;
                summary.files_after += DataFile::list(&dir)?.len();
            }
        }
        Ok(summary)
    }

    fn compact_folder<R: StoredRow>(&self, dir: &Path, instrument_id: &str) -> Result<()> {
        let listed = DataFile::list(dir)?;
        let mut days: BTreeMap<i64, usize> = BTreeMap::new();
        for f in &listed {
            *days
                .entry(crate::model::time::utc_day_bounds(f.start).0)
                .or_default() += 1;
        }
        for (day_start, count) in days {
            if count > 1 {
                // Merging nothing new into the day rewrites its files as one.
                self.merge_into_day::<R>(dir, instrument_id, day_start, Vec::new())?;
            }
        }
        Ok(())
    }
}

fn rows_of<R: StoredRow>(batches: &[RecordBatch]) -> Result<Vec<R>> {
    let mut rows = Vec::new();
    for batch in batches {
        if Kind::of_table(batch.schema().as_ref())? != R::KIND {
            return Err(PipelineError::InvalidArgument(
                "all batches of one write must be of one kind".into(),
            ));
        }
        rows.extend(R::from_table(batch)?);
    }
    Ok(rows)
}
