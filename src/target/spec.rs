//! Drive and list SPECs as the user types them, parsed without any request: a bad
//! SPEC is a usage error (exit 2) before anyone signs in. Resolution through Graph is
//! [`super::resolve`].

use percent_encoding::percent_decode_str;
use url::Url;

use crate::error::Error;
use crate::util::url::segment;

const DRIVE_FORMS: &str = "use me, a drive id, user:UPN-or-ID, group:GROUP-ID, site:SITE-ID, \
     https://HOST/sites/NAME or https://HOST/sites/NAME/LIBRARY (a whole site: site:SITE-ID/* or \
     https://HOST/sites/NAME/*)";
const LIST_FORMS: &str = "use https://HOST/sites/NAME/Lists/LIST, SITE-ID/LIST or \
     HOST:/sites/NAME/LIST (LIST: a list id or display name)";

/// A SharePoint URL, split: host (lower case) and decoded path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePointUrl {
    pub host: String,
    pub segments: Vec<String>,
}

impl SharePointUrl {
    pub(super) fn parse(spec: &str) -> Result<Self, String> {
        let url = Url::parse(spec).map_err(|e| format!("it is not a URL ({e})"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("only https:// URLs are SharePoint addresses".into());
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL has no host")?
            .to_ascii_lowercase();
        let segments = decoded_segments(url.path())?;
        if segments.first().is_some_and(|s| s.starts_with(':')) {
            return Err(
                "sharing links are not supported; use the address of the library or list as the browser shows it"
                    .into(),
            );
        }
        Ok(SharePointUrl { host, segments })
    }

    /// `host/seg/seg` re-encoded, for messages and labels.
    pub(super) fn display(&self, upto: usize) -> String {
        let mut text = self.host.clone();
        for s in &self.segments[..upto.min(self.segments.len())] {
            text.push('/');
            text.push_str(&segment(s));
        }
        text
    }
}

fn decoded_segments(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let s = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| "the path is not valid UTF-8 once decoded".to_string())?
            .into_owned();
        if s == "." || s == ".." || s.contains('/') {
            return Err(format!("the path segment {raw:?} is not allowed"));
        }
        // `%0A` and friends: a name with a line break would split every line it is in.
        if s.chars().any(char::is_control) {
            return Err(format!(
                "the path segment {raw:?} decodes to a control character"
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// A drive SPEC, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveSpec {
    /// `me`: the signed-in user's OneDrive.
    Me,
    /// A drive id (`b!…` for business drives, hex for personal ones).
    Id(String),
    /// `user:UPN-or-ID`
    User(String),
    /// `group:GROUP-ID`
    Group(String),
    /// `site:SITE-ID` (the site's default library)
    Site(String),
    /// A site URL (its default library) or a library URL (that library).
    Url(SharePointUrl),
}

/// Where a list's site is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRef {
    /// A Graph site id (`site-eng`, `contoso.sharepoint.com,GUID,GUID`, a hostname).
    Id(String),
    /// `HOST:/server/relative/path` (decoded segments; empty = the root site).
    Path { host: String, segments: Vec<String> },
}

impl SiteRef {
    pub(super) fn graph_path(&self) -> String {
        match self {
            SiteRef::Id(id) => format!("/sites/{}", segment(id)),
            SiteRef::Path { host, segments } => site_path(host, segments),
        }
    }
}

impl std::fmt::Display for SiteRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteRef::Id(id) => f.write_str(id),
            SiteRef::Path { host, segments } => {
                write!(f, "{host}:")?;
                if segments.is_empty() {
                    f.write_str("/")?;
                }
                for s in segments {
                    write!(f, "/{s}")?;
                }
                Ok(())
            }
        }
    }
}

/// A list SPEC, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSpec {
    /// `https://HOST/sites/NAME/Lists/LIST[/AllItems.aspx]`
    Url(SharePointUrl),
    /// `SITE/LIST`
    InSite { site: SiteRef, list: String },
}

/// A SPEC of either kind, as `watch --drive … --list …` collects them; or one that
/// stands for many targets, expanded through Graph at start and again every
/// `--rescan` ([`super::expand`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Drive(DriveSpec),
    List(ListSpec),
    /// `SITE/*`: every document library and list of a site.
    Site(SiteRef),
    /// `--followed-sites`: every document library of the sites the user follows.
    FollowedSites,
}

impl TargetSpec {
    /// A drive or list SPEC, or `SITE/*` (given to `--drive` or `--list` alike: it
    /// means the whole site either way).
    pub fn parse_drive(spec: &str) -> Result<TargetSpec, Error> {
        match site_wildcard(spec, bad_drive)? {
            Some(site) => Ok(TargetSpec::Site(site)),
            None => DriveSpec::parse(spec).map(TargetSpec::Drive),
        }
    }

    /// See [`TargetSpec::parse_drive`].
    pub fn parse_list(spec: &str) -> Result<TargetSpec, Error> {
        match site_wildcard(spec, bad_list)? {
            Some(site) => Ok(TargetSpec::Site(site)),
            None => ListSpec::parse(spec).map(TargetSpec::List),
        }
    }

    /// The label before resolution: what a failure of the SPEC is reported under.
    pub fn label(&self) -> String {
        match self {
            TargetSpec::Drive(drive) => drive.label(),
            TargetSpec::List(list) => list.label(),
            TargetSpec::Site(site) => format!("site:{site}/*"),
            TargetSpec::FollowedSites => "followed-sites".into(),
        }
    }

    /// Whether it stands for targets found through Graph, which may grow later.
    pub fn is_expanded(&self) -> bool {
        matches!(self, TargetSpec::Site(_) | TargetSpec::FollowedSites)
    }
}

/// `SITE/*`, if `spec` ends in `/*`: `site:SITE-ID/*`, `SITE-ID/*`, `HOST:/sites/NAME/*`
/// or `https://HOST/sites/NAME/*` (any site address as the other forms take it, then
/// `/*`). `None` for every other SPEC.
fn site_wildcard(spec: &str, bad: fn(&str, &str) -> Error) -> Result<Option<SiteRef>, Error> {
    let spec = spec.trim();
    let Some(site) = spec.strip_suffix("/*") else {
        return Ok(None);
    };
    if let Some(why) = too_long(spec) {
        return Err(bad(spec, &why));
    }
    if is_url(site) {
        let url = SharePointUrl::parse(site).map_err(|why| bad(spec, &why))?;
        return Ok(Some(SiteRef::Path {
            host: url.host,
            segments: url.segments,
        }));
    }
    if let Some((host, path)) = site.split_once(":/") {
        check_word(host, false).map_err(|why| bad(spec, &why))?;
        let segments = decoded_segments(path).map_err(|why| bad(spec, &why))?;
        return Ok(Some(SiteRef::Path {
            host: host.to_ascii_lowercase(),
            segments,
        }));
    }
    let id = match site.split_once(':') {
        Some((prefix, id)) if prefix.eq_ignore_ascii_case("site") => id,
        Some(_) => {
            return Err(bad(
                spec,
                "a whole site is site:SITE-ID/* or https://HOST/sites/NAME/*",
            ))
        }
        None => site,
    };
    check_word(id, false).map_err(|why| bad(spec, &why))?;
    Ok(Some(SiteRef::Id(id.to_string())))
}

/// The longest SPEC taken: a SharePoint URL with a deep path is a few hundred
/// characters; past this it is a paste gone wrong, and the error must not echo it.
const MAX_SPEC_LEN: usize = 2048;

/// A SPEC as an error quotes it: at most 100 characters.
fn quoted(spec: &str) -> String {
    match spec.char_indices().nth(100) {
        Some((cut, _)) => format!("{:?}…", &spec[..cut]),
        None => format!("{spec:?}"),
    }
}

fn too_long(spec: &str) -> Option<String> {
    (spec.len() > MAX_SPEC_LEN)
        .then(|| format!("it is {} bytes long (at most {MAX_SPEC_LEN})", spec.len()))
}

fn bad_drive(spec: &str, why: &str) -> Error {
    Error::usage(format!("drive SPEC {} is not valid: {why}", quoted(spec))).hint(DRIVE_FORMS)
}

fn bad_list(spec: &str, why: &str) -> Error {
    Error::usage(format!("list SPEC {} is not valid: {why}", quoted(spec))).hint(LIST_FORMS)
}

fn is_url(spec: &str) -> bool {
    let lower = spec.get(..8).unwrap_or(spec).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// An id-like word: no separators, no whitespace, not `.`/`..`.
fn check_word(value: &str, allow_slash: bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("the value after the prefix is empty".into());
    }
    if value == "." || value == ".." {
        return Err(format!("{value:?} is not an id"));
    }
    if let Some(c) = value.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '?' | '#' | '\\')
            || (!allow_slash && *c == '/')
    }) {
        return Err(format!("it contains {c:?}"));
    }
    Ok(())
}

impl DriveSpec {
    pub fn parse(spec: &str) -> Result<DriveSpec, Error> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(bad_drive(spec, "it is empty"));
        }
        if let Some(why) = too_long(spec) {
            return Err(bad_drive(spec, &why));
        }
        if spec.eq_ignore_ascii_case("me") {
            return Ok(DriveSpec::Me);
        }
        if is_url(spec) {
            return SharePointUrl::parse(spec)
                .map(DriveSpec::Url)
                .map_err(|why| bad_drive(spec, &why));
        }
        if let Some((prefix, value)) = spec.split_once(':') {
            let make: fn(String) -> DriveSpec = match prefix.to_ascii_lowercase().as_str() {
                "user" => DriveSpec::User,
                "group" => DriveSpec::Group,
                "site" => DriveSpec::Site,
                _ => {
                    return Err(bad_drive(
                        spec,
                        &format!("unknown prefix {:?}", format!("{prefix}:")),
                    ))
                }
            };
            check_word(value, false).map_err(|why| bad_drive(spec, &why))?;
            return Ok(make(value.to_string()));
        }
        check_word(spec, false).map_err(|why| bad_drive(spec, &why))?;
        if spec.contains('%') {
            return Err(bad_drive(spec, "a drive id has no '%'"));
        }
        Ok(DriveSpec::Id(spec.to_string()))
    }

    /// The label before resolution (URLs get theirs from what they resolve to).
    pub fn label(&self) -> String {
        match self {
            DriveSpec::Me => "drive:me".into(),
            DriveSpec::Id(id) => format!("drive:{id}"),
            DriveSpec::User(u) => format!("drive:user:{}", u.to_lowercase()),
            DriveSpec::Group(g) => format!("drive:group:{}", g.to_lowercase()),
            DriveSpec::Site(s) => format!("drive:site:{s}"),
            DriveSpec::Url(u) => format!("drive:{}", u.display(usize::MAX)),
        }
    }
}

impl ListSpec {
    pub fn parse(spec: &str) -> Result<ListSpec, Error> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(bad_list(spec, "it is empty"));
        }
        if let Some(why) = too_long(spec) {
            return Err(bad_list(spec, &why));
        }
        if is_url(spec) {
            return SharePointUrl::parse(spec)
                .map(ListSpec::Url)
                .map_err(|why| bad_list(spec, &why));
        }
        let decode = |s: &str| -> Result<String, Error> {
            let decoded = percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad_list(spec, "it is not valid UTF-8 once decoded"))?;
            if decoded.chars().any(char::is_control) {
                return Err(bad_list(spec, "it decodes to a control character"));
            }
            Ok(decoded)
        };
        if let Some((host, path)) = spec.split_once(":/") {
            // HOST:/server/relative/path/LIST — the last segment is the list.
            check_word(host, false).map_err(|why| bad_list(spec, &why))?;
            let mut segments = decoded_segments(path).map_err(|why| bad_list(spec, &why))?;
            let list = segments
                .pop()
                .ok_or_else(|| bad_list(spec, "the list name is missing after the site path"))?;
            // Accept the path as the browser shows it: `/sites/eng/Lists/Issues`.
            if segments.len() > 2
                && segments
                    .last()
                    .is_some_and(|s| s.eq_ignore_ascii_case("lists"))
            {
                segments.pop();
            }
            return Ok(ListSpec::InSite {
                site: SiteRef::Path {
                    host: host.to_ascii_lowercase(),
                    segments,
                },
                list,
            });
        }
        let Some((site, list)) = spec.split_once('/') else {
            return Err(bad_list(
                spec,
                "it has no '/' between the site and the list",
            ));
        };
        check_word(site, false).map_err(|why| bad_list(spec, &why))?;
        check_word(list, false).map_err(|_| {
            bad_list(
                spec,
                "expected SITE/LIST with one '/' (for a site path use HOST:/sites/NAME/LIST)",
            )
        })?;
        Ok(ListSpec::InSite {
            site: SiteRef::Id(decode(site)?),
            list: decode(list)?,
        })
    }

    pub fn label(&self) -> String {
        match self {
            ListSpec::Url(u) => format!("list:{}", u.display(usize::MAX)),
            ListSpec::InSite { site, list } => format!("list:{site}/{list}"),
        }
    }
}

/// `/sites/HOST:/a/b` (or `/sites/HOST` for the root site).
pub(super) fn site_path(host: &str, segments: &[String]) -> String {
    if segments.is_empty() {
        return format!("/sites/{}", segment(host));
    }
    let mut path = format!("/sites/{}:", segment(host));
    for s in segments {
        path.push('/');
        path.push_str(&segment(s));
    }
    path
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::error::Code;

    pub(crate) fn url(host: &str, segs: &[&str]) -> SharePointUrl {
        SharePointUrl {
            host: host.into(),
            segments: segs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn drive_specs() {
        assert_eq!(DriveSpec::parse("me").unwrap(), DriveSpec::Me);
        assert_eq!(DriveSpec::parse(" ME ").unwrap(), DriveSpec::Me);
        assert_eq!(
            DriveSpec::parse("b!AdeleVanceOneDrive").unwrap(),
            DriveSpec::Id("b!AdeleVanceOneDrive".into())
        );
        assert_eq!(
            DriveSpec::parse("user:megan@contoso.onmicrosoft.com").unwrap(),
            DriveSpec::User("megan@contoso.onmicrosoft.com".into())
        );
        assert_eq!(
            DriveSpec::parse("GROUP:02bd9fd6-8f93-4758-87c3-1fb73740a315").unwrap(),
            DriveSpec::Group("02bd9fd6-8f93-4758-87c3-1fb73740a315".into())
        );
        assert_eq!(
            DriveSpec::parse("site:contoso.sharepoint.com,1,2").unwrap(),
            DriveSpec::Site("contoso.sharepoint.com,1,2".into())
        );
        assert_eq!(
            DriveSpec::parse("https://Contoso.SharePoint.com/sites/eng/Shared%20Documents/Forms/AllItems.aspx?viewid=1")
                .unwrap(),
            DriveSpec::Url(url(
                "contoso.sharepoint.com",
                &["sites", "eng", "Shared Documents", "Forms", "AllItems.aspx"]
            ))
        );
        assert_eq!(
            DriveSpec::parse("https://contoso.sharepoint.com/sites/eng/").unwrap(),
            DriveSpec::Url(url("contoso.sharepoint.com", &["sites", "eng"]))
        );
    }

    #[test]
    fn a_huge_spec_is_a_short_usage_error() {
        let huge = format!(
            "https://contoso.sharepoint.com/sites/{}",
            "a".repeat(100_000)
        );
        for err in [
            DriveSpec::parse(&huge).unwrap_err(),
            ListSpec::parse(&huge).unwrap_err(),
        ] {
            assert_eq!(err.code, Code::Usage);
            let report = crate::exit::one_line(&err.into());
            assert!(report.contains("bytes long (at most 2048)"), "{report}");
            assert!(report.len() < 1000, "{} bytes", report.len());
        }
    }

    #[test]
    fn bad_drive_specs_are_usage_errors_that_list_the_forms() {
        for bad in [
            "",
            "foo:bar",
            "user:",
            "user:a/b",
            "a b",
            "..",
            "drives/x",
            "https://contoso.sharepoint.com/:f:/s/eng/abc",
            "https://",
            "ftp://x/y",
            "abc%2F",
        ] {
            let err = DriveSpec::parse(bad).unwrap_err();
            assert_eq!(err.code, Code::Usage, "{bad}");
            assert!(err.to_string().starts_with("drive SPEC"), "{err}");
            let report = crate::exit::one_line(&err.into());
            assert!(report.contains("user:UPN-or-ID"), "{report}");
            assert!(!report.contains('\n'));
        }
    }

    #[test]
    fn list_specs() {
        assert_eq!(
            ListSpec::parse("site-eng/list-issues").unwrap(),
            ListSpec::InSite {
                site: SiteRef::Id("site-eng".into()),
                list: "list-issues".into()
            }
        );
        assert_eq!(
            ListSpec::parse("site-eng/My%20Issues").unwrap(),
            ListSpec::InSite {
                site: SiteRef::Id("site-eng".into()),
                list: "My Issues".into()
            }
        );
        let path_form = ListSpec::InSite {
            site: SiteRef::Path {
                host: "contoso.sharepoint.com".into(),
                segments: vec!["sites".into(), "eng".into()],
            },
            list: "Issues".into(),
        };
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/sites/eng/Issues").unwrap(),
            path_form
        );
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/sites/eng/Lists/Issues").unwrap(),
            path_form
        );
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/Issues").unwrap(),
            ListSpec::InSite {
                site: SiteRef::Path {
                    host: "contoso.sharepoint.com".into(),
                    segments: vec![]
                },
                list: "Issues".into()
            }
        );
        assert_eq!(
            ListSpec::parse("https://contoso.sharepoint.com/sites/eng/Lists/Issues/AllItems.aspx")
                .unwrap(),
            ListSpec::Url(url(
                "contoso.sharepoint.com",
                &["sites", "eng", "Lists", "Issues", "AllItems.aspx"]
            ))
        );
        for bad in ["", "issues", "a/b/c", "/x", "x/", "host:/", "a b/c"] {
            let err = ListSpec::parse(bad).unwrap_err();
            assert_eq!(err.code, Code::Usage, "{bad}");
            assert!(err.to_string().starts_with("list SPEC"), "{err}");
        }
    }

    #[test]
    fn a_whole_site_is_site_slash_star_in_every_site_form() {
        let eng = SiteRef::Path {
            host: "contoso.sharepoint.com".into(),
            segments: vec!["sites".into(), "eng team".into()],
        };
        for (given, site) in [
            ("site:site-eng/*", SiteRef::Id("site-eng".into())),
            ("site-eng/*", SiteRef::Id("site-eng".into())),
            (
                "https://Contoso.sharepoint.com/sites/eng%20team/*",
                eng.clone(),
            ),
            ("contoso.sharepoint.com:/sites/eng team/*", eng.clone()),
        ] {
            assert_eq!(
                TargetSpec::parse_drive(given).unwrap(),
                TargetSpec::Site(site.clone()),
                "{given}"
            );
            assert_eq!(
                TargetSpec::parse_list(given).unwrap(),
                TargetSpec::Site(site),
                "{given}"
            );
        }
        assert_eq!(
            TargetSpec::Site(eng).label(),
            "site:contoso.sharepoint.com:/sites/eng team/*"
        );
        // Without `/*` the forms mean what they meant.
        assert_eq!(
            TargetSpec::parse_drive("site:site-eng").unwrap(),
            TargetSpec::Drive(DriveSpec::Site("site-eng".into()))
        );
        for bad in ["user:x/*", "/*", "a b/*", "https:///*"] {
            let err = TargetSpec::parse_drive(bad).unwrap_err();
            assert_eq!(err.code, Code::Usage, "{bad}");
        }
    }

    #[test]
    fn labels_are_short_and_stable() {
        assert_eq!(DriveSpec::Me.label(), "drive:me");
        assert_eq!(
            DriveSpec::parse("user:Megan@Contoso.com").unwrap().label(),
            "drive:user:megan@contoso.com"
        );
        assert_eq!(
            ListSpec::parse("site-eng/list-issues").unwrap().label(),
            "list:site-eng/list-issues"
        );
        assert_eq!(
            ListSpec::parse("contoso.sharepoint.com:/sites/eng/Issues")
                .unwrap()
                .label(),
            "list:contoso.sharepoint.com:/sites/eng/Issues"
        );
    }

    #[test]
    fn site_paths_use_graph_path_addressing() {
        assert_eq!(
            site_path(
                "contoso.sharepoint.com",
                &["sites".into(), "eng team".into()]
            ),
            "/sites/contoso.sharepoint.com:/sites/eng%20team"
        );
        assert_eq!(
            site_path("contoso.sharepoint.com", &[]),
            "/sites/contoso.sharepoint.com"
        );
    }
}
