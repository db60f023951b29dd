//! Pagination as sans-IO state machines: a pager hands out the next [`Request`], is fed the answer's bytes, and
//! returns the rows that answer completes. Two shapes cover the venues:
//! - [`ForwardPager`]: ascending pages from a start time, the next page starting after the last row (Binance,
//!   Hyperliquid);
//! - [`BackwardWindowPager`]: newest-first pages (Bybit), walked inside consecutive time windows so that rows
//!   are released oldest window first. A store written page by page then always holds a gap-free prefix of the
//!   range, which is what resuming from the last stored timestamp relies on.
//!
//! Both refuse to loop: a repeated cursor, an identical page twice, or a page that ignores the requested start is a
//! `Malformed` error, never a silent stop or an endless walk.

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
}

type Parse<R> = Box<dyn Fn(&[u8]) -> Result<Vec<R>> + Send + Sync>;

/// (oldest, newest, count) of a raw page: equal twice in a row means the venue is not moving on.
type PageKey = (i64, i64, usize);

fn page_key<R: Timed>(rows: &[R]) -> Option<PageKey> {
    let oldest = rows.iter().map(Timed::ts_ms).min()?;
    let newest = rows.iter().map(Timed::ts_ms).max()?;
    Some((oldest, newest, rows.len()))
}

fn repeated_page(venue: Venue, what: &'static str, key: PageKey) -> PipelineError {
    PipelineError::malformed(
        venue,
        what,
        format!("the venue returned the same page twice ({} rows, {}..{} ms); stopping instead of looping", key.2, key.0, key.1),
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
        }
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
        (!self.finished).then(|| (self.build)(self.cursor_ms, self.end_ms))
    }

    fn on_page(&mut self, body: &[u8]) -> Result<Vec<R>> {
        let raw = (self.parse)(body)?;
        let Some(key) = page_key(&raw) else {
            self.finished = true;
            return Ok(Vec::new());
        };
        if self.previous_page == Some(key) {
            return Err(repeated_page(self.venue, self.what, key));
        }
        self.previous_page = Some(key);
        if key.1 < self.cursor_ms {
            return Err(PipelineError::malformed(
                self.venue,
                self.what,
                format!("all {} rows of the page are before the requested start {} ms: the venue ignored it", key.2, self.cursor_ms),
            ));
        }
        let full_page = raw.len() >= self.page_limit;
        let mut rows: Vec<R> = raw
            .into_iter()
            .filter(|r| (self.cursor_ms..=self.end_ms).contains(&r.ts_ms()))
            .collect();
        rows.sort_by_key(Timed::ts_ms);
        rows.dedup_by_key(|r| r.ts_ms());
        match rows.last() {
            Some(last) if full_page && last.ts_ms() < self.end_ms => {
                self.cursor_ms = last.ts_ms() + 1
            }
            _ => self.finished = true,
        }
        if let Some(first) = rows.first() {
            self.first_row_ms.get_or_insert(first.ts_ms());
        }
        Ok(rows)
    }

    fn progress(&self) -> f64 {
        if self.finished {
            1.0
        } else {
            fraction(self.cursor_ms, self.start_ms, self.end_ms)
        }
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

pub struct BackwardWindowPager<R> {
    venue: Venue,
    what: &'static str,
    start_ms: i64,
    end_ms: i64,
    window_ms: i64,
    page_limit: usize,
    continuation: Continuation,
    build: Box<dyn Fn(WindowRequest<'_>) -> Request + Send + Sync>,
    parse: Box<dyn Fn(&[u8]) -> Result<NewestFirstPage<R>> + Send + Sync>,
    window_start_ms: i64,
    window_end_ms: i64,
    page_end_ms: i64,
    cursor: Option<String>,
    seen_cursors: HashSet<String>,
    previous_page: Option<PageKey>,
    buffer: Vec<R>,
    finished: bool,
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
        }
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
        if key.is_some() && key == self.previous_page {
            return Err(repeated_page(self.venue, self.what, key.expect("checked")));
        }
        self.previous_page = key;
        let full_page = page.rows.len() >= self.page_limit;
        let window = self.window_start_ms..=self.page_end_ms;
        self.buffer.extend(
            page.rows
                .into_iter()
                .filter(|r| window.contains(&r.ts_ms())),
        );
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
                    if oldest > self.page_end_ms {
                        return Err(PipelineError::malformed(
                            self.venue,
                            self.what,
                            format!("a full page entirely after the requested end {} ms: the venue ignored it", self.page_end_ms),
                        ));
                    }
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
        assert_eq!(pager.on_page(b"[21, 25, 30]").unwrap().len(), 2);
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
