//! The 24/7 collector: configuration, the job runner, its status and control.

pub mod config;
pub mod metrics;
pub mod runner;
pub mod status;

pub use config::{DaemonConfig, SymbolSelection};
pub use runner::{DaemonLock, DaemonRunner};
pub use status::DaemonStatus;
