//! Fixed ids of the seed data, so docs, tests and users can name them.

pub const TENANT_ID: &str = "6e0c8a1f-3b2d-4c5e-9f7a-1d2b3c4e5f60";
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
pub const SHAREPOINT_HOST: &str = "contoso.sharepoint.com";

/// The user who signs in (approves device codes).
pub const ADELE_ID: &str = "b3f7a7c2-5d1e-4c8a-9e2f-0a1b2c3d4e5f";
pub const ADELE_UPN: &str = "adele@contoso.onmicrosoft.com";
pub const ADELE_NAME: &str = "Adele Vance";
pub const ADELE_DRIVE: &str = "b!AdeleVanceOneDrive";

/// A second user, whose drive Adele may not read.
pub const MEGAN_ID: &str = "c41e2f6b-7a8d-4b9c-8e1f-2a3b4c5d6e7f";
pub const MEGAN_UPN: &str = "megan@contoso.onmicrosoft.com";
pub const MEGAN_NAME: &str = "Megan Bowen";
pub const MEGAN_DRIVE: &str = "b!MeganBowenOneDrive";

/// A Microsoft 365 group with a drive, Adele a member.
pub const GROUP_ID: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";
pub const GROUP_NAME: &str = "Engineering";
pub const GROUP_DRIVE: &str = "b!EngineeringGroupDrive";

/// The team site `https://contoso.sharepoint.com/sites/eng`.
pub const SITE_ID: &str = "site-eng";
pub const SITE_PATH: &str = "/sites/eng";
pub const SITE_NAME: &str = "Engineering";
/// Its default document library ("Documents", URL segment `Shared%20Documents`).
pub const DOCS_LIST_ID: &str = "list-documents";
pub const DOCS_DRIVE: &str = "b!EngSharedDocuments";
/// A second document library ("Specs").
pub const SPECS_LIST_ID: &str = "list-specs";
pub const SPECS_DRIVE: &str = "b!EngSpecs";
/// The generic list "Issues" (`/sites/eng/Lists/Issues`).
pub const ISSUES_LIST_ID: &str = "list-issues";
