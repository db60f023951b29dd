//! What the daemon reports about itself: per job last success, last error, next run and rows written; the
//! streams' counters; rewritten atomically to a JSON file that `ccxt-cli daemon status` reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::model::{PipelineError, Result};

/// The status file, the PID/lock file and the daemon's log live at the top of the data dir.
pub const STATUS_FILE: &str = "daemon.status.json";
pub const PID_FILE: &str = "daemon.pid";

pub fn status_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATUS_FILE)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JobStatus {
    /// Epoch ms of the last run that succeeded (every symbol), if any.
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    /// Epoch ms of the next scheduled run (none for jobs that run once or continuously).
    pub next_run_ms: Option<i64>,
    pub runs: u64,
    pub failures: u64,
    pub rows_written: u64,
}

impl JobStatus {
    /// Counts one run that ended at `now_ms`, with `error` if it failed.
    pub fn finished(&mut self, now_ms: i64, error: Option<&dyn std::fmt::Display>) {
        self.runs += 1;
        match error {
            None => self.last_success_ms = Some(now_ms),
            Some(error) => {
                self.failures += 1;
                self.last_error = Some(error.to_string());
                self.last_error_ms = Some(now_ms);
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamStatus {
    pub connected: u64,
    pub events: u64,
    pub reconnects: u64,
    pub gaps: u64,
    /// End times (epoch ms) of the reconnect gaps of the last 24 h, counted in `gaps_24h`.
    pub gaps_24h: u64,
    pub stored: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DaemonStatus {
    /// `starting`, `running`, `stopping` or `stopped`.
    pub state: String,
    pub pid: u32,
    pub started_ms: i64,
    pub updated_ms: i64,
    pub config: Option<String>,
    pub data_dir: String,
    pub jobs: BTreeMap<String, JobStatus>,
    pub streams: Option<StreamStatus>,
    pub store_bytes: u64,
}

impl DaemonStatus {
    pub fn read(data_dir: &Path) -> Result<Option<DaemonStatus>> {
        let path = status_path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                PipelineError::Store(format!("{}: not a daemon status file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PipelineError::Store(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes under a temporary name and renames it over the status file: readers see the old or the new one.
    pub fn write(&self, data_dir: &Path) -> Result<()> {
        let path = status_path(data_dir);
        let temp = data_dir.join(format!(".{STATUS_FILE}.tmp"));
        let text =
            serde_json::to_vec_pretty(self).map_err(|e| PipelineError::Store(e.to_string()))?;
        std::fs::write(&temp, text)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|e| PipelineError::Store(format!("cannot write {}: {e}", path.display())))
    }
}

/// The live status, shared by the jobs.
#[derive(Debug, Default)]
pub struct SharedStatus(Mutex<DaemonStatus>);

impl SharedStatus {
    pub fn new(status: DaemonStatus) -> Self {
        SharedStatus(Mutex::new(status))
    }

    pub fn update<T>(&self, change: impl FnOnce(&mut DaemonStatus) -> T) -> T {
        change(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn job(&self, name: &str, change: impl FnOnce(&mut JobStatus)) {
        self.update(|status| change(status.jobs.entry(name.to_string()).or_default()));
    }

    pub fn snapshot(&self) -> DaemonStatus {
        self.update(|status| status.clone())
    }
}

/// Bytes of every file under `dir` (the store size in the status).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DaemonStatus::read(dir.path()).unwrap(), None);
        let shared = SharedStatus::new(DaemonStatus {
            state: "running".into(),
            pid: 7,
            ..Default::default()
        });
        shared.job("open_interest binance", |job| {
            job.runs += 1;
            job.rows_written += 2;
        });
        shared.snapshot().write(dir.path()).unwrap();
        let read = DaemonStatus::read(dir.path()).unwrap().unwrap();
        assert_eq!(read.jobs["open_interest binance"].rows_written, 2);
        assert_eq!((read.state.as_str(), read.pid), ("running", 7));
        std::fs::write(status_path(dir.path()), "{").unwrap();
        assert!(matches!(
            DaemonStatus::read(dir.path()),
            Err(PipelineError::Store(_))
        ));
    }
}
