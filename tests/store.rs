//! The Parquet store's guarantees, each tested on a real folder.

use std::path::Path;

use ccxt_pipeline_rs::model::time::NANOS_PER_DAY;
use ccxt_pipeline_rs::model::{
    FundingRate, InstrumentRef, Liquidation, OpenInterest, PipelineError, Side, UnifiedSymbol,
    Venue,
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
fn one_file_per_instrument_per_utc_day_with_catalog_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let rows: Vec<_> = (0..3 * 24)
        .map(|h| oi(&btc, DAY0 + h * 60 * MINUTE, 100.0 + h as f64))
        .collect();
    let summary = store.write(&rows).unwrap();
    assert_eq!((summary.rows_added, summary.files_written), (72, 3));
    assert_eq!(
        data_files(dir.path(), Kind::OpenInterest, "BTCUSDT-PERP.BINANCE"),
        vec![
            "2025-01-01T00-00-00-000000000Z_2025-01-01T23-59-59-999999999Z.parquet",
            "2025-01-02T00-00-00-000000000Z_2025-01-02T23-59-59-999999999Z.parquet",
            "2025-01-03T00-00-00-000000000Z_2025-01-03T23-59-59-999999999Z.parquet",
        ]
    );
    let (back, opened) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(opened, 3);
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
fn liquidations_deduplicate_on_the_whole_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Bybit, "BTCUSDT-PERP");
    let liq = |qty: f64, side: Side| Liquidation {
        venue: btc.venue,
        symbol: btc.symbol.clone(),
        instrument_id: btc.instrument_id.clone(),
        ts_event: DAY0 + 5,
        ts_init: DAY0 + 7,
        side,
        price: 95_000.5,
        quantity: qty,
    };
    // Two different liquidations in the same millisecond are both real.
    store
        .write(&[liq(0.1, Side::Sell), liq(0.2, Side::Sell)])
        .unwrap();
    let summary = store
        .write(&[liq(0.1, Side::Sell), liq(0.1, Side::Buy)])
        .unwrap();
    assert_eq!((summary.rows_added, summary.rows_duplicate), (1, 1));
    let (back, _) = store
        .read::<Liquidation>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(back.len(), 3);
}

#[test]
fn range_reads_open_only_intersecting_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let btc = inst(Venue::Binance, "BTCUSDT-PERP");
    let rows: Vec<_> = (0..10 * 288)
        .map(|i| oi(&btc, DAY0 + i * 5 * MINUTE, i as f64))
        .collect();
    store.write(&rows).unwrap();
    // Corrupt a day outside the range: a read that opened it would fail.
    let files = data_files(dir.path(), Kind::OpenInterest, &btc.instrument_id);
    let folder = dir
        .path()
        .join("data")
        .join(Kind::OpenInterest.folder())
        .join(&btc.instrument_id);
    std::fs::write(folder.join(&files[0]), b"not parquet").unwrap();
    let day5 = DAY0 + 5 * NANOS_PER_DAY;
    let range = TimeRange {
        start: Some(day5 + 60 * MINUTE),
        end: Some(day5 + 120 * MINUTE),
    };
    let (back, opened) = store
        .read::<OpenInterest>(Some(std::slice::from_ref(&btc.instrument_id)), &range)
        .unwrap();
    assert_eq!(opened, 1);
    assert_eq!(back.len(), 13); // 01:00 to 02:00 inclusive at 5-minute steps
    assert_eq!(back[0].ts_init, day5 + 60 * MINUTE);
    // The corrupt file is a clear store error when it is in range.
    let err = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap_err();
    assert!(
        matches!(err, PipelineError::Store(ref m) if m.contains(&files[0])),
        "{err}"
    );
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
    assert_eq!((summary[0].rows, summary[0].files), (864, 3));
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
fn collector_load_keeps_one_file_per_day() {
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
        store.write(&rows).unwrap();
    }
    for id in &ids {
        assert_eq!(
            data_files(dir.path(), Kind::OpenInterest, &id.instrument_id).len(),
            2
        );
    }
    let (back, _) = store
        .read::<OpenInterest>(None, &TimeRange::default())
        .unwrap();
    assert_eq!(back.len(), 2 * 1441);
    let compacted = store.compact().unwrap();
    assert_eq!((compacted.files_before, compacted.files_after), (4, 4));
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
        vec!["2025-01-01T00-00-00-000000000Z_2025-01-01T23-59-59-999999999Z.parquet"]
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
            .contains("are not an open interest, funding rate or liquidation table"),
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
