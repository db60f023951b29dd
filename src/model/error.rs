//! The error classes of the public contract (docs/architecture.md#errors). Every variant names the venue and what
//! was wrong, so a user (or the CLI's one-line message) can act on it without a traceback.

use crate::model::venue::Venue;

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// Connection refused/reset, timeouts, DNS: the request may succeed later.
    #[error("{venue}: network error: {}", clean_message(.message))]
    Network { venue: Venue, message: String },

    /// The venue throttled us (HTTP 429/418, Bybit 403) and retries did not get through.
    /// `status` is 0 when no request was sent because an earlier ban is still running.
    #[error("{venue}: rate limited{}{}: {}", status_hint(*.status), retry_after_hint(*.retry_after_ms), clean_message(.message))]
    RateLimited {
        venue: Venue,
        status: u16,
        retry_after_ms: Option<u64>,
        message: String,
    },

    /// The venue answered with an error of its own (Binance `{code,msg}`, Bybit `retCode != 0`, HTTP 4xx/5xx).
    #[error("{venue}: exchange error {code} (HTTP {status}): {}", clean_message(.message))]
    Exchange {
        venue: Venue,
        status: u16,
        code: i64,
        message: String,
    },

    /// The venue answered 2xx but the body is not what its API documents (truncated, wrong types, missing fields).
    #[error("{venue}: malformed response for {what}: {}", clean_message(.detail))]
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

    #[error("{venue}: {what} is not supported: {}", clean_message(.reason))]
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
    #[error("{venue}: internal error, please report it: {}", clean_message(.message))]
    Internal { venue: Venue, message: String },
}

/// Longest message text shown; the rest is summarised by its length.
const MESSAGE_MAX_CHARS: usize = 400;
/// Longest quoted value (`"…"` or `` `…` ``) echoed from a venue's answer.
const QUOTE_MAX_CHARS: usize = 80;

/// What a person can read in a venue's or a parser's message: no terminal escapes or other control characters
/// (ANSI sequences are dropped, other controls shown as `\u{..}`), no Rust type names from the JSON decoder
/// (`expected struct OpenInterestBody` reads `expected an object`), epoch milliseconds shown as ISO-8601 UTC
/// (`1544570770441` reads `2018-12-11T23:26:10.441Z`), and no long echo of the input: quoted values are cut at 80
/// characters and the whole text at 400.
pub fn clean_message(text: &str) -> String {
    let text = strip_controls(text);
    let text = name_rust_types(&text);
    let text = shorten_quotes(&text);
    let text = iso_epoch_millis(&text);
    let total = text.chars().count();
    if total <= MESSAGE_MAX_CHARS {
        return text;
    }
    let kept: String = text.chars().take(MESSAGE_MAX_CHARS - 100).collect();
    format!(
        "{kept}… ({} more characters)",
        total - (MESSAGE_MAX_CHARS - 100)
    )
}

fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI (`ESC [ params final`) and OSC (`ESC ] … BEL|ESC \\`) sequences vanish; a lone ESC too.
                match chars.peek() {
                    Some('[') => {
                        chars.next();
                        for c in chars.by_ref() {
                            if ('\u{40}'..='\u{7e}').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        chars.next();
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some())
                            {
                                break;
                            }
                        }
                    }
                    Some(_) => {
                        chars.next();
                    }
                    None => {}
                }
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn name_rust_types(text: &str) -> String {
    const KINDS: [(&str, &str); 5] = [
        ("tuple struct ", "an array"),
        ("newtype struct ", "a value"),
        ("unit struct ", "null"),
        ("struct ", "an object"),
        ("enum ", "one of the documented values"),
    ];
    const PRIMITIVES: [(&str, &str); 14] = [
        ("u8", "a non-negative integer"),
        ("u16", "a non-negative integer"),
        ("u32", "a non-negative integer"),
        ("u64", "a non-negative integer"),
        ("u128", "a non-negative integer"),
        ("usize", "a non-negative integer"),
        ("i8", "an integer"),
        ("i16", "an integer"),
        ("i32", "an integer"),
        ("i64", "an integer"),
        ("i128", "an integer"),
        ("isize", "an integer"),
        ("f32", "a number"),
        ("f64", "a number"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("expected ") {
        out.push_str(&rest[..at + "expected ".len()]);
        rest = &rest[at + "expected ".len()..];
        let ident_len = |s: &str| {
            s.find(|c: char| {
                !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '<' || c == '>')
            })
            .unwrap_or(s.len())
        };
        if let Some((prefix, words)) = KINDS.iter().find(|(prefix, _)| rest.starts_with(prefix)) {
            let name = &rest[prefix.len()..];
            let len = ident_len(name);
            if len > 0 {
                out.push_str(words);
                rest = &name[len..];
                continue;
            }
        }
        let len = ident_len(rest);
        if let Some((_, words)) = PRIMITIVES.iter().find(|(name, _)| *name == &rest[..len]) {
            out.push_str(words);
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

fn shorten_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MESSAGE_MAX_CHARS));
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        let mut quoted = String::new();
        let mut closed = false;
        for q in chars.by_ref() {
            if q == c {
                closed = true;
                break;
            }
            quoted.push(q);
        }
        let len = quoted.chars().count();
        if len > QUOTE_MAX_CHARS {
            out.extend(quoted.chars().take(QUOTE_MAX_CHARS));
            out.push_str(&format!("…({len} characters)"));
        } else {
            out.push_str(&quoted);
        }
        if closed {
            out.push(c);
        }
    }
    out
}

/// 13-digit numbers between 2001 and 2100 read as epoch milliseconds.
fn iso_epoch_millis(text: &str) -> String {
    const LOW: i64 = 978_307_200_000;
    const HIGH: i64 = 4_102_444_800_000;
    let mut out = String::with_capacity(text.len() + 16);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'))
        {
            let end = bytes[i..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(bytes.len(), |n| i + n);
            let digits = &text[i..end];
            let next_is_fraction =
                bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            match digits.parse::<i64>() {
                Ok(ms) if digits.len() == 13 && (LOW..HIGH).contains(&ms) && !next_is_fraction => {
                    out.push_str(&crate::model::time::iso_ms(ms));
                }
                _ => out.push_str(digits),
            }
            i = end;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_readable() {
        for (raw, want, not) in [
            (
                "invalid type: string \"x\", expected struct OpenInterestBody at line 1 column 5",
                "expected an object at line 1",
                "OpenInterestBody",
            ),
            (
                "expected tuple struct Level at line 1",
                "expected an array",
                "Level",
            ),
            (
                "unknown variant `X`, expected enum Side",
                "one of the documented values",
                "Side",
            ),
            (
                "invalid value: integer `-5`, expected u64",
                "a non-negative integer",
                "u64",
            ),
            (
                "invalid type: null, expected f64 at line 3",
                "expected a number at line 3",
                "f64",
            ),
            (
                "IP banned until 1544570770441.",
                "until 2018-12-11T23:26:10.441Z.",
                "1544570770441",
            ),
            (
                "startTime=1700000000000&endTime=1700000360000",
                "startTime=2023-11-14T22:13:20.000Z&",
                "1700000000000",
            ),
            ("\u{1b}[31mred\u{1b}[0m alert", "red alert", "\u{1b}"),
            ("\u{1b}]0;title\u{7}bell\u{7}", "bell\\u{7}", "\u{1b}"),
        ] {
            let got = clean_message(raw);
            assert!(got.contains(want), "{raw:?} -> {got:?}");
            assert!(!got.contains(not), "{raw:?} -> {got:?}");
        }
        // Not epoch ms: short numbers, decimals, codes, a 13-digit number outside 2001–2100.
        for kept in [
            "code -1121",
            "price 65000.5",
            "1.7000000000001",
            "id 9999999999999",
            "x1700000000000",
        ] {
            assert_eq!(clean_message(kept), kept);
        }
        let echo = format!(
            "invalid type: string \"{}\", expected a sequence",
            "A".repeat(5000)
        );
        let got = clean_message(&echo);
        assert!(got.chars().count() < 250, "{got}");
        assert!(got.contains("(5000 characters)"), "{got}");
        let long = "word ".repeat(2000);
        let got = clean_message(&long);
        assert!(
            got.chars().count() <= 400 && got.ends_with("more characters)"),
            "{got}"
        );
        let err =
            PipelineError::malformed(Venue::Bybit, "open interest", "expected struct Envelope");
        assert_eq!(
            err.to_string(),
            "bybit: malformed response for open interest: expected an object"
        );
    }
}
