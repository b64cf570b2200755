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

/// The host of the personal sites behind users' OneDrives.
pub const MY_HOST: &str = "contoso-my.sharepoint.com";
/// Server-relative URLs that notification payloads carry as `siteUrl`.
pub const ADELE_SITE_URL: &str = "/personal/adele_contoso_onmicrosoft_com";
pub const MEGAN_SITE_URL: &str = "/personal/megan_contoso_onmicrosoft_com";
/// The group's own team site, which holds the group drive.
pub const GROUP_SITE_URL: &str = "/sites/EngineeringGroup";

/// `webId`s of the webs behind each drive and list (notification payload field).
pub const ADELE_WEB_ID: &str = "be8f18aa-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
pub const MEGAN_WEB_ID: &str = "d2a4c6e8-1b3d-4f5a-9c7e-2d4f6a8c0e1b";
pub const GROUP_WEB_ID: &str = "7f3e9b1d-5a2c-4e8f-b6d4-3a1c5e7f9b2d";
pub const SITE_WEB_ID: &str = "4c8e2a6f-9d1b-4f3e-a5c7-8e2b4d6f1a3c";
/// The site collection that holds `site-eng`.
pub const SITE_COLLECTION_ID: &str = "a91c3e5b-7d2f-4b8a-9e6c-1f3b5d7a9c2e";

/// Ids of the SharePoint lists underneath each drive and list: the `resource` a
/// notification payload carries. A library and its drive share one.
pub const ADELE_DRIVE_RESOURCE: &str = "b8a61df7-3c4e-4a5b-8d9f-0e1a2b3c4d5e";
pub const MEGAN_DRIVE_RESOURCE: &str = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9";
pub const GROUP_DRIVE_RESOURCE: &str = "3d5f7b9a-1c2e-4f6a-8b0d-5e7a9c1b3d5f";
pub const DOCS_LIST_RESOURCE: &str = "6a8c0e2b-4d6f-4a1c-9e3b-7d9f1b3a5c7e";
pub const SPECS_LIST_RESOURCE: &str = "9e1b3d5f-7a9c-4e2b-8d4f-6a8c0e2b4d6f";
pub const ISSUES_LIST_RESOURCE: &str = "2c4e6a8b-0d2f-4b5c-a7e9-1b3d5f7a9c0e";
