//! `ferry init`: files to start from, commented. A copy request (its comments are whole lines
//! beginning with `//`, which `ferry plan` and `ferry start` skip), or a deployment file
//! (TOML), which `ferry deploy` and `ferry doctor` read.

use std::io::Write;
use std::path::Path;

use crate::{CliError, Result};

/// A copy request to start from: flow A with the fields a first copy changes, each explained.
/// It passes `ferry plan` as it is (a test says so), so that editing it starts from a valid copy.
pub const REQUEST: &str = r#"// A ferry copy request. Lines starting with // are comments: ferry plan and ferry start skip them.
// Every field, its default and its rules: docs/src/request.md. Its JSON Schema: ferry schema.
{
  // Names the copy: lowercase letters, digits and single hyphens, at most 40 characters.
  // Runs of the copy are <copyId>-1, <copyId>-2, ...
  "copyId": "photos-2026",
  // The Region of both stacks and of every bucket of the copy.
  "region": "eu-west-1",
  // The bucket copied from. Only keys under the prefix are listed and granted ("" for all).
  // The account must be in the destination stack's SourceAccountIds, the bucket in SourceBuckets.
  "source": { "accountId": "111111111111", "bucket": "src-photos", "prefix": "photos/" },
  // The bucket copied into, in the account whose credentials run ferry start.
  // "existing" says what happens where a key is already there: "refuse" (never overwrite,
  // the default), "skip-identical" or "overwrite".
  "destination": { "accountId": "222222222222", "bucket": "dst-photos", "existing": "refuse" },
  // Where the list of objects comes from: {"kind": "inventory"} (flow A: an S3 Inventory report,
  // its first delivery can take up to 48 hours), a CSV manifest (flow B):
  // {"kind": "csv", "accountId": "111111111111", "bucket": "src-manifests", "key": "lists/photos.csv"}
  // or a list S3 Batch Operations makes itself (flow C; "incremental": true for a sync that
  // copies only what is new): {"kind": "generated", "filter": {"incremental": false}}
  "manifest": { "kind": "inventory" },
  // Retry jobs after the first, for tasks that failed for transient reasons (0-10).
  "retry": { "maxAttempts": 2 }
}
"#;

/// [`REQUEST`] without its comment lines: plain JSON.
pub fn plain_request() -> String {
    let mut text: String = crate::plan::without_comment_lines(REQUEST)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// A deployment file to start from: one destination and one source account.
pub const DEPLOYMENT: &str = r#"# ferry's deployment: the accounts that run copies and the buckets they may touch.
# `ferry deploy --config THIS_FILE --account ACCOUNT` deploys one account's stack with the
# parameters derived from this file, so that the stacks agree with each other;
# `ferry doctor --config THIS_FILE` checks, read-only, that the deployed stacks do.
# Every parameter: docs/src/deploy.md.

# The Region of every stack, and of every bucket copied.
region = "eu-west-1"

# An account that receives copies (a destination stack: the state machine, the ferry bucket).
[[destination]]
account = "222222222222"
# The AWS CLI profile that deploys and checks this account (else the SDK's default chain).
profile = "destination-admin"
# The buckets of this account that copies may write to (DestinationBuckets).
buckets = ["dst-photos"]
# Buckets of this account that keep CSV manifests (ManifestBuckets); usually none.
manifest_buckets = []
# Any other template parameter, by its name, for this stack only.
# parameters = { RetentionDays = "30" }
# The stack's name (default "ferry-destination"): the name of a stack you deployed before.
# stack_name = "ferry"

# An account copied from (a source stack: the functions that grant and revoke access there).
# Repeat the table for each source account (consolidation), and [[destination]] for each
# destination account (fan-out): a source serves every destination of this file but itself,
# or those its `destinations` list names.
[[source]]
account = "111111111111"
profile = "source-admin"
# The buckets of this account that are copied from or keep CSV manifests (SourceBuckets).
buckets = ["src-photos", "src-manifests"]
# Customer managed KMS keys of this account that encrypt source objects (SourceKmsKeyArns).
kms_key_arns = []
# The destination accounts this source serves (default: every [[destination]] of this file).
# destinations = ["222222222222"]
# parameters = { KeptGrants = "forbid" }
"#;

/// Writes `text` to `path`, never over an existing file, or to stdout when there is no path.
pub fn write(text: &str, path: Option<&Path>) -> Result<i32> {
    match path {
        None => {
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| CliError::other(format!("cannot write to stdout: {e}")))?;
        }
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => CliError::invalid(format!(
                        "{} already exists: ferry init never overwrites a file; choose another path",
                        path.display()
                    )),
                    _ => CliError::other(format!("cannot create {}: {e}", path.display())),
                })?;
            file.write_all(text.as_bytes())
                .map_err(|e| CliError::other(format!("cannot write {}: {e}", path.display())))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_to_start_from_passes_plan() {
        let dir = std::env::temp_dir().join(format!("ferry-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("request.json");
        let _ = std::fs::remove_file(&path);
        write(REQUEST, Some(&path)).unwrap();
        let (raw, req) = crate::plan::read_request(&path).unwrap();
        crate::plan::plan(&raw, &req).unwrap();
        assert_eq!(req.copy_id, "photos-2026");
        // A second init to the same path refuses, and leaves the file as it was.
        std::fs::write(&path, "mine").unwrap();
        let e = write(REQUEST, Some(&path)).unwrap_err();
        assert_eq!(e.status, 2);
        assert!(e.message.contains("already exists"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_plain_request_is_json_with_the_same_fields() {
        let plain: serde_json::Value = serde_json::from_str(&plain_request()).unwrap();
        let commented = crate::plan::without_comment_lines(REQUEST);
        let commented: serde_json::Value = serde_json::from_str(&commented).unwrap();
        assert_eq!(plain, commented);
        assert!(!plain_request().contains("//"));
    }

    #[test]
    fn the_deployment_to_start_from_deploys_stacks_that_agree() {
        let d = crate::deploy::Deployment::parse(DEPLOYMENT).unwrap();
        assert_eq!(d.region, "eu-west-1");
        assert_eq!(d.pairs(), [("111111111111".into(), "222222222222".into())]);
        // The stacks `ferry deploy` would make, read back by doctor: no problem.
        let f = crate::doctor::analyze::tests::analyze_deployed(&d);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
    }
}
