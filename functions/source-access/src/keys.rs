//! KMS grants for SSE-KMS source objects. S3 decrypts an SSE-KMS object with its key as the
//! caller (the copy's Batch role, in the destination account): the key's account must let it, and
//! ferry does so with a KMS grant of `kms:Decrypt` to that role on each key the copy needs, never
//! by editing a key policy. The keys are found where they are set: the source bucket's default
//! encryption, and the objects of a sample listed under the copy's prefix (HeadObject). Only keys
//! of the source stack's `SourceKmsKeyArns` are granted. A grant is named after the copy and the
//! run (`ferry-<hash>-r<run>`: destination account, copyId, run), which makes CreateGrant
//! idempotent within a run (the KMS API returns the existing grant for the same name and
//! parameters) and never hands a later run the grant of an earlier run's deleted role. Every
//! grant names this function's role as its retiring principal, so a revoke, or any later
//! cleanup, finds exactly this copy's grants by name on every key, one that left
//! `SourceKmsKeyArns` since included (ListRetirableGrants), and retires those it may no longer
//! revoke.

use std::collections::BTreeSet;

use aws_sdk_kms::types::GrantOperation;
use aws_sdk_kms::Client as Kms;
use aws_sdk_s3::Client as S3;
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::inventory::{CopyObstacle, NotCopyable};
use ferry_core::names::Names;
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use tracing::{info, warn};

/// How many objects under the prefix are looked at (HeadObject each).
pub const SAMPLE: i32 = 100;

/// A key id as S3 reports it (an ARN, or a bare id of this account) as a key ARN.
fn key_arn(config: &StackConfig, key: &str) -> String {
    if key.starts_with("arn:") {
        return key.to_string();
    }
    format!(
        "arn:{}:kms:{}:{}:key/{key}",
        ferry_core::names::partition(&config.region),
        config.region,
        config.account_id
    )
}

/// What the source side learns of the copy's source objects' encryption before the job.
#[derive(Debug, Default)]
pub struct Sample {
    /// The customer managed keys to grant: the bucket's default key and the sample's keys.
    pub keys: BTreeSet<String>,
    /// The sample's objects that no grant can make copyable (SSE-C, the AWS managed key).
    pub not_copyable: NotCopyable,
}

/// The KMS keys the copy's source objects are encrypted with, as far as the bucket's default
/// encryption and a sample of [`SAMPLE`] objects under `prefix` show, and the sample's objects
/// that cannot be copied: SSE-C ones (a HEAD without the customer's key answers 400, the only
/// 400 a plain HEAD of a listed key gets) and those under the account's AWS managed key
/// `aws/s3` (found with ListAliases; never granted, never asked to be listed).
pub async fn keys_in_use(
    s3: &S3,
    kms: &Kms,
    config: &StackConfig,
    bucket: &str,
    prefix: &str,
) -> Result<Sample, StepError> {
    let mut sample = Sample::default();
    let owner = &config.account_id;
    match s3
        .get_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => {
            let rules = out
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default();
            for d in rules
                .iter()
                .filter_map(|r| r.apply_server_side_encryption_by_default())
            {
                if let Some(k) = d.kms_master_key_id() {
                    if let Some(arn) = default_key_arn(kms, config, bucket, k).await? {
                        sample.keys.insert(arn);
                    }
                }
            }
        }
        Err(e) if sdk_code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => {}
        Err(e) => {
            let err = from_sdk(e, &format!("GetBucketEncryption {bucket}"));
            sample_refused(&err)?;
        }
    }
    let listed = match s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(SAMPLE)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(listed) => listed,
        Err(e) => {
            sample_refused(&from_sdk(e, &format!("ListObjectsV2 {bucket}")))?;
            return Ok(sample);
        }
    };
    let mut object_keys: Vec<(String, String)> = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap_or_default();
        sample.not_copyable.looked_at += 1;
        match s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(owner)
            .send()
            .await
        {
            Ok(head) => {
                if let Some(k) = head.ssekms_key_id() {
                    object_keys.push((key.to_string(), key_arn(config, k)));
                }
            }
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(400) => {
                sample.not_copyable.add(CopyObstacle::SseC, key);
            }
            Err(e) => {
                sample_refused(&from_sdk(e, &format!("HeadObject {bucket}/{key}")))?;
                break;
            }
        }
    }
    let managed = if object_keys.is_empty() && sample.keys.is_empty() {
        None
    } else {
        aws_managed_s3_key(kms, config).await?
    };
    for (object, key) in object_keys {
        if Some(&key) == managed.as_ref() {
            sample
                .not_copyable
                .add(CopyObstacle::AwsManagedKey, &object);
        } else {
            sample.keys.insert(key);
        }
    }
    if let Some(managed) = &managed {
        // A bucket whose default is SSE-KMS without a key of its own names aws/s3.
        sample.keys.remove(managed);
    }
    for line in sample.not_copyable.lines() {
        warn!("{line}");
    }
    Ok(sample)
}

/// Whether a KeyId names an alias (`alias/x`, or its ARN `arn:...:alias/x`) rather than a key.
fn is_alias(key: &str) -> bool {
    key.starts_with("alias/")
        || key
            .split(':')
            .nth(5)
            .is_some_and(|r| r.starts_with("alias/"))
}

/// The key ARN of a bucket's default key. S3 takes a key id, a key ARN or an alias there
/// (PutBucketEncryption's `KMSMasterKeyID`: "You can specify the key ID, key alias, or the
/// Amazon Resource Name (ARN) of the KMS key"; an alias is resolved "within the requester's
/// account"), and writes under the key the alias names: an alias is resolved with DescribeKey
/// ("To specify a KMS key, use its key ID, key ARN, alias name, or alias ARN"). An alias that
/// names no key, or one ferry may not describe, is left out with a warning: objects written
/// under it would fail their tasks naming kms:Decrypt, counted apart.
async fn default_key_arn(
    kms: &Kms,
    config: &StackConfig,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, StepError> {
    if !is_alias(key) {
        return Ok(Some(key_arn(config, key)));
    }
    match kms.describe_key().key_id(key).send().await {
        Ok(out) => Ok(out.key_metadata().and_then(|m| m.arn()).map(str::to_string)),
        Err(e) if sdk_code(&e) == Some("NotFoundException") => {
            warn!(
                bucket,
                alias = key,
                "the bucket's default encryption names an alias that names no key: left out"
            );
            Ok(None)
        }
        Err(e) => {
            sample_refused(&from_sdk(
                e,
                &format!("DescribeKey {key} (the default key of {bucket})"),
            ))?;
            Ok(None)
        }
    }
}

/// The ARN of the account's AWS managed key `aws/s3` (ListAliases), if it has one. Without
/// kms:ListAliases it is not known: a warning, and objects under it fail their tasks naming
/// kms:Decrypt (counted apart by the report).
async fn aws_managed_s3_key(kms: &Kms, config: &StackConfig) -> Result<Option<String>, StepError> {
    let mut pages = kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => {
                if let Some(target) = out
                    .aliases()
                    .iter()
                    .find(|a| a.alias_name() == Some(AWS_MANAGED_S3_ALIAS))
                    .and_then(|a| a.target_key_id())
                {
                    return Ok(Some(key_arn(config, target)));
                }
            }
            Err(e) => {
                sample_refused(&from_sdk(e, "ListAliases"))?;
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// The alias of the AWS managed key S3 uses for SSE-KMS without a key of its own.
pub const AWS_MANAGED_S3_ALIAS: &str = "alias/aws/s3";

/// A look the bucket's own policy refuses (a deny on reads from outside a VPC endpoint, say)
/// ends the sample with a warning, not the copy: the Batch role's reads meet the same policy,
/// and any object under an ungranted key fails its task naming kms:Decrypt. Other errors stop.
fn sample_refused(err: &StepError) -> Result<(), StepError> {
    if err.name != ErrorName::AccessDenied {
        return Err(StepError::new(err.name, err.cause.clone()));
    }
    warn!(cause = %err.cause, "cannot look at the source objects' encryption; the keys found so far are granted");
    Ok(())
}

/// Refuses a key the source stack does not list, before anything is granted.
pub fn all_listed(config: &StackConfig, keys: &BTreeSet<String>) -> Result<(), StepError> {
    let unlisted: Vec<&String> = keys
        .iter()
        .filter(|k| !config.source_kms_key_arns.contains(k))
        .collect();
    if unlisted.is_empty() {
        return Ok(());
    }
    Err(StepError::new(
        ErrorName::AccessDenied,
        format!(
            "the source objects are encrypted with the KMS key{} {}, which the source stack's SourceKmsKeyArns parameter ({}) does not list: ferry grants the Batch role use of listed keys only; add {} and update the source stack",
            if unlisted.len() > 1 { "s" } else { "" },
            unlisted.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
            ferry_core::request::parameter_list(&config.source_kms_key_arns),
            if unlisted.len() > 1 { "them" } else { "it" },
        ),
    ))
}

/// What a key's policy needs so that ferry's source-access may grant and revoke.
fn needed_statement(config: &StackConfig) -> String {
    ferry_core::policy::key_policy_statement_for_grants(
        ferry_core::names::partition(&config.region),
        &config.account_id,
    )
    .to_string()
}

/// Grants the copy's Batch role `kms:Decrypt` on each of `keys` (all listed), with `retiring`
/// (this function's role, [`own_role`]) as the retiring principal; returns them.
pub async fn grant(
    kms: &Kms,
    config: &StackConfig,
    names: &Names,
    run: u16,
    keys: &BTreeSet<String>,
    retiring: &str,
) -> Result<Vec<String>, StepError> {
    for key in keys {
        kms.create_grant()
            .key_id(key)
            .grantee_principal(&names.batch_role_arn)
            .operations(GrantOperation::Decrypt)
            .name(names.kms_grant_name_of_run(run))
            .retiring_principal(retiring)
            .send()
            .await
            .map_err(|e| {
                let err = from_sdk(e, &format!("CreateGrant on {key}"));
                if err.name == ErrorName::AccessDenied {
                    return StepError::new(
                        ErrorName::AccessDenied,
                        format!(
                            "{}: the key policy of {key} does not let ferry's source-access create grants; add this statement to it: {}",
                            err.cause,
                            needed_statement(config)
                        ),
                    );
                }
                err
            })?;
        info!(key = %key, grantee = %names.batch_role_arn, "granted kms:Decrypt");
    }
    Ok(keys.iter().cloned().collect())
}

/// The role this function runs as, which every grant of ferry's names as its retiring principal:
/// from GetCallerIdentity (no permission needed), a session `assumed-role/<name>/<session>`
/// made the role's ARN (SAM gives a function's role the path `/`).
pub async fn own_role(sts: &aws_sdk_sts::Client) -> Result<String, StepError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| from_sdk(e, "GetCallerIdentity"))?;
    let arn = out.arn().unwrap_or_default();
    ferry_core::names::role_of_session(arn).ok_or_else(|| {
        StepError::new(
            ErrorName::Internal,
            format!("GetCallerIdentity answered {arn}, not a role's session"),
        )
    })
}

/// How many pages of ListRetirableGrants (100 grants each) a revoke reads. Other accounts may
/// name this role as the retiring principal of grants on their own keys (ListRetirableGrants
/// "can include grants on KMS keys owned by other Amazon Web Services accounts"), so the listing
/// is bounded; ferry's own grants on this account's keys are a few per copy.
pub const RETIRABLE_PAGES: usize = 50;

/// The KMS key ARN of a grant's `KeyId`, when the key is this account's in this Region: the
/// only keys ferry grants on. `None` for another account's or Region's key.
fn own_key(config: &StackConfig, key_id: &str) -> Option<String> {
    let arn = key_arn(config, key_id);
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() == 6 && parts[3] == config.region && parts[4] == config.account_id).then_some(arn)
}

/// Revokes this copy's grants (every run's) and returns the keys that had one. Found by name,
/// not by grantee: once the Batch role is deleted (the cleanup deletes it before this revoke),
/// ListGrants names the grantee by the role's unique id (AROA...), never its ARN again, and the
/// grant would outlive the copy. Found two ways:
/// - ListGrants on every key listed now, each revoked (RevokeGrant) first: what IAM lets this
///   role do, and every grant made before grants named their retiring principal;
/// - ListRetirableGrants of this function's role: ferry's grants on a key of this account and
///   Region that left `SourceKmsKeyArns` since, retired as their retiring principal (RetireGrant:
///   "Principals specified in the grant can retire a grant without the kms:RetireGrant
///   permission"). Grants on other accounts' keys that name this role are not ferry's and are
///   never touched, and a failure on such a key only warns: nothing another account does can
///   stop a revoke of the listed keys.
///
/// A key that no longer exists has none, nor one whose policy does not let ferry list its
/// grants (so ferry could not create one there either).
pub async fn revoke(
    kms: &Kms,
    config: &StackConfig,
    names: &Names,
    retiring: &str,
) -> Result<Vec<String>, StepError> {
    let mut revoked = Vec::new();
    for key in &config.source_kms_key_arns {
        let mut ids = Vec::new();
        let mut pages = kms.list_grants().key_id(key).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(out) => ids.extend(
                    out.grants()
                        .iter()
                        .filter(|g| g.name().is_some_and(|n| names.is_kms_grant_name(n)))
                        .filter_map(|g| g.grant_id().map(str::to_string)),
                ),
                Err(e) if sdk_code(&e) == Some("NotFoundException") => break,
                // A key whose policy does not let ferry list grants holds none of ferry's: the
                // statement ferry asks for gives CreateGrant and ListGrants together.
                Err(e) if matches!(sdk_code(&e), Some("AccessDeniedException")) => {
                    warn!(key = %key, "ferry may not list this key's grants, so it cannot have created one there; left alone");
                    break;
                }
                Err(e) => return Err(from_sdk(e, &format!("ListGrants on {key}"))),
            }
        }
        for id in ids {
            match kms.revoke_grant().key_id(key).grant_id(&id).send().await {
                Ok(_) => {}
                Err(e) if sdk_code(&e) == Some("NotFoundException") => continue,
                Err(e) => return Err(from_sdk(e, &format!("RevokeGrant {id} on {key}"))),
            }
            info!(key = %key, grant = %id, "revoked");
            if !revoked.contains(key) {
                revoked.push(key.clone());
            }
        }
    }
    for (key, id) in retirable(kms, config, names, retiring).await {
        match kms.retire_grant().key_id(&key).grant_id(&id).send().await {
            Ok(_) => {}
            Err(e) if sdk_code(&e) == Some("NotFoundException") => continue,
            Err(e) => {
                warn!(key = %key, grant = %id, error = %from_sdk(e, "RetireGrant"), "a grant on a key no longer listed could not be retired; left");
                continue;
            }
        }
        info!(key = %key, grant = %id, "retired (its key is no longer listed)");
        if !revoked.contains(&key) {
            revoked.push(key);
        }
    }
    Ok(revoked)
}

/// This copy's grants on keys of this account and Region that are not listed now, by way of
/// the retiring principal every grant of ferry's names. Best effort: a refused or failing
/// listing (an SCP, say) warns and finds none, since the listed keys are revoked already.
async fn retirable(
    kms: &Kms,
    config: &StackConfig,
    names: &Names,
    retiring: &str,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..RETIRABLE_PAGES {
        let out = match kms
            .list_retirable_grants()
            .retiring_principal(retiring)
            .limit(100)
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                warn!(error = %from_sdk(e, "ListRetirableGrants"), "grants on keys no longer listed cannot be looked for");
                return found;
            }
        };
        for g in out.grants() {
            let (Some(key), Some(id)) = (g.key_id().and_then(|k| own_key(config, k)), g.grant_id())
            else {
                continue;
            };
            if g.name().is_some_and(|n| names.is_kms_grant_name(n))
                && !config.source_kms_key_arns.contains(&key)
            {
                found.push((key, id.to_string()));
            }
        }
        match out.next_marker() {
            Some(m) if out.truncated() => marker = Some(m.to_string()),
            _ => return found,
        }
    }
    warn!(pages = RETIRABLE_PAGES, "more grants name this role as retiring principal than a revoke reads; the rest are not looked at");
    found
}
