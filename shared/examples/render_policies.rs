//! Writes every policy ferry renders, for both flows, to a directory as JSON files, one policy
//! each: `make policy-lint` runs parliament on them.
//!
//! Usage: cargo run -p ferry-core --example render_policies -- DIR

use std::path::PathBuf;

use ferry_core::clock::parse_timestamp;
use ferry_core::names::Names;
use ferry_core::policy::{merge, permissions_boundary, BoundaryScope, CopyPolicies, PolicyKind};
use ferry_core::request::CopyRequest;

const FERRY: &str = "ferry-222222222222-eu-west-1";
/// The destination key of the CSV copy's policies (AWS's documentation's example key id).
const DESTINATION_KEY: &str =
    "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: render_policies DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let expires = parse_timestamp("2026-12-15T13:45:50Z")?;
    let requests = [
        (
            "inventory",
            include_str!("../fixtures/request-inventory.json"),
        ),
        ("csv", include_str!("../fixtures/request-csv.json")),
        // Flow C: the generator's grant on the source bucket.
        (
            "generated",
            include_str!("../fixtures/request-generated.json"),
        ),
        // `*`, `?` and `$` in prefixes and the manifest key: rendered as literals.
        (
            "wildcards",
            include_str!("../fixtures/request-wildcards.json"),
        ),
    ];
    let mut written = 0;
    let mut write = |name: String, json: String| -> std::io::Result<()> {
        written += 1;
        std::fs::write(dir.join(format!("{name}.json")), json)
    };
    for (flow, text) in requests {
        let req = CopyRequest::from_json(text)?;
        let names = Names::new(&req, FERRY);
        // The CSV copy encrypts under a key of the destination account (SSE-KMS).
        let key = (flow == "csv").then_some(DESTINATION_KEY);
        let p = CopyPolicies::render(&req, &names, expires, key);
        write(format!("{flow}-batch-trust"), p.trust.to_string())?;
        write(format!("{flow}-batch-role"), p.role.to_string())?;
        for (bucket, statements) in &p.source_account_grants {
            let doc = merge(
                None,
                statements,
                &names.hash,
                PolicyKind::BucketPolicy,
                bucket,
            )?;
            write(format!("{flow}-bucket-{bucket}"), doc)?;
        }
    }
    write(
        "permissions-boundary".into(),
        permissions_boundary(&BoundaryScope {
            partition: "aws",
            region: "eu-west-1",
            own_account: "222222222222",
            source_accounts: &["111111111111".into()],
            destination_buckets: &["dst-photos".into()],
            manifest_buckets: &[],
        })
        .to_string(),
    )?;
    println!("{written} policies written to {}", dir.display());
    Ok(())
}
