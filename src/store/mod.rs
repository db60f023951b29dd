//! The Parquet store in the NautilusTrader catalog layout (docs/formats.md#on-disk-catalog):
//! `<root>/data/<kind folder>/<INSTRUMENT_ID>/<start>_<end>.parquet`, one file per instrument per UTC day.
//!
//! Guarantees and how they are kept:
//! - atomic: a file is written under a hidden temporary name, fsynced and renamed over its final name, and the
//!   folder is fsynced; a reader sees the old or the new file, never a torn one;
//! - de-duplicated on (instrument, `ts_event`) for OI and funding (the first stored row wins, so re-runs change
//!   nothing), on (instrument, `ts_event`, side, price, quantity) for liquidations (one event received on two
//!   connections is kept once) and on the whole row for stream gaps; across separate writes and across files: a
//!   write also checks the other days' files whose footer `ts_event` range holds its rows' `ts_event`;
//! - one writer at a time: writes and compaction hold an exclusive lock on `<root>/.ccxt_pipeline.lock` (holding
//!   the writer's PID), so a second process waits instead of interleaving, says after a moment who holds the lock,
//!   optionally gives up after a timeout, and every write re-reads the day it merges into under the lock;
//! - readers take no lock and write nothing, so a read-only store is readable;
//! - a flush rewrites only the days it touches (today's file), so it costs O(new rows + that file);
//! - reads open only the files whose interval (from the file name) intersects the range, and the last timestamp
//!   comes from the newest file's footer statistics, without reading data pages;
//! - storable timestamps are [`MIN_TIMESTAMP`] (1970-01-01) to [`MAX_TIMESTAMP`] (2262-04-10T23:59:59.999999999Z);
//!   a row outside is refused before anything is written, and all file-name arithmetic is checked;
//! - an unreadable data file (zero bytes, truncated, not Parquet, foreign schema) never takes the dataset down:
//!   reads skip it with a warning naming it, and a write into its day (or `compact`) moves it to
//!   `<root>/quarantine/<kind folder>/<INSTRUMENT_ID>/`; foreign files and folders are ignored with a warning;
//! - instrument ids are checked (known venue suffix, letters and digits only; `ALL.<VENUE>` for whole-market
//!   stream gaps) before they become folder names.

mod codec;
mod coverage;
mod files;
mod sink;

pub use codec::{
    check_timestamp, iso, parse_instrument, whole_market, whole_market_of, Kind, StoredRow,
    MAX_TIMESTAMP, MIN_TIMESTAMP,
};
pub use coverage::{Coverage, COVERAGE_DIR};
pub use files::{WaitCheck, LOCK_FILE, LOCK_WAIT_NOTICE, QUARANTINE};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arrow_array::RecordBatch;

use crate::model::{
    FundingRate, InstrumentRef, Liquidation, OpenInterest, PipelineError, Result, StreamGap,
    UnifiedSymbol, Venue,
};
use files::{DataFile, FileError, FooterStats, StoreLock};

/// Rows of one kind read back from the store, in table form (docs/formats.md#tables).
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
    /// Rows given that the store already had (same key), or that the write itself repeated.
    pub rows_duplicate: usize,
    pub files_written: usize,
    /// Unreadable files found in the days written and moved to the quarantine folder (their new paths).
    pub quarantined: Vec<PathBuf>,
}

/// What a read returned and what it had to leave out.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadReport<R> {
    pub rows: Vec<R>,
    pub files_opened: usize,
    /// Unreadable files in the range, skipped (each also logged as a warning).
    pub skipped: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub kind: Kind,
    pub instrument_id: String,
    /// Readable data files.
    pub files: usize,
    pub rows: u64,
    /// `ts_init` of the first and last row (ns).
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Data files whose footer cannot be read (skipped by reads; the next write into their day or `compact`
    /// quarantines them).
    pub corrupt: Vec<PathBuf>,
    /// Files of this dataset already moved to `<root>/quarantine/`.
    pub quarantined: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactSummary {
    pub files_before: usize,
    pub files_after: usize,
    pub stale_temp_files_removed: usize,
    /// Rows that an earlier file already held under the same key (e.g. written by an older version on another
    /// day), removed.
    pub duplicates_removed: usize,
    /// Unreadable files moved to the quarantine folder (their new paths).
    pub quarantined: Vec<PathBuf>,
}

/// What identifies one version of a file on disk, so cached footer statistics are never stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

type FooterCache = Mutex<HashMap<PathBuf, (FileStamp, FooterStats)>>;
const FOOTER_CACHE_ENTRIES: usize = 100_000;

#[derive(Clone)]
pub struct ParquetStore {
    root: PathBuf,
    lock_timeout: Option<Duration>,
    wait_check: Option<Arc<WaitCheck>>,
    /// Footer statistics of files already seen, so the cross-day de-duplication check of a flush costs a `stat`
    /// per file, not a footer read.
    footers: Arc<FooterCache>,
    /// Rows added through this store and its clones since it was opened.
    rows_added: Arc<std::sync::atomic::AtomicU64>,
    /// Writes started (or about to start on a blocking thread) and not finished.
    pending_writes: Arc<std::sync::atomic::AtomicUsize>,
}

/// A write in progress on a store; counted until dropped (see [`ParquetStore::wait_for_writes`]).
pub struct PendingWrite(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for PendingWrite {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl std::fmt::Debug for ParquetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetStore")
            .field("root", &self.root)
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

impl ParquetStore {
    /// Opens a store at `root`, creating `<root>/data` if it does not exist yet (an unusable root is then a `Store`
    /// error naming the path). An existing store is opened without writing anything, so a read-only one is
    /// readable; writing to it fails then, clearly.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let data = root.join("data");
        if !data.is_dir() {
            files::create_dir_all(&data)?;
        }
        Ok(ParquetStore {
            root,
            lock_timeout: None,
            wait_check: None,
            footers: Arc::default(),
            rows_added: Arc::default(),
            pending_writes: Arc::default(),
        })
    }

    /// How long a writer waits for another process's lock before giving up with a `Store` error naming the
    /// holder (`None`, the default: wait as long as it takes, logging who holds it).
    pub fn with_lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Called every few tens of milliseconds while a writer waits for the lock; an error ends the wait with it.
    pub fn with_wait_check(mut self, check: Arc<WaitCheck>) -> Self {
        self.wait_check = Some(check);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Rows this store (with its clones: every fetch and stream given it) has added since it was opened, as
    /// written to disk: what an interrupted or partly failed run really stored.
    pub fn rows_added(&self) -> u64 {
        self.rows_added.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Marks a write as under way until the guard is dropped. A caller that hands a write to another thread takes
    /// it first, so that a write still queued when its caller was cancelled (Ctrl+C) is waited for too.
    pub fn pending_write(&self) -> PendingWrite {
        self.pending_writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        PendingWrite(self.pending_writes.clone())
    }

    /// Waits until no write through this store (or its clones) is under way, at most `timeout`; `false` if some
    /// still is. After a cancelled fetch, writes already handed to a blocking thread finish on their own: this
    /// makes [`Self::rows_added`] final.
    pub fn wait_for_writes(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self
                .pending_writes
                .load(std::sync::atomic::Ordering::SeqCst)
                == 0
            {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }

    fn lock(&self) -> Result<StoreLock> {
        StoreLock::acquire(&self.root, self.lock_timeout, self.wait_check.as_deref())
    }

    fn kind_dir(&self, kind: Kind) -> PathBuf {
        self.root.join("data").join(kind.folder())
    }

    fn instrument_dir(&self, kind: Kind, instrument_id: &str) -> Result<PathBuf> {
        // Parsing rejects anything that is not `<letters/digits><venue suffix>` (or `ALL.<VENUE>` for gaps): no
        // separators, no `..`.
        parse_instrument(kind, instrument_id)?;
        Ok(self.kind_dir(kind).join(instrument_id))
    }

    /// Footer statistics, from the cache while the file is unchanged.
    fn footer(&self, kind: Kind, file: &DataFile) -> Result<FooterStats, FileError> {
        let stamp = FileStamp::of(&file.path);
        if let Some(stamp) = stamp {
            let cache = self.footers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((cached, stats)) = cache.get(&file.path) {
                if *cached == stamp {
                    return Ok(*stats);
                }
            }
        }
        let stats = file.footer_stats(kind)?;
        if let Some(stamp) = stamp {
            let mut cache = self.footers.lock().unwrap_or_else(|p| p.into_inner());
            // Entries of replaced files linger; a long-lived process starts over rather than grow without bound.
            if cache.len() >= FOOTER_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(file.path.clone(), (stamp, stats));
        }
        Ok(stats)
    }

    /// Moves an unreadable file out of the dataset (writers only, under the lock), with a warning naming both
    /// places.
    fn quarantine(&self, path: &Path, why: &str, moved: &mut Vec<PathBuf>) -> Result<()> {
        let target = files::quarantine(&self.root, path)?;
        tracing::warn!(
            "moved unreadable data file {} to {} ({why})",
            path.display(),
            target.display()
        );
        moved.push(target);
        Ok(())
    }

    /// Writes a table in table form (docs/formats.md#tables) (any of the four kinds).
    pub fn write_batches(&self, batches: &[RecordBatch]) -> Result<WriteSummary> {
        let Some(first) = batches.first() else {
            return Ok(WriteSummary::default());
        };
        match Kind::of_table(first.schema().as_ref())? {
            Kind::OpenInterest => self.write(&rows_of::<OpenInterest>(batches)?),
            Kind::FundingRate => self.write(&rows_of::<FundingRate>(batches)?),
            Kind::Liquidation => self.write(&rows_of::<Liquidation>(batches)?),
            Kind::Gaps => self.write(&rows_of::<StreamGap>(batches)?),
        }
    }

    /// Stores liquidation-stream gap records (`gaps` kind, folder `custom_stream_gap`).
    pub fn write_gaps(&self, gaps: &[StreamGap]) -> Result<WriteSummary> {
        self.write(gaps)
    }

    /// Merges `rows` into the store: per instrument and UTC day of `ts_init`, under the store lock. Every row is
    /// checked first: one bad row refuses the whole write, before anything is written.
    pub fn write<R: StoredRow>(&self, rows: &[R]) -> Result<WriteSummary> {
        let _pending = self.pending_write();
        let mut summary = WriteSummary::default();
        let mut groups: BTreeMap<&str, BTreeMap<i64, Vec<R>>> = BTreeMap::new();
        let mut seen: HashSet<(&str, R::Key)> = HashSet::new();
        for row in rows {
            row.check()?;
            parse_instrument(R::KIND, row.instrument_id())?;
            let (day_start, _) = files::day_bounds(row.ts_init())?;
            // The key holds across days, so a repeat inside this write is a duplicate wherever it lands.
            if !seen.insert((row.instrument_id(), row.key())) {
                summary.rows_duplicate += 1;
                continue;
            }
            groups
                .entry(row.instrument_id())
                .or_default()
                .entry(day_start)
                .or_default()
                .push(row.clone());
        }
        if groups.is_empty() {
            return Ok(summary);
        }
        let _lock = self.lock()?;
        for (instrument_id, days) in groups {
            let inst = parse_instrument(R::KIND, instrument_id)?;
            let dir = self.instrument_dir(R::KIND, instrument_id)?;
            files::create_dir_all(&dir)?;
            files::remove_stale_temp_files(&dir)?;
            // One pass over the folder for the whole write (not one per day: a backfill page spans many days of
            // a folder of thousands of files). Files this write creates hold only its own, already distinct keys.
            let stored = self.stored_keys_near(
                &dir,
                &inst,
                days.values().flatten(),
                &mut summary.quarantined,
            )?;
            for (day_start, mut new_rows) in days {
                let day = files::day_bounds(day_start)?;
                let given = new_rows.len();
                // Files overlapping the day are merged with it and de-duplicated there.
                new_rows.retain(|r| {
                    !stored.iter().any(|(file, keys)| {
                        (file.start > day.1 || file.end < day.0) && keys.contains(&r.key())
                    })
                });
                summary.rows_duplicate += given - new_rows.len();
                let (added, duplicate) = self.merge_into_day::<R>(
                    &dir,
                    &inst,
                    day_start,
                    new_rows,
                    &mut summary.quarantined,
                )?;
                summary.rows_added += added;
                self.rows_added
                    .fetch_add(added as u64, std::sync::atomic::Ordering::SeqCst);
                summary.rows_duplicate += duplicate;
                summary.files_written += usize::from(added > 0);
            }
        }
        tracing::debug!(
            kind = R::KIND.name(),
            rows_added = summary.rows_added,
            files = summary.files_written,
            "store write"
        );
        Ok(summary)
    }

    /// The keys stored in each file whose footer `ts_event` range meets the `ts_event` range of `new_rows`
    /// (usually only the files of the days being written: a day's rows have that day's event times).
    fn stored_keys_near<'r, R: StoredRow + 'r>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        new_rows: impl Iterator<Item = &'r R> + Clone,
        quarantined: &mut Vec<PathBuf>,
    ) -> Result<Vec<(DataFile, HashSet<R::Key>)>> {
        let mut out = Vec::new();
        let (Some(lo), Some(hi)) = (
            new_rows.clone().map(|r| r.ts_event()).min(),
            new_rows.map(|r| r.ts_event()).max(),
        ) else {
            return Ok(out);
        };
        for file in DataFile::list(dir)? {
            let stats = match self.footer(R::KIND, &file) {
                Ok(stats) => stats,
                Err(FileError::Corrupt(why)) => {
                    self.quarantine(&file.path, &why, quarantined)?;
                    continue;
                }
                Err(FileError::Io(e)) => return Err(e),
            };
            if let (Some(min), Some(max)) = (stats.min_ts_event, stats.max_ts_event) {
                if max < lo || min > hi {
                    continue;
                }
            }
            match file.read::<R>(inst, &TimeRange::default()) {
                Ok(rows) => {
                    let keys = rows
                        .iter()
                        .filter(|r| (lo..=hi).contains(&r.ts_event()))
                        .map(R::key)
                        .collect();
                    out.push((file, keys));
                }
                Err(FileError::Corrupt(why)) => self.quarantine(&file.path, &why, quarantined)?,
                Err(FileError::Io(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Merges `new_rows` (all in the UTC day starting at `day_start`) with whatever the folder holds for that
    /// day, and replaces those files with one; unreadable files of the day are quarantined first. Returns (rows
    /// added, duplicates skipped).
    fn merge_into_day<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        day_start: i64,
        new_rows: Vec<R>,
        quarantined: &mut Vec<PathBuf>,
    ) -> Result<(usize, usize)> {
        let day = files::day_bounds(day_start)?;
        'attempt: loop {
            let listed = DataFile::list(dir)?;
            // The target interval grows to cover every file it overlaps (files from other writers may span
            // days), so the folder never holds overlapping intervals.
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
            let mut rows: Vec<R> = Vec::new();
            for file in &merged {
                match file.read::<R>(inst, &TimeRange::default()) {
                    Ok(file_rows) => rows.extend(file_rows),
                    Err(FileError::Corrupt(why)) => {
                        // Each pass removes one file from the folder, so this ends.
                        self.quarantine(&file.path, &why, quarantined)?;
                        continue 'attempt;
                    }
                    Err(FileError::Io(e)) => return Err(e),
                }
            }
            let mut seen: HashSet<R::Key> = HashSet::with_capacity(rows.len() + new_rows.len());
            let stored = rows.len();
            rows.retain(|r| seen.insert(r.key()));
            let repaired = rows.len() < stored;
            let existing = rows.len();
            let given = new_rows.len();
            rows.extend(new_rows.into_iter().filter(|r| seen.insert(r.key())));
            let added = rows.len() - existing;
            let target = dir.join(files::file_name(interval.0, interval.1)?);
            // Nothing new and already one file under its own name: leave it untouched (no rewrite, no empty
            // file).
            let unchanged = added == 0
                && !repaired
                && (merged.is_empty() || (merged.len() == 1 && merged[0].path == target));
            if unchanged || rows.is_empty() {
                return Ok((0, given));
            }
            rows.sort_by_key(|r| (r.ts_init(), r.ts_event()));
            files::write_atomically(&target, &R::to_disk(&rows, &inst.instrument_id))?;
            for old in merged.iter().filter(|f| f.path != target) {
                files::remove_file(&old.path)?;
            }
            return Ok((added, given - added));
        }
    }

    /// Rows of `kind` for the given instruments (all when `None`) with `ts_init` in `range`, sorted by instrument
    /// then `ts_init`. Also returns how many files were opened. Unreadable files are skipped with a warning (see
    /// [`Self::read_report`]).
    pub fn read<R: StoredRow>(
        &self,
        instrument_ids: Option<&[String]>,
        range: &TimeRange,
    ) -> Result<(Vec<R>, usize)> {
        let report = self.read_report(instrument_ids, range)?;
        Ok((report.rows, report.files_opened))
    }

    /// [`Self::read`], also naming the unreadable files it skipped. Takes no lock and writes nothing.
    pub fn read_report<R: StoredRow>(
        &self,
        instrument_ids: Option<&[String]>,
        range: &TimeRange,
    ) -> Result<ReadReport<R>> {
        let mut report = ReadReport {
            rows: Vec::new(),
            files_opened: 0,
            skipped: Vec::new(),
        };
        for instrument_id in self.instruments(R::KIND, instrument_ids)? {
            let inst = parse_instrument(R::KIND, &instrument_id)?;
            // `inst` parsed, so the id is safe as a folder name.
            let dir = self.kind_dir(R::KIND).join(&instrument_id);
            let folder = self.read_folder::<R>(&dir, &inst, range)?;
            report.rows.extend(folder.rows);
            report.files_opened += folder.files_opened;
            report.skipped.extend(folder.skipped);
        }
        Ok(report)
    }

    /// Reads without the lock: files are replaced atomically, but a compaction may remove a file between listing
    /// and opening; then the folder is listed again. Each key is returned once even if two files hold it (a
    /// merge between its rename and its removal of the replaced files, or a store written before the key held
    /// across days).
    fn read_folder<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        range: &TimeRange,
    ) -> Result<ReadReport<R>> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        'listing: loop {
            let (mut rows, mut opened, mut skipped) = (Vec::new(), 0, Vec::new());
            let listed: Vec<DataFile> = DataFile::list(dir)?
                .into_iter()
                .filter(|f| range.intersects(f.start, f.end))
                .collect();
            let overlapping = listed.windows(2).any(|pair| pair[1].start <= pair[0].end);
            let mut readable = 0;
            for file in &listed {
                opened += 1;
                match file.read::<R>(inst, range) {
                    Ok(file_rows) => {
                        readable += 1;
                        rows.extend(file_rows)
                    }
                    Err(_) if attempt < ATTEMPTS && !file.path.exists() => {
                        attempt += 1;
                        continue 'listing;
                    }
                    Err(FileError::Corrupt(why)) => {
                        tracing::warn!(
                            "skipping unreadable data file {} ({why}); the next write into its day or compact() \
                             moves it to {}/",
                            file.path.display(),
                            self.root.join(QUARANTINE).display()
                        );
                        skipped.push(file.path.clone());
                    }
                    Err(FileError::Io(e)) => return Err(e),
                }
            }
            if readable > 1 {
                let mut seen = HashSet::with_capacity(rows.len());
                rows.retain(|r: &R| seen.insert(r.key()));
                if overlapping {
                    rows.sort_by_key(|r| (r.ts_init(), r.ts_event()));
                }
            }
            return Ok(ReadReport {
                rows,
                files_opened: opened,
                skipped,
            });
        }
    }

    /// Instrument folders present for `kind`, restricted to `wanted` when given; in venue order (as fetches
    /// return rows), then by id. Folders that are not instrument ids (`notes/`) are ignored with a warning.
    fn instruments(&self, kind: Kind, wanted: Option<&[String]>) -> Result<Vec<String>> {
        let mut present: Vec<(Venue, String)> = Vec::new();
        for id in files::list_dirs(&self.kind_dir(kind))? {
            match parse_instrument(kind, &id) {
                Ok(inst) => present.push((inst.venue, id)),
                Err(_) => tracing::warn!(
                    "ignoring folder {}: not an instrument id",
                    self.kind_dir(kind).join(&id).display()
                ),
            }
        }
        present.sort();
        let present = present.into_iter().map(|(_, id)| id);
        Ok(match wanted {
            None => present.collect(),
            Some(wanted) => {
                for id in wanted {
                    parse_instrument(kind, id)?;
                }
                present.filter(|p| wanted.contains(p)).collect()
            }
        })
    }

    /// Instrument folders of `kind` on `venues` (all when `None`) and for `symbol` (any form users type; all
    /// when `None`). An instrument id selects exactly that instrument; for gaps, `ALL` selects the whole-market
    /// streams.
    pub fn select(
        &self,
        kind: Kind,
        venues: Option<&[Venue]>,
        symbol: Option<&str>,
    ) -> Result<Vec<String>> {
        let wanted: Option<Vec<String>> = match symbol.map(str::trim) {
            None => None,
            Some(symbol) => Some(match parse_instrument(kind, symbol) {
                Ok(inst) => vec![inst.instrument_id],
                Err(_) if kind == Kind::Gaps && symbol.eq_ignore_ascii_case("ALL") => Venue::ALL
                    .iter()
                    .map(|v| whole_market_of(*v).instrument_id)
                    .collect(),
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
                    parse_instrument(kind, id).is_ok_and(|i| vs.contains(&i.venue))
                })
            })
            .collect())
    }

    /// [`Self::read`] for a kind chosen at run time, as a table (docs/formats.md#tables); also the files opened.
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
            Kind::Gaps => table::<StreamGap>(self, instrument_ids, range),
        }
    }

    /// Largest `ts_event` stored for the instrument, from the newest readable file's footer statistics (no data
    /// read); unreadable files are skipped with a warning.
    pub fn last_timestamp(&self, kind: Kind, instrument_id: &str) -> Result<Option<i64>> {
        let dir = self.instrument_dir(kind, instrument_id)?;
        for file in DataFile::list(&dir)?.iter().rev() {
            match self.footer(kind, file) {
                Ok(stats) => return Ok(stats.max_ts_event),
                Err(FileError::Corrupt(why)) => tracing::warn!(
                    "skipping unreadable data file {} ({why})",
                    file.path.display()
                ),
                Err(FileError::Io(e)) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Every dataset with its file count, row count (from footers), first/last `ts_init`, and the files that are
    /// unreadable or already quarantined. Takes no lock and writes nothing.
    pub fn summary(&self) -> Result<Vec<DatasetSummary>> {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            for instrument_id in self.instruments(kind, None)? {
                let listed = DataFile::list(&self.kind_dir(kind).join(&instrument_id))?;
                let mut rows = 0;
                let (mut first_ts, mut last_ts) = (None, None);
                let (mut files, mut corrupt) = (0, Vec::new());
                for file in &listed {
                    match self.footer(kind, file) {
                        Ok(stats) => {
                            files += 1;
                            rows += stats.rows;
                            first_ts = first_ts.or(stats.min_ts_init);
                            last_ts = stats.max_ts_init.or(last_ts);
                        }
                        Err(FileError::Corrupt(why)) => {
                            tracing::warn!("unreadable data file {} ({why})", file.path.display());
                            corrupt.push(file.path.clone());
                        }
                        Err(FileError::Io(e)) => return Err(e),
                    }
                }
                out.push(DatasetSummary {
                    kind,
                    quarantined: files::quarantined(&self.root, kind.folder(), &instrument_id),
                    instrument_id,
                    files,
                    rows,
                    first_ts,
                    last_ts,
                    corrupt,
                });
            }
        }
        Ok(out)
    }

    /// Moves unreadable files to the quarantine folder, removes rows an earlier file already holds under the same
    /// key, merges files that share a UTC day into one file per day and clears temporary files left by killed
    /// writers. Reads every file; each rewrite is atomic like a write.
    pub fn compact(&self) -> Result<CompactSummary> {
        let _lock = self.lock()?;
        let mut summary = CompactSummary::default();
        for kind in Kind::ALL {
            for instrument_id in self.instruments(kind, None)? {
                let dir = self.kind_dir(kind).join(&instrument_id);
                let inst = parse_instrument(kind, &instrument_id)?;
                summary.stale_temp_files_removed += files::remove_stale_temp_files(&dir)?;
                let before = DataFile::list(&dir)?.len();
                match kind {
                    Kind::OpenInterest => {
                        self.compact_folder::<OpenInterest>(&dir, &inst, &mut summary)?
                    }
                    Kind::FundingRate => {
                        self.compact_folder::<FundingRate>(&dir, &inst, &mut summary)?
                    }
                    Kind::Liquidation => {
                        self.compact_folder::<Liquidation>(&dir, &inst, &mut summary)?
                    }
                    Kind::Gaps => self.compact_folder::<StreamGap>(&dir, &inst, &mut summary)?,
                }
                summary.files_before += before;
                summary.files_after += DataFile::list(&dir)?.len();
            }
        }
        Ok(summary)
    }

    fn compact_folder<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        summary: &mut CompactSummary,
    ) -> Result<()> {
        // Every file once, oldest first: the first stored row of a key wins, as on write.
        let mut seen: HashSet<R::Key> = HashSet::new();
        for file in DataFile::list(dir)? {
            let rows = match file.read::<R>(inst, &TimeRange::default()) {
                Ok(rows) => rows,
                Err(FileError::Corrupt(why)) => {
                    self.quarantine(&file.path, &why, &mut summary.quarantined)?;
                    continue;
                }
                Err(FileError::Io(e)) => return Err(e),
            };
            let stored = rows.len();
            let kept: Vec<R> = rows.into_iter().filter(|r| seen.insert(r.key())).collect();
            if kept.len() < stored {
                summary.duplicates_removed += stored - kept.len();
                if kept.is_empty() {
                    files::remove_file(&file.path)?;
                } else {
                    files::write_atomically(&file.path, &R::to_disk(&kept, &inst.instrument_id))?;
                }
            }
        }
        let mut days: BTreeMap<i64, usize> = BTreeMap::new();
        for f in &DataFile::list(dir)? {
            *days.entry(files::day_bounds(f.start)?.0).or_default() += 1;
        }
        for (day_start, count) in days {
            if count > 1 {
                // Merging nothing new into the day rewrites its files as one.
                self.merge_into_day::<R>(
                    dir,
                    inst,
                    day_start,
                    Vec::new(),
                    &mut summary.quarantined,
                )?;
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
