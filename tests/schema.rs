//! The versioned contract: `graphwatch schema` prints exactly docs/schema/, every line
//! type has a schema, and the schemas do reject lines that break the contract (so that
//! the check every watching test makes, `common::schema::check`, can fail).

use crate::common;

use common::{stdout, Env};
use serde_json::{json, Value};

#[test]
fn the_command_prints_the_files() {
    let env = Env::start();
    let kinds = common::schema::kinds();
    assert_eq!(kinds, ["change", "gap", "notification", "resync", "status"]);
    for kind in &kinds {
        let out = env.bare_cmd(&["schema", kind]).output().unwrap();
        assert!(out.status.success());
        let file = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("docs/schema/{kind}.json")),
        )
        .unwrap();
        assert_eq!(stdout(&out).trim_end(), file.trim_end(), "{kind}");
    }
    let all: Value =
        serde_json::from_str(&stdout(&env.bare_cmd(&["schema"]).output().unwrap())).unwrap();
    let listed: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(listed, kinds.iter().collect::<Vec<_>>());
}

fn breaks(line: Value) -> bool {
    std::panic::catch_unwind(|| common::schema::check(&line)).is_err()
}

#[test]
fn lines_that_break_the_contract_are_rejected() {
    let time = "2026-11-26T10:00:00.123Z";
    let good = json!({"type":"change","id":"0123456789abcdef0123456789abcdef","time":time,"target":"drive:me","change":"created","item":{"id":"1"}});
    assert!(!breaks(good.clone()));
    let mut without_id = good.clone();
    without_id.as_object_mut().unwrap().remove("id");
    assert!(breaks(without_id));
    let mut odd_id = good.clone();
    odd_id["id"] = json!("not-hex");
    assert!(breaks(odd_id));
    let mut without_item = good.clone();
    without_item.as_object_mut().unwrap().remove("item");
    assert!(breaks(without_item));
    let mut odd_kind = good.clone();
    odd_kind["change"] = json!("renamed-ish");
    assert!(breaks(odd_kind));
    let mut bad_time = good.clone();
    bad_time["time"] = json!("10:00");
    assert!(breaks(bad_time));
    let mut added = good;
    added["somethingNew"] = json!(1);
    assert!(!breaks(added), "fields may be added within a major version");
    assert!(
        breaks(json!({"type":"notification","time":time,"target":"drive:me","data":{}})),
        "no subscriptionId"
    );
    assert!(
        breaks(json!({"type":"resync","time":time,"target":"x","reason":"r"})),
        "a target is drive: or list:"
    );
    assert!(breaks(json!({"type":"gossip"})), "a type without a schema");
    assert!(!breaks(
        json!({"type":"status","time":time,"target":"list:a/b","state":"lost","reason":"403"})
    ));
    assert!(breaks(
        json!({"type":"status","time":time,"target":"list:a/b","state":"sleepy","reason":""})
    ));
    assert!(!breaks(
        json!({"type":"gap","time":time,"target":"drive:me","reason":"link dropped"})
    ));
}
