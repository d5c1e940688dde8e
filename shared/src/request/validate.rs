//! The rules of a copy request, checked against the stack that will run it: every violation at
//! once, each naming its field path and the rule.

use super::key_rules::{check_key_len, check_policy_chars};
use super::StackContext;
use super::*;

impl CopyRequest {
    /// Checks every rule and returns every violation at once.
    pub fn validate(&self, ctx: &StackContext) -> Result<(), Violations> {
        let mut v = Checker::default();
        self.check_identity(ctx, &mut v);
        self.check_buckets(ctx, &mut v);
        self.check_job(&mut v);
        self.check_timing(ctx, &mut v);
        self.check_generated(&mut v);
        self.check_archived(&mut v);
        self.check_regions(&mut v);
        if v.0.is_empty() {
            Ok(())
        } else {
            Err(Violations(v.0))
        }
    }

    fn check_identity(&self, ctx: &StackContext, v: &mut Checker) {
        let id = &self.copy_id;
        if id.is_empty() || id.len() > COPY_ID_MAX {
            v.add(
                "copyId",
                format!("must be 1 to {COPY_ID_MAX} characters (got {})", id.len()),
            );
        }
        if !id.is_empty() && !is_copy_id_shape(id) {
            v.add(
                "copyId",
                "must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
            );
        }
        if id.split('-').any(|s| s == "cleanup") {
            v.add(
                "copyId",
                "must not contain the word `cleanup` between hyphens: it marks cleanup executions (`<copyId>-cleanup-<n>`)",
            );
        }

        if !is_region_shape(&self.region) {
            v.add(
                "region",
                format!(
                    "`{}` is not an AWS Region name such as eu-west-1",
                    self.region
                ),
            );
        } else if self.region != ctx.region {
            v.add(
                "region",
                format!(
                    "must be {}, the Region of the ferry stacks: version 1 copies within one Region (every bucket of the copy is in it)",
                    ctx.region
                ),
            );
        }

        let src = &self.source.account_id;
        let dst = &self.destination.account_id;
        check_account_id(v, "source.accountId", src);
        check_account_id(v, "destination.accountId", dst);
        if is_account_id(dst) && *dst != ctx.account_id {
            v.add(
                "destination.accountId",
                format!(
                    "must be {}, the account of the destination stack that runs the copy",
                    ctx.account_id
                ),
            );
        }
        if is_account_id(src) && src == dst {
            v.add(
                "source.accountId",
                "must differ from destination.accountId: ferry copies between two accounts",
            );
        } else if is_account_id(src) && !ctx.source_account_ids.iter().any(|a| a == src) {
            v.add(
                "source.accountId",
                format!(
                    "{src} is not in the destination stack's SourceAccountIds parameter ({}); add it there and update the stack",
                    parameter_list(&ctx.source_account_ids)
                ),
            );
        }
        if let Manifest::Csv { account_id, .. } = &self.manifest {
            check_account_id(v, "manifest.accountId", account_id);
            if is_account_id(account_id) && account_id != src && account_id != dst {
                v.add(
                    "manifest.accountId",
                    "must be the source or the destination account: the CSV manifest is kept in one of them",
                );
            }
        }
    }

    fn check_buckets(&self, ctx: &StackContext, v: &mut Checker) {
        check_bucket(v, "source.bucket", &self.source.bucket);
        check_bucket(v, "destination.bucket", &self.destination.bucket);
        if self.source.bucket == self.destination.bucket {
            v.add(
                "destination.bucket",
                "must differ from source.bucket (bucket names are global: the same name is the same bucket)",
            );
        }
        for (field, bucket) in [
            ("source.bucket", &self.source.bucket),
            ("destination.bucket", &self.destination.bucket),
        ] {
            if *bucket == ctx.ferry_bucket {
                v.add(
                    field,
                    "must not be ferry's own bucket, which holds its control objects",
                );
            }
        }
        if !ctx.source_buckets.contains(&self.source.bucket) {
            v.add("source.bucket", not_listed(&self.source.bucket, ctx));
        }
        if let Some(listed) = &ctx.destination_buckets {
            if !listed.contains(&self.destination.bucket) {
                v.add(
                    "destination.bucket",
                    format!(
                        "{} is not in the destination stack's DestinationBuckets parameter ({}): ferry writes only to the buckets listed there; add it and update the stack",
                        self.destination.bucket,
                        parameter_list(listed)
                    ),
                );
            }
        }
        check_key_len(v, "source.prefix", &self.source.prefix, 0);
        check_key_len(v, "destination.keyPrefix", &self.destination.key_prefix, 0);
        check_policy_chars(v, "source.prefix", &self.source.prefix);
        check_policy_chars(v, "destination.keyPrefix", &self.destination.key_prefix);
        self.check_encryption(v);

        if let Manifest::Csv {
            bucket,
            key,
            account_id,
        } = &self.manifest
        {
            check_bucket(v, "manifest.bucket", bucket);
            if *account_id == self.source.account_id && !ctx.source_buckets.contains(bucket) {
                v.add("manifest.bucket", not_listed(bucket, ctx));
            }
            if let Some(listed) = &ctx.manifest_buckets {
                if *account_id == self.destination.account_id && !listed.contains(bucket) {
                    v.add(
                        "manifest.bucket",
                        format!(
                            "{bucket} is not in the destination stack's ManifestBuckets parameter ({}): job-submit reads CSV manifests of this account only there; add it and update the stack",
                            parameter_list(listed)
                        ),
                    );
                }
            }
            check_key_len(v, "manifest.key", key, 1);
            check_policy_chars(v, "manifest.key", key);
            if *bucket == self.destination.bucket {
                v.add(
                    "manifest.bucket",
                    "must not be the destination bucket: the copy could overwrite its own manifest",
                );
            }
        }
        if let Some(bucket) = &self.report.bucket {
            check_bucket(v, "report.bucket", bucket);
            if *bucket != ctx.ferry_bucket {
                v.add(
                    "report.bucket",
                    format!(
                        "must be {} (or absent): completion reports stay in the ferry bucket, the only bucket job-report may read and the Batch role may write reports to",
                        ctx.ferry_bucket
                    ),
                );
            }
        }
        if let Some(prefix) = &self.report.prefix {
            check_policy_chars(v, "report.prefix", prefix);
            if prefix.is_empty() || prefix.len() > REPORT_PREFIX_MAX {
                v.add(
                    "report.prefix",
                    format!(
                        "must be 1 to {REPORT_PREFIX_MAX} characters (got {}): ferry appends /<copyId>/run-<n> and CreateJob allows 512",
                        prefix.len()
                    ),
                );
            }
            if prefix.starts_with('/') || prefix.ends_with('/') {
                v.add("report.prefix", "must not start or end with `/`");
            }
            let reports = crate::layout::REPORT_PREFIX;
            if prefix != reports && !prefix.starts_with(&format!("{reports}/")) {
                v.add(
                    "report.prefix",
                    format!(
                        "must be `{reports}` or begin with `{reports}/` (got `{prefix}`): job-report reads reports only there, and control/, inventory/ and retry/ are ferry's own"
                    ),
                );
            }
        }
    }

    fn check_job(&self, v: &mut Checker) {
        let p = self.job.priority;
        if !(0..=i64::from(i32::MAX)).contains(&p) {
            v.add(
                "job.priority",
                format!("must be between 0 and 2147483647 (got {p})"),
            );
        }
        if let Some(d) = &self.job.description {
            let n = d.chars().count();
            if n == 0 || n > DESCRIPTION_MAX {
                v.add(
                    "job.description",
                    format!("must be 1 to {DESCRIPTION_MAX} characters (got {n})"),
                );
            }
        }
        if self.job.tags.len() > JOB_TAGS_MAX {
            v.add(
                "job.tags",
                format!(
                    "at most {JOB_TAGS_MAX} tags per job (got {})",
                    self.job.tags.len()
                ),
            );
        }
        for (k, val) in &self.job.tags {
            let field = format!("job.tags.{k}");
            let n = k.chars().count();
            if n == 0 || n > 128 {
                v.add(
                    &field,
                    format!("tag keys are 1 to 128 characters (got {n})"),
                );
            }
            if k.to_ascii_lowercase().starts_with("aws:") {
                v.add(
                    &field,
                    "tag keys must not start with `aws:` (reserved by AWS)",
                );
            }
            if val.chars().count() > 256 {
                v.add(&field, "tag values are at most 256 characters");
            }
            for (what, text) in [("key", k), ("value", val)] {
                if let Some(c) = text.chars().find(|c| !is_tag_char(*c)) {
                    v.add(
                        &field,
                        format!(
                            "tag {what}s use only letters, digits, spaces and _ . : / = + - @ (S3 Control's pattern [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*; found {c:?})"
                        ),
                    );
                }
            }
        }
        for (field, rule) in self.multipart.problems() {
            v.add(field, rule);
        }
        if self.retry.max_attempts > RETRY_ATTEMPTS_MAX {
            v.add(
                "retry.maxAttempts",
                format!(
                    "must be between 0 and {RETRY_ATTEMPTS_MAX} (got {})",
                    self.retry.max_attempts
                ),
            );
        }
    }
}

/// One character of S3 Control's tag pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: a letter, a
/// separator (space, line or paragraph separator: white space that is not a control
/// character), a number, or one of `_.:/=+-@`.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

#[derive(Default)]
pub(super) struct Checker(Vec<Violation>);

impl Checker {
    pub(super) fn add(&mut self, field: &str, rule: impl Into<String>) {
        self.0.push(Violation {
            field: field.to_string(),
            rule: rule.into(),
        });
    }
}

fn is_copy_id_shape(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

pub(super) fn is_region_shape(region: &str) -> bool {
    // e.g. eu-west-1, us-gov-west-1, ap-southeast-5, cn-north-1
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Twelve ASCII digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

impl CopyRequest {
    /// SSE-KMS names a key of the destination account, in the copy's Region, by its key ARN
    /// (an alias could be repointed; a key of another account would need that account's
    /// grant); SSE-S3 names none.
    fn check_encryption(&self, v: &mut Checker) {
        let Some(e) = &self.destination.encryption else {
            return;
        };
        match (e.kind, &e.kms_key_arn) {
            (EncryptionType::SseKms, None) => v.add(
                "destination.encryption.kmsKeyArn",
                "is required for SSE-KMS: the ARN of a key of the destination account",
            ),
            (EncryptionType::SseKms, Some(arn)) => {
                let prefix = format!(
                    "arn:{}:kms:{}:{}:key/",
                    crate::ids::partition(&self.region),
                    self.region,
                    self.destination.account_id
                );
                let id_ok = arn.strip_prefix(&prefix).is_some_and(|id| {
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
                if !id_ok {
                    v.add(
                        "destination.encryption.kmsKeyArn",
                        format!("must be a key ARN of the destination account in the copy's Region ({prefix}<key id>), not an alias (got `{arn}`)"),
                    );
                }
            }
            (EncryptionType::SseS3, Some(_)) => v.add(
                "destination.encryption.kmsKeyArn",
                "is only for SSE-KMS (SSE-S3 uses S3's own keys)",
            ),
            (EncryptionType::SseS3, None) => {}
        }
        if e.kind == EncryptionType::SseS3 && e.bucket_key_enabled {
            v.add(
                "destination.encryption.bucketKeyEnabled",
                "is only for SSE-KMS",
            );
        }
    }
}

fn check_account_id(v: &mut Checker, field: &str, id: &str) {
    if !is_account_id(id) {
        v.add(
            field,
            format!("must be a 12-digit AWS account id (got `{id}`)"),
        );
    }
}

/// A stack's list parameter as messages quote it: `a, b`, or `empty`.
pub fn parameter_list(values: &[String]) -> String {
    if values.is_empty() {
        "empty".to_string()
    } else {
        values.join(", ")
    }
}

/// Why a source-account bucket is refused: the stacks may touch only the buckets they list.
fn not_listed(bucket: &str, ctx: &StackContext) -> String {
    format!(
        "{bucket} is not in the stacks' SourceBuckets parameter ({}); add it there, in both stacks, and update them",
        parameter_list(&ctx.source_buckets)
    )
}

fn check_bucket(v: &mut Checker, field: &str, name: &str) {
    for rule in bucket_name_violations(name) {
        v.add(field, rule);
    }
}

/// The rules of S3 general purpose bucket names that `name` breaks (empty when valid).
pub fn bucket_name_violations(name: &str) -> Vec<String> {
    let mut rules = Vec::new();
    if name.len() < 3 || name.len() > 63 {
        rules.push(format!(
            "bucket names are 3 to 63 characters long (`{name}` has {})",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        rules.push(format!(
            "bucket names use only lowercase letters, digits, dots and hyphens (`{name}`)"
        ));
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !name.is_empty() && (!alnum(name.bytes().next()) || !alnum(name.bytes().last())) {
        rules.push(format!(
            "bucket names begin and end with a letter or digit (`{name}`)"
        ));
    }
    if name.contains("..") {
        rules.push(format!(
            "bucket names must not contain two adjacent dots (`{name}`)"
        ));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        rules.push(format!(
            "bucket names must not look like an IP address (`{name}`)"
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            rules.push(format!(
                "bucket names must not start with the reserved prefix `{prefix}`"
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            rules.push(format!(
                "bucket names must not end with the reserved suffix `{suffix}`"
            ));
        }
    }
    rules
}
