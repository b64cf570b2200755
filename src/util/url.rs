//! URL facts used by more than one layer: loopback hosts (where plain `http`/`ws` is
//! allowed), same origin (links Graph hands out must stay on its host), and a base URL
//! as text.

use std::net::IpAddr;

use url::Url;

/// 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The base URL as a string without a trailing `/` (a bare host serialises as `…/`).
pub fn base_str(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// Same scheme, host (case-insensitive) and port: a link that may carry our bearer token.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Characters that must be escaped inside one path segment. `:`, `@`, `!`, `,` and
/// `'` stay as they are: Graph uses them in ids (`b!…`, `host,guid,guid`) and in
/// path-addressing (`/sites/host:/sites/eng`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'[')
    .add(b']');

/// Percent-encode one path segment of a Graph URL.
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
