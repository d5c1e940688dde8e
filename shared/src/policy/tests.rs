use super::*;
use crate::clock::parse_timestamp;
use crate::names::copy_hash;
use proptest::prelude::*;

const FERRY: &str = "ferry-222222222222-eu-west-1";

fn request(fixture: &str) -> CopyRequest {
    CopyRequest::from_json(fixture).unwrap()
}

fn flow_a() -> (CopyRequest, Names) {
    let r = request(include_str!("../../fixtures/request-inventory.json"));
    let n = Names::new(&r, FERRY);
    (r, n)
}

fn flow_b() -> (CopyRequest, Names) {
    let r = request(include_str!("../../fixtures/request-csv.json"));
    let n = Names::new(&r, FERRY);
    (r, n)
}

fn expiry() -> Epoch {
    parse_timestamp("2026-12-15T13:45:50Z").unwrap()
}

fn seed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A policy flattened to what it allows: `resource -> actions` per principal, and its
/// condition keys. Two policies that allow the same things flatten the same. A statement whose
/// principal is an account root pinned to roles by `ArnEquals aws:PrincipalArn` (ferry's
/// grants) counts for each pinned role: `<root> as <role>`.
fn flatten(policy: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(o) => vec![o.clone()],
        None => Vec::new(),
    };
    for s in statements {
        let mut principals = s.get("Principal").map_or(vec!["(role)".to_string()], |p| {
            p.as_object()
                .map(|m| m.values().flat_map(|v| strings(Some(v))).collect())
                .unwrap_or_default()
        });
        let mut conditions: Vec<String> = Vec::new();
        if let Some(c) = s.get("Condition").and_then(Value::as_object) {
            for (op, keys) in c {
                for (k, v) in keys.as_object().unwrap() {
                    if op == "ArnEquals" && k == "aws:PrincipalArn" {
                        let roots = std::mem::take(&mut principals);
                        for root in roots {
                            for role in strings(Some(v)) {
                                principals.push(format!("{root} as {role}"));
                            }
                        }
                        continue;
                    }
                    conditions.push(format!("{op} {k} {}", strings(Some(v)).join("|")));
                }
            }
        }
        for p in &principals {
            for r in strings(s.get("Resource")) {
                let entry = out.entry(format!("{p} on {r}")).or_default();
                entry.extend(strings(s.get("Action")));
                entry.extend(conditions.iter().map(|c| format!("when {c}")));
            }
        }
    }
    out
}

/// Asserts the differences, whatever order the expected lines are listed in.
fn assert_differences(seed: &Value, ours: &Value, expected: &[String]) {
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(differences(seed, ours), expected);
}

/// Every difference between the seed's policy and ferry's, one line each, sorted:
/// `+ who on resource: actions/conditions` (ferry adds) or `- ...` (ferry drops).
fn differences(seed: &Value, ours: &Value) -> Vec<String> {
    let (s, o) = (flatten(seed), flatten(ours));
    let keys: BTreeSet<&String> = s.keys().chain(o.keys()).collect();
    let empty = BTreeSet::new();
    let mut lines = Vec::new();
    for k in keys {
        let (a, b) = (s.get(k).unwrap_or(&empty), o.get(k).unwrap_or(&empty));
        let added: Vec<&str> = b.difference(a).map(String::as_str).collect();
        let removed: Vec<&str> = a.difference(b).map(String::as_str).collect();
        if !added.is_empty() {
            lines.push(format!("+ {k}: {}", added.join(", ")));
        }
        if !removed.is_empty() {
            lines.push(format!("- {k}: {}", removed.join(", ")));
        }
    }
    lines.sort();
    lines
}

fn bucket_doc(statements: &[Value]) -> Value {
    json!({ "Version": VERSION, "Statement": statements })
}

#[test]
fn the_trust_policy_is_the_seeds_and_lets_in_the_copy_worker() {
    let ours = CopyPolicies::render(&flow_a().0, &flow_a().1, expiry(), None).trust;
    let seed = seed(include_str!("../../fixtures/seed/trust-policy.json"));
    assert_eq!(ours["Statement"][0], seed["Statement"][0]);
    assert_eq!(
        ours["Statement"][1],
        json!({"Sid": "CopyWorker", "Effect": "Allow",
               "Principal": {"AWS": "arn:aws:iam::222222222222:role/ferry-copy-worker-eu-west-1"},
               "Action": "sts:AssumeRole"})
    );
    assert_eq!(ours["Statement"].as_array().unwrap().len(), 2);
}

#[test]
fn the_source_grant_differs_from_the_seed_only_where_the_design_says() {
    let (req, names) = flow_a();
    let grants = source_account_grants(&req, &names, expiry());
    assert_eq!(grants.keys().collect::<Vec<_>>(), ["src-photos"]);
    let ours = bucket_doc(&grants["src-photos"]);
    let seed = seed(include_str!(
        "../../fixtures/seed/source-bucket-policy.json"
    ));
    let cond = "when DateLessThan aws:CurrentTime 2026-12-15T13:45:50Z";
    let root_as_role = "arn:aws:iam::222222222222:root as arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026";
    assert_differences(
        &seed,
        &ours,
        &[
            // The account root, pinned to the role by condition (ArnEquals aws:PrincipalArn):
            // survives IAM's "Invalid principal" for new roles and the rewrite of deleted ones.
            format!("+ {root_as_role} on arn:aws:s3:::src-photos: s3:ListBucket, {cond}"),
            // Scoped to source.prefix ("2026/"), and every grant expires.
            format!("+ {root_as_role} on arn:aws:s3:::src-photos/2026/*: \
                     s3:GetObject, s3:GetObjectAcl, s3:GetObjectTagging, s3:GetObjectVersion, \
                     s3:GetObjectVersionAcl, s3:GetObjectVersionTagging, {cond}"),
            "- arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026 on arn:aws:s3:::src-photos/*: \
             s3:GetObject, s3:GetObjectAcl, s3:GetObjectTagging, s3:GetObjectVersion, \
             s3:GetObjectVersionAcl, s3:GetObjectVersionTagging"
                .to_string(),
        ]
    );
}

#[test]
fn the_manifest_grant_differs_from_the_seed_only_where_the_design_says() {
    let (req, names) = flow_b();
    let grants = source_account_grants(&req, &names, expiry());
    assert_eq!(
        grants.keys().collect::<Vec<_>>(),
        ["src-manifests", "src-photos"]
    );
    let ours = bucket_doc(&grants["src-manifests"]);
    let seed = seed(include_str!(
        "../../fixtures/seed/manifest-bucket-policy.json"
    ));
    let role = "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026";
    let submitter = "arn:aws:iam::222222222222:role/ferry-job-submit-eu-west-1";
    let until = "when DateLessThan aws:CurrentTime 2026-12-15T13:45:50Z";
    let root = "arn:aws:iam::222222222222:root";
    assert_differences(
        &seed,
        &ours,
        &[
            // GetBucketLocation on the manifest bucket, for the role only.
            format!("+ {root} as {role} on arn:aws:s3:::src-manifests: s3:GetBucketLocation, {until}"),
            // Only the manifest object, for the role (at any version) and ferry's job
            // submitter (the current version: it reads the ETag and the first rows), instead of
            // the whole bucket for the role and a console user.
            format!("+ {root} as {role} on arn:aws:s3:::src-manifests/lists/photos.csv: s3:GetObject, s3:GetObjectVersion, {until}"),
            format!("+ {root} as {submitter} on arn:aws:s3:::src-manifests/lists/photos.csv: s3:GetObject, {until}"),
            format!("- {role} on arn:aws:s3:::src-manifests/*: s3:GetObject, s3:GetObjectVersion"),
            "- arn:aws:iam::222222222222:user/ConsoleUserCreatingJob on arn:aws:s3:::src-manifests/*: s3:GetObject, s3:GetObjectVersion".to_string(),
        ]
    );
}

#[test]
fn a_csv_manifest_in_the_destination_account_needs_no_grant() {
    let mut req = flow_b().0;
    req.manifest = Manifest::Csv {
        account_id: "222222222222".into(),
        bucket: "dst-manifests".into(),
        key: "photos.csv".into(),
    };
    let names = Names::new(&req, FERRY);
    let grants = source_account_grants(&req, &names, expiry());
    assert_eq!(grants.keys().collect::<Vec<_>>(), ["src-photos"]);
}

#[test]
fn with_overwrite_the_role_reads_nothing_at_the_destination() {
    let (mut req, names) = flow_a();
    req.destination.existing = crate::request::Existing::Overwrite;
    let policy = batch_role_policy(&req, &names, None).to_string();
    assert!(!policy.contains("DestinationRead") && !policy.contains("DestinationList"));
}

#[test]
fn the_role_policy_differs_from_the_seed_only_where_the_design_says() {
    let (req, names) = flow_a();
    let ours = batch_role_policy(&req, &names, None);
    let seed = seed(include_str!(
        "../../fixtures/seed/role-policy-inventory.json"
    ));
    let all_get = "s3:GetObject, s3:GetObjectAcl, s3:GetObjectTagging, s3:GetObjectVersion, s3:GetObjectVersionAcl, s3:GetObjectVersionTagging";
    let all_put = "s3:PutObject, s3:PutObjectAcl, s3:PutObjectTagging, s3:PutObjectVersionAcl, s3:PutObjectVersionTagging";
    assert_differences(
        &seed,
        &ours,
        &[
            // The destination bucket exactly: the seed's `dst-photos*` also matches other buckets;
            // and only in the destination account, whoever owns a bucket of that name.
            // The copy worker's multipart upload (as this role) adds ListParts and Abort; with
            // `existing` refuse (the default) it looks at each destination key before it writes.
            format!("+ (role) on arn:aws:s3:::dst-photos/*: s3:AbortMultipartUpload, s3:GetObject, s3:ListMultipartUploadParts, {all_put}, when StringEquals s3:ResourceAccount 222222222222"),
            "+ (role) on arn:aws:s3:::dst-photos: s3:ListBucket, when StringEquals s3:ResourceAccount 222222222222".to_string(),
            format!("- (role) on arn:aws:s3:::dst-photos*/*: {all_get}, {all_put}"),
            // Objects over 5 GB: the worker's job invokes it, and nothing else.
            "+ (role) on arn:aws:lambda:eu-west-1:222222222222:function:ferry-copy-worker: lambda:InvokeFunction".to_string(),
            // GetBucketLocation on the manifest and report bucket (AWS's policy examples).
            "+ (role) on arn:aws:s3:::ferry-222222222222-eu-west-1: s3:GetBucketLocation".to_string(),
            // The manifest bucket is ferry's own: only this copy's inventory deliveries and
            // retry manifests are readable, only its report prefix writable.
            "- (role) on arn:aws:s3:::ferry-222222222222-eu-west-1/*: ".to_string() + all_get + ", " + all_put,
            "+ (role) on arn:aws:s3:::ferry-222222222222-eu-west-1/inventory/src-photos/ferry-222222222222-photos-2026/*: s3:GetObject, s3:GetObjectVersion".to_string(),
            "+ (role) on arn:aws:s3:::ferry-222222222222-eu-west-1/reports/photos-2026/*: s3:PutObject, when StringEquals s3:ResourceAccount 222222222222".to_string(),
            "+ (role) on arn:aws:s3:::ferry-222222222222-eu-west-1/retry/photos-2026/*: s3:GetObject, s3:GetObjectVersion".to_string(),
            // ListBucket on the source (404, not 403, for a missing key).
            "+ (role) on arn:aws:s3:::src-photos: s3:ListBucket".to_string(),
            // The source is read, never written, and only under source.prefix.
            format!("- (role) on arn:aws:s3:::src-photos/*: {all_get}, {all_put}"),
            format!("+ (role) on arn:aws:s3:::src-photos/2026/*: {all_get}"),
            // SSE-KMS source objects: keys of the source account, through S3 only (which key,
            // the source account's grant decides).
            "+ (role) on arn:aws:kms:eu-west-1:111111111111:key/*: kms:Decrypt, when StringEquals kms:ViaService s3.eu-west-1.amazonaws.com".to_string(),
        ]
    );
}

#[test]
fn the_flow_b_role_reads_only_the_csv_in_its_bucket() {
    let (req, names) = flow_b();
    let flat = flatten(&batch_role_policy(&req, &names, None));
    let seed = flatten(&seed(include_str!(
        "../../fixtures/seed/role-policy-csv.json"
    )));
    assert!(seed.contains_key("(role) on arn:aws:s3:::src-manifests/*"));
    assert_eq!(
        flat["(role) on arn:aws:s3:::src-manifests/lists/photos.csv"],
        BTreeSet::from([
            "s3:GetObject".to_string(),
            "s3:GetObjectVersion".to_string()
        ])
    );
    assert!(flat["(role) on arn:aws:s3:::src-manifests"].contains("s3:GetBucketLocation"));
    assert!(!flat.keys().any(|k| k.ends_with("src-manifests/*")));
}

#[test]
fn a_named_report_bucket_gets_the_report_grant() {
    let (mut req, _) = flow_a();
    req.report.bucket = Some("dst-reports".into());
    let names = Names::new(&req, FERRY);
    let flat = flatten(&batch_role_policy(&req, &names, None));
    assert!(
        flat["(role) on arn:aws:s3:::dst-reports/reports/photos-2026/*"].contains("s3:PutObject")
    );
    assert!(flat["(role) on arn:aws:s3:::dst-reports"].contains("s3:GetBucketLocation"));
}

#[test]
fn every_rendered_statement_carries_this_copys_sid() {
    let (req, names) = flow_b();
    let p = CopyPolicies::render(&req, &names, expiry(), None);
    let hash = copy_hash(&req.destination.account_id, &req.copy_id);
    for s in p.role["Statement"].as_array().unwrap() {
        assert!(is_copy_statement(s, &hash), "{s}");
    }
    for statements in p.source_account_grants.values() {
        for s in statements {
            assert!(is_copy_statement(s, &hash), "{s}");
            assert_eq!(
                s["Condition"]["DateLessThan"]["aws:CurrentTime"],
                "2026-12-15T13:45:50Z"
            );
        }
    }
    let other = copy_hash("222222222222", "photos-2025");
    assert!(!is_copy_statement(&p.role["Statement"][0], &other));
}

/// The sandbox's destination stack's boundary (DestinationBuckets dst-photos and dst-archive,
/// `manifest_buckets` for ManifestBuckets).
fn boundary(manifest_buckets: &[String]) -> Value {
    permissions_boundary(&BoundaryScope {
        partition: "aws",
        region: "eu-west-1",
        own_account: "222222222222",
        source_accounts: &["111111111111".into()],
        destination_buckets: &["dst-photos".into(), "dst-archive".into()],
        manifest_buckets,
    })
}

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no {sid} in {policy}"))
}

/// The security round's finding 5: in its own account the boundary allows objects of the listed
/// buckets only (and the ferry bucket's manifests and reports), never all of the account's.
#[test]
fn the_boundary_fences_the_accounts_objects_to_the_stacks_buckets() {
    let b = boundary(&["dst-manifests".into()]);
    let mut own_objects: Vec<String> = vec![];
    for s in b["Statement"].as_array().unwrap() {
        let resources = strings(s.get("Resource"));
        if s["Condition"]["StringEquals"]["s3:ResourceAccount"] == "222222222222" {
            own_objects.extend(resources.into_iter().filter(|r| r.contains('/')));
        } else if resources.iter().any(|r| r.starts_with("arn:aws:s3:::")) {
            // Elsewhere: the source accounts' objects, never this account's.
            assert_eq!(
                s["Condition"]["StringNotEquals"]["s3:ResourceAccount"], "222222222222",
                "{s}"
            );
        }
    }
    own_objects.sort();
    assert_eq!(
        own_objects,
        [
            "arn:aws:s3:::dst-archive/*",
            "arn:aws:s3:::dst-manifests/*",
            "arn:aws:s3:::dst-photos/*",
            "arn:aws:s3:::ferry-222222222222-eu-west-1/inventory/*",
            // Written (reports), and read (flow C's manifests generated beside them).
            "arn:aws:s3:::ferry-222222222222-eu-west-1/reports/*",
            "arn:aws:s3:::ferry-222222222222-eu-west-1/reports/*",
            "arn:aws:s3:::ferry-222222222222-eu-west-1/retry/*",
        ]
    );
    // Writes: the destinations and the reports (flow C's generated manifests among them) only.
    let writes = strings(statement(&b, "FerryBoundaryReports").get("Resource"));
    assert_eq!(
        writes,
        ["arn:aws:s3:::ferry-222222222222-eu-west-1/reports/*"]
    );

    assert!(
        strings(statement(&b, "FerryBoundaryManifestBuckets").get("Action"))
            .iter()
            .all(|a| a.starts_with("s3:GetObject"))
    );
    // Without ManifestBuckets, no statement for them.
    assert!(!boundary(&[])
        .to_string()
        .contains("FerryBoundaryManifestBuckets"));
}

#[test]
fn the_boundary_allows_object_actions_bucket_reads_the_generators_one_configuration_and_restores() {
    let b = boundary(&[]);
    let actions: Vec<String> = b["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| strings(s.get("Action")))
        .collect();
    assert!(actions.iter().all(|a| a.starts_with("s3:GetObject")
        || a.starts_with("s3:PutObject")
        || a == "s3:ListMultipartUploadParts"
        || a == "s3:AbortMultipartUpload"
        || a == "lambda:InvokeFunction"
        || a == "s3:ListBucket"
        || a == "s3:GetBucketLocation"
        || a == "kms:GenerateDataKey"
        || a == "kms:Decrypt"
        || a == "s3:PutInventoryConfiguration"
        || a == "s3:RestoreObject"));
    // Restores (source.archived: restore) only in the source accounts.
    let restoring: Vec<&serde_json::Value> = b["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| strings(s.get("Action")).contains(&"s3:RestoreObject".to_string()))
        .collect();
    assert_eq!(restoring.len(), 1);
    assert_eq!(restoring[0]["Sid"], "FerryBoundarySources");
    // The one bucket configuration write (flow C's generator needs it) is allowed in the source
    // accounts only, never on this account's buckets.
    let configuring: Vec<&serde_json::Value> = b["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| strings(s.get("Action")).contains(&"s3:PutInventoryConfiguration".to_string()))
        .collect();
    assert_eq!(configuring.len(), 1);
    assert_eq!(configuring[0]["Sid"], "FerryBoundarySources");
    assert_eq!(
        configuring[0]["Condition"]["StringNotEquals"]["s3:ResourceAccount"],
        "222222222222"
    );
    // Keys: the destination account's, through S3 in the Region only.
    let keys = statement(&b, "FerryBoundaryKeys");
    assert_eq!(keys["Resource"], "arn:aws:kms:eu-west-1:222222222222:key/*");
    assert_eq!(
        keys["Condition"]["StringEquals"]["kms:ViaService"],
        "s3.eu-west-1.amazonaws.com"
    );
    // Source keys: decrypting only, keys of the source accounts only, through S3.
    let source_keys = statement(&b, "FerryBoundarySourceKeys");
    assert_eq!(source_keys["Action"], "kms:Decrypt");
    assert_eq!(
        source_keys["Condition"]["StringEquals"]["aws:ResourceAccount"],
        json!(["111111111111"])
    );
    // Everything the role policy uses is inside the boundary (a pattern's `*` matches any
    // rest), a destination key and restores included.
    let (mut req, names) = flow_b();
    req.source.archived = crate::request::Archived::Restore;
    let key = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let role = batch_role_policy(&req, &names, Some(key));
    let within = |a: &str| {
        actions.iter().any(|b| match b.strip_suffix('*') {
            Some(prefix) => a.starts_with(prefix),
            None => a == b,
        })
    };
    for s in role["Statement"].as_array().unwrap() {
        for a in strings(s.get("Action")) {
            assert!(within(&a), "{a} is outside the boundary");
        }
    }
    let statement = role["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == names.sid("DestinationKey"))
        .expect("the destination key's statement");
    assert_eq!(statement["Resource"], key);
    assert_eq!(
        statement["Condition"]["StringEquals"]["kms:ViaService"],
        "s3.eu-west-1.amazonaws.com"
    );
    assert!(
        !batch_role_policy(&req, &names, None)
            .to_string()
            .contains("kms:GenerateDataKey"),
        "no destination key, no data keys"
    );
}

// ---- merge and revoke: table tests ----

#[test]
fn kept_statements_are_found_with_their_expiry() {
    let (ours, hash) = ours_a();
    let merged = merge(
        Some(FOREIGN_POLICY_FOR_KEPT),
        &ours,
        &hash,
        PolicyKind::BucketPolicy,
        "b",
    )
    .unwrap();
    let until = copy_statements_until(Some(&merged), &hash).unwrap();
    assert_eq!(until.as_deref(), Some(format_timestamp(expiry()).as_str()));
    assert_eq!(
        copy_statements_until(Some(FOREIGN_POLICY_FOR_KEPT), &hash).unwrap(),
        None
    );
    assert_eq!(copy_statements_until(None, &hash).unwrap(), None);
    let other = crate::names::copy_hash("222222222222", "photos-2025");
    assert_eq!(copy_statements_until(Some(&merged), &other).unwrap(), None);
}

const FOREIGN_POLICY_FOR_KEPT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::src-photos/*"}]}"#;

fn ours_a() -> (Vec<Value>, String) {
    let (req, names) = flow_a();
    let grants = source_account_grants(&req, &names, expiry());
    (grants["src-photos"].clone(), names.hash.clone())
}

const FOREIGN: &str = r#"{
  "Version": "2008-10-17",
  "Id": "PolicyForCloudFront",
  "Statement": {
    "Principal": {"AWS": "333333333333"},
    "Effect": "Deny",
    "Action": "s3:DeleteObject",
    "Resource": ["arn:aws:s3:::src-photos/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}
  }
}"#;

fn statements(policy: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(policy).unwrap();
    match &v["Statement"] {
        Value::Array(a) => a.clone(),
        o => vec![o.clone()],
    }
}

#[test]
fn merging_into_no_policy_creates_one() {
    let (ours, hash) = ours_a();
    let merged = merge(None, &ours, &hash, PolicyKind::BucketPolicy, "src-photos").unwrap();
    let v: Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(v["Version"], VERSION);
    assert_eq!(v["Statement"].as_array().unwrap(), &ours);
}

#[test]
fn merging_keeps_a_single_foreign_statement_its_version_and_id() {
    let (ours, hash) = ours_a();
    let merged = merge(
        Some(FOREIGN),
        &ours,
        &hash,
        PolicyKind::BucketPolicy,
        "src-photos",
    )
    .unwrap();
    let v: Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(v["Version"], "2008-10-17");
    assert_eq!(v["Id"], "PolicyForCloudFront");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Version", "Id", "Statement"]);
    let foreign: Value = serde_json::from_str(FOREIGN).unwrap();
    let s = statements(&merged);
    assert_eq!(s[0], foreign["Statement"], "the foreign statement, exactly");
    assert_eq!(
        serde_json::to_string(&s[0]).unwrap(),
        serde_json::to_string(&foreign["Statement"]).unwrap(),
        "even its key order"
    );
    assert_eq!(&s[1..], &ours[..]);
}

#[test]
fn a_rerun_replaces_this_copys_statements_and_renews_the_expiry() {
    let (req, names) = flow_a();
    let first = source_account_grants(&req, &names, expiry())["src-photos"].clone();
    let later = source_account_grants(&req, &names, expiry() + 86_400)["src-photos"].clone();
    let once = merge(
        Some(FOREIGN),
        &first,
        &names.hash,
        PolicyKind::BucketPolicy,
        "b",
    )
    .unwrap();
    let twice = merge(
        Some(&once),
        &later,
        &names.hash,
        PolicyKind::BucketPolicy,
        "b",
    )
    .unwrap();
    let s = statements(&twice);
    assert_eq!(s.len(), 3, "no duplicate statements");
    assert_eq!(
        s[1]["Condition"]["DateLessThan"]["aws:CurrentTime"],
        "2026-12-16T13:45:50Z"
    );
    assert_eq!(
        merge(
            Some(&twice),
            &later,
            &names.hash,
            PolicyKind::BucketPolicy,
            "b"
        )
        .unwrap(),
        twice
    );
}

#[test]
fn two_copies_on_one_bucket_keep_their_own_statements() {
    let (req, names) = flow_a();
    let mut other_req = req.clone();
    other_req.copy_id = "photos-2025".into();
    let other = Names::new(&other_req, FERRY);
    let a = source_account_grants(&req, &names, expiry())["src-photos"].clone();
    let b = source_account_grants(&other_req, &other, expiry())["src-photos"].clone();
    let p = merge(
        Some(FOREIGN),
        &a,
        &names.hash,
        PolicyKind::BucketPolicy,
        "b",
    )
    .unwrap();
    let p = merge(Some(&p), &b, &other.hash, PolicyKind::BucketPolicy, "b").unwrap();
    assert_eq!(statements(&p).len(), 5);
    let Revoked::Write(after) = revoke(Some(&p), &names.hash).unwrap() else {
        panic!("the other copy's grants remain")
    };
    let s = statements(&after);
    assert_eq!(s.len(), 3);
    assert_eq!(&s[1..], &b[..], "the other copy's statements are untouched");
}

#[test]
fn statements_without_sid_or_with_lookalike_sids_are_foreign() {
    let hash = copy_hash("222222222222", "photos-2026");
    for sid in [
        json!(null),
        json!("FerrySourceRead"),
        json!(format!("Ferry{hash}")),
        json!(format!("Ferry1{hash}")),
        json!(format!("NotFerrySourceRead{hash}")),
        json!(format!("FerrySourceRead{hash}x")),
        json!(42),
    ] {
        let s = json!({"Sid": sid, "Effect": "Allow"});
        assert!(!is_copy_statement(&s, &hash), "{s}");
    }
    assert!(is_copy_statement(
        &json!({"Sid": format!("FerrySourceRead{hash}")}),
        &hash
    ));
}

#[test]
fn revoking_the_last_statements_deletes_the_policy() {
    let (ours, hash) = ours_a();
    let merged = merge(None, &ours, &hash, PolicyKind::BucketPolicy, "b").unwrap();
    assert_eq!(revoke(Some(&merged), &hash).unwrap(), Revoked::Delete);
    assert_eq!(revoke(None, &hash).unwrap(), Revoked::Unchanged);
    assert_eq!(revoke(Some(FOREIGN), &hash).unwrap(), Revoked::Unchanged);
}

#[test]
fn a_policy_that_would_be_too_large_is_refused_with_its_size() {
    let (ours, hash) = ours_a();
    // A foreign policy just under the limit: 300 bytes of room, less than ferry's statements.
    let mut filler: Vec<Value> = Vec::new();
    let doc = |f: &Vec<Value>| json!({"Version": VERSION, "Statement": f}).to_string();
    loop {
        let i = filler.len();
        filler.push(json!({"Sid": format!("Other{i}"), "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::src-photos/public/{i}/*")}));
        if doc(&filler).len() > 20 * 1024 - 300 {
            filler.pop();
            break;
        }
    }
    let existing = doc(&filler);
    assert!(existing.len() < 20 * 1024);
    let err = merge(
        Some(&existing),
        &ours,
        &hash,
        PolicyKind::BucketPolicy,
        "the bucket policy of src-photos",
    )
    .unwrap_err();
    let PolicyError::TooLarge { size, limit, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*limit, 20_480);
    assert!(*size > 20_480);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the bucket policy of src-photos would be {size} after merging"
        )),
        "{text}"
    );
    assert_eq!(StepError::from(err).name, ErrorName::PolicyTooLarge);
}

#[test]
fn role_inline_policies_count_characters_without_white_space() {
    let (req, names) = flow_b();
    let role = batch_role_policy(&req, &names, None);
    let pretty = serde_json::to_string_pretty(&role).unwrap();
    let compact = role.to_string();
    assert_eq!(
        PolicyKind::RoleInline.measure(&pretty),
        PolicyKind::RoleInline.measure(&compact)
    );
    assert!(PolicyKind::RoleInline.measure(&compact) < PolicyKind::RoleInline.limit() / 2);
}

#[test]
fn malformed_policies_are_reported_not_overwritten() {
    let (ours, hash) = ours_a();
    for bad in ["[1,2]", "{\"Statement\": 3}", "not json"] {
        assert!(
            merge(Some(bad), &ours, &hash, PolicyKind::BucketPolicy, "b").is_err(),
            "{bad}"
        );
        assert!(revoke(Some(bad), &hash).is_err(), "{bad}");
    }
}

#[test]
fn read_back_sees_through_what_aws_rewrites() {
    let (ours, _) = ours_a();
    // AWS returns one-element arrays as strings and may reorder keys.
    let mut rewritten = ours.clone();
    for s in &mut rewritten {
        let m = s.as_object_mut().unwrap();
        if let Some(Value::String(a)) = m.get("Action").cloned() {
            m.insert("Action".into(), json!([a]));
        }
        m.insert("Principal".into(), json!({"AWS": ["222222222222"]}));
        let cond = m.remove("Condition").unwrap();
        m.insert("Condition".into(), cond);
    }
    let policy = bucket_doc(&rewritten).to_string();
    assert!(missing_statements(Some(&policy), &ours).unwrap().is_empty());
    // A writer that dropped one of them is noticed.
    let dropped = bucket_doc(&rewritten[..1]).to_string();
    assert_eq!(
        missing_statements(Some(&dropped), &ours).unwrap(),
        [ours[1]["Sid"].as_str().unwrap()]
    );
    assert_eq!(missing_statements(None, &ours).unwrap().len(), 2);
    // An expiry that changed is a missing statement too.
    let (req, names) = flow_a();
    let later = source_account_grants(&req, &names, expiry() + 1)["src-photos"].clone();
    assert_eq!(missing_statements(Some(&policy), &later).unwrap().len(), 2);
}

#[test]
fn iam_documents_are_url_decoded() {
    let (_, names) = flow_a();
    let doc = batch_trust_policy(&names).to_string();
    let encoded: String =
        percent_encoding::utf8_percent_encode(&doc, percent_encoding::NON_ALPHANUMERIC).to_string();
    assert_eq!(decode_iam_document(&encoded).unwrap(), doc);
    assert_eq!(decode_iam_document(&doc).unwrap(), doc, "already decoded");
    assert!(decode_iam_document("%FF%FE").is_err());
}

// ---- merge and revoke: properties over arbitrary existing policies ----

fn string_or_array(item: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Value> {
    prop_oneof![
        item.clone().prop_map(Value::String),
        proptest::collection::vec(item, 1..4).prop_map(|v| json!(v)),
    ]
}

fn foreign_statement() -> impl Strategy<Value = Value> {
    let other_copy = prop_oneof![Just("photos-2025"), Just("logs"), Just("x")]
        .prop_map(|id| format!("FerrySourceRead{}", copy_hash("222222222222", id)));
    let sid = prop_oneof![
        Just(None),
        "[A-Za-z0-9]{1,16}".prop_map(Some),
        other_copy.prop_map(Some),
    ];
    let action = string_or_array("s3:[A-Z][a-zA-Z]{2,12}".prop_map(String::from));
    let resource = string_or_array("arn:aws:s3:::[a-z]{3,8}(/[a-z*]{0,6})?".prop_map(String::from));
    let principal = prop_oneof![
        Just(None),
        Just(Some(json!("*"))),
        string_or_array("[0-9]{12}".prop_map(String::from)).prop_map(|p| Some(json!({"AWS": p}))),
        Just(Some(json!({"Service": "cloudfront.amazonaws.com"}))),
    ];
    let condition = prop_oneof![
        Just(None),
        Just(Some(json!({"Bool": {"aws:SecureTransport": "false"}}))),
        string_or_array("[0-9]{12}".prop_map(String::from))
            .prop_map(|v| Some(json!({"StringEquals": {"aws:SourceAccount": v}}))),
    ];
    (
        sid,
        prop_oneof![Just("Allow"), Just("Deny")],
        action,
        resource,
        principal,
        condition,
    )
        .prop_map(|(sid, effect, action, resource, principal, condition)| {
            let mut m = serde_json::Map::new();
            if let Some(sid) = sid {
                m.insert("Sid".into(), json!(sid));
            }
            m.insert("Effect".into(), json!(effect));
            if let Some(p) = principal {
                m.insert("Principal".into(), p);
            }
            m.insert("Action".into(), action);
            m.insert("Resource".into(), resource);
            if let Some(c) = condition {
                m.insert("Condition".into(), c);
            }
            Value::Object(m)
        })
}

/// An existing policy: no policy at all, or a document with or without Version and Id, whose
/// Statement is one object or an array (possibly empty).
fn existing_policy() -> impl Strategy<Value = Option<String>> {
    let doc = (
        proptest::collection::vec(foreign_statement(), 0..6),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some("2012-10-17")),
            Just(Some("2008-10-17"))
        ],
        proptest::option::of("[a-zA-Z0-9-]{1,12}"),
    )
        .prop_map(|(statements, single, version, id)| {
            let mut m = serde_json::Map::new();
            if let Some(v) = version {
                m.insert("Version".into(), json!(v));
            }
            if let Some(id) = id {
                m.insert("Id".into(), json!(id));
            }
            let st = if single && statements.len() == 1 {
                statements[0].clone()
            } else {
                json!(statements)
            };
            m.insert("Statement".into(), st);
            Value::Object(m).to_string()
        });
    prop_oneof![1 => Just(None), 9 => doc.prop_map(Some)]
}

fn foreign_of(policy: Option<&str>, hash: &str) -> Vec<Value> {
    policy
        .map(|p| {
            statements(p)
                .into_iter()
                .filter(|s| !is_copy_statement(s, hash))
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merge_is_idempotent(existing in existing_policy()) {
        let (ours, hash) = ours_a();
        let once = merge(existing.as_deref(), &ours, &hash, PolicyKind::BucketPolicy, "b").unwrap();
        let twice = merge(Some(&once), &ours, &hash, PolicyKind::BucketPolicy, "b").unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn merge_leaves_every_foreign_statement_unchanged(existing in existing_policy()) {
        let (ours, hash) = ours_a();
        let merged = merge(existing.as_deref(), &ours, &hash, PolicyKind::BucketPolicy, "b").unwrap();
        prop_assert_eq!(foreign_of(Some(&merged), &hash), foreign_of(existing.as_deref(), &hash));
        let mine: Vec<Value> = statements(&merged).into_iter().filter(|s| is_copy_statement(s, &hash)).collect();
        prop_assert_eq!(mine, ours);
    }

    #[test]
    fn revoke_undoes_merge(existing in existing_policy()) {
        let (ours, hash) = ours_a();
        let merged = merge(existing.as_deref(), &ours, &hash, PolicyKind::BucketPolicy, "b").unwrap();
        let had_statements = existing.as_deref().is_some_and(|p| !statements(p).is_empty());
        match revoke(Some(&merged), &hash).unwrap() {
            Revoked::Write(after) => {
                prop_assert!(had_statements);
                let before: Value = serde_json::from_str(existing.as_deref().unwrap()).unwrap();
                let after: Value = serde_json::from_str(&after).unwrap();
                prop_assert_eq!(normalize(&after), normalize(&before));
            }
            Revoked::Delete => prop_assert!(!had_statements),
            Revoked::Unchanged => prop_assert!(false, "merge added statements, revoke must remove them"),
        }
    }
}

/// A foreign policy of Version 2008-10-17 (or none, which means it) takes ferry's statements
/// as they are while none holds `${`; one that does (a key with `*`, escaped `${*}`) raises the
/// document to 2012-10-17, under which IAM reads the escape, unless a foreign statement holds
/// `${` itself (its meaning would change): then the merge is refused, naming it.
#[test]
fn a_2008_policy_is_raised_only_when_ferrys_statements_need_it() {
    // Without `${` in ours, the foreign 2008-10-17 stays:
    // merging_keeps_a_single_foreign_statement_its_version_and_id.
    let (ours, hash) = ours_a();
    let mut escaped = ours.clone();
    escaped[0]["Resource"] = json!("arn:aws:s3:::src-photos/a${*}b/*");
    let raised = merge(
        Some(FOREIGN),
        &escaped,
        &hash,
        PolicyKind::BucketPolicy,
        "src-photos",
    )
    .unwrap();
    let v: Value = serde_json::from_str(&raised).unwrap();
    assert_eq!(v["Version"], VERSION);
    let foreign: Value = serde_json::from_str(FOREIGN).unwrap();
    assert_eq!(
        statements(&raised)[0],
        foreign["Statement"],
        "the foreign statement, exactly"
    );
    let unversioned = r#"{"Statement":[{"Sid":"Home","Effect":"Allow","Principal":{"AWS":"333333333333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::src-photos/home/${aws:username}/*"}]}"#;
    let err = merge(
        Some(unversioned),
        &escaped,
        &hash,
        PolicyKind::BucketPolicy,
        "src-photos",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("src-photos's policy is Version (none, which means 2008-10-17) and its statement \"Home\" holds `${`"),
        "{err}"
    );
}

/// The copy worker's session policy (`Clients::s3_as`): within STS's 2,048 characters, allowing
/// whatever the role may and denying only flow C's generator permission and the restores.
#[test]
fn the_workers_session_policy_denies_the_generators_action_and_restores_only() {
    let text = crate::clients::ASSUMED_SESSION_POLICY;
    assert!(text.len() <= 2048);
    let p: Value = serde_json::from_str(text).unwrap();
    let statements = p["Statement"].as_array().unwrap();
    let denied: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .collect();
    assert_eq!(denied.len(), 2);
    assert_eq!(denied[0]["Action"], "s3:PutInventoryConfiguration");
    assert_eq!(denied[1]["Action"], "s3:RestoreObject");
    assert!(statements
        .iter()
        .any(|s| s["Effect"] == "Allow" && s["Action"] == "*" && s["Resource"] == "*"));
}
