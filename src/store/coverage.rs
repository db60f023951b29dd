//! What history fetches have already covered, per dataset and instrument: the ranges fetched completely and the
//! venue's first available time, in a small JSON sidecar `<root>/.ccxt_pipeline/coverage/<dataset>/<INSTRUMENT>.json`
//! (a hidden folder, so NautilusTrader and the store's own listings never see it). It only saves requests: a
//! missing or unreadable file means "nothing known" (with a warning), never an error that blocks a fetch.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::time::iso_ms;
use crate::model::{PipelineError, Result};

use super::ParquetStore;

/// The folder under the store root that holds the sidecars.
pub const COVERAGE_DIR: &str = ".ccxt_pipeline/coverage";
const VERSION: u32 = 1;

/// Inclusive millisecond ranges fetched completely (sorted, disjoint, not adjacent) and the first time the venue
/// has data for (nothing exists before it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub ranges: Vec<(i64, i64)>,
    pub first_available_ms: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct CoverageFile {
    version: u32,
    dataset: String,
    instrument_id: String,
    /// `[start_ms, end_ms]`, inclusive.
    ranges: Vec<(i64, i64)>,
    first_available_ms: Option<i64>,
    /// The same in ISO-8601, for people reading the file; ignored when read.
    #[serde(default)]
    ranges_utc: Vec<(String, String)>,
    #[serde(default)]
    first_available_utc: Option<String>,
}

impl Coverage {
    /// Adds `[start, end]`, merging with overlapping or adjacent ranges.
    pub fn add(&mut self, start: i64, end: i64) {
        if start > end {
            return;
        }
        let mut merged = (start, end);
        let mut rest = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if b.saturating_add(1) < merged.0 || merged.1.saturating_add(1) < a {
                rest.push((a, b));
            } else {
                merged = (merged.0.min(a), merged.1.max(b));
            }
        }
        rest.push(merged);
        rest.sort_unstable();
        self.ranges = rest;
    }

    /// Records that the venue has nothing before `ms` (the earliest such time known wins).
    pub fn set_first_available(&mut self, ms: i64) {
        self.first_available_ms = Some(self.first_available_ms.map_or(ms, |known| known.min(ms)));
    }

    fn covers(&self, ms: i64) -> Option<(i64, i64)> {
        if let Some(first) = self.first_available_ms {
            if ms < first {
                return Some((i64::MIN, first - 1));
            }
        }
        self.ranges
            .iter()
            .copied()
            .find(|&(a, b)| a <= ms && ms <= b)
    }

    /// The part of `[start, end]` still to fetch: from its first uncovered time to its last (a covered stretch in
    /// between is fetched again, which de-duplication makes cost requests, not rows). `None` when all is covered.
    pub fn uncovered(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        let mut lo = start;
        while lo <= end {
            match self.covers(lo) {
                Some((_, b)) => lo = b.saturating_add(1),
                None => break,
            }
            if lo == i64::MAX {
                return None;
            }
        }
        let mut hi = end;
        while hi >= lo {
            match self.covers(hi) {
                Some((a, _)) => hi = a.saturating_sub(1),
                None => break,
            }
        }
        (lo <= hi).then_some((lo, hi))
    }
}

fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(PipelineError::InvalidArgument(format!(
            "{what} {name:?} cannot name a coverage file"
        )))
    }
}

impl ParquetStore {
    /// Where the coverage of `dataset` (e.g. `funding_rate`, `open_interest_5m`) for one instrument is kept.
    pub fn coverage_path(&self, dataset: &str, instrument_id: &str) -> Result<PathBuf> {
        check_name("dataset", dataset)?;
        check_name("instrument id", instrument_id)?;
        Ok(self
            .root()
            .join(COVERAGE_DIR)
            .join(dataset)
            .join(format!("{instrument_id}.json")))
    }

    /// The recorded coverage; empty when there is none, and empty with a warning when the file cannot be read or
    /// parsed (it is then rewritten by the next successful fetch).
    pub fn read_coverage(&self, dataset: &str, instrument_id: &str) -> Coverage {
        let path = match self.coverage_path(dataset, instrument_id) {
            Ok(path) => path,
            Err(e) => {
                tracing::warn!("coverage not used: {e}");
                return Coverage::default();
            }
        };
        match read_file(&path) {
            Ok(coverage) => coverage.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(
                    "ignoring the coverage file {} ({e}): the range is fetched again",
                    path.display()
                );
                Coverage::default()
            }
        }
    }

    /// Merges `[start, end]` (and the first available time, if learnt) into the recorded coverage and rewrites the
    /// file atomically. Re-reads the file first so that a concurrent fetch's ranges are kept.
    pub fn record_coverage(
        &self,
        dataset: &str,
        instrument_id: &str,
        range: Option<(i64, i64)>,
        first_available_ms: Option<i64>,
    ) -> Result<()> {
        let path = self.coverage_path(dataset, instrument_id)?;
        let mut coverage = read_file(&path).ok().flatten().unwrap_or_default();
        let before = coverage.clone();
        if let Some((start, end)) = range {
            coverage.add(start, end);
        }
        if let Some(first) = first_available_ms {
            coverage.set_first_available(first);
        }
        if coverage == before {
            return Ok(());
        }
        let file = CoverageFile {
            version: VERSION,
            dataset: dataset.to_string(),
            instrument_id: instrument_id.to_string(),
            ranges_utc: coverage
                .ranges
                .iter()
                .map(|&(a, b)| (iso_ms(a), iso_ms(b)))
                .collect(),
            first_available_utc: coverage.first_available_ms.map(iso_ms),
            ranges: coverage.ranges,
            first_available_ms: coverage.first_available_ms,
        };
        let text = serde_json::to_vec_pretty(&file)
            .map_err(|e| PipelineError::Store(format!("cannot encode coverage: {e}")))?;
        write_atomically(&path, &text)
    }
}

fn read_file(path: &Path) -> std::result::Result<Option<Coverage>, String> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let file: CoverageFile =
        serde_json::from_slice(&text).map_err(|e| format!("not a coverage file: {e}"))?;
    if file.version != VERSION {
        return Err(format!("unknown version {}", file.version));
    }
    let mut coverage = Coverage {
        ranges: Vec::new(),
        first_available_ms: file.first_available_ms,
    };
    for (a, b) in file.ranges {
        if a > b {
            return Err(format!("range ends before it starts ({a} > {b})"));
        }
        coverage.add(a, b);
    }
    Ok(Some(coverage))
}

fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |what: &str, path: &Path, e: std::io::Error| {
        PipelineError::Store(format!("cannot {what} {}: {e}", path.display()))
    };
    let dir = target
        .parent()
        .ok_or_else(|| PipelineError::Store(format!("{} has no folder", target.display())))?;
    fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = fs::File::create(&temp).map_err(|e| io("create", &temp, e))?;
        file.write_all(bytes).map_err(|e| io("write", &temp, e))?;
        // Not synced: the rename keeps readers from a torn file, and a record lost (or left unreadable) by a
        // crash only costs requests: an unreadable coverage file counts as "nothing known". The rows it describes
        // were synced by their own writes before it was recorded.
        drop(file);
        fs::rename(&temp, target).map_err(|e| io("rename into place", target, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_the_uncovered_part_is_what_is_left() {
        let mut c = Coverage::default();
        c.add(100, 200);
        c.add(300, 400);
        c.add(201, 250);
        assert_eq!(c.ranges, vec![(100, 250), (300, 400)]);
        assert_eq!(c.uncovered(100, 400), Some((251, 299)));
        assert_eq!(c.uncovered(150, 250), None);
        assert_eq!(c.uncovered(50, 400), Some((50, 299)));
        assert_eq!(c.uncovered(120, 500), Some((251, 500)));
        c.set_first_available(100);
        assert_eq!(c.uncovered(0, 250), None);
        assert_eq!(c.uncovered(i64::MIN, 260), Some((251, 260)));
        c.add(0, 1000);
        assert_eq!(c.ranges, vec![(0, 1000)]);
        assert_eq!(c.uncovered(0, 1000), None);
    }

    #[test]
    fn corrupt_files_read_as_nothing_known_and_are_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = ParquetStore::open(dir.path()).unwrap();
        let path = store
            .coverage_path("funding_rate", "BTC-USD-PERP.HYPERLIQUID")
            .unwrap();
        for junk in [&b""[..], b"{", b"[1,2]", b"{\"version\":9}", b"\xff\xfe"] {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, junk).unwrap();
            assert_eq!(
                store.read_coverage("funding_rate", "BTC-USD-PERP.HYPERLIQUID"),
                Coverage::default()
            );
        }
        store
            .record_coverage(
                "funding_rate",
                "BTC-USD-PERP.HYPERLIQUID",
                Some((1, 2)),
                Some(1),
            )
            .unwrap();
        let read = store.read_coverage("funding_rate", "BTC-USD-PERP.HYPERLIQUID");
        assert_eq!(read.ranges, vec![(1, 2)]);
        assert_eq!(read.first_available_ms, Some(1));
        assert!(store.coverage_path("../x", "BTC").is_err());
        assert!(store.coverage_path("funding_rate", "../BTC").is_err());
    }
}
