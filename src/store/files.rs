//! File-level mechanics of the store: catalog file names, atomic replacement, the writer lock, footer reads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;

use crate::model::time::{
    catalog_timestamp, civil_from_days, days_from_civil, parse_catalog_timestamp, NANOS_PER_DAY,
};
use crate::model::{InstrumentRef, PipelineError, Result};
use crate::store::codec::{check_timestamp, iso};
use crate::store::{Kind, StoredRow, TimeRange};

pub const LOCK_FILE: &str = ".ccxt_pipeline.lock";
/// Where unreadable data files are moved, mirroring their place under `data/` (outside it, so no catalog reader
/// ever lists them).
pub const QUARANTINE: &str = "quarantine";
/// Temporary files are hidden and do not end in `.parquet`, so no catalog reader ever lists them.
const TEMP_MARKER: &str = ".tmp-";

fn io_error(action: &str, path: &Path, e: io::Error) -> PipelineError {
    PipelineError::Store(format!("cannot {action} {}: {e}", path.display()))
}

/// The catalog file name of an interval; both ends must be storable timestamps (so the name reads back as the
/// same interval, start before end).
pub fn file_name(start: i64, end: i64) -> Result<String> {
    check_timestamp("file interval start", start, "the file")?;
    check_timestamp("file interval end", end, "the file")?;
    if start > end {
        return Err(PipelineError::Store(format!(
            "file interval {} to {} ends before it starts",
            iso(start),
            iso(end)
        )));
    }
    Ok(format!(
        "{}_{}.parquet",
        catalog_timestamp(start),
        catalog_timestamp(end)
    ))
}

/// Why a data file could not be used: the disk failed us (`Io`: the store errs), or the file itself is not a
/// readable catalog file of its kind (`Corrupt`: zero bytes, truncated, not Parquet, foreign schema), which is
/// skipped by readers and quarantined by writers.
#[derive(Debug)]
pub enum FileError {
    Io(PipelineError),
    Corrupt(String),
}

pub fn create_dir_all(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        // An existing folder needs no probe: the write itself fails clearly (naming its temporary file) if the
        // folder is not writable.
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| io_error("create folder", dir, e))?;
    // Creating is not enough to know we may write: probe so an unwritable root fails here, clearly.
    let probe = dir.join(format!(".write-probe{TEMP_MARKER}{}", std::process::id()));
    File::create(&probe).map_err(|e| io_error("write in", dir, e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", path, e)),
    }
}

/// Names of the sub-folders of `dir` (none if it does not exist), sorted.
pub fn list_dirs(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("list", dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes temporary files a killed writer left behind. Only called under the store lock, when no writer can be
/// mid-write.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error("list", dir, e)),
    };
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(TEMP_MARKER) {
            remove_file(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Files at most this long are written uncompressed: zstd's per-column context costs more than a tiny file saves
/// (a daemon flush or a small delta file), while merged and backfilled files are zstd-compressed.
const UNCOMPRESSED_ROWS: usize = 2_000;
/// Rows per row group: small enough that a read of a narrow `ts_event` range (the de-duplication check of an
/// append) skips most of a large file using the row groups' statistics.
const ROW_GROUP_ROWS: usize = 65_536;

fn writer_properties(rows: usize) -> WriterProperties {
    static SMALL: std::sync::LazyLock<WriterProperties> = std::sync::LazyLock::new(|| {
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build()
    });
    static LARGE: std::sync::LazyLock<WriterProperties> = std::sync::LazyLock::new(|| {
        WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build()
    });
    if rows <= UNCOMPRESSED_ROWS {
        SMALL.clone()
    } else {
        LARGE.clone()
    }
}

/// A complete file written and synced under a hidden temporary name, not yet visible under its final name.
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Committed files were renamed away; anything still here belongs to a write that failed.
        let _ = fs::remove_file(&self.temp);
    }
}

/// Writes `batch` under a hidden temporary name next to `target` and syncs its data.
pub fn stage(target: &Path, batch: &RecordBatch) -> Result<Staged> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (Some(dir), Some(final_name)) = (target.parent(), target.file_name()) else {
        return Err(PipelineError::Store(format!(
            "{} is not a file path in a folder",
            target.display()
        )));
    };
    let final_name = final_name.to_string_lossy();
    let staged = Staged {
        temp: dir.join(format!(
            ".{final_name}{TEMP_MARKER}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )),
        target: target.to_path_buf(),
    };
    let temp = &staged.temp;
    let file = File::create(temp).map_err(|e| io_error("create", temp, e))?;
    let parquet_error = |e: parquet::errors::ParquetError| {
        PipelineError::Store(format!("cannot write {}: {e}", temp.display()))
    };
    let mut writer = ArrowWriter::try_new(
        file,
        batch.schema(),
        Some(writer_properties(batch.num_rows())),
    )
    .map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_data().map_err(|e| io_error("sync", temp, e))?;
    Ok(staged)
}

/// Makes staged files visible in `dir` (each renamed over its final name), then removes `replaced` (files whose
/// rows the staged ones now hold) and syncs the folder once, so the renames and removals survive a crash. A reader
/// sees each file whole; between a rename and the removals it may see a replaced file beside its replacement,
/// which reads de-duplicate.
pub fn commit(dir: &Path, staged: Vec<Staged>, replaced: &[PathBuf]) -> Result<()> {
    if staged.is_empty() && replaced.is_empty() {
        return Ok(());
    }
    for file in &staged {
        fs::rename(&file.temp, &file.target)
            .map_err(|e| io_error("rename into place", &file.target, e))?;
    }
    for old in replaced {
        if !staged.iter().any(|s| &s.target == old) {
            remove_file(old)?;
        }
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync folder", dir, e))
}

/// The calendar span that bounds a data file of a kind: files never cross it (unless an older writer made them
/// so), a folder keeps at most a few files per granule, and compaction leaves one file per granule. Chosen by
/// density: liquidations can be hundreds of thousands of rows a day, five-minute open interest is 8 640 rows a
/// month, and funding 1 095 (8-hourly) to 8 760 (hourly) rows a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granule {
    Day,
    Month,
    Year,
}

impl Granule {
    /// First nanosecond of the granule holding `ns` (never after `ns`, so it cannot overflow).
    pub fn start(self, ns: i64) -> i64 {
        let day = ns.div_euclid(NANOS_PER_DAY);
        let first_day = match self {
            Granule::Day => day,
            Granule::Month => {
                let (year, month, _) = civil_from_days(day);
                days_from_civil(year, month, 1)
            }
            Granule::Year => {
                let (year, _, _) = civil_from_days(day);
                days_from_civil(year, 1, 1)
            }
        };
        // Saturating: only storable timestamps reach here, but a grouping key must never panic.
        first_day.saturating_mul(NANOS_PER_DAY)
    }
}

/// How long a writer waits for the lock before it says who holds it.
pub const LOCK_WAIT_NOTICE: Duration = Duration::from_secs(2);
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Called while a writer waits for the lock, every few tens of milliseconds; an error ends the wait with it (the
/// Python glue uses it to let Ctrl+C through).
pub type WaitCheck = dyn Fn() -> Result<()> + Send + Sync;

/// The exclusive writer lock of a store; released on drop (and by the OS if the process dies). The holder writes
/// its PID into the file so a waiting writer can say who holds it. Readers never take it.
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Waits for the lock: after [`LOCK_WAIT_NOTICE`] logs who holds it, and gives up after `timeout` (if any)
    /// with a `Store` error naming the holder.
    pub fn acquire(
        root: &Path,
        timeout: Option<Duration>,
        check: Option<&WaitCheck>,
    ) -> Result<Self> {
        let path = root.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                PipelineError::Store(format!(
                    "cannot write to the store at {} (is it read-only? reading needs no lock): cannot open lock {}: {e}",
                    root.display(),
                    path.display()
                ))
            })?;
        let started = Instant::now();
        let mut noticed = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(io_error("lock", &path, e)),
            }
            let waited = started.elapsed();
            if let Some(timeout) = timeout {
                if waited >= timeout {
                    return Err(PipelineError::Store(format!(
                        "gave up after {:.1} s waiting for the store lock {}, held by {}",
                        waited.as_secs_f64(),
                        path.display(),
                        holder(&mut file)
                    )));
                }
            }
            if !noticed && waited >= LOCK_WAIT_NOTICE {
                noticed = true;
                tracing::warn!(
                    "waiting for the store lock {}, held by {}{}",
                    path.display(),
                    holder(&mut file),
                    match timeout {
                        Some(t) => format!(" (giving up after {:.1} s)", t.as_secs_f64()),
                        None => " (no timeout; Ctrl+C to stop)".to_string(),
                    }
                );
            }
            if let Some(check) = check {
                check()?;
            }
            let sleep = match timeout {
                Some(t) => LOCK_POLL.min(t.saturating_sub(waited)),
                None => LOCK_POLL,
            };
            std::thread::sleep(sleep.max(Duration::from_millis(1)));
        }
        // Ours now: say who holds it (best effort; the lock works without it).
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        Ok(StoreLock { _file: file })
    }
}

/// "process 1234" from the lock file, or "another process (PID unknown)".
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .rewind()
        .and_then(|()| file.take(64).read_to_string(&mut text));
    match read.ok().and_then(|_| text.trim().parse::<u32>().ok()) {
        Some(pid) => format!("process {pid}"),
        None => "another process (PID unknown)".to_string(),
    }
}

/// Moves an unreadable data file to `<root>/quarantine/<its path under data/>` (a numbered name if that exists)
/// and returns where it went.
pub fn quarantine(root: &Path, path: &Path) -> Result<PathBuf> {
    let relative = path
        .strip_prefix(root.join("data"))
        .unwrap_or_else(|_| Path::new(path.file_name().unwrap_or_default()));
    let mut target = root.join(QUARANTINE).join(relative);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error("create folder", parent, e))?;
    }
    let base = target.clone();
    let mut n = 1;
    while target.exists() {
        let mut name = base.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{n}"));
        target = base.with_file_name(name);
        n += 1;
    }
    fs::rename(path, &target).map_err(|e| io_error("move to quarantine", path, e))?;
    Ok(target)
}

/// Files under `<root>/quarantine/<folder>/<instrument>/`, sorted.
pub fn quarantined(root: &Path, folder: &str, instrument_id: &str) -> Vec<PathBuf> {
    let dir = root.join(QUARANTINE).join(folder).join(instrument_id);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One catalog data file and the `ts_init` interval its name declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub path: PathBuf,
    pub start: i64,
    pub end: i64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FooterStats {
    pub rows: u64,
    pub min_ts_init: Option<i64>,
    pub max_ts_init: Option<i64>,
    pub min_ts_event: Option<i64>,
    pub max_ts_event: Option<i64>,
}

impl DataFile {
    /// Data files of a folder sorted by interval. Hidden files (our temporaries) are skipped; anything else that
    /// is not `<start>_<end>.parquet` with a valid interval (a `README.txt`, a sub-folder, a name whose end
    /// precedes its start) is ignored with a warning naming it.
    pub fn list(dir: &Path) -> Result<Vec<DataFile>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("list", dir, e)),
        };
        let mut files = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let interval = name
                .strip_suffix(".parquet")
                .and_then(|stem| stem.split_once('_'))
                .and_then(|(start, end)| {
                    Some((
                        parse_catalog_timestamp(start)?,
                        parse_catalog_timestamp(end)?,
                    ))
                })
                .filter(|(start, end)| start <= end);
            match interval {
                Some((start, end)) if entry.file_type().is_ok_and(|t| t.is_file()) => {
                    files.push(DataFile {
                        path: entry.path(),
                        start,
                        end,
                    })
                }
                _ => tracing::warn!(
                    "ignoring {}: not a catalog data file (<start>_<end>.parquet)",
                    entry.path().display()
                ),
            }
        }
        files.sort_by_key(|f| (f.start, f.end));
        Ok(files)
    }

    /// [`Self::list`] for a writer holding the lock: also deletes the temporary files a killed writer left behind
    /// (no writer can be mid-write), in the same pass over the folder. Returns the files and how many temporary
    /// files were removed.
    pub fn list_for_writer(dir: &Path) -> Result<(Vec<DataFile>, usize)> {
        let removed = remove_stale_temp_files(dir)?;
        Ok((DataFile::list(dir)?, removed))
    }

    fn open(&self) -> Result<ParquetRecordBatchReaderBuilder<File>, FileError> {
        let file =
            File::open(&self.path).map_err(|e| FileError::Io(io_error("open", &self.path, e)))?;
        // Batches of a whole row group (the reader's default is 1 024 rows): fewer, larger batches to convert and to
        // hand to pyarrow.
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map(|builder| builder.with_batch_size(ROW_GROUP_ROWS))
            .map_err(|e| FileError::Corrupt(e.to_string()))
    }

    /// Rows of the file with `ts_init` in `range`.
    pub fn read<R: StoredRow>(
        &self,
        inst: &InstrumentRef,
        range: &TimeRange,
    ) -> Result<Vec<R>, FileError> {
        decode(batches(self.open()?)?, inst, |r: &R| {
            range.contains(r.ts_init())
        })
    }

    /// The file's record batches as stored, only `columns` when given (all of them must exist).
    pub fn read_disk(&self, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, FileError> {
        let builder = match columns {
            Some(columns) => project(self.open()?, columns)?,
            None => self.open()?,
        };
        batches(builder)?.collect()
    }

    /// Rows with `ts_event` in `lo..=hi`, reading only the row groups whose statistics allow such rows.
    pub fn read_event_range<R: StoredRow>(
        &self,
        inst: &InstrumentRef,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<R>, FileError> {
        let builder = self.open()?;
        let metadata = builder.metadata().clone();
        let column = metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == "ts_event");
        let groups: Vec<usize> = (0..metadata.num_row_groups())
            .filter(|&i| {
                let stats = column.and_then(|c| metadata.row_group(i).column(c).statistics());
                match stats {
                    Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                        (Some(&min), Some(&max)) => max >= lo && min <= hi,
                        _ => true,
                    },
                    _ => true,
                }
            })
            .collect();
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        decode(batches(builder.with_row_groups(groups))?, inst, |r: &R| {
            (lo..=hi).contains(&r.ts_event())
        })
    }

    /// `(ts_init, ts_event)` of every row, in file order, reading only those two columns.
    pub fn read_times(&self) -> Result<Vec<(i64, i64)>, FileError> {
        let mut times = Vec::new();
        for batch in batches(project(self.open()?, &["ts_init", "ts_event"])?)? {
            let batch = batch?;
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| int_values(c.as_ref()))
                    .ok_or_else(|| FileError::Corrupt(format!("column {name} is not an integer")))
            };
            let (init, event) = (column("ts_init")?, column("ts_event")?);
            times.extend(init.into_iter().zip(event));
        }
        Ok(times)
    }

    fn metadata(&self) -> Result<std::sync::Arc<ParquetMetaData>, FileError> {
        Ok(self.open()?.metadata().clone())
    }

    /// Row count and `ts_init` / `ts_event` bounds from the footer alone; a file without the columns of `kind`
    /// is corrupt.
    pub fn footer_stats(&self, kind: Kind) -> Result<FooterStats, FileError> {
        let metadata = self.metadata()?;
        let columns = metadata.file_metadata().schema_descr();
        let columns: Vec<&str> = columns.columns().iter().map(|c| c.name()).collect();
        if let Some(missing) = kind.disk_columns().iter().find(|c| !columns.contains(c)) {
            return Err(FileError::Corrupt(format!(
                "no column '{missing}': not a {} file",
                kind.name()
            )));
        }
        Ok(FooterStats {
            rows: metadata.file_metadata().num_rows().max(0) as u64,
            min_ts_init: column_bound(&metadata, "ts_init", false),
            max_ts_init: column_bound(&metadata, "ts_init", true),
            min_ts_event: column_bound(&metadata, "ts_event", false),
            max_ts_event: column_bound(&metadata, "ts_event", true),
        })
    }
}

fn corrupt(e: impl std::fmt::Display) -> FileError {
    FileError::Corrupt(e.to_string())
}

/// The batches a reader yields, one at a time; an undecodable one is `Corrupt`.
fn batches(
    builder: ParquetRecordBatchReaderBuilder<File>,
) -> Result<impl Iterator<Item = Result<RecordBatch, FileError>>, FileError> {
    Ok(builder
        .build()
        .map_err(corrupt)?
        .map(|b| b.map_err(corrupt)))
}

/// Only `columns` (all of which must exist) are decoded.
fn project(
    builder: ParquetRecordBatchReaderBuilder<File>,
    columns: &[&str],
) -> Result<ParquetRecordBatchReaderBuilder<File>, FileError> {
    let schema = builder.parquet_schema();
    let wanted: Vec<usize> = columns
        .iter()
        .filter_map(|name| schema.columns().iter().position(|c| c.name() == *name))
        .collect();
    if wanted.len() != columns.len() {
        return Err(FileError::Corrupt(format!(
            "not all of the columns {columns:?}"
        )));
    }
    let mask = parquet::arrow::ProjectionMask::leaves(schema, wanted);
    Ok(builder.with_projection(mask))
}

/// The rows of `batches` that `keep` keeps, decoded batch by batch (never all batches at once).
fn decode<R: StoredRow>(
    batches: impl Iterator<Item = Result<RecordBatch, FileError>>,
    inst: &InstrumentRef,
    keep: impl Fn(&R) -> bool,
) -> Result<Vec<R>, FileError> {
    let mut rows = Vec::new();
    for batch in batches {
        let decoded = R::from_disk(&batch?, inst).map_err(corrupt)?;
        rows.extend(decoded.into_iter().filter(|r| keep(r)));
    }
    Ok(rows)
}

/// The values of an `Int64` or `UInt64` column (funding files keep NautilusTrader's unsigned timestamps; storable
/// ones fit in `i64`).
fn int_values(column: &dyn arrow_array::Array) -> Option<Vec<i64>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, UInt64Type};
    if let Some(values) = column.as_primitive_opt::<Int64Type>() {
        return Some(values.values().to_vec());
    }
    let values = column.as_primitive_opt::<UInt64Type>()?;
    Some(
        values
            .values()
            .iter()
            .map(|&v| i64::try_from(v).unwrap_or(i64::MAX))
            .collect(),
    )
}

/// Minimum or maximum of an INT64-backed column over all row groups, from the statistics in the footer.
fn column_bound(metadata: &ParquetMetaData, name: &str, max: bool) -> Option<i64> {
    let index = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == name)?;
    let values =
        metadata
            .row_groups()
            .iter()
            .filter_map(|rg| match rg.column(index).statistics()? {
                Statistics::Int64(s) => {
                    if max {
                        s.max_opt().copied()
                    } else {
                        s.min_opt().copied()
                    }
                }
                _ => None,
            });
    if max {
        values.max()
    } else {
        values.min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MAX_TIMESTAMP, MIN_TIMESTAMP};

    #[test]
    fn granules_start_at_calendar_boundaries() {
        let ns = |y, m, d| crate::model::time::days_from_civil(y, m, d) * NANOS_PER_DAY;
        let t = ns(2024, 2, 29) + 3_600 * 1_000_000_000;
        assert_eq!(Granule::Day.start(t), ns(2024, 2, 29));
        assert_eq!(Granule::Month.start(t), ns(2024, 2, 1));
        assert_eq!(Granule::Year.start(t), ns(2024, 1, 1));
        assert_eq!(Granule::Month.start(ns(2024, 3, 1) - 1), ns(2024, 2, 1));
        assert_eq!(Granule::Year.start(MAX_TIMESTAMP), ns(2262, 1, 1));
        assert_eq!(Granule::Day.start(MIN_TIMESTAMP), 0);
        for g in [Granule::Day, Granule::Month, Granule::Year] {
            assert!(g.start(i64::MIN) <= 0 && g.start(i64::MAX) > 0);
        }
    }

    #[test]
    fn file_names_only_for_storable_intervals() {
        assert_eq!(
            file_name(MIN_TIMESTAMP, MAX_TIMESTAMP).unwrap(),
            "1970-01-01T00-00-00-000000000Z_2262-04-10T23-59-59-999999999Z.parquet"
        );
        for (start, end) in [
            (-1, 5),
            (0, MAX_TIMESTAMP + 1),
            (i64::MIN, i64::MAX),
            (10, 9),
        ] {
            assert!(file_name(start, end).is_err(), "{start} {end}");
        }
        // Every name we make reads back as its interval.
        for (start, end) in [(0, 0), (1_735_689_600_000_000_000, MAX_TIMESTAMP)] {
            let name = file_name(start, end).unwrap();
            let (a, b) = name
                .strip_suffix(".parquet")
                .unwrap()
                .split_once('_')
                .unwrap();
            assert_eq!(
                (parse_catalog_timestamp(a), parse_catalog_timestamp(b)),
                (Some(start), Some(end))
            );
        }
    }

    #[test]
    fn listing_ignores_what_is_not_a_data_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = file_name(0, NANOS_PER_DAY - 1).unwrap();
        for name in [
            good.as_str(),
            "README.txt",
            "x_y.parquet",
            ".hidden.parquet.tmp-1-2",
            "2262-04-11T00-00-00-000000000Z_1677-09-21T00-12-43-145224192Z.parquet",
            "1970-01-02T00-00-00-000000000Z_1970-01-01T00-00-00-000000000Z.parquet",
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        fs::create_dir(
            dir.path()
                .join("1970-01-03T00-00-00-000000000Z_1970-01-03T00-00-00-000000001Z.parquet"),
        )
        .unwrap();
        let listed = DataFile::list(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path, dir.path().join(good));
    }
}
