//! Pagination as sans-IO state machines: a pager hands out the next [`Request`], is fed the answer's bytes, and
//! returns the rows that answer completes. Two shapes cover the venues:
//! - [`ForwardPager`]: ascending pages from a start time, the next page starting after the last row (Binance,
//!   Hyperliquid);
//! - [`BackwardWindowPager`]: newest-first pages (Bybit), walked inside consecutive time windows so that rows
//!   are released oldest window first. A store written page by page then always holds a gap-free prefix of the
//!   range, which is what resuming from the last stored timestamp relies on.
//!
//! Both refuse to loop or to truncate silently. Every page must lie inside the requested window (a row outside it
//! means the venue ignored a paging parameter), must move the walk on (a repeated cursor, an identical page twice,
//! a page that does not get past the last one) and the whole walk has a request budget derived from the range and
//! the page size ([`Pager::request_budget`]). Each of these ends in a `Malformed` error naming the venue and the
//! endpoint, never in a silent stop or an endless walk. Rows repeated from the previous page (overlapping pages)
//! and rows out of order are harmless and are de-duplicated and sorted.

use std::collections::HashSet;

use crate::model::records::Row;
use crate::model::{PipelineError, Result, Venue};
use crate::venue::Request;

/// What a pager needs of a row: its event time in epoch milliseconds.
pub trait Timed {
    fn ts_ms(&self) -> i64;
}

impl<R: Row> Timed for R {
    fn ts_ms(&self) -> i64 {
        self.ts_event().div_euclid(1_000_000)
    }
}

pub trait Pager: Send {
    type Row;
    /// The request for the next page, or `None` when the range is covered.
    fn next_request(&self) -> Option<Request>;
    /// Consumes the answer to the last request. Returns the rows it completes: in range, ascending, unique.
    fn on_page(&mut self, body: &[u8]) -> Result<Vec<Self::Row>>;
    /// Share of the range covered so far, 0 to 1.
    fn progress(&self) -> f64;
    /// Things the user must know about the result (e.g. the venue serves less than was asked).
    fn warnings(&self) -> Vec<String>;
    /// The most requests a venue that pages as documented can need for the whole range (with slack): a walk
    /// that needs more is stopped as misbehaving. 0 = no budget.
    fn request_budget(&self) -> usize;
    /// `GET /path` (or `POST /info fundingHistory`) of the requests, for messages.
    fn endpoint(&self) -> String;
}

/// A boxed pager (what a venue spec hands out) is a pager.
impl<P: Pager + ?Sized> Pager for Box<P> {
    type Row = P::Row;
    fn next_request(&self) -> Option<Request> {
        (**self).next_request()
    }
    fn on_page(&mut self, body: &[u8]) -> Result<Vec<Self::Row>> {
        (**self).on_page(body)
    }
    fn progress(&self) -> f64 {
        (**self).progress()
    }
    fn warnings(&self) -> Vec<String> {
        (**self).warnings()
    }
    fn request_budget(&self) -> usize {
        (**self).request_budget()
    }
    fn endpoint(&self) -> String {
        (**self).endpoint()
    }
}

/// `GET /fapi/v1/fundingRate`; for Hyperliquid's single endpoint also the request type.
pub fn endpoint_of(request: &Request) -> String {
    let method = match request.method {
        crate::venue::Method::Get => "GET",
        crate::venue::Method::Post => "POST",
    };
    let kind = request
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
    match kind {
        Some(kind) => format!("{method} {} {kind}", request.path),
        None => format!("{method} {}", request.path),
    }
}

/// Pages the range needs at one row per `step_ms` and `page_limit` rows a page, doubled, plus `extra` and slack.
fn budget(start_ms: i64, end_ms: i64, step_ms: i64, page_limit: usize, extra: u64) -> usize {
    if start_ms > end_ms {
        return 1;
    }
    let span = (end_ms as i128 - start_ms as i128).max(0) as u128;
    let rows = span / step_ms.max(1) as u128 + 1;
    let pages = rows.div_ceil(page_limit.max(1) as u128);
    usize::try_from((2 * pages + u128::from(extra)).saturating_add(3)).unwrap_or(usize::MAX)
}

/// A row outside the asked window: the venue ignored a paging parameter; what it sent cannot be trusted to cover
/// the range.
fn outside_window(
    venue: Venue,
    what: &'static str,
    endpoint: &str,
    row_ms: i64,
    (from, to): (i64, i64),
) -> PipelineError {
    use crate::model::time::iso_ms;
    PipelineError::malformed(
        venue,
        what,
        format!(
            "{endpoint} answered a row at {} outside the requested window {} to {}: the venue ignored the paging \
             parameters; stopping instead of returning a partial or wrong history",
            iso_ms(row_ms),
            iso_ms(from),
            iso_ms(to)
        ),
    )
}

type Parse<R> = Box<dyn Fn(&[u8]) -> Result<Vec<R>> + Send + Sync>;

/// (oldest, newest, count) of a raw page: equal twice in a row means the venue is not moving on.
type PageKey = (i64, i64, usize);

fn page_key<R: Timed>(rows: &[R]) -> Option<PageKey> {
    let oldest = rows.iter().map(Timed::ts_ms).min()?;
    let newest = rows.iter().map(Timed::ts_ms).max()?;
    Some((oldest, newest, rows.len()))
}

fn repeated_page(venue: Venue, what: &'static str, endpoint: &str, key: PageKey) -> PipelineError {
    use crate::model::time::iso_ms;
    PipelineError::malformed(
        venue,
        what,
        format!(
            "{endpoint} returned the same page twice ({} rows, {} to {}); stopping instead of looping",
            key.2,
            iso_ms(key.0),
            iso_ms(key.1)
        ),
    )
}

fn fraction(done_until: i64, start: i64, end: i64) -> f64 {
    if end <= start {
        1.0
    } else {
        ((done_until - start) as f64 / (end - start) as f64).clamp(0.0, 1.0)
    }
}

/// Ascending pages requested from a moving start time (`startTime = last row + 1 ms`).
pub struct ForwardPager<R> {
    venue: Venue,
    what: &'static str,
    start_ms: i64,
    end_ms: i64,
    cursor_ms: i64,
    page_limit: usize,
    build: Box<dyn Fn(i64, i64) -> Request + Send + Sync>,
    parse: Parse<R>,
    finished: bool,
    previous_page: Option<PageKey>,
    first_row_ms: Option<i64>,
    /// When set: (step, explanation) — rows should begin within one step of the start, else say why not.
    leading_gap_note: Option<(i64, &'static str)>,
    /// Smallest spacing of rows the venue can serve, for the request budget.
    step_ms: i64,
    endpoint: String,
    /// A full page whose first row is more than this after the cursor is checked (see [`ForwardPager::with_gap_probe`]).
    gap_probe_ms: Option<i64>,
    /// A page held back until the venue confirms that nothing precedes it.
    probe: Option<GapProbe<R>>,
}

/// A page that began later than expected, held while the venue is asked for the gap before it.
struct GapProbe<R> {
    from_ms: i64,
    to_ms: i64,
    rows: Vec<R>,
    full_page: bool,
}

impl<R: Timed> ForwardPager<R> {
    pub fn new(
        venue: Venue,
        what: &'static str,
        (start_ms, end_ms): (i64, i64),
        page_limit: usize,
        build: impl Fn(i64, i64) -> Request + Send + Sync + 'static,
        parse: impl Fn(&[u8]) -> Result<Vec<R>> + Send + Sync + 'static,
    ) -> Self {
        let endpoint = endpoint_of(&build(start_ms, end_ms));
        ForwardPager {
            venue,
            what,
            start_ms,
            end_ms,
            cursor_ms: start_ms,
            page_limit,
            build: Box::new(build),
            parse: Box::new(parse),
            finished: start_ms > end_ms,
            previous_page: None,
            first_row_ms: None,
            leading_gap_note: None,
            step_ms: 60_000,
            endpoint,
            gap_probe_ms: None,
            probe: None,
        }
    }

    /// The smallest spacing of rows (the period, the shortest funding interval), which sizes the request budget.
    /// Without it a minute is assumed.
    pub fn with_step(mut self, step_ms: i64) -> Self {
        self.step_ms = step_ms.max(1);
        self
    }

    /// A full page that starts more than `spacing_ms` (the widest normal spacing of rows) after the requested
    /// start is either a real gap (the instrument listed later, the venue's window begins later, an outage) or a
    /// venue that ignored `startTime` and answered its newest rows. One extra request for the gap tells them
    /// apart: an honest venue answers it empty. Costs a request only where such a gap is.
    pub fn with_gap_probe(mut self, spacing_ms: i64) -> Self {
        self.gap_probe_ms = Some(spacing_ms.max(1));
        self
    }

    /// Takes in the rows of an accepted page: moves the cursor past them, or ends the walk.
    fn accept(&mut self, rows: Vec<R>, full_page: bool) -> Vec<R> {
        match rows.last() {
            Some(last) if full_page && last.ts_ms() < self.end_ms => {
                self.cursor_ms = last.ts_ms() + 1
            }
            _ => self.finished = true,
        }
        if let Some(first) = rows.first() {
            self.first_row_ms.get_or_insert(first.ts_ms());
        }
        rows
    }

    fn on_probe(&mut self, body: &[u8], probe: GapProbe<R>) -> Result<Vec<R>> {
        let raw = (self.parse)(body)?;
        if let Some(key) = page_key(&raw) {
            use crate::model::time::iso_ms;
            return Err(PipelineError::malformed(
                self.venue,
                self.what,
                format!(
                    "{} answered rows ({} to {}) for {} to {}, before the page it had answered for a start of {}: \
                     the venue ignored startTime; stopping instead of returning a partial history",
                    self.endpoint,
                    iso_ms(key.0),
                    iso_ms(key.1),
                    iso_ms(probe.from_ms),
                    iso_ms(probe.to_ms),
                    iso_ms(probe.from_ms)
                ),
            ));
        }
        Ok(self.accept(probe.rows, probe.full_page))
    }

    /// Warn when the rows start more than `step_ms` after the requested start, with `explanation`.
    pub fn warn_on_leading_gap(mut self, step_ms: i64, explanation: &'static str) -> Self {
        self.leading_gap_note = Some((step_ms, explanation));
        self
    }
}

impl<R: Timed + Send> Pager for ForwardPager<R> {
    type Row = R;

    fn next_request(&self) -> Option<Request> {
        if let Some(probe) = &self.probe {
            return Some((self.build)(probe.from_ms, probe.to_ms));
        }
        (!self.finished).then(|| (self.build)(self.cursor_ms, self.end_ms))
    }

    fn on_page(&mut self, body: &[u8]) -> Result<Vec<R>> {
        if let Some(probe) = self.probe.take() {
            return self.on_probe(body, probe);
        }
        let raw = (self.parse)(body)?;
        let Some(key) = page_key(&raw) else {
            self.finished = true;
            return Ok(Vec::new());
        };
        if self.previous_page == Some(key) {
            return Err(repeated_page(self.venue, self.what, &self.endpoint, key));
        }
        self.previous_page = Some(key);
        // Rows between the range start and the cursor repeat the previous page (an overlap): dropped below.
        // Rows before the range or after its end mean the venue ignored `startTime`/`endTime`.
        if let Some(outside) = [key.0, key.1]
            .into_iter()
            .find(|t| !(self.start_ms..=self.end_ms).contains(t))
        {
            return Err(outside_window(
                self.venue,
                self.what,
                &self.endpoint,
                outside,
                (self.cursor_ms, self.end_ms),
            ));
        }
        let full_page = raw.len() >= self.page_limit;
        if key.1 < self.cursor_ms && !full_page {
            // Only rows of the previous page again, and fewer than a page: an overlapping venue has nothing newer.
            self.finished = true;
            return Ok(Vec::new());
        }
        if key.1 < self.cursor_ms {
            return Err(PipelineError::malformed(
                self.venue,
                self.what,
                format!(
                    "{}: all {} rows of the page are before the requested start {}: the venue ignored it",
                    self.endpoint,
                    key.2,
                    crate::model::time::iso_ms(self.cursor_ms)
                ),
            ));
        }
        let mut rows: Vec<R> = raw
            .into_iter()
            .filter(|r| (self.cursor_ms..=self.end_ms).contains(&r.ts_ms()))
            .collect();
        rows.sort_by_key(Timed::ts_ms);
        rows.dedup_by_key(|r| r.ts_ms());
        if let (Some(spacing), Some(first)) = (self.gap_probe_ms, rows.first()) {
            // The row before the cursor (or, on the first page, one step before the range, as a row may sit
            // exactly at its start): a first row more than one and a half steps after it means rows were skipped
            // (a venue that ignored `startTime` answers its newest full page). Half a step absorbs jitter.
            let last_ms = if self.cursor_ms == self.start_ms {
                self.start_ms.saturating_sub(spacing)
            } else {
                self.cursor_ms - 1
            };
            if full_page && first.ts_ms() > last_ms.saturating_add(spacing + spacing / 2) {
                self.probe = Some(GapProbe {
                    from_ms: self.cursor_ms,
                    to_ms: first.ts_ms() - 1,
                    rows,
                    full_page,
                });
                return Ok(Vec::new());
            }
        }
        Ok(self.accept(rows, full_page))
    }

    fn progress(&self) -> f64 {
        if self.finished {
            1.0
        } else {
            fraction(self.cursor_ms, self.start_ms, self.end_ms)
        }
    }

    fn request_budget(&self) -> usize {
        // A gap probe can follow any page.
        let pages = budget(self.start_ms, self.end_ms, self.step_ms, self.page_limit, 0);
        if self.gap_probe_ms.is_some() {
            pages.saturating_mul(3) / 2
        } else {
            pages
        }
    }

    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    fn warnings(&self) -> Vec<String> {
        let Some((step, explanation)) = self.leading_gap_note else {
            return Vec::new();
        };
        // Unfinished walks, and empty ranges (a resume that found everything stored), have nothing to report.
        if !self.finished || self.start_ms > self.end_ms {
            return Vec::new();
        }
        let asked = crate::model::time::catalog_timestamp(self.start_ms * 1_000_000);
        match self.first_row_ms {
            Some(first) if first > self.start_ms + step => vec![format!(
                "{}: {} history starts at {} although {} was asked: {}",
                self.venue,
                self.what,
                crate::model::time::catalog_timestamp(first * 1_000_000),
                asked,
                explanation
            )],
            None => vec![format!(
                "{}: no {} history from {asked}: {explanation}",
                self.venue, self.what
            )],
            _ => Vec::new(),
        }
    }
}

/// How a newest-first venue continues inside a window.
pub enum Continuation {
    /// Opaque cursor from the answer, passed back verbatim (Bybit open interest).
    Cursor,
    /// No cursor: move `endTime` below the oldest row of a full page (Bybit funding history).
    EndTime,
}

/// A newest-first page: rows and the cursor to the next page (if the venue uses cursors).
#[derive(Debug)]
pub struct NewestFirstPage<R> {
    pub rows: Vec<R>,
    pub next_cursor: Option<String>,
}

/// Arguments of one request of a [`BackwardWindowPager`].
pub struct WindowRequest<'a> {
    pub window_start_ms: i64,
    pub page_end_ms: i64,
    pub cursor: Option<&'a str>,
}

type ParseNewestFirst<R> = Box<dyn Fn(&[u8]) -> Result<NewestFirstPage<R>> + Send + Sync>;

pub struct BackwardWindowPager<R> {
    venue: Venue,
    what: &'static str,
    start_ms: i64,
    end_ms: i64,
    window_ms: i64,
    page_limit: usize,
    continuation: Continuation,
    build: Box<dyn Fn(WindowRequest<'_>) -> Request + Send + Sync>,
    parse: ParseNewestFirst<R>,
    window_start_ms: i64,
    window_end_ms: i64,
    page_end_ms: i64,
    cursor: Option<String>,
    seen_cursors: HashSet<String>,
    previous_page: Option<PageKey>,
    buffer: Vec<R>,
    finished: bool,
    /// Smallest spacing of rows, for the request budget.
    step_ms: i64,
    endpoint: String,
}

impl<R: Timed> BackwardWindowPager<R> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        venue: Venue,
        what: &'static str,
        (start_ms, end_ms): (i64, i64),
        window_ms: i64,
        page_limit: usize,
        continuation: Continuation,
        build: impl Fn(WindowRequest<'_>) -> Request + Send + Sync + 'static,
        parse: impl Fn(&[u8]) -> Result<NewestFirstPage<R>> + Send + Sync + 'static,
    ) -> Self {
        let window_end_ms = end_ms.min(start_ms.saturating_add(window_ms - 1));
        let endpoint = endpoint_of(&build(WindowRequest {
            window_start_ms: start_ms,
            page_end_ms: window_end_ms,
            cursor: None,
        }));
        BackwardWindowPager {
            venue,
            what,
            start_ms,
            end_ms,
            window_ms,
            page_limit,
            continuation,
            build: Box::new(build),
            parse: Box::new(parse),
            window_start_ms: start_ms,
            window_end_ms,
            page_end_ms: window_end_ms,
            cursor: None,
            seen_cursors: HashSet::new(),
            previous_page: None,
            buffer: Vec::new(),
            finished: start_ms > end_ms,
            step_ms: 60_000,
            endpoint,
        }
    }

    /// The smallest spacing of rows (the period, the shortest funding interval), which sizes the request budget.
    pub fn with_step(mut self, step_ms: i64) -> Self {
        self.step_ms = step_ms.max(1);
        self
    }

    /// The window is walked: release its rows, oldest first, and move to the next window.
    fn close_window(&mut self) -> Vec<R> {
        let mut rows = std::mem::take(&mut self.buffer);
        rows.sort_by_key(Timed::ts_ms);
        rows.dedup_by_key(|r| r.ts_ms());
        if self.window_end_ms >= self.end_ms {
            self.finished = true;
        } else {
            self.window_start_ms = self.window_end_ms + 1;
            self.window_end_ms = self
                .end_ms
                .min(self.window_start_ms.saturating_add(self.window_ms - 1));
            self.page_end_ms = self.window_end_ms;
            self.cursor = None;
            self.seen_cursors.clear();
            self.previous_page = None;
        }
        rows
    }
}

impl<R: Timed + Send> Pager for BackwardWindowPager<R> {
    type Row = R;

    fn next_request(&self) -> Option<Request> {
        (!self.finished).then(|| {
            (self.build)(WindowRequest {
                window_start_ms: self.window_start_ms,
                page_end_ms: self.page_end_ms,
                cursor: self.cursor.as_deref(),
            })
        })
    }

    fn on_page(&mut self, body: &[u8]) -> Result<Vec<R>> {
        let page = (self.parse)(body)?;
        let key = page_key(&page.rows);
        if let Some(key) = key {
            if Some(key) == self.previous_page {
                return Err(repeated_page(self.venue, self.what, &self.endpoint, key));
            }
            // Every row inside the asked window, else the venue ignored `startTime`/`endTime` (and walking its
            // cursor would visit its whole history, or the same page for every window).
            if let Some(outside) = [key.0, key.1]
                .into_iter()
                .find(|t| !(self.window_start_ms..=self.page_end_ms).contains(t))
            {
                return Err(outside_window(
                    self.venue,
                    self.what,
                    &self.endpoint,
                    outside,
                    (self.window_start_ms, self.page_end_ms),
                ));
            }
            // Newest first: each further page of a window must reach back past the newest row of the last one.
            if let Some(previous) = self.previous_page {
                if key.1 >= previous.1 {
                    return Err(PipelineError::malformed(
                        self.venue,
                        self.what,
                        format!(
                            "{}: a page reaching {} does not move back from the previous one ({} to {}); \
                             stopping instead of looping",
                            self.endpoint,
                            crate::model::time::iso_ms(key.1),
                            crate::model::time::iso_ms(previous.0),
                            crate::model::time::iso_ms(previous.1)
                        ),
                    ));
                }
            }
        }
        self.previous_page = key;
        let full_page = page.rows.len() >= self.page_limit;
        self.buffer.extend(page.rows);
        let window_done = match self.continuation {
            Continuation::Cursor => {
                match page.next_cursor.filter(|c| !c.is_empty()) {
                    None => true,
                    _ if key.is_none() => true,
                    Some(next) => {
                        if !self.seen_cursors.insert(next.clone()) {
                            return Err(PipelineError::malformed(
                            self.venue,
                            self.what,
                            format!("the venue repeated cursor '{next}'; stopping instead of looping"),
                        ));
                        }
                        self.cursor = Some(next);
                        false
                    }
                }
            }
            Continuation::EndTime => match key {
                Some((oldest, _, _)) if full_page && oldest > self.window_start_ms => {
                    self.page_end_ms = oldest - 1;
                    false
                }
                _ => true,
            },
        };
        Ok(if window_done {
            self.close_window()
        } else {
            Vec::new()
        })
    }

    fn progress(&self) -> f64 {
        if self.finished {
            1.0
        } else {
            fraction(self.window_start_ms, self.start_ms, self.end_ms)
        }
    }

    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    fn request_budget(&self) -> usize {
        let windows = (i128::from(self.end_ms) - i128::from(self.start_ms))
            .max(0)
            .div_euclid(i128::from(self.window_ms.max(1)))
            + 1;
        budget(
            self.start_ms,
            self.end_ms,
            self.step_ms,
            self.page_limit,
            u64::try_from(2 * windows).unwrap_or(u64::MAX),
        )
    }

    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FundingRate, InstrumentRef, OpenInterest, UnifiedSymbol};
    use crate::venue::Method;

    /// A toy venue: a page is a JSON array of millisecond times; the request carries the window in its query.
    fn oi(ms: i64) -> OpenInterest {
        InstrumentRef::new(Venue::Binance, &UnifiedSymbol::parse("BTCUSDT").unwrap()).open_interest(
            ms * 1_000_000,
            ms * 1_000_000,
            1.0,
            None,
        )
    }

    fn request(query: Vec<(&'static str, String)>) -> Request {
        Request {
            venue: Venue::Binance,
            method: Method::Get,
            path: "/x",
            query,
            body: None,
            weight: 1,
            what: "x",
            limit_group: None,
        }
    }

    fn times(body: &[u8]) -> Result<Vec<OpenInterest>> {
        let ms: Vec<i64> = serde_json::from_slice(body)
            .map_err(|e| PipelineError::malformed(Venue::Binance, "x", e))?;
        Ok(ms.into_iter().map(oi).collect())
    }

    fn forward(range: (i64, i64), limit: usize) -> ForwardPager<OpenInterest> {
        ForwardPager::new(
            Venue::Binance,
            "open interest",
            range,
            limit,
            |s, e| {
                request(vec![
                    ("startTime", s.to_string()),
                    ("endTime", e.to_string()),
                ])
            },
            times,
        )
    }

    fn start_of(r: &Request) -> String {
        r.query
            .iter()
            .find(|(k, _)| *k == "startTime")
            .unwrap()
            .1
            .clone()
    }

    #[test]
    fn forward_pages_move_past_the_last_row_and_stop_on_a_short_page() {
        let mut pager = forward((100, 1_000), 3);
        assert_eq!(start_of(&pager.next_request().unwrap()), "100");
        assert_eq!(pager.on_page(b"[100, 110, 120]").unwrap().len(), 3);
        assert_eq!(start_of(&pager.next_request().unwrap()), "121");
        // Rows outside the asked range are dropped, duplicates at the boundary cannot occur.
        let rows = pager.on_page(b"[130, 140]").unwrap();
        assert_eq!(
            rows.iter().map(Timed::ts_ms).collect::<Vec<_>>(),
            vec![130, 140]
        );
        assert!(pager.next_request().is_none(), "a short page ends the walk");
        assert_eq!(pager.progress(), 1.0);
    }

    #[test]
    fn forward_stops_at_the_end_and_on_empty_pages() {
        let mut pager = forward((0, 25), 3);
        assert_eq!(pager.on_page(b"[0, 10, 20]").unwrap().len(), 3);
        assert_eq!(pager.on_page(b"[21, 23, 25]").unwrap().len(), 3);
        assert!(pager.next_request().is_none());
        let mut pager = forward((0, 100), 3);
        assert!(pager.on_page(b"[]").unwrap().is_empty());
        assert!(pager.next_request().is_none());
        assert!(
            forward((10, 5), 3).next_request().is_none(),
            "an empty range asks nothing"
        );
    }

    #[test]
    fn forward_refuses_repeated_pages_and_ignored_starts() {
        let mut pager = forward((0, 1_000), 3);
        pager.on_page(b"[0, 1, 2]").unwrap();
        let err = pager.on_page(b"[0, 1, 2]").unwrap_err();
        assert!(err.to_string().contains("same page twice"), "{err}");
        let mut pager = forward((500, 1_000), 3);
        let err = pager.on_page(b"[1, 2, 3]").unwrap_err();
        assert!(err.to_string().contains("ignored"), "{err}");
    }

    #[test]
    fn forward_warns_when_rows_start_late() {
        let mut pager = forward((0, 1_000), 3).warn_on_leading_gap(10, "only the last 30 days");
        pager.on_page(b"[500, 510]").unwrap();
        let warnings = pager.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("only the last 30 days")
                && warnings[0].contains("1970-01-01T00-00-00-500000000Z"),
            "{warnings:?}"
        );
        let mut pager = forward((0, 1_000), 3).warn_on_leading_gap(10, "x");
        pager.on_page(b"[5]").unwrap();
        assert!(pager.warnings().is_empty());
        assert!(
            forward((1_001, 1_000), 3)
                .warn_on_leading_gap(10, "x")
                .warnings()
                .is_empty(),
            "nothing asked, nothing missing"
        );
    }

    fn backward(
        range: (i64, i64),
        window: i64,
        limit: usize,
        continuation: Continuation,
    ) -> BackwardWindowPager<OpenInterest> {
        BackwardWindowPager::new(
            Venue::Bybit,
            "open interest",
            range,
            window,
            limit,
            continuation,
            |p: WindowRequest<'_>| {
                let mut q = vec![
                    ("startTime", p.window_start_ms.to_string()),
                    ("endTime", p.page_end_ms.to_string()),
                ];
                if let Some(c) = p.cursor {
                    q.push(("cursor", c.to_string()));
                }
                request(q)
            },
            |body| {
                let (ms, cursor): (Vec<i64>, String) = serde_json::from_slice(body)
                    .map_err(|e| PipelineError::malformed(Venue::Bybit, "x", e))?;
                Ok(NewestFirstPage {
                    rows: ms.into_iter().map(oi).collect(),
                    next_cursor: Some(cursor),
                })
            },
        )
    }

    fn query(r: &Request, key: &str) -> Option<String> {
        r.query
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn backward_windows_release_rows_oldest_window_first() {
        let mut pager = backward((0, 199), 100, 2, Continuation::Cursor);
        let r = pager.next_request().unwrap();
        assert_eq!(
            (
                query(&r, "startTime").unwrap(),
                query(&r, "endTime").unwrap()
            ),
            ("0".into(), "99".into())
        );
        assert!(
            pager.on_page(br#"[[90, 80], "c1"]"#).unwrap().is_empty(),
            "rows wait for their window to complete"
        );
        assert_eq!(
            query(&pager.next_request().unwrap(), "cursor").as_deref(),
            Some("c1")
        );
        let rows = pager.on_page(br#"[[70], ""]"#).unwrap();
        assert_eq!(
            rows.iter().map(Timed::ts_ms).collect::<Vec<_>>(),
            vec![70, 80, 90]
        );
        let r = pager.next_request().unwrap();
        assert_eq!(
            (query(&r, "startTime").unwrap(), query(&r, "cursor")),
            ("100".into(), None)
        );
        assert_eq!(pager.on_page(br#"[[150], ""]"#).unwrap().len(), 1);
        assert!(pager.next_request().is_none());
    }

    #[test]
    fn backward_refuses_repeated_cursors_and_pages() {
        let mut pager = backward((0, 1_000), 1_001, 2, Continuation::Cursor);
        pager.on_page(br#"[[900, 800], "c1"]"#).unwrap();
        let err = pager.on_page(br#"[[700, 600], "c1"]"#).unwrap_err();
        assert!(err.to_string().contains("repeated cursor 'c1'"), "{err}");
        let mut pager = backward((0, 1_000), 1_001, 2, Continuation::Cursor);
        pager.on_page(br#"[[900, 800], "c1"]"#).unwrap();
        assert!(pager
            .on_page(br#"[[900, 800], "c2"]"#)
            .unwrap_err()
            .to_string()
            .contains("same page twice"));
    }

    #[test]
    fn backward_by_end_time_moves_below_the_oldest_row() {
        let mut pager = backward((0, 1_000), 1_001, 2, Continuation::EndTime);
        pager.on_page(br#"[[900, 800], ""]"#).unwrap();
        assert_eq!(
            query(&pager.next_request().unwrap(), "endTime").as_deref(),
            Some("799")
        );
        let rows = pager.on_page(br#"[[700], ""]"#).unwrap();
        assert_eq!(
            rows.iter().map(Timed::ts_ms).collect::<Vec<_>>(),
            vec![700, 800, 900]
        );
        assert!(pager.next_request().is_none());
    }

    #[test]
    fn forward_refuses_rows_outside_the_window_and_tolerates_overlap_and_order() {
        // Rows after the end: the venue ignored endTime.
        let err = forward((0, 100), 3).on_page(b"[90, 100, 110]").unwrap_err();
        assert!(
            err.to_string().contains("outside the requested window")
                && err.to_string().contains("1970-01-01T00:00:00.110Z"),
            "{err}"
        );
        // A row before the range start: the venue ignored startTime (the silent 2025-rows-for-2024 case).
        let err = forward((50, 1_000), 3)
            .on_page(b"[40, 60, 70]")
            .unwrap_err();
        assert!(err.to_string().contains("ignored the paging"), "{err}");
        // Overlap with the previous page and rows out of order: dropped and sorted, not an error.
        let mut pager = forward((0, 1_000), 3);
        assert_eq!(pager.on_page(b"[20, 0, 10]").unwrap().len(), 3);
        let rows = pager.on_page(b"[10, 30, 20]").unwrap();
        assert_eq!(rows.iter().map(Timed::ts_ms).collect::<Vec<_>>(), vec![30]);
        assert_eq!(start_of(&pager.next_request().unwrap()), "31");
    }

    #[test]
    fn backward_refuses_ignored_windows_and_pages_that_do_not_move_back() {
        // The same (first-window) page answered for the second window: an error, not 0 rows.
        let mut pager = backward((0, 199), 100, 2, Continuation::Cursor);
        pager.on_page(br#"[[90, 80], ""]"#).unwrap();
        let err = pager.on_page(br#"[[90, 80], ""]"#).unwrap_err();
        assert!(
            err.to_string().contains("outside the requested window"),
            "{err}"
        );
        // Rows newer than the window: the window was ignored.
        let mut pager = backward((0, 1_000), 100, 2, Continuation::Cursor);
        let err = pager.on_page(br#"[[900, 800], "c1"]"#).unwrap_err();
        assert!(err.to_string().contains("ignored the paging"), "{err}");
        // A next page that is not older than the last one.
        let mut pager = backward((0, 1_000), 1_001, 2, Continuation::Cursor);
        pager.on_page(br#"[[900, 800], "c1"]"#).unwrap();
        let err = pager.on_page(br#"[[950, 700], "c2"]"#).unwrap_err();
        assert!(err.to_string().contains("does not move back"), "{err}");
    }

    #[test]
    fn request_budgets_follow_range_and_page_size() {
        // 1001 rows at 1 ms, 10 a page: 101 pages, doubled plus slack.
        let pager = forward((0, 1_000), 10).with_step(1);
        assert_eq!(pager.request_budget(), 2 * 101 + 3);
        assert_eq!(forward((10, 5), 10).request_budget(), 1);
        let pager = backward((0, 999), 100, 10, Continuation::Cursor).with_step(1);
        // 10 windows, 100 pages.
        assert_eq!(pager.request_budget(), 2 * 100 + 2 * 10 + 3);
        assert!(
            forward((i64::MIN / 1_000_000, i64::MAX / 1_000_000), 1)
                .with_step(1)
                .request_budget()
                > 1_000
        );
        assert_eq!(pager.endpoint(), "GET /x");
    }

    /// Property tests of both pagers against toy venues that misbehave per request in the ways real ones do.
    mod misbehaving_venues {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone, Copy)]
        enum Fault {
            Honest,
            IgnoreStart,
            IgnoreEnd,
            IgnoreBoth,
            /// No start: the newest rows up to the end (what Binance does without `startTime`).
            Newest,
            Replay,
            Overlap(i64),
            Shuffle,
        }

        fn fault() -> impl Strategy<Value = Fault> {
            prop_oneof![
                4 => Just(Fault::Honest),
                1 => Just(Fault::IgnoreStart),
                1 => Just(Fault::IgnoreEnd),
                1 => Just(Fault::IgnoreBoth),
                1 => Just(Fault::Newest),
                1 => Just(Fault::Replay),
                1 => (1i64..500).prop_map(Fault::Overlap),
                1 => Just(Fault::Shuffle),
            ]
        }

        fn harmless(f: &Fault) -> bool {
            matches!(f, Fault::Honest | Fault::Overlap(_) | Fault::Shuffle)
        }

        /// Drives `pager` like `fetch::history` does (budget included) against `answer`.
        fn drive<P: Pager<Row = OpenInterest>>(
            mut pager: P,
            mut answer: impl FnMut(&Request) -> Vec<u8>,
        ) -> (Result<Vec<i64>>, usize) {
            let budget = pager.request_budget();
            let mut rows = Vec::new();
            let mut requests = 0;
            while let Some(request) = pager.next_request() {
                if requests >= budget {
                    return (
                        Err(PipelineError::malformed(Venue::Bybit, "x", "budget")),
                        requests,
                    );
                }
                requests += 1;
                match pager.on_page(&answer(&request)) {
                    Ok(page) => rows.extend(page.iter().map(Timed::ts_ms)),
                    Err(e) => return (Err(e), requests),
                }
            }
            (Ok(rows), requests)
        }

        fn param(r: &Request, key: &str) -> Option<i64> {
            query(r, key).map(|v| v.parse().unwrap())
        }

        fn shuffled(mut rows: Vec<i64>) -> Vec<i64> {
            rows.reverse();
            if !rows.is_empty() {
                rows.rotate_left(1);
            }
            rows
        }

        fn truth(first: i64, n: usize, step: i64) -> Vec<i64> {
            (0..n as i64).map(|i| first + i * step).collect()
        }

        proptest! {
            #![proptest_config(proptest::test_runner::Config {
                cases: 200,
                failure_persistence: None,
                ..Default::default()
            })]

            /// Ascending pages from a start time (Binance, Hyperliquid): either exactly the rows of the range,
            /// in order, each once, or an error; never a silent subset, never more requests than the budget.
            #[test]
            fn forward_pager_is_exact_or_fails(
                n in 0usize..300,
                step in prop_oneof![Just(1i64), Just(7), Just(60)],
                from in -60i64..400,
                len in 0i64..400,
                limit in 1usize..25,
                faults in proptest::collection::vec(fault(), 1..8),
            ) {
                let data = truth(0, n, step);
                let (start, end) = (from * step, (from + len) * step);
                let expected: Vec<i64> = data.iter().copied().filter(|t| (start..=end).contains(t)).collect();
                let mut previous: Option<Vec<u8>> = None;
                let mut i = 0;
                let pager = || forward((start, end), limit).with_step(step).with_gap_probe(step);
                let (result, requests) = drive(pager(), |r| {
                    let f = faults[i % faults.len()];
                    i += 1;
                    let (mut s, mut e) = (param(r, "startTime").unwrap(), param(r, "endTime").unwrap());
                    match f {
                        Fault::IgnoreStart => s = i64::MIN,
                        Fault::IgnoreEnd => e = i64::MAX,
                        Fault::IgnoreBoth => (s, e) = (i64::MIN, i64::MAX),
                        // Back into the previous page, not before the range (that would be an ignored start).
                        Fault::Overlap(k) => s = (s - k).max(start),
                        Fault::Replay => if let Some(p) = &previous { return p.clone() },
                        _ => {}
                    }
                    let mut page: Vec<i64> = data.iter().copied().filter(|t| (s..=e).contains(t)).take(limit).collect();
                    if matches!(f, Fault::Newest) {
                        let upto: Vec<i64> = data.iter().copied().filter(|t| *t <= e).collect();
                        page = upto[upto.len().saturating_sub(limit)..].to_vec();
                    }
                    let empty = page.is_empty();
                    if matches!(f, Fault::Shuffle) { page = shuffled(page) }
                    let body = serde_json::to_vec(&page).unwrap();
                    // As below: an empty page replayed is an honest-looking "nothing here".
                    if !empty {
                        previous = Some(body.clone());
                    }
                    body
                });
                match result {
                    Ok(rows) => prop_assert_eq!(rows, expected),
                    Err(e) => {
                        // An overlap of a whole page or more never moves on: refusing it is right. One of more
                        // than half a page moves on so slowly that the request budget (twice the pages the range
                        // needs) may stop it first: refusing that is right too.
                        let harmless = faults.iter().all(|f| match f {
                            Fault::Overlap(k) => 2 * ((k + step - 1) / step) <= limit as i64,
                            f => harmless(f),
                        });
                        prop_assert!(!harmless, "a harmless venue failed: {}", e);
                    }
                }
                prop_assert!(requests <= pager().request_budget());
            }

            /// Newest-first pages in windows (Bybit), by cursor and by moving `endTime`.
            #[test]
            fn backward_pager_is_exact_or_fails(
                n in 0usize..300,
                step in prop_oneof![Just(1i64), Just(7), Just(60)],
                from in -60i64..400,
                len in 0i64..400,
                limit in 1usize..25,
                by_cursor in any::<bool>(),
                faults in proptest::collection::vec(fault(), 1..8),
            ) {
                let data = truth(0, n, step);
                let (start, end) = (from * step, (from + len) * step);
                let expected: Vec<i64> = data.iter().copied().filter(|t| (start..=end).contains(t)).collect();
                let continuation = if by_cursor { Continuation::Cursor } else { Continuation::EndTime };
                let window = limit as i64 * step;
                let mut previous: Option<Vec<u8>> = None;
                let mut i = 0;
                let pager = backward((start, end), window, limit, continuation).with_step(step);
                let budget = pager.request_budget();
                let (result, requests) = drive(pager, |r| {
                    let f = faults[i % faults.len()];
                    i += 1;
                    let (mut s, mut e) = (param(r, "startTime").unwrap(), param(r, "endTime").unwrap());
                    let offset: usize = query(r, "cursor").map_or(0, |c| c.parse().unwrap());
                    match f {
                        Fault::IgnoreStart => s = i64::MIN,
                        Fault::IgnoreEnd => e = i64::MAX,
                        Fault::IgnoreBoth => (s, e) = (i64::MIN, i64::MAX),
                        Fault::Overlap(k) => e += k,
                        // Replaying an empty page is indistinguishable from an honest "nothing here": only
                        // non-empty pages are replayed (previous is kept only for those).
                        Fault::Replay => if let Some(p) = &previous { return p.clone() },
                        _ => {}
                    }
                    let all: Vec<i64> = data.iter().rev().copied().filter(|t| (s..=e).contains(t)).collect();
                    let mut page: Vec<i64> = all.iter().copied().skip(offset).take(limit).collect();
                    let more = offset + page.len() < all.len();
                    let cursor = if more && by_cursor { (offset + limit).to_string() } else { String::new() };
                    let empty = page.is_empty();
                    if matches!(f, Fault::Shuffle) { page = shuffled(page) }
                    let body = serde_json::to_vec(&(page, cursor)).unwrap();
                    if !empty {
                        previous = Some(body.clone());
                    }
                    body
                });
                match result {
                    Ok(rows) => prop_assert_eq!(rows, expected),
                    Err(e) => {
                        // An overlap on newest-first pages asks past the window end: refused like an ignored end.
                        let harmless = faults.iter().all(|f| matches!(f, Fault::Honest | Fault::Shuffle));
                        prop_assert!(!harmless, "a harmless venue failed: {}", e);
                    }
                }
                prop_assert!(requests <= budget);
            }
        }
    }

    #[test]
    fn funding_intervals_from_spacing() {
        use crate::venue::fill_funding_intervals;
        let hour = 3_600_000;
        let inst = InstrumentRef::new(Venue::Bybit, &UnifiedSymbol::parse("BTCUSDT").unwrap());
        let row = |ms: i64| FundingRate {
            venue: Venue::Bybit,
            symbol: inst.symbol.clone(),
            instrument_id: inst.instrument_id.clone(),
            ts_event: ms * 1_000_000,
            ts_init: ms * 1_000_000,
            funding_rate: 0.0,
            interval_minutes: None,
            next_funding_time: None,
            mark_price: None,
            index_price: None,
        };
        let mut previous = None;
        let mut page = vec![row(0), row(8 * hour), row(16 * hour + 5), row(48 * hour)];
        fill_funding_intervals(&mut page, &mut previous);
        assert_eq!(
            page.iter().map(|r| r.interval_minutes).collect::<Vec<_>>(),
            vec![Some(480), Some(480), Some(480), None]
        );
        let mut next = vec![row(52 * hour)];
        fill_funding_intervals(&mut next, &mut previous);
        assert_eq!(
            next[0].interval_minutes,
            Some(240),
            "spacing carries across pages"
        );
    }
}
