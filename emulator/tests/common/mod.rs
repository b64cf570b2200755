//! Helpers shared by the emulator's integration tests.

use graphwatch_emulator::{EmulatorArgs, Running};
use serde_json::{json, Value};

/// An emulator on a free port with default knobs, or with `tweak` applied.
pub async fn start_with(tweak: impl FnOnce(&mut EmulatorArgs)) -> Running {
    let mut args = EmulatorArgs::default();
    tweak(&mut args);
    graphwatch_emulator::start(args)
        .await
        .expect("emulator starts")
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

/// An access token for `user` (UPN or id), minted through the control API.
pub async fn token(base: &str, user: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("{base}/_emulator/tokens"))
        .json(&json!({ "user": user }))
        .send()
        .await
        .expect("mint request")
        .error_for_status()
        .expect("mint succeeds")
        .json()
        .await
        .expect("mint answers JSON");
    response["access_token"]
        .as_str()
        .expect("access_token in mint answer")
        .to_string()
}

pub async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/_emulator/stats"))
        .await
        .expect("stats request")
        .json()
        .await
        .expect("stats JSON")
}

/// A Graph response: status, headers, and the body as JSON (`null` when empty).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Reply {
    /// The Graph error code of an error reply.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

/// A signed-in Graph caller. Paths starting with `/` are under `{base}/v1.0`; absolute
/// URLs (next and delta links) are used as they are.
pub struct Graph {
    pub base: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

impl Graph {
    pub async fn signed_in(base: &str, user: &str) -> Graph {
        Graph {
            base: base.to_string(),
            token: Some(token(base, user).await),
            http: reqwest::Client::new(),
        }
    }

    /// A caller with a token obtained elsewhere (the device flow, a restart).
    pub fn with_token(base: &str, token: &str) -> Graph {
        Graph {
            base: base.to_string(),
            token: Some(token.to_string()),
            http: reqwest::Client::new(),
        }
    }

    /// A caller that sends no `Authorization` header.
    pub fn anonymous(base: &str) -> Graph {
        Graph {
            base: base.to_string(),
            token: None,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/v1.0{path}", self.base)
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<reqwest::Body>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("graph request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("graph body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("graph answers JSON")
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, content: &str) -> Reply {
        self.send(
            reqwest::Method::PUT,
            path,
            Some(reqwest::Body::from(content.to_string())),
        )
        .await
    }

    pub async fn json(&self, method: reqwest::Method, path: &str, body: Value) -> Reply {
        self.send(method, path, Some(reqwest::Body::from(body.to_string())))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Follow `@odata.nextLink` from `path` to the page with `@odata.deltaLink`; returns
    /// every item seen, the number of pages, and the deltaLink.
    pub async fn delta(&self, path: &str) -> (Vec<Value>, usize, String) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = path.to_string();
        loop {
            let reply = self.get(&next).await;
            assert_eq!(reply.status, 200, "delta page {next}: {}", reply.json);
            pages += 1;
            items.extend(reply.json["value"].as_array().cloned().unwrap_or_default());
            if let Some(link) = reply.json["@odata.deltaLink"].as_str() {
                assert!(
                    reply.json.get("@odata.nextLink").is_none(),
                    "a page has one link"
                );
                return (items, pages, link.to_string());
            }
            next = reply.json["@odata.nextLink"]
                .as_str()
                .expect("a page without deltaLink has a nextLink")
                .to_string();
            assert!(pages < 1000, "delta paging ends");
        }
    }
}

/// The item with this `id` in a delta or collection answer.
pub fn by_id<'a>(items: &'a [Value], id: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["id"] == id).collect()
}

/// A subscription on Adele's drive made straight through the push interface, so
/// socket.io tests need no Graph routes. Returns the `microsoft.graph.subscription` answer.
pub fn subscribe(running: &Running) -> Value {
    subscribe_key(
        running,
        &format!("drive:{}", graphwatch_emulator::seed::ADELE_DRIVE),
    )
}

/// Like [`subscribe`] for any `drive:`/`list:` key.
pub fn subscribe_key(running: &Running, key: &str) -> Value {
    running.state.push.subscribe(
        &running.state,
        graphwatch_emulator::seed::ADELE_ID,
        graphwatch_emulator::push::Watched {
            key: key.to_string(),
            resource_id: "5d3a8e6b-1c2f-4a7b-9e0d-3f4a5b6c7d8e".to_string(),
            site_url: "/personal/adele_contoso_onmicrosoft_com".to_string(),
            web_id: "be8f18aa-0f3c-4b8e-a1d2-6c7e8f9a0b1c".to_string(),
        },
    )
}

/// The notificationUrl of a socketIo answer.
pub fn notification_url(subscription: &Value) -> String {
    subscription["notificationUrl"]
        .as_str()
        .expect("notificationUrl in the socketIo answer")
        .to_string()
}

/// The websocket URL a client derives from a notificationUrl (docs/graph-socketio.md §2): same host,
/// path `/socket.io/`, the original query plus `EIO=4&transport=websocket`.
pub fn websocket_url(notification_url: &str) -> String {
    let mut url = url::Url::parse(notification_url).expect("notificationUrl is a URL");
    let query = url.query().unwrap_or_default().to_string();
    url.set_scheme(if url.scheme() == "https" { "wss" } else { "ws" })
        .expect("ws scheme");
    url.set_path("/socket.io/");
    url.set_query(Some(&format!("EIO=4&transport=websocket&{query}")));
    url.to_string()
}

/// The query `token` of a notificationUrl, to check it never leaks.
pub fn token_of(notification_url: &str) -> String {
    url::Url::parse(notification_url)
        .expect("notificationUrl is a URL")
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("token in notificationUrl")
}

/// The GUID that notifications carry as `subscriptionId`, from the control API (the
/// socketIo answer's `id` is a different, opaque string).
pub async fn subscription_guid(base: &str, endpoint_id: &str) -> String {
    let list: Value = reqwest::get(format!("{base}/_emulator/subscriptions"))
        .await
        .expect("subscriptions request")
        .json()
        .await
        .expect("subscriptions JSON");
    list["subscriptions"]
        .as_array()
        .expect("subscriptions array")
        .iter()
        .find(|s| s["endpointId"] == endpoint_id)
        .and_then(|s| s["id"].as_str())
        .expect("subscription listed")
        .to_string()
}

pub async fn post(base: &str, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .expect("control request");
    assert!(
        response.status().is_success(),
        "POST {path} answered {}",
        response.status()
    );
    response.json().await.expect("control answer JSON")
}

pub async fn log(base: &str) -> Vec<Value> {
    let log: Value = reqwest::get(format!("{base}/_emulator/log"))
        .await
        .expect("log request")
        .json()
        .await
        .expect("log JSON");
    log["entries"].as_array().cloned().unwrap_or_default()
}

/// Poll the log until an entry of `kind` whose detail contains `needle` shows up.
pub async fn wait_for_log(
    base: &str,
    kind: &str,
    needle: &str,
    within: std::time::Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(e) = log(base)
            .await
            .into_iter()
            .find(|e| e["kind"] == kind && e["detail"].as_str().is_some_and(|d| d.contains(needle)))
        {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind} log entry with {needle:?} within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A public client id for sign-ins through the real device-code flow.
pub const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";

/// Scopes a watcher that also makes changes would ask for.
pub const SCOPE: &str =
    "offline_access openid profile User.Read Files.ReadWrite.All Sites.ReadWrite.All";

/// A form POST; returns status, headers and the body as JSON (`null` if it is not JSON).
pub async fn post_form(
    url: &str,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("form request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// Sign Adele in as a device-code client does over HTTP: ask for a code, then poll the
/// token endpoint every `interval` seconds (as the answer says) until it grants tokens.
/// Returns the token answer (`access_token`, `refresh_token`, …).
pub async fn device_sign_in(base: &str) -> Value {
    device_flow(base).await.1
}

/// Like [`device_sign_in`]; also returns the devicecode answer (`device_code`, `user_code`, …).
pub async fn device_flow(base: &str) -> (Value, Value) {
    let (status, _, code) = post_form(
        &format!("{base}/common/oauth2/v2.0/devicecode"),
        &[("client_id", CLIENT_ID), ("scope", SCOPE)],
    )
    .await;
    assert_eq!(status, 200, "devicecode: {code}");
    let device_code = code["device_code"]
        .as_str()
        .expect("device_code")
        .to_string();
    let mut interval = code["interval"].as_u64().expect("interval");
    for _ in 0..20 {
        // The polling pace the protocol asks for, not a synchronisation guess.
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        let (status, _, body) = post_form(
            &format!("{base}/common/oauth2/v2.0/token"),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", CLIENT_ID),
                ("device_code", &device_code),
            ],
        )
        .await;
        if status == 200 {
            assert_eq!(body["token_type"], "Bearer", "{body}");
            return (code, body);
        }
        assert_eq!(status, 400, "{body}");
        match body["error"].as_str() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += 5,
            _ => panic!("device flow failed: {body}"),
        }
    }
    panic!("the device code was never granted");
}

/// `POST …/token` with the refresh-token grant for [`CLIENT_ID`]: status and answer.
pub async fn refresh(base: &str, refresh_token: &str) -> (u16, Value) {
    let (status, _, body) = post_form(
        &format!("{base}/common/oauth2/v2.0/token"),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    (status, body)
}

/// A named counter of a `/_emulator/stats` answer (0 when absent).
pub fn counter(stats: &Value, key: &str) -> u64 {
    stats["counters"][key].as_u64().unwrap_or(0)
}

/// Poll `/_emulator/stats` until counter `key` reaches `at_least`; returns its value.
pub async fn wait_for_counter(
    base: &str,
    key: &str,
    at_least: u64,
    within: std::time::Duration,
) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = counter(&stats(base).await, key);
        if value >= at_least {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key} stayed at {value}, below {at_least}, for {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `GET /_emulator/log?since=N`: the raw text and the entries.
pub async fn log_since(base: &str, since: u64) -> (String, Vec<Value>) {
    let text = reqwest::get(format!("{base}/_emulator/log?since={since}"))
        .await
        .expect("log request")
        .text()
        .await
        .expect("log text");
    let log: Value = serde_json::from_str(&text).expect("log JSON");
    (text, log["entries"].as_array().cloned().unwrap_or_default())
}

/// `GET /_emulator/settings`.
pub async fn settings(base: &str) -> Value {
    reqwest::get(format!("{base}/_emulator/settings"))
        .await
        .expect("settings request")
        .json()
        .await
        .expect("settings JSON")
}

/// `PATCH /_emulator/settings` with a raw body; returns status and answer.
pub async fn patch_settings(base: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .patch(format!("{base}/_emulator/settings"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("settings request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A POST to a control route with a raw body; returns status and answer (any status).
pub async fn post_raw(base: &str, path: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("control request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A raw Engine.IO 4 / socket.io 5 client over tokio-tungstenite, to check the wire.
pub mod sio {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::Value;
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    /// What the next read gave.
    #[derive(Debug)]
    pub enum Frame {
        Text(String),
        /// A websocket close frame.
        Close,
        /// The stream ended (or failed) without a close frame.
        End(String),
        /// Nothing within the time allowed.
        Timeout,
    }

    impl Frame {
        pub fn into_text(self) -> String {
            match self {
                Frame::Text(t) => t,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    pub struct Client {
        pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
        /// The Engine.IO open packet's JSON.
        pub open: Value,
    }

    impl Client {
        /// Open the websocket and read the Engine.IO open packet.
        pub async fn open(ws_url: &str) -> Client {
            let (ws, _) = tokio_tungstenite::connect_async(ws_url)
                .await
                .expect("websocket upgrade");
            let mut client = Client {
                ws,
                open: Value::Null,
            };
            match client.recv(Duration::from_secs(5)).await {
                Frame::Text(t) if t.starts_with('0') => {
                    client.open = serde_json::from_str(&t[1..]).expect("open packet JSON");
                }
                other => panic!("expected the open packet, got {other:?}"),
            }
            client
        }

        /// Open, join `/` then the namespace (as working clients do); returns the client
        /// and the namespace answer (`40/notifications,{…}` or `44/notifications,{…}`).
        pub async fn join(ws_url: &str) -> (Client, String) {
            Client::join_namespace(ws_url, "/notifications").await
        }

        /// Like [`Client::join`] for the namespace a client took from the notificationUrl.
        pub async fn join_namespace(ws_url: &str, namespace: &str) -> (Client, String) {
            let mut client = Client::open(ws_url).await;
            client.send("40").await;
            let root = client.text(Duration::from_secs(5)).await;
            assert!(root.starts_with("40{"), "root namespace answer: {root}");
            client.send(&format!("40{namespace},")).await;
            let answer = client.text(Duration::from_secs(5)).await;
            (client, answer)
        }

        pub async fn send(&mut self, text: &str) {
            self.ws
                .send(Message::Text(text.into()))
                .await
                .expect("websocket send");
        }

        /// The next frame, as is (pings included).
        pub async fn recv(&mut self, within: Duration) -> Frame {
            loop {
                match tokio::time::timeout(within, self.ws.next()).await {
                    Err(_) => return Frame::Timeout,
                    Ok(None) => return Frame::End("stream ended".into()),
                    Ok(Some(Err(e))) => return Frame::End(e.to_string()),
                    Ok(Some(Ok(Message::Text(t)))) => return Frame::Text(t.as_str().to_string()),
                    Ok(Some(Ok(Message::Close(_)))) => return Frame::Close,
                    Ok(Some(Ok(_))) => continue,
                }
            }
        }

        /// The next text frame other than an Engine.IO ping, answering pings on the way.
        pub async fn next(&mut self, within: Duration) -> Frame {
            let deadline = tokio::time::Instant::now() + within;
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match self.recv(left).await {
                    Frame::Text(t) if t == "2" => self.send("3").await,
                    other => return other,
                }
            }
        }

        /// Like [`Client::next`] but the frame must be text.
        pub async fn text(&mut self, within: Duration) -> String {
            match self.next(within).await {
                Frame::Text(t) => t,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The parsed payload of a `42/notifications,["notification","…"]` frame: checks the
    /// exact frame shape and the double encoding, returns `{"value":[…]}`.
    pub fn notification(frame: &str) -> Value {
        let body = frame
            .strip_prefix("42/notifications,")
            .unwrap_or_else(|| panic!("not a /notifications event frame: {frame}"));
        let args: Value = serde_json::from_str(body).expect("event frame JSON");
        let args = args.as_array().expect("event frame is an array");
        assert_eq!(args.len(), 2, "event name and one argument: {frame}");
        assert_eq!(args[0], "notification");
        let inner = args[1]
            .as_str()
            .unwrap_or_else(|| panic!("the argument must be a JSON string: {frame}"));
        serde_json::from_str(inner).expect("the argument string holds JSON")
    }
}
