//! Shared fixtures for the function crates' tests (feature `test-util`): the stacks of the
//! sandbox's two accounts and run plans of the fixture requests; with the feature, the test
//! doubles ([`mocks`]: mocked clients and fake buckets).

use crate::stack::StackConfig;
use crate::steps::{PlanInput, RunPlan};

#[cfg(feature = "test-util")]
pub mod mocks;
#[cfg(feature = "test-util")]
pub use mocks::{fake_s3, FakeObjects};

pub const SOURCE_ACCOUNT: &str = "111111111111";
pub const DESTINATION_ACCOUNT: &str = "222222222222";
pub const FERRY_BUCKET: &str = "ferry-222222222222-eu-west-1";
/// The fixture requests' source bucket and CSV manifest bucket (both stacks' `SourceBuckets`).
pub const SOURCE_BUCKETS: [&str; 2] = ["src-photos", "src-manifests"];
/// The destination stack's `DestinationBuckets`.
pub const DESTINATION_BUCKETS: [&str; 1] = ["dst-photos"];
/// The destination stack's `ManifestBuckets`.
pub const MANIFEST_BUCKETS: [&str; 1] = ["dst-manifests"];
pub const BOUNDARY_ARN: &str = "arn:aws:iam::222222222222:policy/ferry/ferry-boundary-eu-west-1";
/// `$$.Execution.StartTime` of the fixture runs: 2026-11-28T13:45:50Z.
pub const STARTED_AT: i64 = 1_795_873_550;

/// The destination stack's configuration.
pub fn destination_stack() -> StackConfig {
    StackConfig {
        account_id: DESTINATION_ACCOUNT.into(),
        region: "eu-west-1".into(),
        ferry_bucket: FERRY_BUCKET.into(),
        source_account_ids: vec![SOURCE_ACCOUNT.into()],
        source_buckets: SOURCE_BUCKETS.map(String::from).to_vec(),
        destination_account_ids: vec![DESTINATION_ACCOUNT.into()],
        destination_buckets: DESTINATION_BUCKETS.map(String::from).to_vec(),
        manifest_buckets: MANIFEST_BUCKETS.map(String::from).to_vec(),
        boundary_arn: BOUNDARY_ARN.into(),
        source_kms_key_arns: vec![],
        policy_settle: std::time::Duration::ZERO,
        grant_lifetime_min: crate::request::GRANT_LIFETIME_MIN,
        grant_lifetime_max: crate::request::GRANT_LIFETIME_MAX,
        kept_grants: true,
    }
}

/// The source stack's configuration.
pub fn source_stack() -> StackConfig {
    StackConfig {
        account_id: SOURCE_ACCOUNT.into(),
        source_account_ids: vec![],
        destination_buckets: vec![],
        boundary_arn: String::new(),
        ..destination_stack()
    }
}

/// Run 1 (`photos-2026-1`) of the flow B fixture request.
pub fn csv_plan() -> RunPlan {
    plan(include_str!("../../fixtures/request-csv.json"))
}

/// Run 1 (`photos-2026-1`) of the flow A fixture request.
pub fn inventory_plan() -> RunPlan {
    plan(include_str!("../../fixtures/request-inventory.json"))
}

fn plan(request: &str) -> RunPlan {
    RunPlan::from_input(
        &PlanInput {
            request: serde_json::from_str(request).expect("the fixture is JSON"),
            execution: "photos-2026-1".into(),
            start_time: "2026-11-28T13:45:50Z".into(),
        },
        &destination_stack().context(),
    )
    .expect("the fixture request is valid")
}

/// The job record of the flow B fixture's job `job` of run 1 (job id `job-1`), as job-submit
/// writes it under `control/`.
pub fn csv_job_record(job: u16) -> crate::steps::JobRecord {
    use crate::job::{ManifestKind, ManifestLocation};
    use crate::names::Attempt;
    crate::steps::JobRecord {
        job_id: "job-1".into(),
        attempt: Attempt { run: 1, job },
        client_request_token: format!("ferry-photos-2026-1-{job}"),
        manifest: ManifestLocation {
            kind: ManifestKind::Csv {
                with_versions: false,
            },
            object_arn: "arn:aws:s3:::src-manifests/lists/photos.csv".into(),
            etag: "e".into(),
            version_id: None,
            filter: None,
        },
        not_copyable: None,
        kind: crate::job::JobKind::Copy,
        submitted_at: None,
        large_pending: false,
        phase_start: 0,
        census_job_id: None,
        restores: None,
        restored_by: None,
    }
}

/// An inventory delivery as S3 writes it into the ferry bucket under `dated` (a report's dated
/// folder, ending in `/`): the fixture manifest.json (created 2026-11-28T13:46:40Z) and the
/// manifest.checksum given.
#[cfg(feature = "test-util")]
pub fn deliver_inventory(store: &FakeObjects, dated: &str, checksum: &[u8]) {
    let mut s = store.lock().unwrap();
    s.insert(
        (FERRY_BUCKET.into(), format!("{dated}manifest.json")),
        include_bytes!("../../fixtures/inventory-manifest-fresh.json").to_vec(),
    );
    s.insert(
        (FERRY_BUCKET.into(), format!("{dated}manifest.checksum")),
        checksum.to_vec(),
    );
}

/// `text` gzipped, as S3 Inventory writes its data files.
pub fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).expect("writing to memory");
    e.finish().expect("writing to memory")
}
