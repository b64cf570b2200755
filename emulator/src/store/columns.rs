//! List columns and their types: what a write may put in a column, and the form the
//! value is kept in, which is the form Graph shows in `fields`.
//!
//! SharePoint keeps typed values and Graph renders them by type: numbers and booleans
//! as JSON numbers and booleans, dates as ISO 8601 strings in UTC with `Z`, a choice as
//! its string, and a person (a lookup into the site's users) not under the column's
//! name at all but as `{name}LookupId`, the user's lookup id as a string. A client that
//! diffs `fields` sees those shapes from the live service, so the emulator keeps them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::User;
use crate::error::GraphError;

/// The lookup id SharePoint gives the system account in every site's user list.
pub const SYSTEM_LOOKUP_ID: &str = "1073741823";

/// A user's lookup id in a site's user list (`AuthorLookupId`, `AssignedToLookupId`).
/// SharePoint numbers the users of a site as they are first seen there, after a few
/// built-in principals; the seed users come in order, from 6.
pub fn lookup_id(users: &[User], user_id: &str) -> String {
    users
        .iter()
        .position(|u| u.id == user_id)
        .map(|i| (i + 6).to_string())
        .unwrap_or_else(|| SYSTEM_LOOKUP_ID.to_string())
}

/// The user a lookup id names, if any.
pub fn user_by_lookup_id<'u>(users: &'u [User], lookup: &str) -> Option<&'u User> {
    let n: usize = lookup.parse().ok()?;
    users.get(n.checked_sub(6)?)
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ColumnType {
    /// Single or multiple lines of text: a JSON string.
    Text,
    /// A JSON number (SharePoint keeps a double).
    Number,
    /// Yes/No: a JSON boolean.
    Boolean,
    /// One of `choices`, exactly as spelt there (no fill-in values).
    Choice { choices: Vec<String> },
    /// Date and time: written in any ISO 8601 form, kept and shown in UTC with `Z`.
    DateTime,
    /// A person: written and shown only as `{name}LookupId`.
    Person,
}

/// A column a client may write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SavedColumn")]
pub struct Column {
    pub name: String,
    #[serde(flatten)]
    pub kind: ColumnType,
}

/// How a column reads back from a `--persist` file: as written now, or as a bare name
/// from the time every column was text, so an older state file still loads.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedColumn {
    Typed(TypedColumn),
    Name(String),
}

#[derive(Deserialize)]
struct TypedColumn {
    name: String,
    #[serde(flatten)]
    kind: ColumnType,
}

impl From<SavedColumn> for Column {
    fn from(saved: SavedColumn) -> Column {
        match saved {
            SavedColumn::Typed(TypedColumn { name, kind }) => Column { name, kind },
            SavedColumn::Name(name) => Column::new(&name, ColumnType::Text),
        }
    }
}

/// The OData message Graph answers when a value does not fit a column's type.
fn wrong_type(key: &str, edm: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Cannot convert a primitive value to the expected type '{edm}' (field '{key}')."
    ))
}

impl Column {
    pub fn new(name: &str, kind: ColumnType) -> Column {
        Column {
            name: name.to_string(),
            kind,
        }
    }

    pub fn choice(name: &str, choices: &[&str]) -> Column {
        let choices = choices.iter().map(|c| c.to_string()).collect();
        Column::new(name, ColumnType::Choice { choices })
    }

    /// The key a write uses and `fields` shows: the name, or `{name}LookupId` for a person.
    pub fn key(&self) -> String {
        match self.kind {
            ColumnType::Person => format!("{}LookupId", self.name),
            _ => self.name.clone(),
        }
    }

    /// The value to keep for a write of `value` (not `null`, which clears any column),
    /// or why SharePoint would refuse it.
    fn accept(&self, key: &str, value: &Value, users: &[User]) -> Result<Value, GraphError> {
        match (&self.kind, value) {
            (ColumnType::Text, Value::String(_)) => Ok(value.clone()),
            (ColumnType::Text, _) => Err(wrong_type(key, "Edm.String")),
            (ColumnType::Number, Value::Number(_)) => Ok(value.clone()),
            (ColumnType::Number, _) => Err(wrong_type(key, "Edm.Double")),
            (ColumnType::Boolean, Value::Bool(_)) => Ok(value.clone()),
            (ColumnType::Boolean, _) => Err(wrong_type(key, "Edm.Boolean")),
            (ColumnType::Choice { choices }, Value::String(s)) => {
                if choices.iter().any(|c| c == s) {
                    Ok(value.clone())
                } else {
                    Err(GraphError::bad_request(format!(
                        "Field '{key}' takes one of: {}; {s:?} is not a choice.",
                        choices.join(", ")
                    )))
                }
            }
            (ColumnType::Choice { .. }, _) => Err(wrong_type(key, "Edm.String")),
            (ColumnType::DateTime, Value::String(s)) => parse_date_time(s)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true).into())
                .ok_or_else(|| {
                    GraphError::bad_request(format!(
                        "Field '{key}' takes an ISO 8601 date and time; {s:?} is not one."
                    ))
                }),
            (ColumnType::DateTime, _) => Err(wrong_type(key, "Edm.DateTimeOffset")),
            // Graph takes the lookup id as a string (as it shows it) or as a number.
            (ColumnType::Person, Value::String(_) | Value::Number(_)) => {
                let lookup = match value {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                match user_by_lookup_id(users, &lookup) {
                    Some(_) => Ok(lookup.into()),
                    None => Err(GraphError::bad_request(format!(
                        "Field '{key}': no user of the site has lookup id {lookup}."
                    ))),
                }
            }
            (ColumnType::Person, _) => Err(wrong_type(key, "Edm.String")),
        }
    }
}

/// ISO 8601 as SharePoint takes it: with an offset or `Z`, without one (taken as UTC),
/// or a bare date (midnight UTC).
fn parse_date_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// Check a write against `columns` and turn its values into the kept form: refuse
/// fields the list does not have and values SharePoint would not store. `null` stays
/// `null` (it clears the field).
pub fn accept_fields(
    columns: &[Column],
    fields: Map<String, Value>,
    users: &[User],
) -> Result<Map<String, Value>, GraphError> {
    let mut out = Map::new();
    for (key, value) in fields {
        let Some(column) = columns.iter().find(|c| c.key() == key) else {
            if let Some(person) = columns
                .iter()
                .find(|c| c.name == key && c.kind == ColumnType::Person)
            {
                return Err(GraphError::bad_request(format!(
                    "Field '{key}' is a person column: write '{}' with the user's lookup id.",
                    person.key()
                )));
            }
            return Err(GraphError::bad_request(format!(
                "Field '{key}' is not recognized"
            )));
        };
        let kept = if value.is_null() {
            Value::Null
        } else {
            column.accept(&key, &value, users)?
        };
        out.insert(key, kept);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users() -> Vec<User> {
        vec![User {
            id: "u1".into(),
            upn: "a@x".into(),
            display_name: "A".into(),
            given_name: "A".into(),
            surname: "A".into(),
            job_title: String::new(),
            drive_id: "d".into(),
            followed_sites: Vec::new(),
        }]
    }

    fn columns() -> Vec<Column> {
        vec![
            Column::new("Title", ColumnType::Text),
            Column::new("Estimate", ColumnType::Number),
            Column::new("Blocked", ColumnType::Boolean),
            Column::choice("Status", &["New", "Active"]),
            Column::new("Due", ColumnType::DateTime),
            Column::new("AssignedTo", ColumnType::Person),
        ]
    }

    fn accept(fields: Value) -> Result<Value, u16> {
        let Value::Object(map) = fields else {
            unreachable!()
        };
        accept_fields(&columns(), map, &users())
            .map(Value::Object)
            .map_err(|e| e.status.as_u16())
    }

    #[test]
    fn typed_values_are_kept_in_the_form_graph_shows() {
        assert_eq!(
            accept(json!({
                "Title": "t", "Estimate": 2.5, "Blocked": true, "Status": "Active",
                "Due": "2026-03-01T09:30:00+01:00", "AssignedToLookupId": 6,
            })),
            Ok(json!({
                "Title": "t", "Estimate": 2.5, "Blocked": true, "Status": "Active",
                "Due": "2026-03-01T08:30:00Z", "AssignedToLookupId": "6",
            }))
        );
        assert_eq!(
            accept(json!({"Due": "2026-03-01"})),
            Ok(json!({"Due": "2026-03-01T00:00:00Z"}))
        );
        assert_eq!(
            accept(json!({"Due": null, "Estimate": null})),
            Ok(json!({"Due": null, "Estimate": null}))
        );
    }

    #[test]
    fn wrong_types_and_unknown_values_are_refused() {
        for bad in [
            json!({"Title": 1}),
            json!({"Estimate": "3"}),
            json!({"Blocked": "yes"}),
            json!({"Status": "Closed"}),
            json!({"Status": 1}),
            json!({"Due": "tomorrow"}),
            json!({"Due": 1}),
            json!({"AssignedToLookupId": "99"}),
            json!({"AssignedToLookupId": true}),
            json!({"AssignedTo": "Adele"}),
            json!({"Colour": "red"}),
        ] {
            assert_eq!(accept(bad.clone()), Err(400), "{bad}");
        }
    }

    #[test]
    fn old_state_files_name_text_columns() {
        let columns: Vec<Column> =
            serde_json::from_value(json!(["Title", {"name": "N", "type": "number"}])).unwrap();
        assert_eq!(columns[0], Column::new("Title", ColumnType::Text));
        assert_eq!(columns[1], Column::new("N", ColumnType::Number));
        let again: Vec<Column> =
            serde_json::from_value(serde_json::to_value(&columns).unwrap()).unwrap();
        assert_eq!(again, columns);
    }
}
