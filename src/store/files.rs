//! File-level mechanics of the store: catalog file names, atomic replacement, the writer lock, footer reads.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;

use crate::model::time::{catalog_timestamp, parse_catalog_timestamp};
use crate::model::{InstrumentRef, PipelineError, Result};
use crate::store::{StoredRow, TimeRange};

const LOCK_FILE: &str = ".ccxt_pipeline.lock";
/// Temporary files are hidden and do not end in `.parquet`, so no catalog reader ever lists them.
const TEMP_MARKER: &str = ".tmp-";

fn io_error(action: &str, path: &Path, e: io::Error) -> PipelineError {
    PipelineError::Store(format!("cannot {action} {}: {e}", path.display()))
}

pub fn file_name(start: i64, end: i64) -> String {
    format!(
        "{}_{}.parquet",
        catalog_timestamp(start),
        catalog_timestamp(end)
    )
}

pub fn create_dir_all(dir: &Path) -> Result<()> {
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

/// Writes `batch` to `target` so that readers see either the previous file or the complete new one: temporary
/// file in the same folder, fsync, rename over the target, fsync the folder (so the rename survives a crash).
pub fn write_atomically(target: &Path, batch: &RecordBatch) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().expect("data files live in a folder");
    let final_name = target
        .file_name()
        .expect("data files have a name")
        .to_string_lossy();
    let temp = dir.join(format!(
        ".{final_name}{TEMP_MARKER}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let file = File::create(&temp).map_err(|e| io_error("create", &temp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        let parquet_error = |e: parquet::errors::ParquetError| {
            PipelineError::Store(format!("cannot write {}: {e}", temp.display()))
        };
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(parquet_error)?;
        writer.write(batch).map_err(parquet_error)?;
        let file = writer.into_inner().map_err(parquet_error)?;
        file.sync_all().map_err(|e| io_error("sync", &temp, e))?;
        fs::rename(&temp, target).map_err(|e| io_error("rename into place", target, e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("sync folder", dir, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The exclusive writer lock of a store; released on drop (and by the OS if the process dies).
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub fn acquire(root: &Path) -> Result<Self> {
        let path = root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("open lock", &path, e))?;
        file.lock().map_err(|e| io_error("lock", &path, e))?;
        Ok(StoreLock { _file: file })
    }
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
}

impl DataFile {
    /// Data files of a folder sorted by interval; other files (temporaries, foreign names) are ignored.
    pub fn list(dir: &Path) -> Result<Vec<DataFile>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("list", dir, e)),
        };
        let mut files: Vec<DataFile> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (start, end) = name.strip_suffix(".parquet")?.split_once('_')?;
                let (start, end) = (
                    parse_catalog_timestamp(start)?,
                    parse_catalog_timestamp(end)?,
                );
                (start <= end).then(|| DataFile {
                    path: e.path(),
                    start,
                    end,
                })
            })
            .collect();
        files.sort_by_key(|f| (f.start, f.end));
        Ok(files)
    }

    fn open(&self) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        let file = File::open(&self.path).map_err(|e| io_error("open", &self.path, e))?;
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| PipelineError::Store(format!("cannot read {}: {e}", self.path.display())))
    }

    /// Rows of the file with `ts_init` in `range`.
    pub fn read<R: StoredRow>(&self, inst: &InstrumentRef, range: &TimeRange) -> Result<Vec<R>> {
        let reader = self.open()?.build().map_err(|e| {
            PipelineError::Store(format!("cannot read {}: {e}", self.path.display()))
        })?;
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| {
                PipelineError::Store(format!("cannot read {}: {e}", self.path.display()))
            })?;
            rows.extend(
                R::from_disk(&batch, inst)?
                    .into_iter()
                    .filter(|r| range.contains(r.ts_init())),
            );
        }
        Ok(rows)
    }

    fn metadata(&self) -> Result<std::sync::Arc<ParquetMetaData>> {
        Ok(self.open()?.metadata().clone())
    }

    /// Row count and `ts_init` bounds from the footer alone.
    pub fn footer_stats(&self) -> Result<FooterStats> {
        let metadata = self.metadata()?;
        Ok(FooterStats {
            rows: metadata.file_metadata().num_rows().max(0) as u64,
            min_ts_init: column_bound(&metadata, "ts_init", false),
            max_ts_init: column_bound(&metadata, "ts_init", true),
        })
    }

    pub fn max_ts_event(&self) -> Result<Option<i64>> {
        Ok(column_bound(&*self.metadata()?, "ts_event", true))
    }
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
