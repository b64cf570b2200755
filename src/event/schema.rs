//! The JSON Schema of each line type: the stream's versioned contract, kept as files in
//! docs/schema/ (people read them there) and built into the binary (`graphwatch
//! schema`). Every line the integration tests see is validated against its schema.

/// The types of line on stdout, each with its JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineType {
    Notification,
    Change,
    Resync,
    Status,
    Gap,
}

/// The schema of `kind`, as the file in docs/schema/ holds it.
pub fn of(kind: LineType) -> &'static str {
    match kind {
        LineType::Notification => include_str!("../../docs/schema/notification.json"),
        LineType::Change => include_str!("../../docs/schema/change.json"),
        LineType::Resync => include_str!("../../docs/schema/resync.json"),
        LineType::Status => include_str!("../../docs/schema/status.json"),
        LineType::Gap => include_str!("../../docs/schema/gap.json"),
    }
}

/// Every line type with its name (the `type` field), in the contract's order.
pub const ALL: [(&str, LineType); 5] = [
    ("notification", LineType::Notification),
    ("change", LineType::Change),
    ("resync", LineType::Resync),
    ("status", LineType::Status),
    ("gap", LineType::Gap),
];
