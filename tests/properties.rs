//! Property tests (proptest) of the two user-input languages: target SPECs and
//! `--template`. Whatever is typed, parsing never panics and a refusal is one usage
//! line; what is accepted means what the documentation says.

use graphwatch::testing::{
    exit_code, one_line, Code, DriveSpec, Event, ListSpec, SiteRef, Template,
};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use serde_json::value::RawValue;

/// An id-like word as Graph hands them out (`b!…`, GUIDs, `host,guid,guid`).
fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9!_.,@-]{0,40}".prop_filter("not me", |w| !w.eq_ignore_ascii_case("me"))
}

/// Display names: any text without control characters or `/`.
fn name() -> impl Strategy<Value = String> {
    "[^\\p{Cc}/]{1,30}"
}

fn one_usage_line(err: anyhow::Error) -> Result<(), TestCaseError> {
    let line = one_line(&err);
    prop_assert_eq!(exit_code(&err), Code::Usage);
    prop_assert!(!line.contains(['\n', '\r']), "{}", line);
    Ok(())
}

fn no_line_breaks(label: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !label.chars().any(char::is_control),
        "a label with a control character: {:?}",
        label
    );
    Ok(())
}

proptest! {
    #[test]
    fn any_text_is_a_spec_or_one_usage_line(text in any::<String>()) {
        match DriveSpec::parse(&text) {
            Ok(spec) => no_line_breaks(&spec.label())?,
            Err(e) => one_usage_line(e.into())?,
        }
        match ListSpec::parse(&text) {
            Ok(spec) => no_line_breaks(&spec.label())?,
            Err(e) => one_usage_line(e.into())?,
        }
    }

    #[test]
    fn url_like_text_is_a_spec_or_one_usage_line(
        path in proptest::collection::vec("([^/?#]|%[0-9A-Fa-f]{2}){0,12}", 0..6),
        host in "[a-z0-9.-]{0,20}",
    ) {
        let url = format!("https://{host}/{}", path.join("/"));
        for result in [DriveSpec::parse(&url).map(|s| s.label()), ListSpec::parse(&url).map(|s| s.label())] {
            match result {
                Ok(label) => no_line_breaks(&label)?,
                Err(e) => one_usage_line(e.into())?,
            }
        }
    }

    #[test]
    fn percent_escapes_cannot_put_a_control_character_in_a_label(
        site in word(),
        list in prop_oneof![any::<String>(), "[a-z\\p{Cc}]{1,8}"],
        host in "[a-z]{1,8}",
    ) {
        let encoded = utf8_percent_encode(&list, NON_ALPHANUMERIC).to_string();
        for spec in [format!("{site}/{encoded}"), format!("{host}:/sites/{encoded}/{encoded}")] {
            match ListSpec::parse(&spec) {
                Ok(parsed) => no_line_breaks(&parsed.label())?,
                Err(e) => one_usage_line(e.into())?,
            }
        }
    }

    #[test]
    fn drive_words_and_prefixes_mean_what_they_say(w in word(), pad in "[ \t]{0,2}") {
        prop_assert_eq!(DriveSpec::parse(&format!("{pad}{w}{pad}")).unwrap(), DriveSpec::Id(w.clone()));
        prop_assert_eq!(DriveSpec::parse(&format!("user:{w}")).unwrap(), DriveSpec::User(w.clone()));
        prop_assert_eq!(DriveSpec::parse(&format!("GROUP:{w}")).unwrap(), DriveSpec::Group(w.clone()));
        prop_assert_eq!(DriveSpec::parse(&format!("site:{w}")).unwrap(), DriveSpec::Site(w.clone()));
        prop_assert_eq!(DriveSpec::parse(&format!("user:{w}")).unwrap().label(), format!("drive:user:{}", w.to_lowercase()));
        prop_assert_eq!(DriveSpec::parse(&w).unwrap().label(), format!("drive:{w}"));
    }

    #[test]
    fn a_list_name_in_percent_escapes_comes_back_as_typed(site in word(), list in name()) {
        let encoded = utf8_percent_encode(&list, NON_ALPHANUMERIC).to_string();
        let spec = ListSpec::parse(&format!("{site}/{encoded}")).unwrap();
        prop_assert_eq!(spec, ListSpec::InSite { site: SiteRef::Id(site.clone()), list: list.clone() });
    }

    #[test]
    fn a_site_path_spec_splits_host_path_and_list(
        host in "[a-z][a-z0-9-]{0,10}\\.sharepoint\\.com",
        segments in proptest::collection::vec(name(), 1..4),
        list in name(),
    ) {
        prop_assume!(segments.iter().chain([&list]).all(|s| s != "." && s != ".."));
        let path: Vec<String> = segments
            .iter()
            .chain([&list])
            .map(|s| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string())
            .collect();
        let spec = ListSpec::parse(&format!("{host}:/{}", path.join("/"))).unwrap();
        let mut expected = segments.clone();
        if expected.len() > 2 && expected.last().is_some_and(|s| s.eq_ignore_ascii_case("lists")) {
            expected.pop();
        }
        prop_assert_eq!(spec, ListSpec::InSite {
            site: SiteRef::Path { host: host.clone(), segments: expected },
            list: list.clone(),
        });
    }

    #[test]
    fn any_template_text_parses_or_names_a_position_inside_it(text in any::<String>()) {
        match Template::parse(&text) {
            Ok(template) => {
                let line = template.render(&sample());
                prop_assert!(line.matches('\n').count() <= text.matches('\n').count());
            }
            Err(e) => {
                prop_assert!(e.position >= 1 && e.position <= text.chars().count() + 1, "{}", e);
                prop_assert!(!e.to_string().contains('\n') || text.contains('\n'));
            }
        }
    }

    #[test]
    fn literal_text_with_doubled_braces_renders_as_itself(text in any::<String>()) {
        let escaped = text.replace('{', "{{").replace('}', "}}");
        let template = Template::parse(&escaped).unwrap();
        prop_assert_eq!(template.render(&sample()), text);
    }

    #[test]
    fn a_string_value_renders_unquoted_and_on_one_line(value in any::<String>(), key in "[a-zA-Z][a-zA-Z0-9_]{0,10}") {
        let data = serde_json::json!({ key.clone(): value.clone() }).to_string();
        let event = Event::notification("drive:me", RawValue::from_string(data).unwrap());
        let line = Template::parse(&format!("<{{data.{key}}}>")).unwrap().render(&event);
        let expected: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        prop_assert_eq!(line, format!("<{expected}>"));
    }

    #[test]
    fn any_json_value_renders_without_breaking_the_line(value in json(), path in proptest::collection::vec("[a-z0-9]{1,3}", 0..4)) {
        let data = serde_json::json!({ "x": value }).to_string();
        let event = Event::notification("drive:me", RawValue::from_string(data).unwrap());
        let mut placeholder = String::from("data.x");
        for p in &path {
            placeholder.push('.');
            placeholder.push_str(p);
        }
        let line = Template::parse(&format!("{{{placeholder}}}")).unwrap().render(&event);
        prop_assert!(!line.chars().any(|c| c.is_control()), "{:?}", line);
    }
}

/// Arbitrary JSON, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z0-9]{1,3}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn sample() -> Event {
    Event::notification(
        "drive:me",
        RawValue::from_string(
            r#"{"subscriptionId":"s\n1","resource":"r","v":[1,{"a":"x\ty"}]}"#.into(),
        )
        .unwrap(),
    )
}
