//! A person at a browser, for the browser sign-in's tests: a small `sh` + `curl` script
//! that `graphwatch login` finds through `$BROWSER` (as the `webbrowser` crate does),
//! which follows the sign-in address, answers the emulator's consent page, and follows
//! the redirect back to graphwatch's loopback port — or misbehaves on purpose.
//!
//! What it saw is left in its directory: `page` (what graphwatch's loopback answered),
//! `page-status` (curl's exit status for it), `again-status` (the same redirect followed
//! a second time: 7, "could not connect", once graphwatch has closed its port), `thief`
//! (the token endpoint's answer to a stolen code). It says it is done through a FIFO, so
//! a test waits for it without sleeping.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// What the person does.
#[derive(Debug, Clone, Copy)]
pub enum Person {
    /// Accept as this user.
    Approve(&'static str),
    /// Cancel at the consent page.
    Decline,
    /// Accept, with the address's `state` changed on the way (a forged answer).
    ForgeState,
    /// Accept, with the address's PKCE challenge replaced (so graphwatch's verifier is
    /// wrong for the code it gets).
    SwapChallenge,
    /// Accept, and redeem the code at the token endpoint first (a stolen, replayed code).
    StealCode,
}

pub struct Browser {
    dir: PathBuf,
    fifo: PathBuf,
    pub script: PathBuf,
}

/// RFC 7636's example challenge: a valid S256 challenge that is not graphwatch's.
const OTHER_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

impl Browser {
    /// The script, in a directory of its own under `parent`.
    pub fn new(parent: &Path, person: Person) -> Browser {
        let dir = parent.join("browser");
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("done");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        let (user, action, rewrite, steal) = match person {
            Person::Approve(user) => (user, "approve", String::new(), false),
            Person::Decline => ("", "decline", String::new(), false),
            Person::ForgeState => ("", "approve", "s/state=[^&]*/state=forged/".into(), false),
            Person::SwapChallenge => (
                "",
                "approve",
                format!("s/code_challenge=[^&]*/code_challenge={OTHER_CHALLENGE}/"),
                false,
            ),
            Person::StealCode => ("", "approve", String::new(), true),
        };
        let script = dir.join("person.sh");
        let text = format!(
            r#"#!/bin/sh
out='{dir}'
url="$1"
printf '%s\n' "$url" > "$out/address"
if [ -n '{rewrite}' ]; then url=$(printf '%s' "$url" | sed '{rewrite}'); fi
page=$(curl -s "$url")
flow=$(printf '%s' "$page" | sed -n 's/.*name="flow" value="\([^"]*\)".*/\1/p')
location=$(curl -s -o /dev/null -w '%{{redirect_url}}' --data-urlencode "flow=$flow" \
  --data-urlencode 'user={user}' --data-urlencode 'action={action}' "${{url%%\?*}}")
if [ '{steal}' = true ]; then
  code=$(printf '%s' "$location" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
  curl -s -d grant_type=authorization_code -d client_id=14d82eec-204b-4c2f-b7e8-296a70dab67e \
    -d "code=$code" -d redirect_uri=http://localhost \
    -d code_verifier=a-thief-guessing-the-verifier-0123456789abcdef \
    "${{url%%/oauth2/*}}/oauth2/v2.0/token" > "$out/thief"
fi
curl -s "$location" > "$out/page"; echo $? > "$out/page-status"
curl -s "$location" > /dev/null; echo $? > "$out/again-status"
echo done > "$out/done"
"#,
            dir = dir.display(),
        );
        std::fs::write(&script, text).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Browser { dir, fifo, script }
    }

    /// Wait until the script has run to its end (a minute at most).
    pub fn wait(&self) {
        let fifo = self.fifo.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(std::fs::read_to_string(fifo));
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the browser script never finished")
            .expect("read the FIFO");
    }

    /// A file the script left (empty if none).
    pub fn saw(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

/// A script that only follows the address with `curl -sL` (for an emulator that
/// approves by itself), leaving what the last page said in `page`.
pub fn follower(parent: &Path) -> PathBuf {
    let dir = parent.join("follower");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("follow.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncurl -sL \"$1\" > '{}/page'\n", dir.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}
