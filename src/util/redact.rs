//! Redaction: the one place that decides what of a URL may be shown. A notificationUrl's
//! query is the socket's credential, a delta link's `token` is a cursor, a `$skiptoken`
//! may be either: no query value is ever printed, logged or put in an error.
//! (docs/security.md, "URL leakage".)

use reqwest::Method;
use url::Url;

use super::url::same_origin;

/// A URL safe to print: scheme, host, port and path kept; user info dropped; every query
/// value (and any fragment) replaced with `…`. Unparsable input keeps only what precedes
/// `?` or `#`, minus anything that looks like user info.
///
/// `https://h/notifications?token=abc&applicationId=x` → `https://h/notifications?token=…&applicationId=…`
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) if parsed.has_host() => {
            let mut out = format!("{}://", parsed.scheme());
            out.push_str(parsed.host_str().unwrap_or_default());
            if let Some(port) = parsed.port() {
                out.push_str(&format!(":{port}"));
            }
            out.push_str(parsed.path());
            if let Some(query) = parsed.query() {
                out.push('?');
                out.push_str(&redact_query(query));
            }
            if parsed.fragment().is_some() {
                out.push_str("#…");
            }
            out
        }
        _ => {
            let cut = url.find(['?', '#']).unwrap_or(url.len());
            let head = &url[..cut];
            let head = match (head.find("://"), head.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    format!("{}{}", &head[..scheme_end + 3], &head[at + 1..])
                }
                (None, Some(at)) => head[at + 1..].to_string(),
                _ => head.to_string(),
            };
            if cut < url.len() {
                format!("{head}?…")
            } else {
                head
            }
        }
    }
}

/// Replace every occurrence of the notificationUrl's secret parts (its query, and the
/// whole URL) in `text`, for error text that came from a library.
pub fn scrub(text: &str, notification_url: &str) -> String {
    let mut out = text.replace(notification_url, &redact_url(notification_url));
    if let Ok(parsed) = Url::parse(notification_url) {
        if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
            out = out.replace(query, "…");
        }
        for (_, value) in parsed.query_pairs() {
            if value.len() >= 4 {
                out = out.replace(value.as_ref(), "…");
            }
        }
    }
    out
}

/// `GET /drives/x/root/delta?token=…`: the path relative to the Graph base, query
/// values removed (they can be credentials: delta tokens, notification tokens).
pub fn describe(method: &Method, url: &Url, base: &Url) -> String {
    let base_path = base.path().trim_end_matches('/');
    let path = if same_origin(url, base) && url.path().starts_with(base_path) {
        &url.path()[base_path.len()..]
    } else {
        url.path()
    };
    let path = if path.is_empty() { "/" } else { path };
    match url.query() {
        Some(query) => format!("{method} {path}?{}", redact_query(query)),
        None => format!("{method} {path}"),
    }
}

/// `a=…&b=…`: names kept, values dropped. A pair without `=` may be a bare value
/// (`?SECRET`): it becomes `…`.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{}=…", shown_name(name)),
            None if pair.is_empty() => String::new(),
            None => "…".to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A query parameter's name as shown in a redacted URL: a name (`token`, `$skiptoken`,
/// `applicationId`), or `…` for anything else — a hostile URL could hide a value in a
/// "name" (found by the `notification_url` fuzz target).
pub fn shown_name(name: &str) -> &str {
    let plain = name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
    if plain {
        name
    } else {
        "…"
    }
}

/// A link for a message: scheme, host and path; query values removed.
pub fn redact_link(link: &str) -> String {
    match link.split_once('?') {
        Some((before, query)) => format!("{before}?{}", redact_query(query)),
        None => link.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "https://3-westeurope1.pushp.svc.ms/notifications?token=w1-secret-token&applicationId=app-1234";

    #[test]
    fn redaction_keeps_scheme_host_path_and_hides_every_value() {
        assert_eq!(
            redact_url(LIVE),
            "https://3-westeurope1.pushp.svc.ms/notifications?token=…&applicationId=…"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080/a/b?flag&k=v#frag"),
            "http://127.0.0.1:8080/a/b?…&k=…#…"
        );
        assert_eq!(redact_url("https://h.example/p"), "https://h.example/p");
        assert_eq!(redact_url("garbage?token=abc"), "garbage?…");
        assert_eq!(redact_url("//user:pw@host/x?token=abc"), "host/x?…");
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn scrub_removes_the_query_and_its_values_from_library_text() {
        let text = format!("failed: {LIVE} and token=w1-secret-token and app-1234");
        let clean = scrub(&text, LIVE);
        assert!(!clean.contains("w1-secret-token"), "{clean}");
        assert!(!clean.contains("app-1234"), "{clean}");
    }
}
