//! `graphwatch demo`: the whole thing in one command, with no account and no network.
//!
//! It starts the emulator program (`graphwatch-emulator`, a child process; see
//! `commands/emulator.rs`) on a free port, signs in to it through the
//! real device-code sign-in (`auth::login`, the code behind `graphwatch login`; the
//! emulator approves it by itself, and the prompt is shown as usual) into a temporary
//! config directory — the user's own token cache is never touched — and then runs the
//! same watch loop as `graphwatch watch` on the signed-in user's OneDrive and the
//! "Issues" list. Meanwhile a script makes changes through the same Graph client the
//! watcher uses, narrating each on stderr, and waits for each change's notifications
//! to be written before making the next. When the last ones are out, the watch is
//! stopped and the demo exits 0. No shortcut paths: target resolution, the socketIo
//! request, the socket.io client and the output layer are those of the real thing.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::sync::watch as latest;

use super::{emulator, App};
use crate::changes::classify::Rules;
use crate::changes::{coalesce, ChangesOptions};
use crate::cli::{DemoArgs, GlobalArgs};
use crate::error::Error;
use crate::graph::GraphClient;
use crate::output::{LineFormat, Template};
use crate::settings::{self, Settings, DEFAULT_CLIENT_ID, DEFAULT_TENANT};
use crate::signin;
use crate::target::{DriveSpec, ListSpec, TargetSpec};
use crate::term::Term;
use crate::util::url::segment;
use crate::watch::options::{self, Coalesce};
use crate::watch::{self, Hooks, Progress, WatchOptions};

/// The Issues list of the emulator's seed data (docs/emulator.md).
const ISSUES_SITE: &str = "site-eng";
const ISSUES_LIST: &str = "list-issues";
/// Copies the emulator sends of each notification (the live service often sends two):
/// `--changes` turns any number of them into one delta round.
const DUPLICATES: u32 = 2;
/// Change → notification delay: short, so the demo is brisk (the live service: 5–36 s).
const NOTIFY_DELAY_MS: u64 = 150;
/// How long one change's notifications may take before the demo gives up.
const PATIENCE: Duration = Duration::from_secs(15);

pub(super) async fn run(global: &GlobalArgs, args: &DemoArgs) -> anyhow::Result<()> {
    let template = args
        .template
        .as_deref()
        .map(options::template)
        .transpose()?;
    let mut emulator_args = graphwatch_emulator::EmulatorArgs::default();
    emulator_args.settings.notify_delay_ms = NOTIFY_DELAY_MS;
    emulator_args.settings.notify_duplicates = DUPLICATES;
    let ui = Term::new(global.quiet, settings::color_choice(global.color, None));
    let emulator = emulator::spawn(&ui, &emulator_args, global.verbose, global.quiet)
        .await
        .context("cannot start the emulator")?;
    // From here: a first `cargo run -- demo` may have built the emulator above.
    let started = Instant::now();
    // Dropping `emulator` at the end ends it.
    demo(global, args, template, &emulator.base_url, started).await
}

async fn demo(
    global: &GlobalArgs,
    args: &DemoArgs,
    template: Option<Template>,
    base: &str,
    started: Instant,
) -> anyhow::Result<()> {
    // A temporary config directory: the sign-in below saves its tokens there, and the
    // directory goes when the demo ends.
    let dir = tempfile::Builder::new()
        .prefix("graphwatch-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo's sign-in")?;
    let settings = Settings {
        config_dir: dir.path().to_path_buf(),
        graph_url: settings::validate_url("--graph-url", &format!("{base}/v1.0"))?,
        login_url: settings::validate_url("--login-url", base)?,
        tenant: DEFAULT_TENANT.to_string(),
        client_id: DEFAULT_CLIENT_ID.to_string(),
        profile: "demo".to_string(),
        output: args.output,
        color: settings::color_choice(global.color, None),
        access_token: None,
        access_token_command: None,
        log_level: settings::log_level(global, None),
        log_format: settings::log_format(global, None),
    };
    let app = App::from_settings(global, settings)?;
    let ui = app.term;
    ui.note(format!(
        "graphwatch demo: a local Graph emulator is running at {base} (no Microsoft account, no network)"
    ));
    ui.note("Signing in with the device code flow, as `graphwatch login` does (the emulator approves it):");
    let (tokens, _) = signin::login(&app.settings, &[], &ui, signin::Flow::DeviceCode).await?;
    ui.note(format!(
        "Signed in as {} (tokens kept in a temporary directory until the demo ends)",
        tokens
            .name
            .as_deref()
            .or(tokens.account.as_deref())
            .unwrap_or("the emulator's user")
    ));

    let specs = [
        TargetSpec::Drive(DriveSpec::Me),
        TargetSpec::List(ListSpec::parse(&format!("{ISSUES_SITE}/Issues"))?),
    ];
    let (progress_tx, progress_rx) = latest::channel(Progress::default());
    let (stop_tx, stop_rx) = oneshot::channel();
    let hooks = Hooks {
        progress: Some(progress_tx),
        stop: Some(stop_rx),
        reload: None,
    };
    let options = WatchOptions {
        line: template.map(LineFormat::Template),
        // Every line as it is made: the demo's changes come faster than --coalesce's
        // window.
        coalesce: Coalesce::Off,
        changes: Some(ChangesOptions {
            socket: true,
            keep_notifications: false,
            fallback_poll: Duration::from_secs(30),
            // Brisk: a round 100 ms after the last notification of a burst.
            timings: coalesce::Timings {
                debounce: Duration::from_millis(100),
                ..coalesce::Timings::default()
            },
            rules: Rules::default(),
            path_given: false,
            initial: false,
            state: None,
        }),
        ..WatchOptions::default()
    };
    let client = app.graph_client();
    let render = app.render(options.line.clone());
    let script = async {
        let result = Script::new(client.clone(), ui, progress_rx).run().await;
        let _ = stop_tx.send(());
        result
    };
    let watched = watch::run(client.clone(), &app.term, render, &specs, options, hooks);
    let (watched, scripted) = tokio::join!(watched, script);
    watched?;
    let changes = scripted?;
    ui.note(format!(
        "Demo done: {changes} changes in {:.1}s. With your own account: \
         `graphwatch login`, then `graphwatch drive me --changes`.",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The scripted changes, one after the other, each waiting for its notifications.
struct Script {
    client: GraphClient,
    ui: Term,
    progress: latest::Receiver<Progress>,
    /// Events expected so far.
    expected: u64,
    changes: u64,
}

impl Script {
    fn new(client: GraphClient, ui: Term, progress: latest::Receiver<Progress>) -> Script {
        Script {
            client,
            ui,
            progress,
            expected: 0,
            changes: 0,
        }
    }

    /// Make the changes; the number made.
    async fn run(mut self) -> anyhow::Result<u64> {
        self.wait("the watch to connect to both targets", |p| p.joined >= 2)
            .await?;
        let client = self.client.clone();

        let path = "/me/drive/root:/Reports/q4.csv:/content";
        // The new folder Reports and the file in it: two lines.
        let item = self
            .change(
                "uploading Reports/q4.csv to the OneDrive",
                2,
                client.put_content(path, b"region,revenue\nnorth,120\n", "text/csv"),
            )
            .await?;
        let item_id = string_at(&item, &["id"])?;
        let drive_id = string_at(&item, &["parentReference", "driveId"])?;
        let item_path = format!("/drives/{}/items/{}", segment(&drive_id), segment(&item_id));

        self.change(
            "updating Reports/q4.csv",
            1,
            client.put_content(path, b"region,revenue\nnorth,120\nsouth,95\n", "text/csv"),
        )
        .await?;
        self.change(
            "renaming it to q4-final.csv",
            1,
            client.send_json(
                Method::PATCH,
                &item_path,
                Some(&json!({"name": "q4-final.csv"})),
            ),
        )
        .await?;
        let root = client
            .send_json(
                Method::GET,
                &format!("/drives/{}/root", segment(&drive_id)),
                None,
            )
            .await
            .context("demo: cannot read the drive's root")?;
        let root_id = string_at(&root, &["id"])?;
        self.change(
            "moving it out of Reports, to the top of the drive",
            1,
            client.send_json(
                Method::PATCH,
                &item_path,
                Some(&json!({"parentReference": {"id": root_id}})),
            ),
        )
        .await?;
        self.change(
            "deleting q4-final.csv",
            1,
            client.send_json(Method::DELETE, &item_path, None),
        )
        .await?;

        let items = format!("/sites/{ISSUES_SITE}/lists/{ISSUES_LIST}/items");
        let issue = self
            .change(
                "adding an item to the Issues list: \"Printer on fire\"",
                1,
                client.send_json(
                    Method::POST,
                    &items,
                    Some(&json!({"fields": {"Title": "Printer on fire", "Status": "New", "Priority": "(1) High"}})),
                ),
            )
            .await?;
        let issue_id = string_at(&issue, &["id"])?;
        let issue_path = format!("{items}/{}", segment(&issue_id));
        self.change(
            "marking it resolved",
            1,
            client.send_json(
                Method::PATCH,
                &format!("{issue_path}/fields"),
                Some(&json!({"Status": "Resolved"})),
            ),
        )
        .await?;
        self.change(
            "deleting it",
            1,
            client.send_json(Method::DELETE, &issue_path, None),
        )
        .await?;
        Ok(self.changes)
    }

    /// Say what is done, do it, and wait for its `lines` change lines to be written.
    async fn change(
        &mut self,
        what: &str,
        lines: u64,
        request: impl std::future::Future<Output = Result<Value, crate::graph::GraphError>>,
    ) -> anyhow::Result<Value> {
        self.ui.note(format!("→ {what}"));
        let answer = request
            .await
            .with_context(|| format!("demo: {what} failed"))?;
        self.changes += 1;
        self.expected += lines;
        let expected = self.expected;
        self.wait(&format!("the change lines of \"{what}\""), move |p| {
            p.written >= expected
        })
        .await?;
        Ok(answer)
    }

    async fn wait(&mut self, what: &str, done: impl Fn(&Progress) -> bool) -> anyhow::Result<()> {
        match tokio::time::timeout(PATIENCE, self.progress.wait_for(|p| done(p))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(Error::failure(format!(
                "demo: the watch ended while waiting for {what}"
            ))
            .into()),
            Err(_) => Err(Error::failure(format!(
                "demo: waited {}s for {what} in vain",
                PATIENCE.as_secs()
            ))
            .into()),
        }
    }
}

/// A string member of a Graph answer, by path.
fn string_at(value: &Value, path: &[&str]) -> anyhow::Result<String> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Error::failure(format!(
                "demo: the emulator's answer has no {}",
                path.join(".")
            ))
            .into()
        })
}
