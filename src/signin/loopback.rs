//! The loopback redirect of the browser sign-in (RFC 8252 §7.3): a listener on a free
//! port of 127.0.0.1 (and of ::1 when it can, since `localhost` may resolve to either),
//! and just enough HTTP/1.1 to take the one request the browser is redirected with and
//! answer it with a page.
//!
//! Each connection is served by its own task, so a browser's idle speculative
//! connection does not hold up the real one; requests are bounded in size and time. The
//! first request to `/` that carries `code` or `error` is handed to the sign-in
//! ([`Serving::next`]), which answers it once it knows the outcome ([`Callback::answer`]).
//! Every other request gets a 404. [`Serving::close`] stops listening before the answer
//! is written, so a browser that comes back (a reload, a replay) finds the port closed.
//!
//! The query holds the authorization code: nothing here logs a request line.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::util::text::html_escape;

/// The most of a request that is read: a redirect with a code is about 2 KB.
const MAX_REQUEST: usize = 16 * 1024;
/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing the answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound, not yet serving.
pub(super) struct Loopback {
    port: u16,
    listeners: Vec<TcpListener>,
}

/// Serving: callbacks arrive on `next`.
pub(super) struct Serving {
    callbacks: mpsc::Receiver<Callback>,
    accepting: Vec<JoinHandle<()>>,
}

/// The browser's redirect: its query parameters, and the connection waiting for a page.
pub(super) struct Callback {
    pub params: Vec<(String, String)>,
    reply: oneshot::Sender<Page>,
    written: oneshot::Receiver<()>,
}

/// What the browser is shown at the end.
pub(super) struct Page {
    pub ok: bool,
    pub title: String,
    pub message: String,
}

impl Loopback {
    /// A free port on 127.0.0.1, and the same port on ::1 if it is free there too.
    pub(super) async fn bind() -> anyhow::Result<Loopback> {
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .context("cannot listen on a loopback port for the sign-in's redirect")?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
            Ok(v6) => listeners.push(v6),
            Err(e) => tracing::debug!("not listening on [::1]:{port} as well: {e}"),
        }
        Ok(Loopback { port, listeners })
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    pub(super) fn serve(self) -> Serving {
        let (tx, rx) = mpsc::channel(4);
        let accepting = self
            .listeners
            .into_iter()
            .map(|listener| tokio::spawn(accept(listener, tx.clone())))
            .collect();
        Serving {
            callbacks: rx,
            accepting,
        }
    }
}

impl Serving {
    /// The next redirect that carries an answer; `None` if nothing can arrive any more.
    pub(super) async fn next(&mut self) -> Option<Callback> {
        self.callbacks.recv().await
    }

    /// Stop listening: when this returns, the port is closed. Callbacks already
    /// accepted and not taken are answered that the sign-in is over.
    pub(super) async fn close(self) {
        for task in &self.accepting {
            task.abort();
        }
        for task in self.accepting {
            let _ = task.await;
        }
    }
}

impl Callback {
    /// Answer the browser with `page` and wait (briefly) until it is written.
    pub(super) async fn answer(self, page: Page) {
        if self.reply.send(page).is_ok() {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, self.written).await;
        }
    }
}

async fn accept(listener: TcpListener, callbacks: mpsc::Sender<Callback>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, callbacks.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: try again in a moment.
                tracing::debug!("the sign-in's redirect listener: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve(mut stream: TcpStream, callbacks: mpsc::Sender<Callback>) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let Some(params) = redirect_params(&head) else {
        let _ = write(&mut stream, "404 Not Found", &not_found()).await;
        return;
    };
    let (reply, page) = oneshot::channel();
    let (done, written) = oneshot::channel();
    let sent = callbacks
        .send(Callback {
            params,
            reply,
            written,
        })
        .await;
    let page = match sent {
        Ok(()) => page.await.ok(),
        Err(_) => None,
    };
    let page = page.unwrap_or_else(|| Page {
        ok: false,
        title: "Sign-in over".into(),
        message: "This sign-in has already ended. Return to the terminal.".into(),
    });
    let status = if page.ok { "200 OK" } else { "400 Bad Request" };
    let _ = write(&mut stream, status, &render(&page)).await;
    let _ = done.send(());
}

/// The request line and headers, up to the blank line; `None` if it is too long, not
/// text, or the connection ends first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
    }
}

/// The query of `GET /?…` when it carries `code` or `error` (what the sign-in service
/// redirects with); `None` for anything else (`/favicon.ico`, a probe).
pub(super) fn redirect_params(head: &str) -> Option<Vec<(String, String)>> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        return None;
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    params
        .iter()
        .any(|(k, _)| k == "code" || k == "error")
        .then_some(params)
}

async fn write(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await
    .unwrap_or(Ok(()))
}

fn not_found() -> String {
    render(&Page {
        ok: false,
        title: "Not found".into(),
        message: "Nothing here: this address only takes the sign-in's answer.".into(),
    })
}

/// The page, with everything in it escaped: the message may quote the service's error.
pub(super) fn render(page: &Page) -> String {
    let colour = if page.ok { "#107c10" } else { "#a4262c" };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>graphwatch: {title}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:10vh auto;max-width:36em;padding:0 1em}}h1{{color:{colour}}}</style>\
</head><body><h1>{title}</h1><p>{message}</p></body></html>\n",
        title = html_escape(&page.title),
        message = html_escape(&page.message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_redirect_with_an_answer_is_taken() {
        let params =
            redirect_params("GET /?code=abc&state=s%20t HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
        assert_eq!(
            params,
            [
                ("code".to_string(), "abc".to_string()),
                ("state".to_string(), "s t".to_string())
            ]
        );
        assert!(redirect_params("GET /?error=access_denied HTTP/1.1\r\n\r\n").is_some());
        for other in [
            "GET /favicon.ico HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET /?state=x HTTP/1.1\r\n\r\n",
            "POST /?code=abc HTTP/1.1\r\n\r\n",
            "GET /other?code=abc HTTP/1.1\r\n\r\n",
            "",
        ] {
            assert!(redirect_params(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn pages_escape_what_they_quote() {
        let html = render(&Page {
            ok: false,
            title: "<b>".into(),
            message: "AADSTS50011: '<script>alert(1)</script>' & more".into(),
        });
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("&amp; more"));
    }

    #[tokio::test]
    async fn the_port_is_closed_once_serving_is_closed() {
        let loopback = Loopback::bind().await.unwrap();
        let port = loopback.port();
        let mut serving = loopback.serve();
        let client = tokio::spawn(async move {
            let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .unwrap();
            stream
                .write_all(b"GET /?code=c&state=s HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer
        });
        let callback = serving.next().await.unwrap();
        assert!(callback.params.iter().any(|(k, v)| k == "code" && v == "c"));
        serving.close().await;
        callback
            .answer(Page {
                ok: true,
                title: "Signed in".into(),
                message: "You can close this tab.".into(),
            })
            .await;
        let answer = client.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("You can close this tab."));
        // Nobody listens any more. (A connection to itself — TCP's simultaneous open,
        // when the kernel picks the same port as the source — is not a listener.)
        if let Ok(stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await {
            assert_eq!(
                stream.local_addr().unwrap(),
                stream.peer_addr().unwrap(),
                "something still listens on the redirect port"
            );
        }
    }
}
