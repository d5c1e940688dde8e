//! One sandbox scenario, shared by `ferry demo`, the end-to-end tests and `make sandbox`: the
//! sandbox's accounts and the function host started and wired together, clients of each
//! account, buckets created with policies their owners keep, and the check that copies left
//! nothing of ferry's behind (each policy exactly its owner's again, no role under `/ferry/` in
//! any destination account, no inventory configuration of the copies).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use ferry_core::clients::Clients;
use ferry_core::error::sdk_code;
use serde_json::Value;

use crate::{objects, FunctionHost, Sandbox, SandboxError};

/// The account a bucket is in: the primary source and destination accounts, and the third,
/// which holds a source stack (of the destination account) and a destination stack (of the
/// source account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Source,
    Destination,
    Third,
}

/// One copy whose leftovers are checked: its source bucket (in `source`'s account), the
/// destination account and its copyId (which name its inventory configuration).
#[derive(Debug, Clone, Copy)]
pub struct CopyRef<'a> {
    pub source: Side,
    pub bucket: &'a str,
    pub destination: Side,
    pub copy_id: &'a str,
}

/// The sandbox, its function host (registered with the sandbox), and clients of each account
/// (the sandbox's administrator role `ferry-sandbox` in each). Dropping it stops both.
pub struct Scenario {
    pub sandbox: Sandbox,
    pub host: FunctionHost,
    pub source: Clients,
    pub destination: Clients,
    pub third: Clients,
    /// The policy each bucket's owner keeps (`None`: no policy), as the leftovers check expects.
    own: Mutex<BTreeMap<(Side, String), Option<Value>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "the sandbox did not start: {0} (`make` installs its Python venv; run from the repository)"
    )]
    Sandbox(#[from] SandboxError),
    #[error("the function host did not start: {0}")]
    Host(#[from] std::io::Error),
    /// An AWS call failed: the call, what it was about, and the error.
    #[error("{call} {what}: {message}")]
    Aws {
        call: &'static str,
        what: String,
        message: String,
    },
}

fn aws_failure<E: std::error::Error + 'static>(
    call: &'static str,
    what: &str,
    e: E,
) -> ScenarioError {
    ScenarioError::Aws {
        call,
        what: what.to_string(),
        message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
    }
}

impl Scenario {
    /// Starts the sandbox from the repository at `root` (stopped after `lifetime_seconds` at the
    /// latest) and the function host, and registers the host with the sandbox.
    pub async fn start(root: &Path, lifetime_seconds: u64) -> Result<Scenario, ScenarioError> {
        Scenario::around(Sandbox::start(root, lifetime_seconds)?).await
    }

    /// The scenario of a started sandbox (one of a [`crate::ForkServer`]'s, for instance): the
    /// function host started and registered with it.
    pub async fn around(sandbox: Sandbox) -> Result<Scenario, ScenarioError> {
        let host = FunctionHost::start(&sandbox.info).await?;
        sandbox
            .control("/function-host", serde_json::json!({"url": host.url}))
            .await?;
        let info = &sandbox.info;
        Ok(Scenario {
            source: Clients::new(&info.sdk_config(info.source_account())),
            destination: Clients::new(&info.sdk_config(info.destination_account())),
            third: Clients::new(&info.sdk_config(info.third_account())),
            sandbox,
            host,
            own: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn clients(&self, side: Side) -> &Clients {
        match side {
            Side::Source => &self.source,
            Side::Destination => &self.destination,
            Side::Third => &self.third,
        }
    }

    /// The side whose account is `account`.
    pub fn side_of(&self, account: &str) -> Option<Side> {
        [Side::Source, Side::Destination, Side::Third]
            .into_iter()
            .find(|side| self.account(*side) == account)
    }

    /// The account of `side`.
    pub fn account(&self, side: Side) -> &str {
        let info = &self.sandbox.info;
        match side {
            Side::Source => info.source_account(),
            Side::Destination => info.destination_account(),
            Side::Third => info.third_account(),
        }
    }

    /// Creates `bucket` in `side`'s account with `policy` as its owner's own (none when `None`).
    pub async fn create_bucket(
        &self,
        side: Side,
        bucket: &str,
        policy: Option<&Value>,
    ) -> Result<(), ScenarioError> {
        objects::create_bucket(&self.clients(side).s3, bucket, &self.sandbox.info.region)
            .await
            .map_err(|e| aws_failure("CreateBucket", bucket, e))?;
        self.own
            .lock()
            .unwrap()
            .insert((side, bucket.to_string()), None);
        if let Some(p) = policy {
            self.set_own_policy(side, bucket, p).await?;
        }
        Ok(())
    }

    /// A symmetric KMS key of `side`'s account with `policy` (KMS's default, which lets the
    /// account's IAM policies decide, when `None`); returns its ARN.
    pub async fn create_key(
        &self,
        side: Side,
        policy: Option<&Value>,
    ) -> Result<String, ScenarioError> {
        let kms = aws_sdk_kms::Client::new(&self.sandbox.info.sdk_config(self.account(side)));
        let out = kms
            .create_key()
            .set_policy(policy.map(Value::to_string))
            .send()
            .await
            .map_err(|e| aws_failure("CreateKey", self.account(side), e))?;
        Ok(out
            .key_metadata()
            .map(|m| m.arn().unwrap_or_default().to_string())
            .unwrap_or_default())
    }

    /// Puts `policy` on `bucket` as its owner's: the leftovers check expects exactly it.
    pub async fn set_own_policy(
        &self,
        side: Side,
        bucket: &str,
        policy: &Value,
    ) -> Result<(), ScenarioError> {
        self.clients(side)
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| aws_failure("PutBucketPolicy", bucket, e))?;
        self.own
            .lock()
            .unwrap()
            .insert((side, bucket.to_string()), Some(policy.clone()));
        Ok(())
    }

    /// What ferry left after copies `copy_ids` of `source_bucket` (source account) into the
    /// destination account: see [`Scenario::leftovers_of`].
    pub async fn leftovers(
        &self,
        source_bucket: &str,
        copy_ids: &[&str],
    ) -> Result<Vec<String>, ScenarioError> {
        let copies: Vec<CopyRef> = copy_ids
            .iter()
            .map(|copy_id| CopyRef {
                source: Side::Source,
                bucket: source_bucket,
                destination: Side::Destination,
                copy_id,
            })
            .collect();
        self.leftovers_of(&copies).await
    }

    /// What ferry left after `copies`: a bucket policy of the scenario that is not its owner's
    /// (compared in IAM's normal form: a single `Statement` object reads as a one-element
    /// array), a role under `/ferry/` in a destination account, an inventory configuration of
    /// one of the copies. Empty when nothing is left.
    pub async fn leftovers_of(&self, copies: &[CopyRef<'_>]) -> Result<Vec<String>, ScenarioError> {
        let mut left = Vec::new();
        let own = self.own.lock().unwrap().clone();
        for ((side, bucket), expected) in &own {
            let got = match self
                .clients(*side)
                .s3
                .get_bucket_policy()
                .bucket(bucket)
                .send()
                .await
            {
                Ok(out) => out.policy().and_then(|p| serde_json::from_str(p).ok()),
                Err(e) if sdk_code(&e) == Some("NoSuchBucketPolicy") => None,
                Err(e) => return Err(aws_failure("GetBucketPolicy", bucket, e)),
            };
            let normal = |v: &Option<Value>| v.as_ref().map(ferry_core::policy::normalize);
            if normal(&got) != normal(expected) {
                left.push(format!(
                    "s3://{bucket}'s policy is not its owner's again: {}",
                    got.map_or("(none)".to_string(), |v| v.to_string())
                ));
            }
        }
        for side in [Side::Destination, Side::Third] {
            let roles = self
                .clients(side)
                .iam
                .list_roles()
                .path_prefix(ferry_core::names::ROLE_PATH)
                .send()
                .await
                .map_err(|e| aws_failure("ListRoles", ferry_core::names::ROLE_PATH, e))?;
            for r in roles.roles() {
                left.push(format!("role {} is left", r.arn()));
            }
        }
        left.extend(self.kms_grants().await?);
        left.extend(self.unfinished_uploads(&own).await?);
        for c in copies {
            if self
                .has_inventory_of(c.source, c.bucket, c.destination, c.copy_id)
                .await
            {
                left.push(format!(
                    "the inventory configuration of copy {} into {} is left on s3://{}",
                    c.copy_id,
                    self.account(c.destination),
                    c.bucket
                ));
            }
        }
        Ok(left)
    }

    /// Multipart uploads begun and never completed in the scenario's destination-side buckets
    /// (the copy worker's, which a revoke aborts), one line each.
    pub async fn unfinished_uploads(
        &self,
        own: &BTreeMap<(Side, String), Option<Value>>,
    ) -> Result<Vec<String>, ScenarioError> {
        let mut left = Vec::new();
        for (side, bucket) in own.keys().filter(|(s, _)| *s != Side::Source) {
            let out = self
                .clients(*side)
                .s3
                .list_multipart_uploads()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| aws_failure("ListMultipartUploads", bucket, e))?;
            for u in out.uploads() {
                left.push(format!(
                    "an unfinished upload of {} is left in s3://{bucket}",
                    u.key().unwrap_or_default()
                ));
            }
        }
        Ok(left)
    }

    /// ferry's KMS grants (named `ferry-...`) on the source account's listed keys, one line each.
    pub async fn kms_grants(&self) -> Result<Vec<String>, ScenarioError> {
        let kms =
            aws_sdk_kms::Client::new(&self.sandbox.info.sdk_config(self.account(Side::Source)));
        let mut left = Vec::new();
        for key in self.sandbox.info.kms_keys.values() {
            let out = kms
                .list_grants()
                .key_id(key)
                .send()
                .await
                .map_err(|e| aws_failure("ListGrants", key, e))?;
            for g in out.grants() {
                if g.name().is_some_and(|n| n.starts_with("ferry-")) {
                    left.push(format!(
                        "KMS grant {} on {key} to {} is left",
                        g.name().unwrap_or_default(),
                        g.grantee_principal().unwrap_or_default()
                    ));
                }
            }
        }
        Ok(left)
    }

    /// Whether `bucket` (source account) has the inventory configuration of copy `copy_id`
    /// into the destination account.
    pub async fn has_inventory(&self, bucket: &str, copy_id: &str) -> bool {
        self.has_inventory_of(Side::Source, bucket, Side::Destination, copy_id)
            .await
    }

    /// Whether `bucket` (in `source`'s account) has the inventory configuration of copy
    /// `copy_id` into `destination`'s account. Looked up by id: moto's
    /// ListBucketInventoryConfigurations answers with an XML root the SDK rejects.
    pub async fn has_inventory_of(
        &self,
        source: Side,
        bucket: &str,
        destination: Side,
        copy_id: &str,
    ) -> bool {
        self.clients(source)
            .s3
            .get_bucket_inventory_configuration()
            .bucket(bucket)
            .id(ferry_core::layout::inventory_config_id(
                self.account(destination),
                copy_id,
            ))
            .send()
            .await
            .is_ok()
    }
}
