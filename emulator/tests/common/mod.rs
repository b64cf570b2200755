//! Helpers shared by the emulator's integration tests.
#![allow(dead_code)]

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
