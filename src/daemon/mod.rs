//! The 24/7 collector: configuration, the job runner, its status and control.

pub mod config;

pub use config::{DaemonConfig, SymbolSelection};
