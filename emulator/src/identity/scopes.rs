//! Scope strings as the v2.0 endpoints read them: Graph permissions by short name or by
//! `https://graph.microsoft.com/` URL, `.default`, and the OpenID Connect scopes that
//! shape the response (refresh token, id_token) without being permissions.

use crate::error::OAuthError;

const GRAPH_RESOURCE: &str = "https://graph.microsoft.com/";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Delegated Graph permissions the emulator knows. An unknown name is refused, as the live
/// service refuses a scope that does not exist on the resource, so a typo in a client's
/// scope list shows up here and not only against the real tenant.
const KNOWN: &[&str] = &[
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "Files.Read",
    "Files.Read.All",
    "Files.ReadWrite",
    "Files.ReadWrite.All",
    "Files.Read.Selected",
    "Files.ReadWrite.Selected",
    "Files.ReadWrite.AppFolder",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.Manage.All",
    "Sites.FullControl.All",
    "Sites.Selected",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
];

/// What `https://graph.microsoft.com/.default` stands for: the permissions an admin would
/// have consented to for graphwatch's app registration.
const DEFAULT_GRANT: &[&str] = &["User.Read", "Files.ReadWrite.All", "Sites.ReadWrite.All"];

/// The OpenID Connect scopes, in the order the live service lists them in `scope`.
const OIDC: &[&str] = &["profile", "openid", "email", "offline_access"];

/// A parsed `scope` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    /// Graph permissions, canonical spelling, request order, no duplicates.
    pub resource: Vec<String>,
    /// The OIDC scopes that were asked for (`openid`, `profile`, `email`, `offline_access`).
    pub oidc: Vec<String>,
}

impl Scopes {
    /// Parse a space-separated `scope` value. `None` when the value is empty, so the caller
    /// can answer with the endpoint's own "missing parameter" error.
    pub fn parse(raw: &str) -> Result<Option<Scopes>, OAuthError> {
        let mut resource: Vec<String> = Vec::new();
        let mut oidc: Vec<String> = Vec::new();
        let mut default = false;
        let words: Vec<&str> = raw.split_whitespace().collect();
        if words.is_empty() {
            return Ok(None);
        }
        for word in &words {
            if let Some(known) = OIDC.iter().find(|s| s.eq_ignore_ascii_case(word)) {
                if !oidc.iter().any(|s| s == known) {
                    oidc.push((*known).to_string());
                }
                continue;
            }
            let short = strip_graph(word);
            if short == ".default" {
                default = true;
                continue;
            }
            let Some(known) = KNOWN.iter().find(|s| s.eq_ignore_ascii_case(short)) else {
                return Err(OAuthError::new(
                    "invalid_scope",
                    650053,
                    format!(
                        "The application 'graphwatch' asked for scope '{short}' that doesn't exist on the resource '{GRAPH_APP_ID}'. Contact the app vendor."
                    ),
                ));
            };
            if !resource.iter().any(|s| s == known) {
                resource.push((*known).to_string());
            }
        }
        if default {
            if !resource.is_empty() {
                return Err(OAuthError::new(
                    "invalid_scope",
                    70011,
                    format!(
                        "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {} is not valid. static scope limit exceeded.",
                        words.join(" ")
                    ),
                ));
            }
            resource = DEFAULT_GRANT.iter().map(|s| s.to_string()).collect();
        }
        if resource.is_empty() {
            // Signing in with only OIDC scopes still yields a Graph token for the profile.
            resource.push("User.Read".to_string());
        }
        Ok(Some(Scopes { resource, oidc }))
    }

    /// Rebuild from the stored flat list (resource permissions and OIDC scopes mixed).
    pub fn from_stored(stored: &[String]) -> Scopes {
        let (oidc, resource): (Vec<String>, Vec<String>) = stored
            .iter()
            .cloned()
            .partition(|s| OIDC.contains(&s.as_str()));
        Scopes { resource, oidc }
    }

    pub fn to_stored(&self) -> Vec<String> {
        self.resource.iter().chain(&self.oidc).cloned().collect()
    }

    pub fn has(&self, oidc_scope: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc_scope)
    }

    /// The response's `scope` as the live service writes it: permissions, then `profile
    /// openid email` as far as asked for (`openid` brings `email` along), never
    /// `offline_access`.
    pub fn response_string(&self) -> String {
        let mut out: Vec<&str> = self.resource.iter().map(String::as_str).collect();
        for s in OIDC {
            let asked = self.has(s) || (*s == "email" && self.has("openid"));
            if *s != "offline_access" && asked {
                out.push(s);
            }
        }
        out.join(" ")
    }

    /// Permissions of `self` that `granted` does not hold.
    pub fn not_in<'a>(&'a self, granted: &Scopes) -> Vec<&'a str> {
        self.resource
            .iter()
            .filter(|s| !granted.resource.contains(s))
            .map(String::as_str)
            .collect()
    }
}

fn strip_graph(word: &str) -> &str {
    match word.get(..GRAPH_RESOURCE.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(GRAPH_RESOURCE) => {
            &word[GRAPH_RESOURCE.len()..]
        }
        _ => word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_urls_short_names_and_oidc() {
        let s = Scopes::parse("offline_access https://graph.microsoft.com/files.read.all openid User.Read Files.Read.All")
            .unwrap()
            .unwrap();
        assert_eq!(s.resource, vec!["Files.Read.All", "User.Read"]);
        assert!(s.has("offline_access") && s.has("openid") && !s.has("profile"));
        assert_eq!(s.response_string(), "Files.Read.All User.Read openid email");
        assert_eq!(Scopes::from_stored(&s.to_stored()), s);
    }

    #[test]
    fn default_and_refusals() {
        let s = Scopes::parse("https://graph.microsoft.com/.default offline_access")
            .unwrap()
            .unwrap();
        assert_eq!(s.resource, DEFAULT_GRANT);
        assert_eq!(Scopes::parse("  ").unwrap(), None);
        assert_eq!(Scopes::parse("Files.Raed").unwrap_err().aadsts, 650053);
        assert_eq!(
            Scopes::parse(".default User.Read").unwrap_err().aadsts,
            70011
        );
        assert_eq!(
            Scopes::parse("openid").unwrap().unwrap().resource,
            vec!["User.Read"]
        );
    }
}
