//! Forwards `tracing` events of this crate to Python's `logging`, under the logger `ccxt_pipeline_rs.<module>`,
//! so notebooks and the CLI configure Rust logs the way they configure Python ones.

use std::fmt::Write;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

struct PythonLogging;

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
        let mut message = Message::default();
        event.record(&mut message);
        let logger_name = metadata.target().replace("::", ".");
        let level = python_level(metadata.level());
        // try_attach: after interpreter shutdown began, a late event from a runtime thread is dropped, not a crash.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            let logger = py
                .import("logging")?
                .call_method1("getLogger", (logger_name,))?;
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
        .with(PythonLogging.with_filter(filter))
        .try_init();
}
