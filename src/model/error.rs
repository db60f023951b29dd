//! The error classes of the public contract (docs/architecture.md#errors). Every variant names the venue and what
//! was wrong, so a user (or the CLI's one-line message) can act on it without a traceback.

use crate::model::venue::Venue;

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// Connection refused/reset, timeouts, DNS: the request may succeed later.
    #[error("{venue}: network error: {message}")]
    Network { venue: Venue, message: String },

    /// The venue throttled us (HTTP 429/418, Bybit 403) and retries did not get through.
    /// `status` is 0 when no request was sent because an earlier ban is still running.
    #[error("{venue}: rate limited{}{}: {message}", status_hint(*.status), retry_after_hint(*.retry_after_ms))]
    RateLimited {
        venue: Venue,
        status: u16,
        retry_after_ms: Option<u64>,
        message: String,
    },

    /// The venue answered with an error of its own (Binance `{code,msg}`, Bybit `retCode != 0`, HTTP 4xx/5xx).
    #[error("{venue}: exchange error {code} (HTTP {status}): {message}")]
    Exchange {
        venue: Venue,
        status: u16,
        code: i64,
        message: String,
    },

    /// The venue answered 2xx but the body is not what its API documents (truncated, wrong types, missing fields).
    #[error("{venue}: malformed response for {what}: {detail}")]
    Malformed {
        venue: Venue,
        what: &'static str,
        detail: String,
    },

    #[error("{venue}: unknown symbol '{symbol}'{}", suggestion_hint(.suggestions))]
    SymbolNotFound {
        venue: Venue,
        symbol: String,
        suggestions: Vec<String>,
    },

    #[error("{venue}: {what} is not supported: {reason}")]
    Unsupported {
        venue: Venue,
        what: String,
        reason: String,
    },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("store error: {0}")]
    Store(String),

    /// A bug on our side (a task panicked); reported per venue so nothing disappears silently.
    #[error("{venue}: internal error, please report it: {message}")]
    Internal { venue: Venue, message: String },
}

fn status_hint(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!(" (HTTP {status})")
    }
}

fn retry_after_hint(ms: Option<u64>) -> String {
    ms.map(|ms| format!(", retry after {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default()
}

fn suggestion_hint(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean: {}?)", suggestions.join(", "))
    }
}

impl PipelineError {
    pub fn malformed(venue: Venue, what: &'static str, detail: impl std::fmt::Display) -> Self {
        PipelineError::Malformed {
            venue,
            what,
            detail: detail.to_string(),
        }
    }

    /// The venue an error belongs to, when it belongs to one.
    pub fn venue(&self) -> Option<Venue> {
        match self {
            PipelineError::Network { venue, .. }
            | PipelineError::RateLimited { venue, .. }
            | PipelineError::Exchange { venue, .. }
            | PipelineError::Malformed { venue, .. }
            | PipelineError::SymbolNotFound { venue, .. }
            | PipelineError::Unsupported { venue, .. }
            | PipelineError::Internal { venue, .. } => Some(*venue),
            PipelineError::InvalidArgument(_) | PipelineError::Store(_) => None,
        }
    }
}
