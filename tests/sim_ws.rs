//! The simulator's WebSocket side over real sockets, with a raw tokio-tungstenite client: subscription acks per
//! venue, event frames equal to the ground truth, Binance's one push per symbol per second, Bybit's 500 ms
//! batches, the silent legacy Binance route, every fault kind, delivery counts, and Hyperliquid's
//! `userFillsByTime` over HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ccxt_pipeline_rs::model::{Side, Venue};
use ccxt_pipeline_rs::sim::{fills, EmittedLiquidation, SimConfig, SimServer, WsFault};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------------------------------
// Harness

async fn start(rate: f64) -> SimServer {
    let server = SimServer::start(
        SimConfig {
            seed: 11,
            ..SimConfig::default()
        },
        0,
    )
    .await
    .expect("simulator binds a free port");
    for venue in Venue::ALL {
        server.set_liquidation_rate(venue, rate);
    }
    server
}

async fn connect(server: &SimServer, venue: Venue, path: &str) -> Client {
    let url = format!("{}{path}", server.ws_base_url(venue));
    let (client, response) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap_or_else(|error| panic!("connect {url}: {error}"));
    assert_eq!(response.status(), 101);
    client
}

#[derive(Debug)]
enum Got {
    Text(String),
    Timeout,
    /// The stream ended or failed; `true` if a close frame came first.
    Closed(bool),
}

/// The next text frame within `wait` (pings and pongs skipped).
async fn next_text(client: &mut Client, wait: Duration) -> Got {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Err(_) => return Got::Timeout,
            Ok(Some(Ok(Message::Text(text)))) => return Got::Text(text.as_str().to_owned()),
            Ok(Some(Ok(Message::Close(_)))) => return Got::Closed(true),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return Got::Closed(false),
        }
    }
}

async fn next_json(client: &mut Client, wait: Duration) -> Value {
    match next_text(client, wait).await {
        Got::Text(text) => {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        }
        other => panic!("expected a frame, got {other:?}"),
    }
}

async fn send(client: &mut Client, request: Value) {
    client
        .send(Message::text(request.to_string()))
        .await
        .expect("request sent");
}

/// Every text frame for `duration`, parsed.
async fn collect(client: &mut Client, duration: Duration) -> Vec<Value> {
    let deadline = Instant::now() + duration;
    let mut frames = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next_text(client, left).await {
            Got::Text(text) => frames.push(serde_json::from_str(&text).unwrap_or(Value::Null)),
            Got::Timeout => break,
            Got::Closed(_) => panic!("connection closed while collecting"),
        }
    }
    frames
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

fn decimal(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
}

fn truth_by_key(server: &SimServer, venue: Venue) -> BTreeMap<(String, i64), EmittedLiquidation> {
    server
        .liquidations_emitted(venue)
        .into_iter()
        .map(|event| ((event.symbol.clone(), event.time_ms), event))
        .collect()
}

/// A Binance `forceOrder` event checked against the ground truth; returns (symbol, E).
fn check_force_order(
    event: &Value,
    truth: &BTreeMap<(String, i64), EmittedLiquidation>,
) -> (String, i64) {
    assert_eq!(event["e"], "forceOrder");
    let order = &event["o"];
    let symbol = order["s"].as_str().unwrap_or_default().to_owned();
    let time = order["T"].as_i64().expect("T is a number");
    let sent = event["E"].as_i64().expect("E is a number");
    let truth = truth
        .get(&(symbol.clone(), time))
        .unwrap_or_else(|| panic!("{event} is not in the ground truth"));
    let side = match order["S"].as_str() {
        Some("SELL") => Side::Sell,
        Some("BUY") => Side::Buy,
        other => panic!("side {other:?}"),
    };
    assert_eq!(
        (
            side,
            decimal(&order["ap"]),
            decimal(&order["q"]),
            Some(decimal(&order["p"])),
            sent
        ),
        (
            truth.side,
            truth.price,
            truth.quantity,
            truth.order_price,
            truth.sent_at_ms
        ),
        "{event}"
    );
    assert_eq!(
        (order["l"].clone(), order["z"].clone()),
        (order["q"].clone(), order["q"].clone())
    );
    assert!(
        truth.delivered >= 1,
        "{event} arrived but counts as undelivered"
    );
    (symbol, sent)
}

// ---------------------------------------------------------------------------------------------------------
// Binance

#[tokio::test]
async fn binance_acks_lists_and_rejects_like_binance() {
    let server = start(0.0).await;
    let mut client = connect(&server, Venue::Binance, "/market/ws").await;
    send(&mut client, json!({"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder", "!forceOrder@arr"], "id": 1})).await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await,
        json!({"result": null, "id": 1})
    );
    send(
        &mut client,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 2}),
    )
    .await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await,
        json!({"result": ["btcusdt@forceOrder", "!forceOrder@arr"], "id": 2})
    );
    send(
        &mut client,
        json!({"method": "UNSUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": 3}),
    )
    .await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await,
        json!({"result": null, "id": 3})
    );
    send(
        &mut client,
        json!({"method": "SUBSCRIBE", "params": ["nopeusdt@forceOrder"], "id": 4}),
    )
    .await;
    let error = next_json(&mut client, Duration::from_secs(2)).await;
    assert_eq!(
        (error["error"]["code"].clone(), error["id"].clone()),
        (json!(2), json!(4))
    );
    client.send(Message::text("{not json")).await.expect("sent");
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await["error"]["code"],
        3
    );
    // Subscribing to a symbol adds it to the generation set.
    send(
        &mut client,
        json!({"method": "SUBSCRIBE", "params": ["xrpusdt@forceOrder"], "id": 5}),
    )
    .await;
    next_json(&mut client, Duration::from_secs(2)).await;
    assert!(server
        .liquidation_symbols(Venue::Binance)
        .contains(&"XRPUSDT".to_owned()));
    // A name in the URL that is not a stream is ignored, as ccxt's `/market/ws/0` needs.
    let mut numbered = connect(&server, Venue::Binance, "/market/ws/0").await;
    send(
        &mut numbered,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 1}),
    )
    .await;
    assert_eq!(
        next_json(&mut numbered, Duration::from_secs(2)).await,
        json!({"result": [], "id": 1})
    );
    // Unknown routes are refused at the handshake and logged as refused attempts.
    let refused = tokio_tungstenite::connect_async(format!(
        "{}/private/ws",
        server.ws_base_url(Venue::Binance)
    ))
    .await;
    assert!(matches!(refused, Err(WsError::Http(response)) if response.status() == 404));
    let attempts = server.ws_connection_attempts(Venue::Binance);
    assert_eq!(
        attempts
            .iter()
            .map(|(_, accepted)| *accepted)
            .collect::<Vec<_>>(),
        [true, true, false]
    );
}

#[tokio::test]
async fn binance_drops_a_connection_sending_more_than_10_messages_a_second() {
    let server = start(0.0).await;
    let mut client = connect(&server, Venue::Binance, "/market/ws").await;
    // Start just after a second boundary so all twelve fall into one second.
    let wait = 1_000 - ccxt_now_ms().rem_euclid(1_000);
    tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0) + 20)).await;
    for id in 0..12 {
        send(
            &mut client,
            json!({"method": "LIST_SUBSCRIPTIONS", "id": id}),
        )
        .await;
    }
    let mut answered = 0;
    loop {
        match next_text(&mut client, Duration::from_secs(2)).await {
            Got::Text(_) => answered += 1,
            Got::Closed(close_frame) => {
                assert!(!close_frame);
                break;
            }
            Got::Timeout => panic!("still open after 12 messages in a second"),
        }
    }
    assert_eq!(answered, 10);
    assert_eq!(server.ws_open_connections(Venue::Binance), 0);
}

#[tokio::test]
async fn binance_pushes_the_ground_truth_at_most_once_per_symbol_per_second() {
    let server = start(8.0).await;
    let mut client = connect(&server, Venue::Binance, "/market/ws").await;
    send(
        &mut client,
        json!({"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 1}),
    )
    .await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await["id"],
        1
    );
    let frames = collect(&mut client, Duration::from_millis(4_200)).await;
    let truth = truth_by_key(&server, Venue::Binance);
    let mut sends: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for frame in &frames {
        let (symbol, sent) = check_force_order(frame, &truth);
        sends.entry(symbol).or_default().push(sent);
    }
    assert_eq!(
        sends.keys().cloned().collect::<Vec<_>>(),
        ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    );
    for (symbol, times) in &sends {
        // 8 liquidations a second, one pushed per second: about 4 in 4.2 s.
        assert!((3..=5).contains(&times.len()), "{symbol}: {times:?}");
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= 1000, "{symbol}: {times:?}");
        }
    }
}

#[tokio::test]
async fn binance_combined_and_fixed_stream_routes() {
    let server = start(10.0).await;
    let mut combined = connect(
        &server,
        Venue::Binance,
        "/market/stream?streams=ethusdt@forceOrder/solusdt@forceOrder",
    )
    .await;
    let mut fixed = connect(&server, Venue::Binance, "/market/ws/btcusdt@forceOrder").await;
    let combined_frames = collect(&mut combined, Duration::from_millis(2_300)).await;
    let fixed_frames = collect(&mut fixed, Duration::from_millis(100)).await;
    let truth = truth_by_key(&server, Venue::Binance);
    let mut streams = BTreeSet::new();
    for frame in &combined_frames {
        let stream = frame["stream"].as_str().unwrap_or_default().to_owned();
        let (symbol, _) = check_force_order(&frame["data"], &truth);
        assert_eq!(stream, format!("{}@forceOrder", symbol.to_lowercase()));
        streams.insert(stream);
        assert_eq!(frame.as_object().map(|object| object.len()), Some(2));
    }
    assert_eq!(
        streams.into_iter().collect::<Vec<_>>(),
        ["ethusdt@forceOrder", "solusdt@forceOrder"]
    );
    assert!(!fixed_frames.is_empty());
    for frame in &fixed_frames {
        assert_eq!(check_force_order(frame, &truth).0, "BTCUSDT");
    }
}

#[tokio::test]
async fn binance_legacy_routes_ack_but_stay_silent() {
    let server = start(10.0).await;
    let mut legacy = connect(&server, Venue::Binance, "/ws").await;
    let mut public = connect(&server, Venue::Binance, "/public/ws/btcusdt@forceOrder").await;
    send(
        &mut legacy,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": 9}),
    )
    .await;
    assert_eq!(
        next_json(&mut legacy, Duration::from_secs(2)).await,
        json!({"result": null, "id": 9})
    );
    assert!(matches!(
        next_text(&mut legacy, Duration::from_millis(2_200)).await,
        Got::Timeout
    ));
    assert!(matches!(
        next_text(&mut public, Duration::from_millis(10)).await,
        Got::Timeout
    ));
    let emitted = server.liquidations_emitted(Venue::Binance);
    assert!(
        emitted
            .iter()
            .filter(|event| event.symbol == "BTCUSDT")
            .count()
            >= 2
    );
    assert!(emitted.iter().all(|event| event.delivered == 0));
    assert_eq!(server.ws_open_connections(Venue::Binance), 2);
}

// ---------------------------------------------------------------------------------------------------------
// Bybit

#[tokio::test]
async fn bybit_acks_pings_and_batches_every_500_ms() {
    let server = start(20.0).await;
    let mut client = connect(&server, Venue::Bybit, "/v5/public/linear").await;
    send(&mut client, json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"], "req_id": "7"})).await;
    let ack = next_json(&mut client, Duration::from_secs(2)).await;
    let conn_id = ack["conn_id"].as_str().unwrap_or_default().to_owned();
    assert!(!conn_id.is_empty());
    assert_eq!(
        ack,
        json!({"success": true, "ret_msg": "", "conn_id": conn_id, "req_id": "7", "op": "subscribe"})
    );
    send(&mut client, json!({"op": "ping", "req_id": "p1"})).await;
    // Pushes may come before the pong.
    let mut frames = Vec::new();
    loop {
        let frame = next_json(&mut client, Duration::from_secs(2)).await;
        if frame.get("op").is_some() {
            assert_eq!(
                frame,
                json!({"success": true, "ret_msg": "pong", "conn_id": conn_id, "req_id": "p1", "op": "ping"})
            );
            break;
        }
        frames.push(frame);
    }
    send(
        &mut client,
        json!({"op": "subscribe", "args": ["allLiquidation.NOPEUSDT"], "req_id": "8"}),
    )
    .await;
    frames.extend(collect(&mut client, Duration::from_millis(3_000)).await);
    let failure = frames
        .iter()
        .position(|frame| frame.get("op").is_some())
        .expect("an answer to req 8");
    let failure = frames.remove(failure);
    assert_eq!(
        (
            failure["success"].clone(),
            failure["ret_msg"].clone(),
            failure["req_id"].clone()
        ),
        (
            json!(false),
            json!("error:handler not found,topic:allLiquidation.NOPEUSDT"),
            json!("8")
        )
    );
    let truth = truth_by_key(&server, Venue::Bybit);
    let mut slots: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut items = 0;
    for frame in &frames {
        assert_eq!(frame["type"], "snapshot");
        let topic = frame["topic"].as_str().unwrap_or_default();
        let ts = frame["ts"].as_i64().expect("ts");
        assert!(
            ts % 500 < 200,
            "pushed {} ms after a 500 ms boundary",
            ts % 500
        );
        slots
            .entry(topic.to_owned())
            .or_default()
            .push(ts.div_euclid(500));
        for item in frame["data"].as_array().expect("data is an array") {
            items += 1;
            let symbol = item["s"].as_str().unwrap_or_default().to_owned();
            assert_eq!(topic, format!("allLiquidation.{symbol}"));
            let time = item["T"].as_i64().expect("T");
            let event = truth
                .get(&(symbol, time))
                .unwrap_or_else(|| panic!("{item} not in the ground truth"));
            let side = if item["S"] == "Buy" {
                Side::Sell
            } else {
                Side::Buy
            };
            assert_eq!(
                (
                    side,
                    decimal(&item["p"]),
                    decimal(&item["v"]),
                    ts,
                    event.delivered
                ),
                (event.side, event.price, event.quantity, event.sent_at_ms, 1)
            );
            assert!(time <= ts);
        }
    }
    assert_eq!(
        slots.keys().cloned().collect::<Vec<_>>(),
        ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"]
    );
    for (topic, pushed) in &slots {
        let distinct: BTreeSet<&i64> = pushed.iter().collect();
        assert_eq!(
            distinct.len(),
            pushed.len(),
            "{topic}: two pushes in one 500 ms slot"
        );
    }
    // 20 a second on each of 2 symbols, for about 3 s.
    assert!(items >= 40, "{items}");
    // Every event of the subscribed symbols sent while we listened reached us: none is missing.
    let first = frames
        .iter()
        .filter_map(|frame| frame["ts"].as_i64())
        .min()
        .unwrap_or(0);
    let last = frames
        .iter()
        .filter_map(|frame| frame["ts"].as_i64())
        .max()
        .unwrap_or(0);
    let expected = server
        .liquidations_emitted(Venue::Bybit)
        .iter()
        .filter(|event| ["BTCUSDT", "ETHUSDT"].contains(&event.symbol.as_str()))
        .filter(|event| (first..=last).contains(&event.sent_at_ms))
        .count();
    assert_eq!(items, expected);
}

#[tokio::test]
async fn delivery_counts_follow_the_connections() {
    let server = start(20.0).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let before = server.liquidations_emitted(Venue::Bybit);
    assert!(before.len() >= 10, "{}", before.len());
    assert!(before.iter().all(|event| event.delivered == 0));
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut client = connect(&server, Venue::Bybit, "/v5/public/linear").await;
        send(
            &mut client,
            json!({"op": "subscribe", "args": ["allLiquidation.SOLUSDT"]}),
        )
        .await;
        assert_eq!(
            next_json(&mut client, Duration::from_secs(2)).await["success"],
            true
        );
        clients.push(client);
    }
    let subscribed_at = ccxt_now_ms();
    let (first, second) = match clients.as_mut_slice() {
        [first, second] => (first, second),
        _ => unreachable!(),
    };
    let (first, second) = tokio::join!(
        collect(first, Duration::from_millis(1_500)),
        collect(second, Duration::from_millis(1_500))
    );
    // Every frame sent once both had subscribed went to both.
    let after = |frames: Vec<Value>| -> Vec<Value> {
        frames
            .into_iter()
            // Frames sent near the end may have reached one client in time and not the other.
            .filter(|frame| {
                frame["ts"]
                    .as_i64()
                    .is_some_and(|ts| ts > subscribed_at && ts < subscribed_at + 1_100)
            })
            .collect()
    };
    let (first, second) = (after(first), after(second));
    assert_eq!(first, second);
    let times: BTreeSet<i64> = first
        .iter()
        .flat_map(|frame| frame["data"].as_array().cloned().unwrap_or_default())
        .filter_map(|item| item["T"].as_i64())
        .collect();
    assert!(times.len() >= 5);
    for event in server.liquidations_emitted(Venue::Bybit) {
        if event.symbol == "SOLUSDT" && times.contains(&event.time_ms) {
            assert_eq!(event.delivered, 2, "{event:?}");
        } else if event.symbol != "SOLUSDT" {
            assert_eq!(event.delivered, 0, "{event:?}");
        }
    }
    let early = before
        .iter()
        .filter(|event| event.symbol == "SOLUSDT")
        .count();
    assert!(
        server.liquidations_emitted(Venue::Bybit)[..before.len()]
            .iter()
            .all(|event| event.delivered == 0),
        "{early} SOL events before anyone connected"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Hyperliquid

#[tokio::test]
async fn hyperliquid_ws_answers_pings_and_subscriptions() {
    let server = start(0.0).await;
    let mut client = connect(&server, Venue::Hyperliquid, "/ws").await;
    send(&mut client, json!({"method": "ping"})).await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await,
        json!({"channel": "pong"})
    );
    send(
        &mut client,
        json!({"method": "subscribe", "subscription": {"type": "trades", "coin": "SOL"}}),
    )
    .await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await,
        json!({"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": {"type": "trades", "coin": "SOL"}}})
    );
    assert!(server.liquidations_emitted(Venue::Hyperliquid).is_empty());
}

#[tokio::test]
async fn user_fills_by_time_over_http_pages_within_bounds() {
    let server = start(0.0).await;
    let now = 1_767_225_601_234;
    server.set_clock_ms(Some(now));
    let user = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("{}/info", server.base_url(Venue::Hyperliquid));
    let ask = |body: Value| {
        let request = client.post(url.as_str()).body(body.to_string());
        async move {
            let response = request.send().await.expect("answered");
            assert_eq!(response.status(), 200);
            let body = response.bytes().await.expect("a body");
            serde_json::from_slice::<Vec<Value>>(&body).expect("an array")
        }
    };
    let start_ms = now - 7_200_000;
    let mut walked = Vec::new();
    let mut cursor = start_ms;
    loop {
        let page = ask(json!({"type": "userFillsByTime", "user": user, "startTime": cursor, "endTime": now, "aggregateByTime": false})).await;
        assert!(page.len() <= 2000);
        let Some(last) = page.last().and_then(|fill| fill["time"].as_i64()) else {
            break;
        };
        walked.extend(page.iter().cloned());
        if page.len() < 2000 {
            break;
        }
        cursor = last + 1;
    }
    let truth = fills::user_fills(11, user, start_ms, now, now, usize::MAX);
    assert_eq!(walked.len(), truth.len());
    assert!((2399..=2401).contains(&walked.len()));
    assert!(walked
        .iter()
        .zip(&truth)
        .all(|(served, truth)| *served == truth.to_json()));
    let liquidations = truth
        .iter()
        .filter(|fill| fill.liquidation.is_some())
        .count();
    assert!(
        liquidations * 10 > truth.len() * 8,
        "{liquidations} of {}",
        truth.len()
    );
    // Nothing after the frozen clock.
    let future = ask(json!({"type": "userFillsByTime", "user": user, "startTime": now + 1})).await;
    assert!(future.is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn drop_closes_without_a_close_frame_and_drop_every_repeats() {
    let server = start(0.0).await;
    let mut client = connect(&server, Venue::Bybit, "/v5/public/linear").await;
    let mut other_venue = connect(&server, Venue::Binance, "/market/ws").await;
    assert_eq!(server.ws_open_connections(Venue::Bybit), 1);
    server.inject_ws_fault(Venue::Bybit, WsFault::Drop);
    assert!(matches!(
        next_text(&mut client, Duration::from_secs(2)).await,
        Got::Closed(false)
    ));
    assert_eq!(server.ws_open_connections(Venue::Bybit), 0);
    // Other venues keep their connections.
    send(
        &mut other_venue,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 1}),
    )
    .await;
    assert_eq!(
        next_json(&mut other_venue, Duration::from_secs(2)).await["id"],
        1
    );

    server.inject_ws_fault(Venue::Bybit, WsFault::DropEvery(Duration::from_millis(400)));
    for _ in 0..2 {
        let opened = Instant::now();
        let mut client = connect(&server, Venue::Bybit, "/v5/public/linear").await;
        assert!(matches!(
            next_text(&mut client, Duration::from_secs(2)).await,
            Got::Closed(false)
        ));
        assert!(opened.elapsed() < Duration::from_millis(1_000));
    }
    server.inject_ws_fault(Venue::Bybit, WsFault::StopDropping);
    let mut survivor = connect(&server, Venue::Bybit, "/v5/public/linear").await;
    assert!(matches!(
        next_text(&mut survivor, Duration::from_millis(900)).await,
        Got::Timeout
    ));
    send(&mut survivor, json!({"op": "ping", "req_id": "alive"})).await;
    assert_eq!(
        next_json(&mut survivor, Duration::from_secs(2)).await["req_id"],
        "alive"
    );
}

#[tokio::test]
async fn stall_sends_nothing_then_resumes() {
    let server = start(10.0).await;
    server.set_ws_ping_interval(Duration::from_millis(150));
    let mut client = connect(&server, Venue::Bybit, "/v5/public/linear").await;
    send(
        &mut client,
        json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT"], "req_id": "s"}),
    )
    .await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await["success"],
        true
    );
    assert!(!collect(&mut client, Duration::from_millis(700))
        .await
        .is_empty());
    server.inject_ws_fault(Venue::Bybit, WsFault::Stall(Duration::from_millis(2_500)));
    let stalled_at = ccxt_now_ms();
    send(&mut client, json!({"op": "ping", "req_id": "during"})).await;
    client
        .send(Message::Ping("client".into()))
        .await
        .expect("ping sent");
    // What was on its way before the stall may still land; then nothing at all arrives: no events, no pong, no
    // server ping, no WebSocket pong.
    let _in_flight = tokio::time::timeout(Duration::from_millis(100), async {
        while client.next().await.is_some() {}
    })
    .await;
    let quiet = tokio::time::timeout(Duration::from_millis(1_500), client.next()).await;
    assert!(quiet.is_err(), "got {quiet:?} during the stall");
    assert_eq!(server.ws_open_connections(Venue::Bybit), 1);
    // Afterwards the pong comes and events flow again.
    let mut pong = None;
    let mut events_after = 0;
    let deadline = Instant::now() + Duration::from_millis(3_500);
    while Instant::now() < deadline {
        match next_text(&mut client, Duration::from_millis(200)).await {
            Got::Text(text) => {
                let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if frame["op"] == "ping" {
                    pong = Some(frame);
                } else {
                    events_after += 1;
                }
            }
            Got::Timeout => {}
            Got::Closed(_) => panic!("closed after the stall"),
        }
    }
    assert_eq!(
        pong.map(|frame| frame["req_id"].clone()),
        Some(json!("during"))
    );
    assert!(events_after >= 2, "{events_after}");
    // Events emitted during the stall reached nobody.
    let during: Vec<EmittedLiquidation> = server
        .liquidations_emitted(Venue::Bybit)
        .into_iter()
        .filter(|event| event.symbol == "BTCUSDT")
        .filter(|event| (stalled_at + 50..stalled_at + 2_400).contains(&event.sent_at_ms))
        .collect();
    assert!(during.len() >= 5);
    assert!(
        during.iter().all(|event| event.delivered == 0),
        "{during:?}"
    );
}

fn ccxt_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

#[tokio::test]
async fn refuse_answers_503_then_accepts() {
    let server = start(0.0).await;
    server.inject_ws_fault(
        Venue::Hyperliquid,
        WsFault::Refuse(Duration::from_millis(800)),
    );
    let url = format!("{}/ws", server.ws_base_url(Venue::Hyperliquid));
    let refused = tokio_tungstenite::connect_async(url.as_str()).await;
    assert!(matches!(refused, Err(WsError::Http(response)) if response.status() == 503));
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut client = connect(&server, Venue::Hyperliquid, "/ws").await;
    send(&mut client, json!({"method": "ping"})).await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await["channel"],
        "pong"
    );
    let attempts = server.ws_connection_attempts(Venue::Hyperliquid);
    assert_eq!(
        attempts
            .iter()
            .map(|(_, accepted)| *accepted)
            .collect::<Vec<_>>(),
        [false, true]
    );
    assert!(attempts[1].0 - attempts[0].0 >= 800);
    // The REST side is not affected.
    let body = http_client()
        .post(format!("{}/info", server.base_url(Venue::Hyperliquid)))
        .body(r#"{"type":"meta"}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(body.status(), 200);
}

#[tokio::test]
async fn malformed_frame_comes_first_and_real_frames_still_arrive() {
    let server = start(0.0).await;
    let mut client = connect(&server, Venue::Binance, "/market/ws").await;
    send(
        &mut client,
        json!({"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 1}),
    )
    .await;
    assert_eq!(
        next_json(&mut client, Duration::from_secs(2)).await["id"],
        1
    );
    server.inject_ws_fault(Venue::Binance, WsFault::Malformed);
    server.inject_ws_fault(Venue::Binance, WsFault::Burst(3));
    let Got::Text(broken) = next_text(&mut client, Duration::from_secs(2)).await else {
        panic!("no malformed frame")
    };
    assert!(serde_json::from_str::<Value>(&broken).is_err(), "{broken}");
    assert!(broken.starts_with(r#"{"e":"forceOrder""#));
    let frames = collect(&mut client, Duration::from_millis(1_500)).await;
    assert_eq!(frames.len(), 3);
    let truth = truth_by_key(&server, Venue::Binance);
    for frame in &frames {
        check_force_order(frame, &truth);
    }
    assert_eq!(server.liquidations_emitted(Venue::Binance).len(), 3);
}

#[tokio::test]
async fn bursts_spread_over_symbols() {
    let server = start(0.0).await;
    let mut binance = connect(&server, Venue::Binance, "/market/ws/!forceOrder@arr").await;
    let mut bybit = connect(&server, Venue::Bybit, "/v5/public/linear").await;
    send(&mut bybit, json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT", "allLiquidation.SOLUSDT"]})).await;
    assert_eq!(
        next_json(&mut bybit, Duration::from_secs(2)).await["success"],
        true
    );
    server.inject_ws_fault(Venue::Binance, WsFault::Burst(10));
    server.inject_ws_fault(Venue::Bybit, WsFault::Burst(30));
    // Binance: ten symbols, one push each, at once.
    let frames = collect(&mut binance, Duration::from_millis(700)).await;
    let symbols: BTreeSet<String> = frames
        .iter()
        .map(|frame| frame["o"]["s"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!((frames.len(), symbols.len()), (10, 10));
    let sent: BTreeSet<i64> = frames
        .iter()
        .filter_map(|frame| frame["E"].as_i64())
        .collect();
    assert!(sent.iter().max().unwrap_or(&0) - sent.iter().min().unwrap_or(&0) < 100);
    // Bybit: 30 events in one batch per symbol.
    let frames = collect(&mut bybit, Duration::from_millis(700)).await;
    let sizes: Vec<usize> = frames
        .iter()
        .map(|frame| frame["data"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [10, 10, 10]);
    let emitted = server.liquidations_emitted(Venue::Bybit);
    assert_eq!(emitted.len(), 30);
    assert!(emitted.iter().all(|event| event.delivered == 1));
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped() {
    let server = start(0.0).await;
    server.set_ws_queue_capacity(4);
    // A small receive window so the server's writes block soon.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let stream = socket
        .connect(([127, 0, 0, 1], server.port()).into())
        .await
        .expect("connected");
    let url = format!("{}/v5/public/linear", server.ws_base_url(Venue::Bybit));
    let (mut slow, _) =
        tokio_tungstenite::client_async(url.as_str(), MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
    send(
        &mut slow,
        json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT"], "req_id": "1"}),
    )
    .await;
    assert_eq!(
        next_json(&mut slow, Duration::from_secs(2)).await["success"],
        true
    );
    // From now on the client reads nothing; the bursts fill its window and then its queue.
    let deadline = Instant::now() + Duration::from_secs(90);
    while server.ws_open_connections(Venue::Bybit) > 0 {
        assert!(
            Instant::now() < deadline,
            "the slow reader was never dropped"
        );
        server.inject_ws_fault(Venue::Bybit, WsFault::Burst(30_000));
        tokio::time::sleep(Duration::from_millis(520)).await;
    }
    // The subscribed symbol's first burst reached it; the one that found its queue full did not.
    let btc: Vec<EmittedLiquidation> = server
        .liquidations_emitted(Venue::Bybit)
        .into_iter()
        .filter(|event| event.symbol == "BTCUSDT")
        .collect();
    assert_eq!(btc[0].delivered, 1);
    let undelivered = btc.iter().filter(|event| event.delivered == 0).count();
    assert!(undelivered >= 10_000, "{undelivered} of {}", btc.len());
    // The connection is gone: reading what is left ends in a closed stream, not a close frame.
    let mut ended = false;
    for _ in 0..100_000 {
        match slow.next().await {
            Some(Ok(Message::Close(_))) => panic!("a close frame"),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended);
}

#[tokio::test]
async fn the_server_pings_and_shutdown_closes_connections() {
    let server = start(0.0).await;
    server.set_ws_ping_interval(Duration::from_millis(100));
    let mut client = connect(&server, Venue::Bybit, "/v5/public/linear").await;
    let mut pings = 0;
    let deadline = Instant::now() + Duration::from_millis(550);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, client.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => break,
        }
    }
    assert!((3..=6).contains(&pings), "{pings}");
    server.shutdown();
    assert!(matches!(
        next_text(&mut client, Duration::from_secs(2)).await,
        Got::Closed(false)
    ));
}
