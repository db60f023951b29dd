//! Hyperliquid perps (`https://api.hyperliquid.xyz`): every REST call is `POST /info` with a JSON `type`.
//!
//! `metaAndAssetCtxs` is positional (ctx i belongs to universe i) and carries no timestamp, so `ts_event` is the
//! time the answer arrived. Funding is hourly and settles on the top of each hour.

pub mod fills;
pub mod spec;

use serde::Deserialize;

use crate::model::records::ms_to_ns;
use crate::model::time::venue_ms_to_ns;
use crate::model::{FundingRate, InstrumentRef, OpenInterest, PipelineError, Result, Venue};
use crate::venue::lenient::LooseF64;
use crate::venue::paging::ForwardPager;
use crate::venue::{check_symbol, next_boundary_ms, Method, Request};

pub(crate) const VENUE: Venue = Venue::Hyperliquid;
/// Documented: 1200 weight per minute per IP; `meta` and `metaAndAssetCtxs` weigh 20.
pub const WEIGHT_PER_MINUTE: u32 = 1200;
const INFO_WEIGHT: u32 = 20;
pub const FUNDING_INTERVAL_MINUTES: u16 = 60;
const HOUR_MS: i64 = 3_600_000;

fn info(kind: &'static str, what: &'static str) -> Request {
    Request {
        venue: VENUE,
        method: Method::Post,
        path: "/info",
        query: vec![],
        body: Some(format!(r#"{{"type":"{kind}"}}"#)),
        weight: INFO_WEIGHT,
        what,
        limit_group: None,
    }
}

pub fn meta_request() -> Request {
    info("meta", "instrument list")
}

pub fn meta_and_asset_ctxs_request() -> Request {
    info("metaAndAssetCtxs", "asset contexts")
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow)]
    universe: Vec<Asset<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Asset<'a> {
    name: &'a str,
    /// `true`, `null` or absent.
    #[serde(default)]
    is_delisted: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssetCtx {
    #[serde(default)]
    funding: LooseF64,
    #[serde(default)]
    open_interest: LooseF64,
    #[serde(default)]
    mark_px: LooseF64,
    #[serde(default)]
    oracle_px: LooseF64,
}

fn decode<'a, T: Deserialize<'a>>(body: &'a [u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| PipelineError::malformed(VENUE, what, super::decode_detail(body, &e)))
}

/// Coins currently listed (delisted ones are skipped: they answer with stale contexts).
pub fn parse_meta(body: &[u8]) -> Result<Vec<String>> {
    let meta: Meta = decode(body, "instrument list")?;
    Ok(meta
        .universe
        .iter()
        .filter(|a| a.is_delisted != Some(true))
        .map(|a| a.name.to_string())
        .collect())
}

/// The context of `inst`'s coin from a `metaAndAssetCtxs` answer.
fn asset_ctx(body: &[u8], inst: &InstrumentRef, what: &'static str) -> Result<AssetCtx> {
    let (meta, ctxs): (Meta, Vec<AssetCtx>) = decode(body, what)?;
    if meta.universe.len() != ctxs.len() {
        return Err(PipelineError::malformed(
            VENUE,
            what,
            format!(
                "{} coins in the universe but {} contexts; they must pair up by position",
                meta.universe.len(),
                ctxs.len()
            ),
        ));
    }
    let position = meta
        .universe
        .iter()
        .position(|a| a.name == inst.native)
        .ok_or_else(|| {
            PipelineError::malformed(
                VENUE,
                what,
                format!("coin {} is not in the universe", inst.native),
            )
        })?;
    Ok(ctxs
        .into_iter()
        .nth(position)
        .expect("lengths checked above"))
}

/// `(coin, open interest × mark price)` of every listed coin of a `metaAndAssetCtxs` answer (for ranking).
pub fn parse_open_interest_values(body: &[u8]) -> Result<Vec<(String, f64)>> {
    let what = "asset contexts";
    let (meta, ctxs): (Meta, Vec<AssetCtx>) = decode(body, what)?;
    if meta.universe.len() != ctxs.len() {
        return Err(PipelineError::malformed(
            VENUE,
            what,
            "the universe and the contexts differ in length",
        ));
    }
    Ok(meta
        .universe
        .iter()
        .zip(ctxs)
        .filter(|(asset, _)| asset.is_delisted != Some(true))
        .filter_map(|(asset, ctx)| {
            Some((
                asset.name.to_string(),
                ctx.open_interest.0? * ctx.mark_px.0?,
            ))
        })
        .collect())
}

/// Open interest in coins; Hyperliquid states no notional, so the value stays null.
pub fn parse_open_interest(
    body: &[u8],
    inst: &InstrumentRef,
    ts_init: i64,
) -> Result<OpenInterest> {
    let what = "open interest";
    let ctx = asset_ctx(body, inst, what)?;
    let oi = ctx
        .open_interest
        .required("openInterest")
        .map_err(|e| PipelineError::malformed(VENUE, what, e))?;
    Ok(inst.open_interest(ts_init, ts_init, oi, None))
}

/// `funding` is the hourly rate of the current hour; the oracle price is Hyperliquid's index.
pub fn parse_funding_rate(body: &[u8], inst: &InstrumentRef, ts_init: i64) -> Result<FundingRate> {
    let what = "funding rate";
    let ctx = asset_ctx(body, inst, what)?;
    let rate = ctx
        .funding
        .required("funding")
        .map_err(|e| PipelineError::malformed(VENUE, what, e))?;
    let next_ms = next_boundary_ms(ts_init.div_euclid(1_000_000), HOUR_MS);
    Ok(FundingRate {
        interval_minutes: Some(FUNDING_INTERVAL_MINUTES),
        next_funding_time: Some(ms_to_ns(next_ms)),
        mark_price: ctx.mark_px.0,
        index_price: ctx.oracle_px.0,
        ..inst.funding_rate(ts_init, ts_init, rate)
    })
}

/// `fundingHistory` answers at most this many rows.
pub const FUNDING_HISTORY_PAGE: usize = 500;
/// `fundingHistory` weighs 20 plus 1 per 20 rows returned; a full page is charged up front.
const FUNDING_HISTORY_WEIGHT: u32 = INFO_WEIGHT + (FUNDING_HISTORY_PAGE as u32).div_ceil(20);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FundingHistoryRow<'a> {
    coin: &'a str,
    funding_rate: LooseF64,
    time: crate::venue::lenient::LooseI64,
}

/// One `fundingHistory` page (ascending, hourly settlements a few ms after the hour).
pub fn parse_funding_rate_history(body: &[u8], inst: &InstrumentRef) -> Result<Vec<FundingRate>> {
    let what = "funding rate history";
    let rows: Vec<FundingHistoryRow> = decode(body, what)?;
    let bad = |e: String| PipelineError::malformed(VENUE, what, e);
    rows.iter()
        .map(|r| {
            check_symbol(inst, r.coin, what)?;
            let ts = venue_ms_to_ns(r.time.required("time").map_err(bad)?).map_err(bad)?;
            Ok(FundingRate {
                interval_minutes: Some(FUNDING_INTERVAL_MINUTES),
                ..inst.funding_rate(ts, ts, r.funding_rate.required("fundingRate").map_err(bad)?)
            })
        })
        .collect()
}

/// Funding history, forward from `start_ms` (next page from the last time + 1), 500 rows a page.
/// `page` is what the venue is expected to return at most (the venue has no `limit` parameter; a smaller value
/// only matters to tests of the pager).
pub fn funding_rate_history_pager(
    inst: InstrumentRef,
    range: (i64, i64),
    page: usize,
) -> ForwardPager<FundingRate> {
    let coin = inst.native.clone();
    ForwardPager::new(
        VENUE,
        "funding rate",
        range,
        page.clamp(1, FUNDING_HISTORY_PAGE),
        move |start, end| {
            Request {
            weight: FUNDING_HISTORY_WEIGHT,
            body: Some(
                serde_json::json!({"type": "fundingHistory", "coin": coin, "startTime": start, "endTime": end}).to_string(),
            ),
            ..info("fundingHistory", "funding rate history")
        }
        },
        move |body| parse_funding_rate_history(body, &inst),
    )
    .with_step(i64::from(FUNDING_INTERVAL_MINUTES) * 60_000)
    // Hourly settlements, a few ms after the hour.
    .with_gap_probe(i64::from(FUNDING_INTERVAL_MINUTES) * 60_000 + 60_000)
}

/// Hyperliquid publishes no open interest history.
pub fn open_interest_history_unsupported() -> PipelineError {
    PipelineError::Unsupported {
        venue: VENUE,
        what: "open interest history".into(),
        reason: "Hyperliquid has no open interest history endpoint; the store's own snapshots (fetch-oi --store, \
                 or the daemon) are the history"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnifiedSymbol;
    use crate::venue::test_support::fixture;

    fn inst(s: &str) -> InstrumentRef {
        InstrumentRef::new(VENUE, &UnifiedSymbol::parse(s).unwrap())
    }

    const TS: i64 = 1_700_000_123_456_000_000;

    #[test]
    fn asset_ctxs_fixture_positional() {
        let body = fixture("hyperliquid/meta_and_asset_ctxs__hl-docs.json");
        let eth = parse_open_interest(&body, &inst("ETHUSDT-PERP"), TS).unwrap();
        assert_eq!(eth.open_interest, 1882.55);
        assert_eq!(
            (eth.ts_event, eth.ts_init, eth.open_interest_value),
            (TS, TS, None)
        );
        assert_eq!(eth.instrument_id, "ETH-USD-PERP.HYPERLIQUID");
        let f = parse_funding_rate(&body, &inst("HPOS"), TS).unwrap();
        assert_eq!(f.funding_rate, 0.0000125);
        assert_eq!((f.mark_price, f.index_price), (Some(8.4542), Some(8.4585)));
        assert_eq!(f.interval_minutes, Some(60));
        // 1_700_000_123_456 ms is 22:15:23 UTC; next funding at 23:00.
        assert_eq!(f.next_funding_time, Some(1_700_002_800_000_000_000));
    }

    #[test]
    fn hip3_ctxs_with_nulls() {
        let body = fixture("hyperliquid/meta_and_asset_ctxs_hip3_dex__hl-docs.json");
        let coin = InstrumentRef {
            native: "xyz:XYZ100".into(),
            ..inst("BTC")
        };
        let f = parse_funding_rate(&body, &coin, TS).unwrap();
        assert!(f.funding_rate.is_finite());
        assert!(f.mark_price.is_some());
    }

    #[test]
    fn positional_mismatch_and_unknown_coin_are_malformed() {
        let body = br#"[{"universe":[{"name":"BTC"},{"name":"ETH"}]},[{"funding":"0.1","openInterest":"1"}]]"#;
        let err = parse_open_interest(body, &inst("BTC"), TS).unwrap_err();
        assert!(
            err.to_string()
                .contains("2 coins in the universe but 1 contexts"),
            "{err}"
        );
        let body = fixture("hyperliquid/meta_and_asset_ctxs__hl-docs.json");
        let err = parse_open_interest(&body, &inst("SOL"), TS).unwrap_err();
        assert!(
            err.to_string().contains("coin SOL is not in the universe"),
            "{err}"
        );
        assert!(parse_open_interest(b"null", &inst("BTC"), TS).is_err());
    }

    #[test]
    fn meta_skips_delisted() {
        assert_eq!(
            parse_meta(&fixture("hyperliquid/meta__hl-docs.json")).unwrap(),
            vec!["BTC", "ETH", "HPOS"]
        );
        // `isDelisted: null` (live sample) means listed.
        assert_eq!(
            parse_meta(&fixture("hyperliquid/meta_perp_sample__nautilus-rs.json")).unwrap(),
            vec!["BTC", "ETH", "ATOM"]
        );
        assert_eq!(
            parse_meta(&fixture(
                "hyperliquid/meta__hl-python-sdk-cassette-2023.json"
            ))
            .unwrap()
            .first()
            .map(String::as_str),
            Some("BTC")
        );
    }

    #[test]
    fn live_ctx_shape_parses() {
        // The live WS capture carries the same ctx objects as the REST answer.
        let ws: serde_json::Value = serde_json::from_slice(&fixture(
            "hyperliquid/ws_all_dexs_asset_ctxs_trimmed__nautilus-rs.json",
        ))
        .unwrap();
        let ctxs = &ws["data"]["ctxs"][0][1];
        let names: Vec<_> = (0..ctxs.as_array().unwrap().len())
            .map(|i| serde_json::json!({"name": format!("C{i}")}))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!([{"universe": names}, ctxs])).unwrap();
        let coin = InstrumentRef {
            native: "C0".into(),
            ..inst("BTC")
        };
        let oi = parse_open_interest(&body, &coin, TS).unwrap();
        assert_eq!(oi.open_interest, 27353.17682);
        assert_eq!(
            parse_funding_rate(&body, &coin, TS).unwrap().funding_rate,
            -0.0000015186
        );
    }

    #[test]
    fn requests_are_info_posts() {
        let r = meta_and_asset_ctxs_request();
        assert_eq!((r.method, r.path, r.weight), (Method::Post, "/info", 20));
        assert_eq!(r.body.as_deref(), Some(r#"{"type":"metaAndAssetCtxs"}"#));
    }

    #[test]
    fn funding_history_fixtures() {
        let rows = parse_funding_rate_history(
            &fixture("hyperliquid/funding_history__nautilus-rs.json"),
            &inst("BTC"),
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[1].funding_rate, rows[1].ts_event),
            (-0.0000081, 1_769_912_400_000_000_000)
        );
        assert_eq!(rows[2].interval_minutes, Some(60));
        let live = parse_funding_rate_history(
            &fixture("hyperliquid/funding_history__hl-python-sdk-cassette.json"),
            &inst("BTC"),
        )
        .unwrap();
        assert_eq!(
            live[0].ts_event, 1_683_849_600_048_000_000,
            "jittered times kept to the ms"
        );
        assert!(parse_funding_rate_history(b"[]", &inst("BTC"))
            .unwrap()
            .is_empty());
        assert!(open_interest_history_unsupported()
            .to_string()
            .contains("store's own snapshots"));
    }

    #[test]
    fn open_interest_values_pair_coins_with_their_contexts() {
        let values =
            parse_open_interest_values(&fixture("hyperliquid/meta_and_asset_ctxs__hl-docs.json"))
                .unwrap();
        assert!(!values.is_empty());
        assert!(
            values
                .iter()
                .all(|(_, notional)| notional.is_finite() && *notional >= 0.0),
            "{values:?}"
        );
        assert!(
            parse_open_interest_values(b"[{\"universe\":[{\"name\":\"BTC\"}]},[]]").is_err(),
            "lengths must pair up"
        );
    }
}
