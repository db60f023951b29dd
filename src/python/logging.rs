//! Forwards `tracing` events of this crate to Python's `logging`, under the logger `ccxt_pipeline_rs.<module>`,
//! so notebooks and the CLI configure Rust logs the way they configure Python ones.
//!
//! Each logger's effective level is cached for a second: an event below it is dropped without taking the GIL,
//! so runtime threads do not queue on the interpreter for logs nobody reads (a level change applies within 1 s).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

const LEVEL_CACHE_TTL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct PythonLogging {
    /// Logger name → (effective Python level, when it was read).
    levels: Mutex<HashMap<String, (u8, Instant)>>,
}

impl PythonLogging {
    /// The cached effective level of `logger`, if read within the last second.
    fn cached_level(&self, logger: &str) -> Option<u8> {
        let levels = self.levels.lock().unwrap_or_else(|p| p.into_inner());
        levels
            .get(logger)
            .filter(|(_, read)| read.elapsed() < LEVEL_CACHE_TTL)
            .map(|(level, _)| *level)
    }
}

#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let logger_name = metadata.target().replace("::", ".");
        let level = python_level(metadata.level());
        if self
            .cached_level(&logger_name)
            .is_some_and(|threshold| level < threshold)
        {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        // try_attach: after interpreter shutdown began, a late event from a runtime thread is dropped, not a crash.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            let logger = py
                .import("logging")?
                .call_method1("getLogger", (logger_name.as_str(),))?;
            let threshold: u8 = logger
                .call_method0("getEffectiveLevel")?
                .extract()
                .unwrap_or(0);
            self.levels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(logger_name.clone(), (threshold, Instant::now()));
            if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                logger.call_method1(
                    "log",
                    (level, format!("{}{}", message.text, message.fields)),
                )?;
            }
            Ok(())
        });
    }
}

/// Installs the forwarding subscriber for events from this crate (debug and above). Called once at import.
pub fn install() {
    let filter =
        tracing_subscriber::filter::Targets::new().with_target("ccxt_pipeline_rs", Level::DEBUG);
    // Err: the host process installed its own subscriber first; keep theirs.
    let _ = tracing_subscriber::registry()
        .with(PythonLogging::default().with_filter(filter))
        .try_init();
}
