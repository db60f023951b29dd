//! The Parquet store's guarantees, each tested on a real folder.

use std::path::Path;

use ccxt_pipeline_rs::model::time::NANOS_PER_DAY;
use ccxt_pipeline_rs::model::{
    FundingRate, GapReason, InstrumentRef, Liquidation, OpenInterest, PipelineError, Side,
    StreamGap, UnifiedSymbol, Venue,
};
use ccxt_pipeline_rs::store::{Kind, ParquetStore, StoredRow, TimeRange};

const DAY0: i64 = 1_735_689_600_000_000_000; // 2025-01-01T00:00:00Z
const MINUTE: i64 = 60_000_000_000;

fn inst(venue: Venue, symbol: &str) -> InstrumentRef {
    InstrumentRef::new(venue, &UnifiedSymbol::parse(symbol).unwrap())
}

fn oi(inst: &InstrumentRef, ts: i64, value: f64) -> OpenInterest {
    inst.open_interest(
        ts,
        ts,
        value,
        if inst.venue == Venue::Bybit {
            Some(value * 100.0)
        } else {
            None
        },
    )
}

fn data_files(root: &Path, kind: Kind, id: &str) -> Vec<String> {
    let dir = root.join("data").join(kind.folder()).join(id);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn one_file_per_instrument_per_granule_named_by_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    // Hourly from 2024-12-31 to 2025-01-02: open interest files are monthly, so the write makes two.
    let rows: Vec<_> = (-24..2 * 24)
        .map(|h| oi(&btc, DAY0 + h * 60 * MINUTE, 100.0 + h as f64))
        .collect();
    let summary = store.write(&rows).unwrap();
    assert_eq!((summary.rows_added, summary.files_written), (72, 2));
    assert_eq!(
        data_files(dir.path(), Kind::OpenInterest, "BTCUSDT-PERP.BINANCE"),
        vec![
            "2024-12-31T00-00-00-000000000Z_2024-12-31T23-00-00-000000000Z.parquet",
            "2025-01-01T00-00-00-000000000Z_2025-01-02T23-00-00-000000000Z.parquet",
        ]
    );
    let (back, opened) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(opened, 2);
    assert_eq!(back, rows);
}

#[test]
fn separate_writes_are_deduplicated_first_row_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let bybit = inst(Venue::Bybit, "ETHUSDT-PERP");
    let first: Vec<_> = (0..10)
        .map(|i| oi(&bybit, DAY0 + i * MINUTE, 1.0))
        .collect();
    store.write(&first).unwrap();
    // Overlapping re-fetch: rows 5..10 again (received later, other value) and 10..15 new.
    let mut second: Vec<_> = (5..15)
        .map(|i| oi(&bybit, DAY0 + i * MINUTE, 2.0))
        .collect();
    second.iter_mut().for_each(|r| r.ts_init += 1_000);
    let summary = store.write(&second).unwrap();
    assert_eq!((summary.rows_added, summary.rows_duplicate), (5, 5));
    let (back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(back.len(), 15);
    assert!(back[..10].iter().all(|r| r.open_interest == 1.0));
    assert!(back[10..].iter().all(|r| r.open_interest == 2.0));
    // A re-run of the same rows writes nothing at all.
    let summary = store.write(&second).unwrap();
    assert_eq!((summary.rows_added, summary.files_written), (0, 0));
}

#[test]
fn funding_round_trip_keeps_what_the_catalog_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let hl = inst(Venue::Hyperliquid, "BTCUSDT-PERP");
    let rows: Vec<FundingRate> = [0.0001, -0.00002345, 1e-10, 0.0]
        .iter()
        .enumerate()
        .map(|(i, rate)| FundingRate {
            venue: hl.venue,
            symbol: hl.symbol.clone(),
            instrument_id: hl.instrument_id.clone(),
            ts_event: DAY0 + i as i64 * 60 * MINUTE,
            ts_init: DAY0 + i as i64 * 60 * MINUTE,
            funding_rate: *rate,
            interval_minutes: if i == 3 { None } else { Some(60) },
            next_funding_time: if i == 2 {
                None
            } else {
                Some(DAY0 + (i as i64 + 1) * 60 * MINUTE)
            },
            mark_price: Some(100.0),
            index_price: Some(99.0),
        })
        .collect();
    store.write(&rows).unwrap();
    let (back, _) = store
        .read::<FundingRate>(None, &TimeRange::default())
        .unwrap();
    let expected: Vec<FundingRate> = rows
        .into_iter()
        .map(|r| FundingRate {
            mark_price: None,
            index_price: None,
            ..r
        })
        .collect();
    assert_eq!(back, expected);
    assert_eq!(back[0].symbol, "BTCUSD-PERP");
}

#[test]
fn liquidations_deduplicate_on_the_event_not_the_receive_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    let liq = |qty: f64, side: Side, ts_init: i64| Liquidation {
        venue: btc.venue,
        symbol: btc.symbol.clone(),
        instrument_id: btc.instrument_id.clone(),
        ts_event: DAY0 + 5,
        ts_init,
        side,
        price: 95_000.5,
        quantity: qty,
    };
    // Two different liquidations in the same millisecond are both real.
    store
        .write(&[
            liq(0.1, Side::Sell, DAY0 + 7),
            liq(0.2, Side::Sell, DAY0 + 7),
        ])
        .unwrap();
    // The first event again, received on a second connection 3 ms later: a duplicate; the other side is new.
    let summary = store
        .write(&[
            liq(0.1, Side::Sell, DAY0 + 10),
            liq(0.1, Side::Buy, DAY0 + 7),
        ])
        .unwrap();
    assert_eq!((summary.rows_added, summary.rows_duplicate), (1, 1));
    // Received twice within one write (two connections flushed together), and once more on the next UTC day.
    let summary = store
        .write(&[
            liq(0.3, Side::Buy, DAY0 + 8),
            liq(0.3, Side::Buy, DAY0 + 9),
            liq(0.2, Side::Sell, DAY0 + NANOS_PER_DAY + 1),
        ])
        .unwrap();
    assert_eq!((summary.rows_added, summary.rows_duplicate), (1, 2));
    let (back, _) = store
        .read::<Liquidation>(None, &TimeRange::default())
        .unwrap();
    let got: Vec<(f64, Side, i64)> = back
        .iter()
        .map(|r| (r.quantity, r.side, r.ts_init))
        .collect();
    assert_eq!(
        got,
        vec![
            (0.1, Side::Sell, DAY0 + 7),
            (0.2, Side::Sell, DAY0 + 7),
            (0.1, Side::Buy, DAY0 + 7),
            (0.3, Side::Buy, DAY0 + 8),
        ]
    );
    // The new row went to a file of its own after the stored one (an append rewrites nothing); no file for the
    // next day: its only row was a duplicate.
    let files = data_files(dir.path(), Kind::Liquidation, &btc.instrument_id);
    assert_eq!(files.len(), 2);
    assert!(
        files.iter().all(|f| f.starts_with("2025-01-01T")),
        "{files:?}"
    );
}

#[test]
fn range_reads_open_only_intersecting_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    // Six-hourly rows over ten months: ten monthly files.
    let rows: Vec<_> = (0..300 * 4)
        .map(|i| oi(&btc, DAY0 + i * 360 * MINUTE, i as f64))
        .collect();
    store.write(&rows).unwrap();
    // Corrupt a month outside the range: a read that opened it would fail.
    let files = data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id);
    let folder = dir
        .path()
        .join("data")
        .join(Kind::OpenInterest.folder())
        .join(&btc.instrument_id);
    std::fs::write(folder.join(&files[0]), b"not parquet").unwrap();
    assert_eq!(files.len(), 10);
    let day150 = DAY0 + 150 * NANOS_PER_DAY;
    let range = TimeRange {
        start: Some(day150 + 300 * MINUTE),
        end: Some(day150 + 720 * MINUTE),
    };
    let (back, opened) = store
        .read::<OpenInterest>(Some(std::slice::from_ref(&btc.instrument_id)), &range)
        .unwrap();
    assert_eq!(opened, 1);
    assert_eq!(back.len(), 2); // 06:00 and 12:00
    assert_eq!(back[0].ts_init, day150 + 360 * MINUTE);
    // In range, the corrupt file is skipped and named; the other days are still read.
    let report = store
        .read_report::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(report.skipped, vec![folder.join(&files[0])]);
    assert_eq!(report.rows.len(), (300 - 31) * 4);
    assert_eq!(report.rows[0].ts_init, DAY0 + 31 * NANOS_PER_DAY);
}

#[test]
fn last_timestamp_from_footers() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    assert_eq!(
        store
            .last_timestamp(Kind::OpenInterest, &btc.instrument_id)
            .unwrap(),
        None
    );
    let rows: Vec<_> = (0..3 * 288)
        .map(|i| oi(&btc, DAY0 + i * 5 * MINUTE, 1.0))
        .collect();
    store.write(&rows).unwrap();
    assert_eq!(
        store
            .last_timestamp(Kind::OpenInterest, &btc.instrument_id)
            .unwrap(),
        Some(rows.last().unwrap().ts_event)
    );
    let summary = store.summary().unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!((summary[0].rows, summary[0].files), (864, 1));
    assert_eq!(
        (summary[0].first_ts, summary[0].last_ts),
        (Some(DAY0), Some(rows.last().unwrap().ts_init))
    );
}

#[test]
fn instrument_ids_cannot_escape_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let evil = OpenInterest {
        instrument_id: "../../../tmp/x-PERP.BINANCE".into(),
        ..oi(&inst(Venue::Binance, "BTCUSDT"), DAY0, 1.0)
    };
    // Rows built in Rust bypass table validation; the store still checks the id before making a folder.
    assert!(matches!(
        store.write(&[evil]),
        Err(PipelineError::InvalidArgument(_))
    ));
    for id in ["..", "../x", "BTCUSDT-PERP.BINANCE/../../x", "/etc/passwd"] {
        let err = store.last_timestamp(Kind::OpenInterest, id).unwrap_err();
        assert!(
            matches!(err, PipelineError::InvalidArgument(_)),
            "{id}: {err}"
        );
        assert!(
            store
                .read::<OpenInterest>(Some(&[id.to_string()]), &TimeRange::default())
                .is_err(),
            "{id}"
        );
    }
    assert!(!dir.path().join("tmp").exists());
}

#[test]
fn unwritable_root_is_a_store_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = ParquetStore::open(file.path().join("store")).unwrap_err();
    assert!(
        matches!(err, PipelineError::Store(ref m) if m.contains("cannot create folder")),
        "{err}"
    );
}

#[test]
fn collector_load_keeps_a_few_files_per_granule_and_rewrites_little() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let ids = [
        inst(Venue::Binance, "BTCUSDT-PERP"),
        inst(Venue::Bybit, "BTCUSDT-PERP"),
    ];
    // A simulated day of per-minute flushes, plus the first minute of the next day.
    for minute in 0..=1440 {
        let rows: Vec<_> = ids
            .iter()
            .map(|i| oi(i, DAY0 + minute * MINUTE, minute as f64))
            .collect();
        let summary = store.write(&rows).unwrap();
        // Per instrument: the new row's own file, and at most one merge of two small neighbours.
        assert!(summary.files_written <= 4, "{summary:?}");
    }
    for id in &ids {
        let files = data_files(dir.path(), Kind::OpenInterest, &id.instrument_id);
        assert!(
            (2..=ccxt_pipeline_rs::store::FILES_PER_GRANULE).contains(&files.len()),
            "{files:?}"
        );
    }
    let (back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(back.len(), 2 * 1441);
    assert!(back
        .windows(2)
        .all(|w| w[0].instrument_id != w[1].instrument_id || w[0].ts_init < w[1].ts_init));
    let compacted = store.compact().unwrap();
    assert_eq!(compacted.files_after, 2, "one monthly file per instrument");
    assert_eq!(
        data_files(dir.path(), Kind::OpenInterest, &ids[0].instrument_id),
        vec!["2025-01-01T00-00-00-000000000Z_2025-01-02T00-00-00-000000000Z.parquet"]
    );
    let (again, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(again, back);
}

#[test]
fn compact_merges_small_files_of_a_day() {
    use parquet::arrow::ArrowWriter;
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let folder = dir
        .path()
        .join("data")
        .join(Kind::OpenInterest.folder())
        .join(&btc.instrument_id);
    std::fs::create_dir_all(&folder).unwrap();
    // Another writer's hourly files (same catalog naming), one row duplicated across two of them.
    let hour = 60 * MINUTE;
    for h in 0..4 {
        let rows: Vec<_> = (0..=60)
            .map(|m| oi(&btc, DAY0 + h * hour + m * MINUTE, (h * 100 + m) as f64))
            .filter(|r| r.ts_init < DAY0 + (h + 1) * hour || h == 3)
            .collect();
        let (start, end) = (rows[0].ts_init, rows.last().unwrap().ts_init);
        let name = format!(
            "{}_{}.parquet",
            ccxt_pipeline_rs::model::time::catalog_timestamp(start),
            ccxt_pipeline_rs::model::time::catalog_timestamp(end)
        );
        let batch = OpenInterest::to_disk(&rows, &btc.instrument_id);
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(folder.join(name)).unwrap(),
            batch.schema(),
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    std::fs::write(folder.join(".stale.parquet.tmp-1-1"), b"half a file").unwrap();
    let (before, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    let summary = store.compact().unwrap();
    assert_eq!(
        (
            summary.files_before,
            summary.files_after,
            summary.stale_temp_files_removed
        ),
        (4, 1, 1)
    );
    assert_eq!(
        data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id),
        vec!["2025-01-01T00-00-00-000000000Z_2025-01-01T04-00-00-000000000Z.parquet"]
    );
    let (after, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(after, before);
    assert_eq!(after.len(), 4 * 60 + 1);
}

#[test]
fn concurrent_writers_are_serialised_and_readers_never_see_torn_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (root, btc) = (root.clone(), btc.clone());
            std::thread::spawn(move || {
                // Each writer opens its own store handle, as a second process would.
                let store = ParquetStore::open(&root).unwrap();
                for i in 0..50 {
                    store
                        .write(&[oi(&btc, DAY0 + (i * 4 + w) * MINUTE, 1.0)])
                        .unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let root = root.clone();
        std::thread::spawn(move || {
            let store = ParquetStore::open(&root).unwrap();
            let mut last = 0;
            for _ in 0..200 {
                let (rows, _) = store
                    .read::<OpenInterest>(None, &TimeRange::default())
                    .unwrap();
                assert!(
                    rows.len() >= last,
                    "rows went from {last} to {}",
                    rows.len()
                );
                last = rows.len();
            }
        })
    };
    writers.into_iter().for_each(|w| w.join().unwrap());
    reader.join().unwrap();
    let (rows, _) = ParquetStore::open(&root)
        .unwrap()
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(rows.len(), 200, "no row may be lost");
}

#[test]
fn tables_of_the_wrong_shape_are_invalid_arguments() {
    use arrow_array::{Float64Array, RecordBatch};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let batch =
        RecordBatch::try_from_iter([("x", Arc::new(Float64Array::from(vec![1.0])) as _)]).unwrap();
    let err = store.write_batches(&[batch]).unwrap_err();
    assert!(
        err.to_string()
            .contains("are not an open interest, funding rate, liquidation or stream gap table"),
        "{err}"
    );
    let good = OpenInterest::to_table(&[oi(&inst(Venue::Binance, "BTCUSDT"), DAY0, 1.0)]);
    assert_eq!(store.write_batches(&[good]).unwrap().rows_added, 1);
}

#[test]
fn a_reader_during_a_merge_sees_each_row_once() {
    use parquet::arrow::ArrowWriter;
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let rows: Vec<_> = (0..10)
        .map(|m| oi(&btc, DAY0 + m * MINUTE, m as f64))
        .collect();
    store.write(&rows).unwrap();
    // The moment between a merge's rename and its removal of the file it replaced: an hour file whose rows are
    // also in the new day file.
    let folder = dir
        .path()
        .join("data")
        .join(Kind::OpenInterest.folder())
        .join(&btc.instrument_id);
    let name = format!(
        "{}_{}.parquet",
        ccxt_pipeline_rs::model::time::catalog_timestamp(DAY0),
        ccxt_pipeline_rs::model::time::catalog_timestamp(DAY0 + 60 * MINUTE - 1)
    );
    let batch = OpenInterest::to_disk(&rows[..5], &btc.instrument_id);
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(folder.join(name)).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let (back, opened) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(opened, 2);
    assert_eq!(back, rows);
}

// ---- stream gaps -------------------------------------------------------------------------------------------

fn gap(venue: Venue, instrument_id: &str, start: i64, end: i64, reason: GapReason) -> StreamGap {
    let symbol = match instrument_id.split_once('.') {
        Some(("ALL", _)) => "ALL".to_string(),
        _ => {
            InstrumentRef::from_instrument_id(instrument_id)
                .unwrap()
                .symbol
        }
    };
    StreamGap {
        venue,
        symbol,
        instrument_id: instrument_id.to_string(),
        ts_event: start,
        ts_init: end,
        stream: "btcusdt@forceOrder".to_string(),
        reason,
    }
}

#[test]
fn gaps_are_stored_in_the_catalog_layout_and_read_back() {
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let gaps = vec![
        gap(
            Venue::Binance,
            "BTCUSDT-PERP.BINANCE",
            DAY0 + MINUTE,
            DAY0 + 2 * MINUTE,
            GapReason::IdleTimeout,
        ),
        StreamGap {
            stream: "!forceOrder@arr".into(),
            ..gap(
                Venue::Binance,
                "ALL.BINANCE",
                DAY0,
                DAY0 + 5,
                GapReason::ServerClose,
            )
        },
        StreamGap {
            stream: "allLiquidation.BTCUSDT".into(),
            ..gap(
                Venue::Bybit,
                "BTCUSDT-LINEAR.BYBIT",
                DAY0 + NANOS_PER_DAY - 1,
                DAY0 + NANOS_PER_DAY + MINUTE,
                GapReason::Resubscribe,
            )
        },
        StreamGap {
            stream: "userFillsByTime 0xabc".into(),
            ..gap(
                Venue::Hyperliquid,
                "ALL.HYPERLIQUID",
                DAY0,
                DAY0,
                GapReason::PollFailure,
            )
        },
    ];
    let summary = store.write_gaps(&gaps).unwrap();
    assert_eq!((summary.rows_added, summary.files_written), (4, 4));
    // The file layout of a NautilusTrader custom data class named StreamGap.
    let folder = dir.path().join("data/custom_stream_gap/ALL.BINANCE");
    let files = data_files(dir.path(), Kind::Gaps, "ALL.BINANCE");
    assert_eq!(
        files,
        vec!["2025-01-01T00-00-00-000000005Z_2025-01-01T00-00-00-000000005Z.parquet"]
    );
    let file = std::fs::File::open(folder.join(&files[0])).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let columns: Vec<(String, DataType)> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("instrument_id".into(), DataType::Utf8),
            ("stream".into(), DataType::Utf8),
            ("reason".into(), DataType::Utf8),
            ("type".into(), DataType::Utf8),
            ("ts_event".into(), DataType::Int64),
            ("ts_init".into(), DataType::Int64),
        ]
    );
    let text = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .value(0)
            .to_string()
    };
    assert_eq!(
        (
            text("instrument_id"),
            text("stream"),
            text("reason"),
            text("type")
        ),
        (
            "ALL.BINANCE".into(),
            "!forceOrder@arr".into(),
            "server_close".into(),
            "StreamGap".into()
        )
    );
    // Bybit's gap starts on day 0 and ends on day 1: it is filed under its end (ts_init).
    assert_eq!(
        data_files(dir.path(), Kind::Gaps, "BTCUSDT-LINEAR.BYBIT"),
        vec!["2025-01-02T00-01-00-000000000Z_2025-01-02T00-01-00-000000000Z.parquet"]
    );
    let (mut back, _) = store
        .read::<StreamGap>(None, &TimeRange::default())
        .unwrap();
    let mut expected = gaps.clone();
    let order = |g: &StreamGap| (g.venue, g.instrument_id.clone(), g.ts_init);
    back.sort_by_key(order);
    expected.sort_by_key(order);
    assert_eq!(back, expected);
    // De-duplicated on the whole row: the same gap again is a duplicate, another reason or end is a new gap.
    let again = store
        .write_gaps(&[
            gaps[0].clone(),
            StreamGap {
                reason: GapReason::ServerClose,
                ..gaps[0].clone()
            },
            StreamGap {
                ts_init: gaps[0].ts_init + 1,
                ..gaps[0].clone()
            },
        ])
        .unwrap();
    assert_eq!((again.rows_added, again.rows_duplicate), (2, 1));
    // Selection: `ALL` means the whole-market streams, an instrument id that instrument, a symbol every venue's.
    assert_eq!(
        store.select(Kind::Gaps, None, Some("ALL")).unwrap(),
        vec!["ALL.BINANCE".to_string(), "ALL.HYPERLIQUID".to_string()]
    );
    assert_eq!(
        store
            .select(Kind::Gaps, Some(&[Venue::Hyperliquid]), Some("all"))
            .unwrap(),
        vec!["ALL.HYPERLIQUID".to_string()]
    );
    assert_eq!(
        store
            .select(Kind::Gaps, None, Some("BTCUSDT-PERP"))
            .unwrap(),
        vec![
            "BTCUSDT-PERP.BINANCE".to_string(),
            "BTCUSDT-LINEAR.BYBIT".to_string()
        ]
    );
    assert_eq!(
        store.select(Kind::Gaps, None, Some("ALL.BINANCE")).unwrap(),
        vec!["ALL.BINANCE".to_string()]
    );
    // Table round trip through the table form (docs/formats.md#tables).
    let table = StreamGap::to_table(&back);
    assert_eq!(store.write_batches(&[table]).unwrap().rows_added, 0);
    let ids = store.select(Kind::Gaps, None, None).unwrap();
    let (table, _) = store
        .read_table(Kind::Gaps, &ids, &TimeRange::default())
        .unwrap();
    assert_eq!(table.num_rows(), 6);
    let summary = store.summary().unwrap();
    let gaps_summary: Vec<_> = summary.iter().filter(|d| d.kind == Kind::Gaps).collect();
    assert_eq!(gaps_summary.len(), 4);
    assert_eq!(Kind::parse("gaps").unwrap(), Kind::Gaps);
    assert_eq!(
        store.last_timestamp(Kind::Gaps, "ALL.BINANCE").unwrap(),
        Some(DAY0)
    );
}

#[test]
fn whole_market_ids_are_for_gaps_only_and_checked() {
    use ccxt_pipeline_rs::store::parse_instrument;
    let all = parse_instrument(Kind::Gaps, "ALL.BYBIT").unwrap();
    assert_eq!((all.venue, all.symbol.as_str()), (Venue::Bybit, "ALL"));
    for kind in [Kind::OpenInterest, Kind::FundingRate, Kind::Liquidation] {
        assert!(parse_instrument(kind, "ALL.BINANCE").is_err(), "{kind:?}");
    }
    for id in [
        "ALL.binance",
        "ALL.",
        "ALL",
        "ALL.FTX",
        "ALL..BINANCE",
        "ALL.BINANCE/../x",
        "all.BINANCE",
        "ALLUSDT.BINANCE",
        "../ALL.BINANCE",
    ] {
        assert!(
            matches!(
                parse_instrument(Kind::Gaps, id),
                Err(PipelineError::InvalidArgument(_))
            ),
            "{id}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    // An OI row cannot claim the whole-market id.
    let bad = OpenInterest {
        instrument_id: "ALL.BINANCE".into(),
        symbol: "ALL".into(),
        ..oi(&inst(Venue::Binance, "BTCUSDT-PERP"), DAY0, 1.0)
    };
    assert!(matches!(
        store.write(&[bad]),
        Err(PipelineError::InvalidArgument(_))
    ));
}

#[test]
fn impossible_gaps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let ends_first = gap(
        Venue::Binance,
        "ALL.BINANCE",
        DAY0 + 10,
        DAY0 + 9,
        GapReason::Overflow,
    );
    let err = store.write_gaps(&[ends_first]).unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidArgument(ref m) if m.contains("ends") && m.contains("before it starts")),
        "{err}"
    );
    // A reason this version does not know, in a table.
    let table = StreamGap::to_table(&[gap(
        Venue::Binance,
        "ALL.BINANCE",
        DAY0,
        DAY0 + 1,
        GapReason::Shutdown,
    )]);
    let (schema, mut columns, _) = table.into_parts();
    let reason_at = schema.index_of("reason").unwrap();
    columns[reason_at] = std::sync::Arc::new(arrow_array::StringArray::from(vec!["timeout"]));
    let table = arrow_array::RecordBatch::try_new(schema, columns).unwrap();
    let err = store.write_batches(&[table]).unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidArgument(ref m) if m.contains("'timeout'")),
        "{err}"
    );
    assert!(store
        .read::<StreamGap>(None, &TimeRange::default())
        .unwrap()
        .0
        .is_empty());
}

// ---- issue 9, item 8: the storable time range ------------------------------------------------------------

fn funding(inst: &InstrumentRef, ts_event: i64, ts_init: i64, rate: f64) -> FundingRate {
    inst.funding_rate(ts_event, ts_init, rate)
}

fn liquidation(inst: &InstrumentRef, ts_event: i64, ts_init: i64) -> Liquidation {
    Liquidation {
        venue: inst.venue,
        symbol: inst.symbol.clone(),
        instrument_id: inst.instrument_id.clone(),
        ts_event,
        ts_init,
        side: Side::Sell,
        price: 100.0,
        quantity: 1.0,
    }
}

fn all_files(root: &Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let path = e.path();
                out.push(path.clone());
                if path.is_dir() {
                    walk(&path, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

#[test]
fn timestamps_outside_the_storable_range_are_refused_before_writing() {
    use ccxt_pipeline_rs::store::{iso, MAX_TIMESTAMP};
    assert_eq!(iso(MAX_TIMESTAMP), "2262-04-10T23:59:59.999999999Z");
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let day_2262_04_11 = MAX_TIMESTAMP + 1;
    let bad_values = [
        i64::MIN,
        -1,
        -NANOS_PER_DAY,
        day_2262_04_11,
        day_2262_04_11 + 5 * MINUTE,
        i64::MAX - 1,
        i64::MAX,
    ];
    let before = all_files(dir.path());
    for bad in bad_values {
        // Each kind, the bad value as ts_event and as ts_init, next to a good row: nothing is written.
        let good_ts = DAY0;
        let cases: Vec<(&str, PipelineError)> = vec![
            (
                "oi ts_init",
                store
                    .write(&[
                        oi(&btc, good_ts, 1.0),
                        OpenInterest {
                            ts_init: bad,
                            ..oi(&btc, good_ts + 1, 1.0)
                        },
                    ])
                    .unwrap_err(),
            ),
            (
                "oi ts_event",
                store
                    .write(&[OpenInterest {
                        ts_event: bad,
                        ..oi(&btc, good_ts, 1.0)
                    }])
                    .unwrap_err(),
            ),
            (
                "funding ts_init",
                store
                    .write(&[funding(&btc, good_ts, bad, 0.0001)])
                    .unwrap_err(),
            ),
            (
                "funding ts_event",
                store
                    .write(&[funding(&btc, bad, good_ts, 0.0001)])
                    .unwrap_err(),
            ),
            (
                "liquidation ts_init",
                store.write(&[liquidation(&btc, good_ts, bad)]).unwrap_err(),
            ),
            (
                "liquidation ts_event",
                store.write(&[liquidation(&btc, bad, good_ts)]).unwrap_err(),
            ),
            (
                "gap ts_init",
                store
                    .write_gaps(&[gap(
                        Venue::Binance,
                        "ALL.BINANCE",
                        good_ts,
                        bad,
                        GapReason::Overflow,
                    )])
                    .unwrap_err(),
            ),
            (
                "gap ts_event",
                store
                    .write_gaps(&[gap(
                        Venue::Binance,
                        "ALL.BINANCE",
                        bad,
                        good_ts,
                        GapReason::Overflow,
                    )])
                    .unwrap_err(),
            ),
            // The table path (Python's `write`) too.
            (
                "oi table",
                store
                    .write_batches(&[OpenInterest::to_table(&[OpenInterest {
                        ts_init: bad,
                        ..oi(&btc, good_ts, 1.0)
                    }])])
                    .unwrap_err(),
            ),
        ];
        for (case, err) in cases {
            let message = err.to_string();
            assert!(
                matches!(err, PipelineError::InvalidArgument(_))
                    && message.contains(&format!("({bad} ns)"))
                    && message.contains("outside the storable range 1970-01-01T00:00:00.000000000Z to 2262-04-10T23:59:59.999999999Z"),
                "{case} {bad}: {message}"
            );
        }
    }
    assert_eq!(
        all_files(dir.path()),
        before,
        "a refused write leaves no trace"
    );
    // The ends of the range are storable, and read back.
    let edge = [oi(&btc, 0, 1.0), oi(&btc, MAX_TIMESTAMP, 2.0)];
    assert_eq!(store.write(&edge).unwrap().rows_added, 2);
    assert_eq!(
        data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id),
        vec![
            "1970-01-01T00-00-00-000000000Z_1970-01-01T00-00-00-000000000Z.parquet",
            "2262-04-10T23-59-59-999999999Z_2262-04-10T23-59-59-999999999Z.parquet",
        ]
    );
    // A second write to the last granule adds to it instead of overwriting.
    assert_eq!(
        store
            .write(&[oi(&btc, MAX_TIMESTAMP - 1, 3.0)])
            .unwrap()
            .rows_added,
        1
    );
    let (back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(
        back.iter().map(|r| r.ts_init).collect::<Vec<_>>(),
        vec![0, MAX_TIMESTAMP - 1, MAX_TIMESTAMP]
    );
    assert_eq!(
        store
            .last_timestamp(Kind::OpenInterest, &btc.instrument_id)
            .unwrap(),
        Some(MAX_TIMESTAMP)
    );
}

// ---- item 9: the key holds across days --------------------------------------------------------------------

#[test]
fn snapshot_key_holds_across_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    let eth = inst(Venue::Binance, "ETHUSDT-PERP");
    let event = DAY0 + NANOS_PER_DAY - MINUTE; // 23:59 on day 0
                                               // OI: received on day 0, then again (a re-fetch) on day 1, then on day 3.
    assert_eq!(store.write(&[oi(&btc, event, 1.0)]).unwrap().rows_added, 1);
    for later in [DAY0 + NANOS_PER_DAY + 5, DAY0 + 3 * NANOS_PER_DAY] {
        let s = store
            .write(&[OpenInterest {
                ts_init: later,
                ..oi(&btc, event, 2.0)
            }])
            .unwrap();
        assert_eq!((s.rows_added, s.rows_duplicate, s.files_written), (0, 1, 0));
    }
    // The later day first, then the earlier one; and both within one write.
    let f = |ts_init: i64, rate: f64| funding(&eth, event, ts_init, rate);
    assert_eq!(
        store
            .write(&[f(DAY0 + 2 * NANOS_PER_DAY, 0.1)])
            .unwrap()
            .rows_added,
        1
    );
    let s = store.write(&[f(event, 0.2)]).unwrap();
    assert_eq!((s.rows_added, s.rows_duplicate), (0, 1));
    let both = [
        funding(&eth, event + MINUTE, event + MINUTE, 0.3),
        funding(&eth, event + MINUTE, event + 5 * NANOS_PER_DAY, 0.4),
    ];
    let s = store.write(&both).unwrap();
    assert_eq!((s.rows_added, s.rows_duplicate), (1, 1));
    let (oi_back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(
        oi_back
            .iter()
            .map(|r| (r.ts_init, r.open_interest))
            .collect::<Vec<_>>(),
        vec![(event, 1.0)],
        "stored once, the first one wins"
    );
    let (funding_back, _) = store
        .read::<FundingRate>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(
        funding_back
            .iter()
            .map(|r| (r.ts_event, r.funding_rate))
            .collect::<Vec<_>>(),
        vec![(event + MINUTE, 0.3), (event, 0.1)]
    );
}

/// Writes rows as one catalog file, bypassing the store (another writer, or an older version of this one).
fn plant<R: StoredRow>(root: &Path, rows: &[R], start: i64, end: i64) -> std::path::PathBuf {
    use parquet::arrow::ArrowWriter;
    let id = rows[0].instrument_id().to_string();
    let folder = root.join("data").join(R::KIND.folder()).join(&id);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(format!(
        "{}_{}.parquet",
        ccxt_pipeline_rs::model::time::catalog_timestamp(start),
        ccxt_pipeline_rs::model::time::catalog_timestamp(end)
    ));
    let batch = R::to_disk(rows, &id);
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path
}

#[test]
fn duplicates_an_older_version_stored_across_days_are_read_once_and_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let day1 = DAY0 + NANOS_PER_DAY;
    // Day 0 holds events 0..3; day 1 holds event 2 again (received after midnight) and event 4.
    let day0_rows: Vec<_> = (0..3)
        .map(|i| oi(&btc, DAY0 + i * MINUTE, i as f64))
        .collect();
    let day1_rows = vec![
        OpenInterest {
            ts_init: day1 + 1,
            ..oi(&btc, DAY0 + 2 * MINUTE, 99.0)
        },
        oi(&btc, day1 + MINUTE, 4.0),
    ];
    plant(dir.path(), &day0_rows, DAY0, DAY0 + NANOS_PER_DAY - 1);
    plant(dir.path(), &day1_rows, day1, day1 + NANOS_PER_DAY - 1);
    let (back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(
        back.iter().map(|r| r.open_interest).collect::<Vec<_>>(),
        vec![0.0, 1.0, 2.0, 4.0]
    );
    let summary = store.compact().unwrap();
    assert_eq!(summary.duplicates_removed, 1);
    // Both days are in one month: compaction leaves one file.
    assert_eq!((summary.files_before, summary.files_after), (2, 1));
    let (after, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(after, back);
    assert_eq!(store.summary().unwrap()[0].rows, 4);
    // Liquidations the same way: one event, two receive times on two days.
    let liq0 = liquidation(&btc, DAY0 + 5, DAY0 + 6);
    let liq1 = Liquidation {
        ts_init: day1 + 6,
        ..liq0.clone()
    };
    plant(
        dir.path(),
        std::slice::from_ref(&liq0),
        DAY0,
        DAY0 + NANOS_PER_DAY - 1,
    );
    plant(dir.path(), &[liq1], day1, day1 + NANOS_PER_DAY - 1);
    let (liqs, _) = store
        .read::<Liquidation>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(liqs, vec![liq0]);
}

// ---- item 10: unreadable files never take the dataset down ------------------------------------------------

/// Ways a data file can be unreadable: each is skipped by reads and quarantined by writes.
fn corruptions(valid: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let foreign_schema = {
        use parquet::arrow::ArrowWriter;
        let batch = arrow_array::RecordBatch::try_from_iter([(
            "x",
            std::sync::Arc::new(arrow_array::Float64Array::from(vec![1.0])) as _,
        )])
        .unwrap();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    };
    vec![
        ("zero bytes", Vec::new()),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("footer cut", valid[..valid.len() - 3].to_vec()),
        (
            "not parquet",
            b"PAR1 this is not a parquet file PAR1".to_vec(),
        ),
        ("foreign schema", foreign_schema),
    ]
}

#[test]
fn unreadable_files_are_skipped_by_reads_and_quarantined_by_writes() {
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let template = {
        let dir = tempfile::tempdir().unwrap();
        let store = ParquetStore::open(dir.path()).unwrap();
        store
            .write(
                &(0..500)
                    .map(|i| oi(&btc, DAY0 + i * MINUTE / 2, i as f64))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let name = &data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id)[0];
        std::fs::read(
            dir.path()
                .join("data/custom_open_interest/BTCUSDT-PERP.BINANCE")
                .join(name),
        )
        .unwrap()
    };
    for (case, bytes) in corruptions(&template) {
        let dir = tempfile::tempdir().unwrap();
        let store = ParquetStore::open(dir.path()).unwrap();
        // Three months, one file each.
        let rows: Vec<_> = (0..3)
            .map(|d| oi(&btc, DAY0 + 40 * d * NANOS_PER_DAY, d as f64))
            .collect();
        store.write(&rows).unwrap();
        let folder = dir
            .path()
            .join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
        let files = data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id);
        assert_eq!(files.len(), 3);
        // Corrupt the middle month, and the last one too (so the last timestamp must skip it).
        let (middle, last) = (folder.join(&files[1]), folder.join(&files[2]));
        std::fs::write(&middle, &bytes).unwrap();
        std::fs::write(&last, &bytes).unwrap();

        let report = store
            .read_report::<OpenInterest>(None, &TimeRange::default())
            .unwrap();
        assert_eq!(report.rows, rows[..1].to_vec(), "{case}");
        assert_eq!(report.skipped, vec![middle.clone(), last.clone()], "{case}");
        let summary = store.summary().unwrap();
        // A footer that reads can hide broken data pages: summary only sees what footers show.
        if case != "data pages overwritten" {
            assert_eq!(
                summary[0].corrupt,
                vec![middle.clone(), last.clone()],
                "{case}"
            );
            assert_eq!((summary[0].files, summary[0].rows), (1, 1), "{case}");
            assert_eq!(
                store
                    .last_timestamp(Kind::OpenInterest, &btc.instrument_id)
                    .unwrap(),
                Some(DAY0),
                "{case}"
            );
        }

        // A write whose keys those files could hold (their footers' `ts_event` ranges say so) must read them: it
        // moves them aside and goes on.
        let s = store
            .write(&[
                oi(&btc, DAY0 + 40 * NANOS_PER_DAY, 7.0),
                oi(&btc, DAY0 + 80 * NANOS_PER_DAY, 8.0),
            ])
            .unwrap();
        let quarantine = dir
            .path()
            .join("quarantine/custom_open_interest/BTCUSDT-PERP.BINANCE");
        let (q_middle, q_last) = (quarantine.join(&files[1]), quarantine.join(&files[2]));
        assert_eq!(s.rows_added, 2, "{case}");
        let mut moved = s.quarantined.clone();
        moved.sort();
        assert_eq!(moved, vec![q_middle.clone(), q_last.clone()], "{case}");
        assert_eq!(
            std::fs::read(&q_middle).unwrap(),
            bytes,
            "{case}: kept as it was"
        );
        let report = store
            .read_report::<OpenInterest>(None, &TimeRange::default())
            .unwrap();
        assert_eq!(report.rows.len(), 3, "{case}");
        assert!(report.skipped.is_empty(), "{case}");
        let summary = store.summary().unwrap();
        assert_eq!(
            summary[0].quarantined,
            vec![q_middle.clone(), q_last.clone()],
            "{case}"
        );
        assert!(summary[0].corrupt.is_empty(), "{case}");

        // compact() reports and quarantines what footers show (it reads only the files it rewrites); the same name
        // again goes to a numbered name, nothing is overwritten. The new rows landed under the same names.
        assert_eq!(
            data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id),
            files,
            "{case}"
        );
        std::fs::write(&last, &bytes).unwrap();
        std::fs::write(folder.join(&files[1]), &bytes).unwrap();
        let compacted = store.compact().unwrap();
        let mut moved = compacted.quarantined.clone();
        moved.sort();
        let numbered = |p: &Path| {
            let mut name = p.file_name().unwrap().to_os_string();
            name.push(".1");
            p.with_file_name(name)
        };
        let report = store
            .read_report::<OpenInterest>(None, &TimeRange::default())
            .unwrap();
        if case == "data pages overwritten" {
            assert!(moved.is_empty(), "{case}");
            assert_eq!((report.rows.len(), report.skipped.len()), (1, 2), "{case}");
        } else {
            assert_eq!(
                moved,
                vec![numbered(&q_middle), numbered(&q_last)],
                "{case}"
            );
            assert_eq!((report.rows.len(), report.skipped.len()), (1, 0), "{case}");
            assert_eq!(store.summary().unwrap()[0].quarantined.len(), 4, "{case}");
        }
        assert!(!dir.path().join("data/quarantine").exists());
    }
}

#[test]
fn foreign_files_and_folders_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let kind_dir = dir.path().join("data/custom_open_interest");
    let folder = kind_dir.join(&btc.instrument_id);
    std::fs::create_dir_all(kind_dir.join("notes")).unwrap();
    std::fs::create_dir_all(kind_dir.join("BTCUSDT.FTX")).unwrap();
    std::fs::create_dir_all(folder.join("old")).unwrap();
    std::fs::create_dir_all(dir.path().join("data/custom_liquidation/scratch")).unwrap();
    std::fs::write(kind_dir.join("README.txt"), "notes").unwrap();
    std::fs::write(dir.path().join("data/README.txt"), "notes").unwrap();
    std::fs::write(folder.join("README.txt"), "notes").unwrap();
    std::fs::write(folder.join("x_y.parquet"), "notes").unwrap();
    // A name whose end precedes its start (what the 2262 bug produced) is not a data file either.
    std::fs::write(
        folder.join("2262-04-11T00-00-00-000000000Z_1677-09-21T00-12-43-145224192Z.parquet"),
        "x",
    )
    .unwrap();
    let rows: Vec<_> = (0..3)
        .map(|d| oi(&btc, DAY0 + d * NANOS_PER_DAY, 1.0))
        .collect();
    assert_eq!(store.write(&rows).unwrap().rows_added, 3);
    let report = store
        .read_report::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!((report.rows.len(), report.skipped.len()), (3, 0));
    assert_eq!(
        store
            .read::<Liquidation>(None, &TimeRange::default())
            .unwrap()
            .0
            .len(),
        0
    );
    let summary = store.summary().unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!((summary[0].files, summary[0].rows), (1, 3));
    assert_eq!(
        store.select(Kind::OpenInterest, None, None).unwrap(),
        vec![btc.instrument_id.clone()]
    );
    let compacted = store.compact().unwrap();
    assert!(compacted.quarantined.is_empty());
    assert!(folder.join("README.txt").exists() && kind_dir.join("notes").is_dir());
}

// ---- item 11: readers never take the writer's lock ---------------------------------------------------------

#[test]
fn readers_write_nothing_and_need_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    {
        let store = ParquetStore::open(dir.path()).unwrap();
        store.write(&[oi(&btc, DAY0, 1.0)]).unwrap();
        store
            .write_gaps(&[gap(
                Venue::Bybit,
                "ALL.BYBIT",
                DAY0,
                DAY0 + 1,
                GapReason::Shutdown,
            )])
            .unwrap();
    }
    std::fs::remove_file(dir.path().join(ccxt_pipeline_rs::store::LOCK_FILE)).unwrap();
    let before = all_files(dir.path());
    // Another process holds the writer's lock the whole time: readers do not wait for it.
    let lock_path = dir.path().join("held.lock");
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let before_with_held: Vec<_> = all_files(dir.path());
    let started = std::time::Instant::now();
    let store = ParquetStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .read::<OpenInterest>(None, &TimeRange::default())
            .unwrap()
            .0
            .len(),
        1
    );
    assert_eq!(
        store
            .read::<StreamGap>(None, &TimeRange::default())
            .unwrap()
            .0
            .len(),
        1
    );
    assert_eq!(store.summary().unwrap().len(), 2);
    assert_eq!(
        store
            .last_timestamp(Kind::OpenInterest, &btc.instrument_id)
            .unwrap(),
        Some(DAY0)
    );
    assert_eq!(
        store.select(Kind::Gaps, None, Some("ALL")).unwrap().len(),
        1
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        all_files(dir.path()),
        before_with_held,
        "a reader created or changed nothing"
    );
    assert!(!dir.path().join(ccxt_pipeline_rs::store::LOCK_FILE).exists());
    drop(held);
    std::fs::remove_file(&lock_path).unwrap();
    assert_eq!(all_files(dir.path()), before);
}

// ---- item 12: a waiting writer says who holds the lock and can time out --------------------------------------

fn hold_lock(root: &Path, content: &str) -> std::fs::File {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(root.join(ccxt_pipeline_rs::store::LOCK_FILE))
        .unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file.lock().unwrap();
    file
}

#[test]
fn a_waiting_writer_names_the_holder_and_gives_up_after_the_timeout() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let row = [oi(&btc, DAY0, 1.0)];
    for (content, holder) in [
        ("4242\n", "held by process 4242"),
        ("", "held by another process (PID unknown)"),
        ("not a pid", "held by another process (PID unknown)"),
    ] {
        let held = hold_lock(dir.path(), content);
        for timeout in [Duration::ZERO, Duration::from_millis(300)] {
            let store = ParquetStore::open(dir.path())
                .unwrap()
                .with_lock_timeout(Some(timeout));
            let started = Instant::now();
            let err = store.write(&row).unwrap_err();
            let waited = started.elapsed();
            assert!(
                matches!(err, PipelineError::Store(ref m) if m.contains(holder) && m.contains("gave up after")),
                "{err}"
            );
            assert!(
                waited >= timeout && waited < timeout + Duration::from_secs(3),
                "{waited:?}"
            );
            // compact() waits for the same lock.
            assert!(matches!(store.compact(), Err(PipelineError::Store(_))));
        }
        drop(held);
    }
    // A wait check that fails ends the wait with its error (the Python glue's Ctrl+C).
    let held = hold_lock(dir.path(), "77\n");
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let store = ParquetStore::open(dir.path())
        .unwrap()
        .with_wait_check(std::sync::Arc::new(move || {
            if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 3 {
                Err(PipelineError::Store("interrupted".into()))
            } else {
                Ok(())
            }
        }));
    let err = store.write(&row).unwrap_err();
    assert_eq!(err.to_string(), "store error: interrupted");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    // Released: the write goes through, and the lock file now names this process.
    let waiter = {
        let root = dir.path().to_path_buf();
        let row = row.clone();
        std::thread::spawn(move || {
            ParquetStore::open(&root)
                .unwrap()
                .with_lock_timeout(Some(Duration::from_secs(20)))
                .write(&row)
                .map(|s| s.rows_added)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    drop(held);
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
    let content =
        std::fs::read_to_string(dir.path().join(ccxt_pipeline_rs::store::LOCK_FILE)).unwrap();
    assert_eq!(content.trim(), std::process::id().to_string());
}

// ---- item 13: open interest must be a finite, non-negative number -------------------------------------------

#[test]
fn impossible_open_interest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -1e-12] {
        let rows = [
            oi(&btc, DAY0, 1.0),
            OpenInterest {
                open_interest: bad,
                ..oi(&btc, DAY0 + MINUTE, 1.0)
            },
        ];
        let value = OpenInterest {
            open_interest_value: Some(bad),
            ..oi(&btc, DAY0, 1.0)
        };
        for (case, err) in [
            ("rows", store.write(&rows).unwrap_err()),
            (
                "table",
                store
                    .write_batches(&[OpenInterest::to_table(&rows)])
                    .unwrap_err(),
            ),
        ] {
            assert!(
                matches!(err, PipelineError::InvalidArgument(ref m)
                    if m.contains(&format!("open_interest {bad} of BTCUSDT-LINEAR.BYBIT"))),
                "{case} {bad}: {err}"
            );
        }
        // open_interest_value: NaN is how a table says "absent"; the others are refused.
        match store.write(std::slice::from_ref(&value)) {
            Err(PipelineError::InvalidArgument(m)) => {
                assert!(m.contains("open_interest_value"), "{m}")
            }
            other => panic!("{bad}: {other:?}"),
        }
        let table_result = store.write_batches(&[OpenInterest::to_table(&[value])]);
        assert_eq!(
            table_result.is_ok(),
            bad.is_nan(),
            "{bad}: {table_result:?}"
        );
    }
    // Funding: the same class, already refused.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            store.write(&[funding(&btc, DAY0, DAY0, bad)]),
            Err(PipelineError::InvalidArgument(_))
        ));
    }
    // Zero is a real open interest.
    store.write(&[oi(&btc, DAY0 + 2 * MINUTE, 0.0)]).unwrap();
    let (back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(
        back.len(),
        2,
        "the NaN-valued row from the table, and the zero"
    );
}

#[test]
fn impossible_liquidation_prices_and_sizes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
        for (column, row) in [
            (
                "price",
                Liquidation {
                    price: bad,
                    ..liquidation(&btc, DAY0, DAY0)
                },
            ),
            (
                "quantity",
                Liquidation {
                    quantity: bad,
                    ..liquidation(&btc, DAY0, DAY0)
                },
            ),
        ] {
            for (case, result) in [
                ("rows", store.write(std::slice::from_ref(&row))),
                (
                    "table",
                    store.write_batches(&[Liquidation::to_table(std::slice::from_ref(&row))]),
                ),
            ] {
                assert!(
                    matches!(result, Err(PipelineError::InvalidArgument(ref m)) if m.contains(&format!("{column} {bad}"))),
                    "{case} {column} {bad}: {result:?}"
                );
            }
        }
    }
    assert!(store
        .read::<Liquidation>(None, &TimeRange::default())
        .unwrap()
        .0
        .is_empty());
}

// ---- issue 10: a write costs O(new rows) ----------------------------------------------------------------------

/// (name, inode, length) of every data file of a folder.
fn file_identities(root: &Path, kind: Kind, id: &str) -> Vec<(String, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let dir = root.join("data").join(kind.folder()).join(id);
    data_files(root, kind, id)
        .into_iter()
        .map(|name| {
            let meta = std::fs::metadata(dir.join(&name)).unwrap();
            (name, meta.ino(), meta.len())
        })
        .collect()
}

#[test]
fn appends_leave_stored_files_untouched_and_writes_inside_them_merge() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    // A large day file (100 000 liquidations over the first 20 hours: several row groups).
    let step = 20 * 3600 * 1_000_000_000 / 100_000;
    let day: Vec<_> = (0..100_000)
        .map(|i| liquidation(&btc, DAY0 + i * step, DAY0 + i * step))
        .collect();
    assert_eq!(store.write(&day).unwrap().files_written, 1);
    let big = file_identities(dir.path(), Kind::Liquidation, &btc.instrument_id);
    // One-row flushes after it, in time order and one slightly out of order (its ts_event before the big file's
    // last): each goes to a file of its own; the big file is never rewritten.
    let late = DAY0 + 21 * 3600 * 1_000_000_000;
    for (n, ts_event) in [late, late + 1, DAY0 + 100, late + 3]
        .into_iter()
        .enumerate()
    {
        let summary = store
            .write(&[Liquidation {
                quantity: 2.0 + n as f64,
                ..liquidation(&btc, ts_event, late + n as i64)
            }])
            .unwrap();
        assert_eq!((summary.rows_added, summary.files_written), (1, 1));
        let now = file_identities(dir.path(), Kind::Liquidation, &btc.instrument_id);
        assert_eq!(now[0], big[0], "the large file was rewritten");
        assert_eq!(now.len(), n + 2);
    }
    // A repeat of a stored event far inside the big file is found (row groups read by their statistics), and
    // nothing is written.
    let repeat = store
        .write(&[liquidation(&btc, DAY0 + 5_000 * step, late + 10)])
        .unwrap();
    assert_eq!(
        (
            repeat.rows_added,
            repeat.rows_duplicate,
            repeat.files_written
        ),
        (0, 1, 0)
    );
    // A row whose ts_init falls inside the big file's interval is merged into it (intervals never overlap).
    let inside = store
        .write(&[Liquidation {
            quantity: 9.0,
            ..liquidation(&btc, DAY0 + step / 2, DAY0 + step / 2)
        }])
        .unwrap();
    assert_eq!((inside.rows_added, inside.files_written), (1, 1));
    let after = file_identities(dir.path(), Kind::Liquidation, &btc.instrument_id);
    assert_ne!(after[0], big[0]);
    let intervals: Vec<(i64, i64)> = after
        .iter()
        .map(|(name, _, _)| {
            let (a, b) = name.trim_end_matches(".parquet").split_once('_').unwrap();
            (
                ccxt_pipeline_rs::model::time::parse_catalog_timestamp(a).unwrap(),
                ccxt_pipeline_rs::model::time::parse_catalog_timestamp(b).unwrap(),
            )
        })
        .collect();
    assert!(intervals.windows(2).all(|w| w[0].1 < w[1].0), "{after:?}");
    let (back, _) = store
        .read::<Liquidation>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(back.len(), 100_000 + 4 + 1);
    assert!(back.windows(2).all(|w| w[0].ts_init <= w[1].ts_init));
}

#[test]
fn gap_free_run_reads_times_and_stops_at_the_first_hole() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    let five = 5 * MINUTE;
    // Two days at 5 minutes, a missing hour, then another day; in three writes (three files).
    let rows = |from: i64, count: i64| -> Vec<OpenInterest> {
        (0..count).map(|i| oi(&btc, from + i * five, 1.0)).collect()
    };
    store.write(&rows(DAY0, 288)).unwrap();
    store.write(&rows(DAY0 + NANOS_PER_DAY, 276)).unwrap();
    store.write(&rows(DAY0 + 2 * NANOS_PER_DAY, 288)).unwrap();
    let id = &btc.instrument_id;
    let window = (DAY0, DAY0 + 3 * NANOS_PER_DAY);
    let run = |window, step| {
        store
            .gap_free_run(Kind::OpenInterest, id, window, step)
            .unwrap()
    };
    // Across the first two writes, up to the hole before day 2.
    assert_eq!(run(window, five), Some(DAY0 + NANOS_PER_DAY + 275 * five));
    // A step wider than the hole runs on to the end.
    assert_eq!(
        run(window, 2 * 3600 * 1_000_000_000),
        Some(DAY0 + 3 * NANOS_PER_DAY - five)
    );
    // Nothing stored near the start: no run.
    assert_eq!(run((DAY0 - NANOS_PER_DAY, window.1), five), None);
    // The window's end bounds it.
    assert_eq!(run((DAY0, DAY0 + 10 * five), five), Some(DAY0 + 10 * five));
}

#[test]
fn batches_straight_from_the_files_equal_the_records_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let eth = inst(Venue::Bybit, "ETHUSDT-PERP");
    // Open interest over three months in two writes per instrument (several files, non-overlapping: fast path).
    for i in [&btc, &eth] {
        let rows: Vec<_> = (0..90 * 24)
            .map(|h| OpenInterest {
                open_interest_value: (h % 3 == 0).then_some(h as f64),
                ..oi(i, DAY0 + h * 60 * MINUTE, h as f64)
            })
            .collect();
        store.write(&rows[..1000]).unwrap();
        store.write(&rows[1000..]).unwrap();
    }
    // Liquidations whose files' ts_event ranges overlap (an out-of-order event): the records path.
    store
        .write(&[
            liquidation(&btc, DAY0 + 10, DAY0 + 10),
            liquidation(&btc, DAY0 + 30, DAY0 + 30),
        ])
        .unwrap();
    store
        .write(&[liquidation(&btc, DAY0 + 20, DAY0 + 40)])
        .unwrap();
    let ids = vec![btc.instrument_id.clone(), eth.instrument_id.clone()];
    for range in [
        TimeRange::default(),
        TimeRange {
            start: Some(DAY0 + 20 * NANOS_PER_DAY + 1),
            end: Some(DAY0 + 45 * NANOS_PER_DAY),
        },
        TimeRange {
            start: Some(DAY0 + 200 * NANOS_PER_DAY),
            end: None,
        },
    ] {
        let (batches, opened) = store
            .read_batches(Kind::OpenInterest, &ids, &range)
            .unwrap();
        let via_batches: Vec<OpenInterest> = batches
            .iter()
            .flat_map(|b| OpenInterest::from_table(b).unwrap())
            .collect();
        let (records, opened_records) = store.read::<OpenInterest>(Some(&ids), &range).unwrap();
        assert_eq!(via_batches, records, "{range:?}");
        assert_eq!(opened, opened_records);
        assert!(batches
            .iter()
            .all(|b| b.schema() == Kind::OpenInterest.table_schema()));
    }
    let (batches, _) = store
        .read_batches(Kind::Liquidation, &ids, &TimeRange::default())
        .unwrap();
    let via_batches: Vec<Liquidation> = batches
        .iter()
        .flat_map(|b| Liquidation::from_table(b).unwrap())
        .collect();
    let (records, _) = store
        .read::<Liquidation>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(via_batches, records);
    assert_eq!(records.len(), 3);
}

#[test]
fn writers_of_one_process_share_the_lock_one_folder_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let ids = [
        inst(Venue::Binance, "BTCUSDT-PERP"),
        inst(Venue::Bybit, "BTCUSDT-PERP"),
        inst(Venue::Binance, "ETHUSDT-PERP"),
    ];
    // Eight threads on clones of one store, each writing interleaved rows of every instrument, some twice.
    let threads: Vec<_> = (0..8i64)
        .map(|t| {
            let (store, ids) = (store.clone(), ids.clone());
            std::thread::spawn(move || {
                for round in 0..20i64 {
                    for i in &ids {
                        let minute = round * 8 + t;
                        store
                            .write(&[
                                oi(i, DAY0 + minute * MINUTE, 1.0),
                                oi(i, DAY0 + (minute / 2) * MINUTE, 2.0),
                            ])
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    // Compaction in the middle waits for the folders' writers and they for it.
    store.compact().unwrap();
    threads.into_iter().for_each(|t| t.join().unwrap());
    for i in &ids {
        let (rows, _) = store
            .read::<OpenInterest>(
                Some(std::slice::from_ref(&i.instrument_id)),
                &TimeRange::default(),
            )
            .unwrap();
        let times: Vec<i64> = rows.iter().map(|r| r.ts_event).collect();
        assert_eq!(
            times,
            (0..160).map(|m| DAY0 + m * MINUTE).collect::<Vec<_>>()
        );
        assert!(
            data_files(dir.path(), Kind::OpenInterest, &i.instrument_id).len()
                <= ccxt_pipeline_rs::store::FILES_PER_GRANULE
        );
    }
    // The lock file is free again: another process (here: a fresh store) writes at once.
    let other = ParquetStore::open(dir.path())
        .unwrap()
        .with_lock_timeout(Some(std::time::Duration::from_millis(200)));
    other
        .write(&[oi(&ids[0], DAY0 + 1000 * MINUTE, 1.0)])
        .unwrap();
}
