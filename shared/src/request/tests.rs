use super::StackContext;
use super::*;
use serde_json::{json, Value};

pub(crate) fn ctx() -> StackContext {
    crate::testing::destination_stack().context()
}

fn flow_a() -> Value {
    serde_json::from_str(include_str!("../../fixtures/request-inventory.json")).unwrap()
}

fn flow_b() -> Value {
    serde_json::from_str(include_str!("../../fixtures/request-csv.json")).unwrap()
}

fn parse(v: &Value) -> Result<CopyRequest, Violations> {
    CopyRequest::from_json(&v.to_string())
}

fn violations(v: &Value) -> Violations {
    let req = parse(v).expect("parses");
    req.validate(&ctx()).expect_err("must be invalid")
}

/// Sets a JSON pointer path in a copy of `base`.
fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut base
    } else {
        base.pointer_mut(parent).unwrap()
    };
    target
        .as_object_mut()
        .unwrap()
        .insert(last.to_string(), value);
    base
}

#[test]
fn the_design_examples_parse_and_validate() {
    let a = parse(&flow_a()).unwrap();
    a.validate(&ctx()).unwrap();
    assert_eq!(a.flow(), Flow::Inventory);
    assert_eq!(a.job.tags.get("team").map(String::as_str), Some("media"));

    let b = parse(&flow_b()).unwrap();
    b.validate(&ctx()).unwrap();
    assert_eq!(b.flow(), Flow::Csv);
    assert_eq!(
        b.manifest,
        Manifest::Csv {
            account_id: "111111111111".into(),
            bucket: "src-manifests".into(),
            key: "lists/photos.csv".into()
        }
    );
}

#[test]
fn a_minimal_request_gets_the_documented_defaults() {
    let minimal = json!({
        "copyId": "photos-2026",
        "region": "eu-west-1",
        "source": { "accountId": "111111111111", "bucket": "src-photos" },
        "destination": { "accountId": "222222222222", "bucket": "dst-photos" },
        "manifest": { "kind": "inventory" }
    });
    let req = parse(&minimal).unwrap();
    req.validate(&ctx()).unwrap();
    assert_eq!(req.source.prefix, "");
    assert_eq!(req.destination.key_prefix, "");
    assert_eq!(req.destination.storage_class, StorageClass::Standard);
    assert_eq!(req.destination.metadata_directive, MetadataDirective::Copy);
    assert_eq!(req.report.scope, ReportScope::FailedTasksOnly);
    assert_eq!(req.job.priority, 10);
    assert_eq!(req.retry.max_attempts, 2);
    assert_eq!(req.timing.poll_seconds, 60);
    assert_eq!(req.timing.inventory_check_seconds, 21_600);
    assert_eq!(req.timing.inventory_deadline_seconds, 259_200);
    assert_eq!(req.timing.grant_lifetime_seconds, 1_468_800);
    assert!(req.cleanup.revoke_grants && req.cleanup.remove_inventory);
}

#[test]
fn a_request_survives_a_round_trip_through_its_stored_form() {
    for v in [flow_a(), flow_b()] {
        let req = parse(&v).unwrap();
        let stored = serde_json::to_string(&req).unwrap();
        assert_eq!(CopyRequest::from_json(&stored).unwrap(), req);
    }
}

#[test]
fn structural_errors_name_the_field_path() {
    let cases = [
        (
            with(flow_a(), "/destination/storageClass", json!("COLD")),
            "destination.storageClass",
        ),
        (
            with(flow_a(), "/source/colour", json!("red")),
            "source.colour",
        ),
        (with(flow_a(), "/retries", json!(3)), "retries"),
        (
            with(flow_a(), "/manifest", json!({"kind": "listing"})),
            "manifest.kind",
        ),
        (
            with(
                flow_a(),
                "/manifest",
                json!({"kind": "inventory", "bucket": "x"}),
            ),
            "manifest",
        ),
        (
            with(flow_a(), "/job/priority", json!("high")),
            "job.priority",
        ),
        (
            with(flow_a(), "/report/scope", json!("Everything")),
            "report.scope",
        ),
        (
            with(flow_a(), "/timing/pollSeconds", json!(-5)),
            "timing.pollSeconds",
        ),
    ];
    for (value, field) in cases {
        let err = parse(&value).expect_err(field);
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].field, field, "{err}");
    }
    let missing = json!({"copyId": "x", "region": "eu-west-1"});
    let err = parse(&missing).unwrap_err();
    assert!(err.0[0].rule.contains("missing field `source`"), "{err}");
}

/// A request with several problems gets one answer naming every one of them.
#[test]
fn a_broken_request_is_reported_whole() {
    let req = json!({
        "copyId": 7,
        "source": {"accountId": "111111111111"},
        "destination": {"accountId": "222222222222", "bucket": "dst-photos", "storageClass": "COLD", "colour": "red"},
        "manifest": {"kind": "csv", "bucket": "src-manifests"},
        "job": {"priority": "high", "tags": {"team": 3}}
    });
    let err = parse(&req).unwrap_err();
    let mut fields = err.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "copyId",
            "destination.colour",
            "destination.storageClass",
            "job.priority",
            "job.tags.team",
            "manifest.accountId",
            "manifest.key",
            "region",
            "source.bucket",
        ],
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("region: is required: missing field `region`"),
        "{err}"
    );
    // A request that parses is never reported through this path.
    assert!(parse(&flow_b()).is_ok());
}

/// Each case breaks one rule; the violation names the field and says which rule.
#[test]
fn every_rule_is_reported_with_its_field() {
    let long = "a".repeat(41);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(flow_a(), "/copyId", json!("Photos")),
            "copyId",
            "lowercase",
        ),
        (
            with(flow_a(), "/copyId", json!("photos--2026")),
            "copyId",
            "single hyphens",
        ),
        (
            with(flow_a(), "/copyId", json!("-photos")),
            "copyId",
            "starting and ending",
        ),
        (with(flow_a(), "/copyId", json!(long)), "copyId", "1 to 40"),
        (with(flow_a(), "/copyId", json!("")), "copyId", "1 to 40"),
        (
            with(flow_a(), "/copyId", json!("nightly-cleanup")),
            "copyId",
            "cleanup",
        ),
        (
            with(flow_a(), "/region", json!("europe")),
            "region",
            "not an AWS Region",
        ),
        (
            with(flow_a(), "/region", json!("us-east-1")),
            "region",
            "one Region",
        ),
        (
            with(flow_a(), "/source/accountId", json!("11111111111")),
            "source.accountId",
            "12-digit",
        ),
        (
            with(flow_a(), "/source/accountId", json!("11111111111a")),
            "source.accountId",
            "12-digit",
        ),
        (
            with(flow_a(), "/source/accountId", json!("333333333333")),
            "source.accountId",
            "SourceAccountIds",
        ),
        (
            with(flow_a(), "/source/accountId", json!("222222222222")),
            "source.accountId",
            "two accounts",
        ),
        (
            with(flow_a(), "/source/bucket", json!("src-unlisted")),
            "source.bucket",
            "src-unlisted is not in the stacks' SourceBuckets parameter (src-photos, src-manifests)",
        ),
        (
            with(flow_b(), "/manifest/bucket", json!("src-unlisted")),
            "manifest.bucket",
            "SourceBuckets",
        ),
        (
            with(flow_a(), "/destination/accountId", json!("444444444444")),
            "destination.accountId",
            "destination stack",
        ),
        (
            with(flow_a(), "/source/bucket", json!("ab")),
            "source.bucket",
            "3 to 63",
        ),
        (
            with(flow_a(), "/source/bucket", json!("b".repeat(64))),
            "source.bucket",
            "3 to 63",
        ),
        (
            with(flow_a(), "/source/bucket", json!("Src_Photos")),
            "source.bucket",
            "lowercase letters",
        ),
        (
            with(flow_a(), "/source/bucket", json!("src-photos-")),
            "source.bucket",
            "begin and end",
        ),
        (
            with(flow_a(), "/source/bucket", json!("src..photos")),
            "source.bucket",
            "adjacent dots",
        ),
        (
            with(flow_a(), "/source/bucket", json!("192.168.5.4")),
            "source.bucket",
            "IP address",
        ),
        (
            with(flow_a(), "/source/bucket", json!("xn--photos")),
            "source.bucket",
            "`xn--`",
        ),
        (
            with(flow_a(), "/source/bucket", json!("sthree-photos")),
            "source.bucket",
            "`sthree-`",
        ),
        (
            with(
                flow_a(),
                "/destination/bucket",
                json!("amzn-s3-demo-bucket"),
            ),
            "destination.bucket",
            "`amzn-s3-demo-`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("photos-s3alias")),
            "destination.bucket",
            "`-s3alias`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("photos--ol-s3")),
            "destination.bucket",
            "`--ol-s3`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("photos.mrap")),
            "destination.bucket",
            "`.mrap`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("photos--x-s3")),
            "destination.bucket",
            "`--x-s3`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("photos--table-s3")),
            "destination.bucket",
            "`--table-s3`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("src-photos")),
            "destination.bucket",
            "must differ from source.bucket",
        ),
        (
            with(
                flow_a(),
                "/destination/bucket",
                json!("ferry-222222222222-eu-west-1"),
            ),
            "destination.bucket",
            "ferry's own bucket",
        ),
        (
            with(flow_a(), "/source/prefix", json!("p".repeat(1025))),
            "source.prefix",
            "1024 bytes",
        ),
        (
            with(flow_a(), "/destination/keyPrefix", json!("é".repeat(513))),
            "destination.keyPrefix",
            "1024 bytes",
        ),
        (
            with(flow_b(), "/manifest/key", json!("")),
            "manifest.key",
            "1 to 1024",
        ),
        (
            with(flow_b(), "/manifest/bucket", json!("Manifests")),
            "manifest.bucket",
            "lowercase",
        ),
        (
            with(flow_b(), "/manifest/bucket", json!("dst-photos")),
            "manifest.bucket",
            "overwrite its own manifest",
        ),
        (
            with(flow_b(), "/manifest/accountId", json!("333333333333")),
            "manifest.accountId",
            "source or the destination",
        ),
        (
            with(flow_a(), "/report/bucket", json!("src-photos")),
            "report.bucket",
            "stay in the ferry bucket",
        ),
        (
            with(flow_a(), "/report/bucket", json!("dst-photos")),
            "report.bucket",
            "must be ferry-222222222222-eu-west-1 (or absent)",
        ),
        (
            with(flow_a(), "/report/prefix", json!("control")),
            "report.prefix",
            "control/, inventory/ and retry/ are ferry's own",
        ),
        (
            with(flow_a(), "/report/prefix", json!("reportsX")),
            "report.prefix",
            "must be `reports` or begin with `reports/`",
        ),
        (
            with(flow_a(), "/destination/bucket", json!("prod-backups")),
            "destination.bucket",
            "prod-backups is not in the destination stack's DestinationBuckets parameter (dst-photos)",
        ),
        (
            with(
                with(flow_b(), "/manifest/accountId", json!("222222222222")),
                "/manifest/bucket",
                json!("dst-other"),
            ),
            "manifest.bucket",
            "dst-other is not in the destination stack's ManifestBuckets parameter (dst-manifests)",
        ),
        (
            with(flow_a(), "/job/tags", json!({"team": "a;b"})),
            "job.tags.team",
            "found ';'",
        ),
        (
            with(flow_a(), "/job/tags", json!({"a\tb": "x"})),
            "job.tags.a\tb",
            "found '\\t'",
        ),
        (
            with(flow_a(), "/report/prefix", json!("r".repeat(401))),
            "report.prefix",
            "1 to 400",
        ),
        (
            with(flow_a(), "/report/prefix", json!("reports/")),
            "report.prefix",
            "start or end",
        ),
        (
            with(flow_a(), "/job/priority", json!(-1)),
            "job.priority",
            "0 and 2147483647",
        ),
        (
            with(flow_a(), "/job/priority", json!(2_147_483_648_i64)),
            "job.priority",
            "0 and 2147483647",
        ),
        (
            with(flow_a(), "/job/description", json!("d".repeat(257))),
            "job.description",
            "1 to 256",
        ),
        (
            with(flow_a(), "/job/tags", json!({"aws:owner": "me"})),
            "job.tags.aws:owner",
            "reserved",
        ),
        (
            with(flow_a(), "/job/tags", json!({"team": "v".repeat(257)})),
            "job.tags.team",
            "256",
        ),
        (
            with(
                flow_a(),
                "/job/tags",
                Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect()),
            ),
            "job.tags",
            "at most 50",
        ),
        (
            with(flow_a(), "/retry/maxAttempts", json!(11)),
            "retry.maxAttempts",
            "between 0 and 10",
        ),
        (
            with(flow_a(), "/timing/pollSeconds", json!(0)),
            "timing.pollSeconds",
            "between 1 and 900",
        ),
        (
            with(flow_a(), "/timing/pollSeconds", json!(3600)),
            "timing.pollSeconds",
            "between 1 and 900",
        ),
        (
            with(flow_a(), "/timing/maxPollSeconds", json!(30)),
            "timing.maxPollSeconds",
            "between timing.pollSeconds (60) and 900 (got 30)",
        ),
        (
            with(flow_a(), "/timing/maxPollSeconds", json!(901)),
            "timing.maxPollSeconds",
            "between timing.pollSeconds (60) and 900",
        ),
        (
            with(flow_a(), "/timing/inventoryCheckSeconds", json!(300_000)),
            "timing.inventoryCheckSeconds",
            "inventoryDeadlineSeconds",
        ),
        (
            with(
                flow_a(),
                "/timing/inventoryDeadlineSeconds",
                json!(40 * 86_400),
            ),
            "timing.inventoryDeadlineSeconds",
            "31 days",
        ),
        (
            with(flow_a(), "/timing/grantLifetimeSeconds", json!(30)),
            "timing.grantLifetimeSeconds",
            "between 60",
        ),
    ];
    assert!(cases.len() >= 25);
    for (value, field, rule) in cases {
        let err = violations(&value);
        assert!(
            err.0
                .iter()
                .any(|v| v.field == field && v.rule.contains(rule)),
            "expected `{field}: ...{rule}...`, got:\n{err}"
        );
    }
}

#[test]
fn all_violations_are_reported_at_once() {
    let mut bad = with(flow_b(), "/copyId", json!("Bad_Id"));
    bad = with(bad, "/source/bucket", json!("ab"));
    bad = with(bad, "/destination/accountId", json!("12"));
    bad = with(bad, "/job/priority", json!(-3));
    bad = with(bad, "/timing/pollSeconds", json!(0));
    let err = violations(&bad);
    let fields = err.fields();
    for f in [
        "copyId",
        "source.bucket",
        "destination.accountId",
        "job.priority",
        "timing.pollSeconds",
    ] {
        assert!(fields.contains(&f), "{f} missing from:\n{err}");
    }
    let text = err.to_string();
    assert!(text.starts_with(&format!("the copy request breaks {} rules:", err.0.len())));
    assert!(text.contains("\n  - source.bucket: bucket names are 3 to 63 characters long"));
}

#[test]
fn an_empty_allow_list_says_so() {
    let mut c = ctx();
    c.source_account_ids.clear();
    let err = parse(&flow_a()).unwrap().validate(&c).unwrap_err();
    assert!(
        err.to_string()
            .contains("SourceAccountIds parameter (empty)"),
        "{err}"
    );
}

#[test]
fn valid_bucket_names_pass() {
    for name in [
        "abc",
        "my.bucket.name",
        "a1-b2",
        "x".repeat(63).as_str(),
        "1.2.3.4.5",
    ] {
        assert!(bucket_name_violations(name).is_empty(), "{name}");
    }
}

#[test]
fn the_manifest_may_live_in_the_destination_account() {
    let b = with(flow_b(), "/manifest/accountId", json!("222222222222"));
    let b = with(b, "/manifest/bucket", json!("dst-manifests"));
    parse(&b).unwrap().validate(&ctx()).unwrap();
}

#[test]
fn an_empty_bucket_list_refuses_every_source_bucket() {
    let mut c = ctx();
    c.source_buckets.clear();
    let err = parse(&flow_b()).unwrap().validate(&c).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "source.bucket: src-photos is not in the stacks' SourceBuckets parameter (empty)"
        ),
        "{text}"
    );
    assert!(
        text.contains("manifest.bucket: src-manifests is not"),
        "{text}"
    );
}

#[test]
fn destination_encryption_names_a_key_of_the_destination_account_or_none() {
    let key = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let kms = |e: Value| with(flow_b(), "/destination/encryption", e);
    for ok in [
        json!({"type": "SSE-S3"}),
        json!({"type": "SSE-KMS", "kmsKeyArn": key}),
        json!({"type": "SSE-KMS", "kmsKeyArn": key, "bucketKeyEnabled": true}),
    ] {
        let req = parse(&kms(ok.clone())).unwrap();
        req.validate(&ctx()).unwrap_or_else(|v| panic!("{ok}: {v}"));
    }
    let cases = [
        (json!({"type": "SSE-KMS"}), "destination.encryption.kmsKeyArn", "is required for SSE-KMS"),
        (
            json!({"type": "SSE-KMS", "kmsKeyArn": key.replace("222222222222", "111111111111")}),
            "destination.encryption.kmsKeyArn",
            "a key ARN of the destination account in the copy's Region (arn:aws:kms:eu-west-1:222222222222:key/<key id>)",
        ),
        (
            json!({"type": "SSE-KMS", "kmsKeyArn": "arn:aws:kms:eu-west-1:222222222222:alias/photos"}),
            "destination.encryption.kmsKeyArn",
            "not an alias",
        ),
        (
            json!({"type": "SSE-KMS", "kmsKeyArn": key.replace("eu-west-1", "us-east-1")}),
            "destination.encryption.kmsKeyArn",
            "in the copy's Region",
        ),
        (json!({"type": "SSE-S3", "kmsKeyArn": key}), "destination.encryption.kmsKeyArn", "only for SSE-KMS"),
        (json!({"type": "SSE-S3", "bucketKeyEnabled": true}), "destination.encryption.bucketKeyEnabled", "only for SSE-KMS"),
    ];
    for (e, field, rule) in cases {
        let v = violations(&kms(e.clone()));
        assert!(
            v.0.iter()
                .any(|x| x.field == field && x.rule.contains(rule)),
            "{e}: {v}"
        );
    }
    // Structure: an unknown type, an unknown field.
    for (e, field) in [
        (json!({"type": "SSE-C"}), "destination.encryption.type"),
        (
            json!({"type": "SSE-S3", "key": "x"}),
            "destination.encryption",
        ),
    ] {
        let v = parse(&kms(e.clone())).unwrap_err();
        assert!(v.0.iter().any(|x| x.field.starts_with(field)), "{e}: {v}");
    }
}

#[test]
fn multipart_settings_stay_within_s3s_part_limits() {
    let ok = parse(&flow_b()).unwrap();
    assert_eq!(
        (ok.multipart.parts_in_flight, ok.multipart.part_mib),
        (16, 256),
        "defaults"
    );
    for (m, field, rule) in [
        (
            json!({"partsInFlight": 0}),
            "multipart.partsInFlight",
            "between 1 and 64 (got 0)",
        ),
        (
            json!({"partsInFlight": 65}),
            "multipart.partsInFlight",
            "between 1 and 64",
        ),
        (
            json!({"partMiB": 4}),
            "multipart.partMiB",
            "between 5 and 5120",
        ),
        (
            json!({"partMiB": 5121}),
            "multipart.partMiB",
            "5 MiB to 5 GiB",
        ),
    ] {
        let v = violations(&with(flow_b(), "/multipart", m.clone()));
        assert!(
            v.0.iter()
                .any(|x| x.field == field && x.rule.contains(rule)),
            "{m}: {v}"
        );
    }
    let unknown = parse(&with(flow_b(), "/multipart", json!({"parts": 3}))).unwrap_err();
    assert!(
        unknown.0.iter().any(|x| x.field.starts_with("multipart")),
        "{unknown}"
    );
}

#[test]
fn a_key_with_a_dot_is_an_unknown_field_not_a_crash() {
    let mut v = flow_b();
    v["source.bucket"] = json!("src-photos");
    v["job"]["a.b"] = json!(1);
    v["job"]["tags"] = json!({"team.name": "media"});
    let err = parse(&v).unwrap_err();
    let fields: Vec<&str> = err.0.iter().map(|x| x.field.as_str()).collect();
    assert!(fields.contains(&"source.bucket"), "{err}");
    assert!(fields.contains(&"job.a.b"), "{err}");
    assert!(
        err.to_string().contains(
            "unknown field `source.bucket`: no field of a copy request has a `.` in its name"
        ),
        "{err}"
    );
    // A tag key may have a dot (S3 Control's tag pattern allows it).
    assert!(!fields.iter().any(|f| f.contains("team.name")), "{err}");
}

#[test]
fn prefixes_iam_cannot_hold_are_refused_naming_the_field_and_the_rule() {
    // Latin-1 (U+00E9) is within IAM's character set; CJK (U+5199) and an emoji are not.
    let ok = with(flow_a(), "/source/prefix", json!("café/2026/"));
    parse(&ok).unwrap().validate(&ctx()).unwrap();
    let v = violations(&with(
        with(flow_b(), "/source/prefix", json!("写真/2024/")),
        "/destination/keyPrefix",
        json!("backup-📷/"),
    ));
    assert_eq!(v.fields(), ["source.prefix", "destination.keyPrefix"]);
    let text = v.to_string();
    assert!(text.contains("`写` (U+5199)"), "{text}");
    assert!(text.contains("U+0020 to U+00FF"), "{text}");
    assert!(text.contains("(U+1F4F7)"), "{text}");
    let v = violations(&with(flow_b(), "/manifest/key", json!("lists/写真.csv")));
    assert_eq!(v.fields(), ["manifest.key"]);
}

fn flow_c() -> Value {
    serde_json::from_str(include_str!("../../fixtures/request-generated.json")).unwrap()
}

#[test]
fn flow_c_parses_with_its_filter_and_its_defaults() {
    let c = parse(&flow_c()).unwrap();
    c.validate(&ctx()).unwrap();
    assert_eq!(c.flow(), Flow::Generated);
    let f = c.manifest.generated_filter().unwrap();
    assert_eq!(f.created_before.as_deref(), Some("2026-11-01T00:00:00Z"));
    assert_eq!(f.overlap_seconds, OVERLAP_SECONDS_DEFAULT);
    assert!(!f.incremental);
    // Absent storage classes: every class a copy can read as it is.
    assert_eq!(
        f.storage_classes(),
        [
            StorageClass::Standard,
            StorageClass::StandardIa,
            StorageClass::OnezoneIa,
            StorageClass::IntelligentTiering,
            StorageClass::GlacierIr
        ]
    );
    let bare = with(flow_c(), "/manifest", json!({"kind": "generated"}));
    let bare = parse(&bare).unwrap();
    bare.validate(&ctx()).unwrap();
    assert_eq!(
        bare.manifest.generated_filter(),
        Some(&GeneratedFilter::default())
    );
}

#[test]
fn flow_c_filter_rules_name_each_field() {
    let bad = with(
        flow_c(),
        "/manifest/filter",
        json!({
            "createdAfter": "yesterday",
            "createdBefore": "2026-11-01T00:00:00Z",
            "sizeGreaterThanBytes": 100,
            "sizeLessThanBytes": 101,
            "storageClasses": ["STANDARD", "GLACIER"],
            "incremental": true,
            "overlapSeconds": 0
        }),
    );
    let v = violations(&bad);
    let text = v.to_string();
    assert_eq!(
        v.fields(),
        [
            "manifest.filter.createdAfter",
            "manifest.filter.sizeLessThanBytes",
            "manifest.filter.storageClasses",
            "manifest.filter.overlapSeconds",
            "manifest.filter.incremental"
        ],
        "{text}"
    );
    assert!(text.contains("GLACIER objects are archived"), "{text}");
    let backwards = with(
        flow_c(),
        "/manifest/filter",
        json!({"createdAfter": "2026-11-02T00:00:00Z", "createdBefore": "2026-11-01T00:00:00Z"}),
    );
    assert_eq!(
        violations(&backwards).fields(),
        ["manifest.filter.createdBefore"]
    );
    let unknown = with(flow_c(), "/manifest/filter", json!({"sizeAbove": 1}));
    let err = parse(&unknown).unwrap_err();
    assert!(err.to_string().contains("sizeAbove"), "{err}");
}

#[test]
fn archived_objects_are_skipped_unless_the_request_restores_them() {
    let a = parse(&flow_a()).unwrap();
    assert_eq!(a.source.archived, Archived::Skip);
    assert!(!a.restores());
    let restoring = with(flow_a(), "/source/archived", json!("restore"));
    let r = parse(&restoring).unwrap();
    r.validate(&ctx()).unwrap();
    assert!(r.restores());
    assert_eq!(
        r.source.restore,
        Restore {
            tier: RestoreTier::Bulk,
            days: Restore::DEFAULT_DAYS
        }
    );
    assert_eq!(r.timing.restore_check_seconds, 3_600);
    // The tier is AWS's word; Expedited is not one S3 Batch Operations takes.
    let expedited = with(
        restoring.clone(),
        "/source/restore",
        json!({"tier": "EXPEDITED"}),
    );
    assert!(parse(&expedited)
        .unwrap_err()
        .to_string()
        .contains("source.restore.tier"));
    let text = violations(&with(
        with(restoring.clone(), "/source/restore", json!({"days": 0})),
        "/timing/restoreCheckSeconds",
        json!(0),
    ))
    .to_string();
    assert!(
        text.contains("source.restore.days: must be between 1 and 30"),
        "{text}"
    );
    assert!(text.contains("timing.restoreCheckSeconds"), "{text}");
    // Flow C lists its objects when the copy job is created: restore is refused, naming flow A.
    let c = with(flow_c(), "/source/archived", json!("restore"));
    let text = violations(&c).to_string();
    assert!(
        text.contains("source.archived: `restore` needs flow A or B"),
        "{text}"
    );
}

#[test]
fn a_source_in_another_region_is_refused_naming_awss_rule_for_each_flow() {
    // The same Region, said or not, is a copy as before.
    let same = with(flow_b(), "/source/region", json!("eu-west-1"));
    let r = parse(&same).unwrap();
    r.validate(&ctx()).unwrap();
    assert_eq!(r.source_region(), "eu-west-1");
    assert_eq!(parse(&flow_b()).unwrap().source_region(), "eu-west-1");
    let other = |v: Value| violations(&with(v, "/source/region", json!("us-east-1"))).to_string();
    let a = other(flow_a());
    assert!(
        a.contains("source.region: flow A cannot copy across Regions"),
        "{a}"
    );
    assert!(
        a.contains("same Amazon Web Services Region as the source bucket"),
        "{a}"
    );
    let c = other(flow_c());
    assert!(
        c.contains("does not support cross-Region object list generation"),
        "{c}"
    );
    let b = other(flow_b());
    assert!(
        b.contains("a copy job from us-east-1 to eu-west-1 (flow B) is one AWS allows"),
        "{b}"
    );
    let restoring = other(with(flow_b(), "/source/archived", json!("restore")));
    assert!(
        restoring.contains("source.archived: `restore` across Regions"),
        "{restoring}"
    );
    let bad = violations(&with(flow_b(), "/source/region", json!("mars-1"))).to_string();
    assert!(bad.contains("`mars-1` is not an AWS Region name"), "{bad}");
}
