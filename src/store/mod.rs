//! The Parquet store in the NautilusTrader catalog layout (docs/formats.md#on-disk-catalog):
//! `<root>/data/<kind folder>/<INSTRUMENT_ID>/<start>_<end>.parquet`, files named by their rows and bounded by a granule
//! per kind (docs/formats.md#file-names).
//!
//! Guarantees and how they are kept:
//! - atomic: a file is written under a hidden temporary name, fsynced and renamed over its final name, and the
//!   folder is fsynced; a reader sees the old or the new file, never a torn one;
//! - de-duplicated on (instrument, `ts_event`) for OI and funding (the first stored row wins, so re-runs change
//!   nothing), on (instrument, `ts_event`, side, price, quantity) for liquidations (one event received on two
//!   connections is kept once) and on the whole row for stream gaps; across separate writes and across files: a
//!   write also checks the files whose footer `ts_event` range holds its rows' `ts_event`;
//! - one writing process at a time: writes and compaction hold an exclusive lock on `<root>/.ccxt_pipeline.lock`
//!   (holding the writer's PID), so a second process waits instead of interleaving, says after a moment who holds
//!   the lock, optionally gives up after a timeout; inside the process, writers of different instrument folders
//!   share it and run at once, one writer per folder, and every write re-lists its folder under the lock;
//! - readers take no lock and write nothing, so a read-only store is readable;
//! - a write costs O(new rows): rows after the stored ones go to a file of their own, only a file a new row falls
//!   inside is rewritten, and a granule keeps at most [`FILES_PER_GRANULE`] files (see [`ParquetStore::write`]);
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
pub use files::Granule;
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
    /// The store's file lock as this store and its clones share it (see [`WriterLock`]).
    writers: Arc<WriterLock>,
}

/// The writer lock as one process shares it: the first writer takes the store's file lock (other processes wait),
/// the last one out releases it. Inside the process, writers of different instrument folders run at the same time
/// (their syncs overlap), while two writers of one folder, and compaction (which visits every folder), exclude each
/// other.
#[derive(Default)]
struct WriterLock {
    state: Mutex<WriterState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct WriterState {
    file: Option<StoreLock>,
    folders: HashSet<PathBuf>,
    exclusive: bool,
}

/// Holds a folder (or, with `folder: None`, the whole store) until dropped.
struct WriterGuard<'a> {
    lock: &'a WriterLock,
    folder: Option<PathBuf>,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.lock.state.lock().unwrap_or_else(|p| p.into_inner());
        match self.folder.take() {
            Some(folder) => {
                state.folders.remove(&folder);
            }
            None => state.exclusive = false,
        }
        if state.folders.is_empty() && !state.exclusive {
            state.file = None;
        }
        self.lock.changed.notify_all();
    }
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
            writers: Arc::default(),
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

    /// Holds `folder` for a write (`None`: the whole store, for compaction), taking the store's file lock if this
    /// process does not hold it yet.
    fn lock(&self, folder: Option<&Path>) -> Result<WriterGuard<'_>> {
        let lock = &*self.writers;
        let mut state = lock.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let free = !state.exclusive
                && match folder {
                    Some(folder) => !state.folders.contains(folder),
                    None => state.folders.is_empty(),
                };
            if free {
                break;
            }
            state = lock.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.file.is_none() {
            // Other threads of this process wait on the mutex meanwhile: they need the same file lock.
            state.file = Some(StoreLock::acquire(
                &self.root,
                self.lock_timeout,
                self.wait_check.as_deref(),
            )?);
        }
        match folder {
            Some(folder) => {
                state.folders.insert(folder.to_path_buf());
            }
            None => state.exclusive = true,
        }
        Ok(WriterGuard {
            lock,
            folder: folder.map(Path::to_path_buf),
        })
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

    /// Merges `rows` into the store, per instrument, under the store lock. Every row is checked first: one bad row
    /// refuses the whole write, before anything is written.
    ///
    /// Cost: O(new rows) plus the rows of the files the new rows fall inside. Rows after (or between) the stored
    /// files go to new files named by their own interval, so an append never rewrites what is stored; a granule
    /// that collects more than [`FILES_PER_GRANULE`] files has its two smallest neighbours merged (amortised
    /// O(log n) rewrites per row), and `compact` leaves one file per granule.
    pub fn write<R: StoredRow>(&self, rows: &[R]) -> Result<WriteSummary> {
        let _pending = self.pending_write();
        let mut summary = WriteSummary::default();
        let mut groups: BTreeMap<&str, Vec<&R>> = BTreeMap::new();
        let mut seen: HashSet<(&str, R::Key)> = HashSet::new();
        for row in rows {
            row.check()?;
            parse_instrument(R::KIND, row.instrument_id())?;
            // The key holds across files, so a repeat inside this write is a duplicate wherever it lands.
            if !seen.insert((row.instrument_id(), row.key())) {
                summary.rows_duplicate += 1;
                continue;
            }
            groups.entry(row.instrument_id()).or_default().push(row);
        }
        drop(seen);
        if groups.is_empty() {
            return Ok(summary);
        }
        for (instrument_id, mut new_rows) in groups {
            let inst = parse_instrument(R::KIND, instrument_id)?;
            let dir = self.instrument_dir(R::KIND, instrument_id)?;
            let _lock = self.lock(Some(&dir))?;
            files::create_dir_all(&dir)?;
            new_rows.sort_by_key(|r| (r.ts_init(), r.ts_event()));
            let written = self.write_folder(&dir, &inst, &new_rows, &mut summary.quarantined)?;
            summary.rows_added += written.added;
            summary.rows_duplicate += new_rows.len() - written.added;
            summary.files_written += written.files;
            self.rows_added
                .fetch_add(written.added as u64, std::sync::atomic::Ordering::SeqCst);
        }
        tracing::debug!(
            kind = R::KIND.name(),
            rows_added = summary.rows_added,
            files = summary.files_written,
            "store write"
        );
        Ok(summary)
    }

    /// The readable data files of a folder with their footer statistics, for a writer (under the lock): temporary
    /// files of killed writers are removed and unreadable files quarantined, in one listing.
    fn writer_listing(
        &self,
        kind: Kind,
        dir: &Path,
        quarantined: &mut Vec<PathBuf>,
    ) -> Result<Vec<(DataFile, FooterStats)>> {
        let (listed, _) = DataFile::list_for_writer(dir)?;
        let mut out = Vec::with_capacity(listed.len());
        for file in listed {
            match self.footer(kind, &file) {
                Ok(stats) => out.push((file, stats)),
                Err(FileError::Corrupt(why)) => self.quarantine(&file.path, &why, quarantined)?,
                Err(FileError::Io(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One write into one instrument folder; `new_rows` are distinct and sorted by `ts_init`. Everything is read
    /// before anything is written, so a file found unreadable half-way is quarantined and the write starts over
    /// with nothing done twice.
    fn write_folder<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        new_rows: &[&R],
        quarantined: &mut Vec<PathBuf>,
    ) -> Result<FolderWrite> {
        'attempt: loop {
            let listing = self.writer_listing(R::KIND, dir, quarantined)?;
            // Keys already stored: only files whose `ts_event` range meets the new rows' can hold one (a key
            // includes `ts_event`), and in those only the row groups that can.
            let lo = new_rows
                .iter()
                .map(|r| r.ts_event())
                .min()
                .unwrap_or(i64::MAX);
            let hi = new_rows
                .iter()
                .map(|r| r.ts_event())
                .max()
                .unwrap_or(i64::MIN);
            let mut stored_keys: HashSet<R::Key> = HashSet::new();
            for (file, stats) in &listing {
                let (Some(min), Some(max)) = (stats.min_ts_event, stats.max_ts_event) else {
                    continue;
                };
                if max < lo || min > hi {
                    continue;
                }
                match file.read_event_range::<R>(inst, lo, hi) {
                    Ok(rows) => stored_keys.extend(rows.iter().map(R::key)),
                    Err(FileError::Corrupt(why)) => {
                        self.quarantine(&file.path, &why, quarantined)?;
                        continue 'attempt;
                    }
                    Err(FileError::Io(e)) => return Err(e),
                }
            }
            let fresh: Vec<&R> = new_rows
                .iter()
                .copied()
                .filter(|r| !stored_keys.contains(&r.key()))
                .collect();
            drop(stored_keys);
            if fresh.is_empty() {
                return Ok(FolderWrite::default());
            }
            // Where each row goes: into the stretch of stored files whose interval holds its `ts_init` (merged
            // with it), or into a new file in the gap between stretches, one per gap and granule.
            let stretches = Stretch::of(&listing);
            let granule = R::KIND.granule();
            let mut into_stretch: BTreeMap<usize, Vec<&R>> = BTreeMap::new();
            let mut into_gap: BTreeMap<(usize, i64), Vec<&R>> = BTreeMap::new();
            for row in fresh.iter().copied() {
                let ts = row.ts_init();
                let after = stretches.partition_point(|s| s.start <= ts);
                if after > 0 && stretches[after - 1].end >= ts {
                    into_stretch.entry(after - 1).or_default().push(row);
                } else {
                    into_gap
                        .entry((after, granule.start(ts)))
                        .or_default()
                        .push(row);
                }
            }
            let mut outputs: Vec<(DataFile, RecordBatch)> = Vec::new();
            let mut replaced: Vec<PathBuf> = Vec::new();
            for (index, rows) in into_stretch {
                let stretch = &stretches[index];
                let mut merged: Vec<R> = Vec::new();
                for file in &stretch.files {
                    match file.read::<R>(inst, &TimeRange::default()) {
                        Ok(file_rows) => merged.extend(file_rows),
                        Err(FileError::Corrupt(why)) => {
                            self.quarantine(&file.path, &why, quarantined)?;
                            continue 'attempt;
                        }
                        Err(FileError::Io(e)) => return Err(e),
                    }
                }
                // Stored rows are de-duplicated too: overlapping files of another writer may repeat a key.
                merged.extend(rows.into_iter().cloned());
                distinct_in_order(&mut merged);
                outputs.push(self.data_file::<R>(dir, inst, &merged)?);
                replaced.extend(stretch.files.iter().map(|f| f.path.clone()));
            }
            for rows in into_gap.into_values() {
                let rows: Vec<R> = rows.into_iter().cloned().collect();
                outputs.push(self.data_file::<R>(dir, inst, &rows)?);
            }
            let files = outputs.len();
            let staged = outputs
                .iter()
                .map(|(file, batch)| files::stage(&file.path, batch))
                .collect::<Result<Vec<_>>>()?;
            files::commit(dir, staged, &replaced)?;
            // The folder as it is now, without listing it again: what was there, less what was replaced, plus
            // what was written (row counts and intervals are all the merging below needs).
            let mut now: Vec<(DataFile, FooterStats)> = listing
                .into_iter()
                .filter(|(f, _)| !replaced.contains(&f.path))
                .collect();
            for (file, batch) in outputs {
                let stats = FooterStats {
                    rows: batch.num_rows() as u64,
                    ..FooterStats::default()
                };
                now.push((file, stats));
            }
            now.sort_by_key(|(f, _)| (f.start, f.end));
            let granules: HashSet<i64> = fresh.iter().map(|r| granule.start(r.ts_init())).collect();
            let files = files + self.merge_small_files::<R>(dir, inst, &now, &granules)?;
            return Ok(FolderWrite {
                added: fresh.len(),
                files,
            });
        }
    }

    /// A data file of sorted, distinct rows, named by their own `ts_init` interval, and its contents.
    fn data_file<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        rows: &[R],
    ) -> Result<(DataFile, RecordBatch)> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Err(PipelineError::Store("no rows for a data file".into()));
        };
        let (start, end) = (first.ts_init(), last.ts_init());
        let file = DataFile {
            path: dir.join(files::file_name(start, end)?),
            start,
            end,
        };
        Ok((file, R::to_disk(rows, &inst.instrument_id)))
    }

    /// Keeps each granule of `granules` at no more than [`FILES_PER_GRANULE`] files by merging its two neighbouring
    /// files with the fewest rows together (neighbours: nothing lies between them, so the merged interval
    /// overlaps nothing). Returns the files written. An unreadable file stops the merging (it is quarantined by the
    /// next write into it or by `compact`).
    fn merge_small_files<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        listing: &[(DataFile, FooterStats)],
        granules: &HashSet<i64>,
    ) -> Result<usize> {
        let granule = R::KIND.granule();
        let mut written = 0;
        for &start in granules {
            let inside: Vec<&(DataFile, FooterStats)> = listing
                .iter()
                .filter(|(f, _)| granule.start(f.start) == start)
                .collect();
            if inside.len() <= FILES_PER_GRANULE {
                continue;
            }
            let Some(pair) = inside
                .windows(2)
                .filter(|w| w[0].0.end < w[1].0.start)
                .min_by_key(|w| w[0].1.rows + w[1].1.rows)
            else {
                continue;
            };
            let mut rows: Vec<R> = Vec::new();
            for (file, _) in pair {
                match file.read::<R>(inst, &TimeRange::default()) {
                    Ok(file_rows) => rows.extend(file_rows),
                    Err(_) => return Ok(written),
                }
            }
            distinct_in_order(&mut rows);
            let (file, batch) = self.data_file::<R>(dir, inst, &rows)?;
            let replaced = [pair[0].0.path.clone(), pair[1].0.path.clone()];
            files::commit(dir, vec![files::stage(&file.path, &batch)?], &replaced)?;
            written += 1;
        }
        Ok(written)
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

    /// [`Self::read_table`] as record batches straight from the files (no records in between, no concatenation):
    /// what the Python `read` and the CLI's `query` hand over. A folder whose files could hold one key twice
    /// (overlapping `ts_event` ranges), or that has an unreadable or unsorted file, is read through the records
    /// path instead, which de-duplicates, retries and warns.
    pub fn read_batches(
        &self,
        kind: Kind,
        instrument_ids: &[String],
        range: &TimeRange,
    ) -> Result<(Vec<RecordBatch>, usize)> {
        fn batches<R: StoredRow>(
            store: &ParquetStore,
            ids: &[String],
            range: &TimeRange,
        ) -> Result<(Vec<RecordBatch>, usize)> {
            let (mut out, mut opened) = (Vec::new(), 0);
            for id in store.instruments(R::KIND, Some(ids))? {
                let inst = parse_instrument(R::KIND, &id)?;
                let dir = store.kind_dir(R::KIND).join(&id);
                if let Some((folder, files)) = store.read_folder_batches::<R>(&dir, &inst, range)? {
                    out.extend(folder);
                    opened += files;
                    continue;
                }
                let folder = store.read_folder::<R>(&dir, &inst, range)?;
                opened += folder.files_opened;
                if !folder.rows.is_empty() {
                    out.push(R::to_table(&folder.rows));
                }
            }
            Ok((out, opened))
        }
        match kind {
            Kind::OpenInterest => batches::<OpenInterest>(self, instrument_ids, range),
            Kind::FundingRate => batches::<FundingRate>(self, instrument_ids, range),
            Kind::Liquidation => batches::<Liquidation>(self, instrument_ids, range),
            Kind::Gaps => batches::<StreamGap>(self, instrument_ids, range),
        }
    }

    /// The fast path of [`Self::read_batches`] for one folder; `None` when it must take the records path.
    fn read_folder_batches<R: StoredRow>(
        &self,
        dir: &Path,
        inst: &InstrumentRef,
        range: &TimeRange,
    ) -> Result<Option<(Vec<RecordBatch>, usize)>> {
        let listed: Vec<DataFile> = DataFile::list(dir)?
            .into_iter()
            .filter(|f| range.intersects(f.start, f.end))
            .collect();
        let mut events = Vec::with_capacity(listed.len());
        for file in &listed {
            match self.footer(R::KIND, file) {
                Ok(FooterStats {
                    min_ts_event: Some(lo),
                    max_ts_event: Some(hi),
                    ..
                }) => events.push((lo, hi)),
                _ => return Ok(None),
            }
        }
        events.sort_unstable();
        let overlapping = events.windows(2).any(|w| w[1].0 <= w[0].1)
            || listed.windows(2).any(|w| w[1].start <= w[0].end);
        if overlapping {
            return Ok(None);
        }
        // A file's batches in table form, cut to the range; `None` sends the folder to the records path.
        let table_of = |file: &DataFile| -> Option<Vec<RecordBatch>> {
            let mut out = Vec::new();
            for batch in file.read_disk(R::TABLE_COLUMNS).ok()? {
                let table = R::disk_to_table(&batch, inst).ok()?;
                let ts_init = table
                    .column_by_name("ts_init")?
                    .as_any()
                    .downcast_ref::<arrow_array::TimestampNanosecondArray>()?;
                let ts = ts_init.values();
                if ts.windows(2).any(|w| w[0] > w[1]) {
                    return None;
                }
                let lo = range.start.map_or(0, |s| ts.partition_point(|&t| t < s));
                let hi = range
                    .end
                    .map_or(ts.len(), |e| ts.partition_point(|&t| t <= e));
                if hi > lo {
                    out.push(table.slice(lo, hi - lo));
                }
            }
            Some(out)
        };
        // Files are decoded and converted in parallel (a year is a dozen files); the batches keep the files' order.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(listed.len().max(1));
        let per_thread = listed.len().div_ceil(threads.max(1)).max(1);
        let converted: Vec<Option<Vec<RecordBatch>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = listed
                .chunks(per_thread)
                .map(|files| {
                    let table_of = &table_of;
                    scope.spawn(move || {
                        files
                            .iter()
                            .map(table_of)
                            .collect::<Option<Vec<Vec<RecordBatch>>>>()
                            .map(|v| v.into_iter().flatten().collect::<Vec<_>>())
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().ok().flatten())
                .collect()
        });
        let mut out = Vec::new();
        for batches in converted {
            let Some(batches) = batches else {
                return Ok(None);
            };
            out.extend(batches);
        }
        Ok(Some((out, listed.len())))
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

    /// For resuming a history: when the first stored row of `instrument_id` with `ts_init` in `start..=end` has a
    /// `ts_event` within `step` of `start`, the last `ts_event` of the run of rows that follows it with no two
    /// consecutive rows more than `step` apart (all in ns); `None` when nothing is stored near `start`. Reads only
    /// the two time columns, file by file, and stops at the first hole: O(the run), never O(the range). An
    /// unreadable file ends the run (its rows are fetched again).
    pub fn gap_free_run(
        &self,
        kind: Kind,
        instrument_id: &str,
        (start, end): (i64, i64),
        step: i64,
    ) -> Result<Option<i64>> {
        let dir = self.instrument_dir(kind, instrument_id)?;
        let range = TimeRange {
            start: Some(start),
            end: Some(end),
        };
        let mut covered: Option<i64> = None;
        for file in DataFile::list(&dir)? {
            if !range.intersects(file.start, file.end) {
                continue;
            }
            let Ok(times) = file.read_times() else {
                return Ok(covered);
            };
            for (ts_init, ts_event) in times {
                if !range.contains(ts_init) {
                    continue;
                }
                match covered {
                    None if ts_event > start.saturating_add(step) => return Ok(None),
                    None => covered = Some(ts_event),
                    Some(until) if ts_event.saturating_sub(until) > step => return Ok(covered),
                    Some(until) => covered = Some(until.max(ts_event)),
                }
            }
        }
        Ok(covered)
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
    /// key, merges the files of each granule into one and clears temporary files left by killed writers. Reads
    /// only the files it rewrites (and, for duplicates, the files whose `ts_event` ranges overlap another's); each
    /// rewrite is atomic like a write.
    pub fn compact(&self) -> Result<CompactSummary> {
        let _lock = self.lock(None)?;
        let mut summary = CompactSummary::default();
        for kind in Kind::ALL {
            for instrument_id in self.instruments(kind, None)? {
                let dir = self.kind_dir(kind).join(&instrument_id);
                let inst = parse_instrument(kind, &instrument_id)?;
                let (listed, temps) = DataFile::list_for_writer(&dir)?;
                summary.stale_temp_files_removed += temps;
                summary.files_before += listed.len();
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
        let listing = self.writer_listing(R::KIND, dir, &mut summary.quarantined)?;
        // Cross-file duplicates (a store written by an older version, or a crash between a merge's rename and its
        // removals) can only sit in files whose `ts_event` ranges overlap: only those are read for keys. Every
        // such file once, oldest first: the first stored row of a key wins, as on write.
        let overlaps = |i: usize| {
            let (_, a) = &listing[i];
            listing.iter().enumerate().any(|(j, (_, b))| {
                j != i
                    && matches!((a.min_ts_event, a.max_ts_event, b.min_ts_event, b.max_ts_event),
                        (Some(a0), Some(a1), Some(b0), Some(b1)) if a0 <= b1 && b0 <= a1)
            })
        };
        let mut seen: HashSet<R::Key> = HashSet::new();
        for (i, (file, _)) in listing.iter().enumerate() {
            if !overlaps(i) {
                continue;
            }
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
                    files::commit(dir, Vec::new(), std::slice::from_ref(&file.path))?;
                } else {
                    let (file, batch) = self.data_file::<R>(dir, inst, &kept)?;
                    let staged = files::stage(&file.path, &batch)?;
                    files::commit(dir, vec![staged], std::slice::from_ref(&file.path))?;
                }
            }
        }
        drop(seen);
        // Runs of files to merge: a run is the files of one granule, extended over any file that overlaps it (left
        // by another writer), so merged files never overlap each other.
        let granule = R::KIND.granule();
        let listed = DataFile::list(dir)?;
        let mut runs: Vec<Vec<&DataFile>> = Vec::new();
        for file in &listed {
            match runs.last_mut() {
                Some(run)
                    if granule.start(run[0].start) == granule.start(file.start)
                        || run.iter().any(|f| f.end >= file.start) =>
                {
                    run.push(file)
                }
                _ => runs.push(vec![file]),
            }
        }
        for run in runs.into_iter().filter(|run| run.len() > 1) {
            let mut rows: Vec<R> = Vec::new();
            let mut readable = Vec::new();
            for file in run {
                match file.read::<R>(inst, &TimeRange::default()) {
                    Ok(file_rows) => {
                        rows.extend(file_rows);
                        readable.push(file.path.clone());
                    }
                    Err(FileError::Corrupt(why)) => {
                        self.quarantine(&file.path, &why, &mut summary.quarantined)?
                    }
                    Err(FileError::Io(e)) => return Err(e),
                }
            }
            distinct_in_order(&mut rows);
            if rows.is_empty() {
                continue;
            }
            let (file, batch) = self.data_file::<R>(dir, inst, &rows)?;
            files::commit(dir, vec![files::stage(&file.path, &batch)?], &readable)?;
        }
        Ok(())
    }
}

/// Keeps the first row of each key (the stored one, when stored rows come first) and sorts by `ts_init`, then
/// `ts_event`: the order of every data file.
fn distinct_in_order<R: StoredRow>(rows: &mut Vec<R>) {
    let mut keys: HashSet<R::Key> = HashSet::with_capacity(rows.len());
    rows.retain(|r| keys.insert(r.key()));
    rows.sort_by_key(|r| (r.ts_init(), r.ts_event()));
}

/// At most this many files per granule of a folder before a write merges the smallest neighbours.
pub const FILES_PER_GRANULE: usize = 8;

#[derive(Debug, Default)]
struct FolderWrite {
    added: usize,
    files: usize,
}

/// Stored files that a new row falling inside must be merged with: one file, or several whose intervals overlap
/// (left by another writer or a crash mid-merge).
struct Stretch<'a> {
    start: i64,
    end: i64,
    files: Vec<&'a DataFile>,
}

impl<'a> Stretch<'a> {
    /// The stretches of a folder listing (sorted by interval start), in order.
    fn of(listing: &'a [(DataFile, FooterStats)]) -> Vec<Stretch<'a>> {
        let mut out: Vec<Stretch<'a>> = Vec::new();
        for (file, _) in listing {
            match out.last_mut() {
                Some(last) if file.start <= last.end => {
                    last.end = last.end.max(file.end);
                    last.files.push(file);
                }
                _ => out.push(Stretch {
                    start: file.start,
                    end: file.end,
                    files: vec![file],
                }),
            }
        }
        out
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
