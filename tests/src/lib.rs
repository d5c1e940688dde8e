//! Helpers for the end-to-end tests: a sandbox with its function host, clients of both
//! accounts, the sample buckets and objects, and executions run to their end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sfn::types::ExecutionStatus;
use ferry_local::objects;
use ferry_local::scenario::Scenario;
use ferry_local::ForkServer;
use serde_json::{json, Value};

pub const SOURCE_BUCKET: &str = "src-photos";
pub const MANIFEST_BUCKET: &str = "src-manifests";
pub const MANIFEST_KEY: &str = "lists/photos.csv";
pub const DESTINATION_BUCKET: &str = "dst-photos";
/// A bucket of the destination account that keeps CSV manifests (the sandbox's `ManifestBuckets`).
pub const DESTINATION_MANIFEST_BUCKET: &str = "dst-manifests";

/// Statements that belong to someone else and must come out of every copy unchanged.
pub const FOREIGN_SOURCE_POLICY: &str = r#"{"Version":"2012-10-17","Id":"owned-by-the-photo-team","Statement":{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::src-photos","arn:aws:s3:::src-photos/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#;
/// A deny that real source buckets carry (AWS's "restrict to my organization and my network"
/// shapes): everyone but the account's admin role is denied everything but reads, unless the call
/// comes from the organization or from the office network. It does not apply to ferry when both
/// accounts are in that organization (`World::join_organization`): the Batch role only reads, and
/// the source functions are org members. (Outside the organization, source-access's
/// PutBucketPolicy is denied: the list names the account but not the function's role, which AWS's
/// NotPrincipal page says may deny the role.)
pub const NOT_PRINCIPAL_DENY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::src-photos","arn:aws:s3:::src-photos/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Sid":"DenyWritesFromOutside","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:role/admin","arn:aws:iam::111111111111:root"]},"NotAction":"s3:Get*","Resource":["arn:aws:s3:::src-photos","arn:aws:s3:::src-photos/*"],"Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-abc123"},"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}}]}"#;

/// A deny that does apply to ferry: objects may be read only through the bucket owner's VPC
/// endpoint (AWS's "Restricting access to a specific VPC endpoint" example), which S3 Batch
/// Operations never uses.
pub const VPC_ENDPOINT_DENY_POLICY: &str = r#"{"Version":"2012-10-17","Id":"Policy1415115909152","Statement":[{"Sid":"Access-to-specific-VPCE-only","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::src-photos/*","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}"#;

/// The same deny on some keys only (those with a dot in their name, every sample's): the
/// preflight, which asks about one object name under the prefix (`ferry-preflight`), does not
/// see it, and the tasks on those keys fail AccessDenied.
pub const VPC_ENDPOINT_DENY_SOME_KEYS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Access-to-specific-VPCE-only","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::src-photos/*.*","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}"#;

/// An organization's data perimeter: everything denied to principals outside the organization
/// (AWS's `aws:PrincipalOrgID` example); it does not apply when both accounts belong to it.
pub const ORGANIZATION_DENY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyOurOrganization","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::src-photos","arn:aws:s3:::src-photos/*"],"Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}"#;

pub const FOREIGN_MANIFEST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::src-manifests/public/*"}]}"#;

pub use ferry_local::objects::Sample;
pub use ferry_local::scenario::Side;

pub fn samples() -> Vec<Sample> {
    let mk = |key: &str, size: usize, tag: Option<(&str, &str)>| Sample {
        key: key.to_string(),
        body: (0..size).map(|i| (i * 31 % 251) as u8).collect(),
        content_type: None,
        // S3 user metadata is ASCII.
        metadata: BTreeMap::from([("origin".to_string(), format!("sample-{size}"))]),
        tags: tag
            .map(|(k, v)| BTreeMap::from([(k.to_string(), v.to_string())]))
            .unwrap_or_default(),
    };
    vec![
        mk("2026/photos/photo1.jpg", 2048, Some(("team", "media"))),
        mk("2026/photos/summer holiday/day 1.jpg", 10_000, None),
        mk("2026/notes/a+b=c.txt", 17, Some(("kind", "note"))),
        mk("2026/deep/a/b/c/d/e.bin", 70_000, None),
        mk("2026/empty.txt", 0, None),
        mk("2026/unicode/résumé.pdf", 321, None),
    ]
}

/// The CSV manifest of the samples (rows naming the source bucket) as `MANIFEST_KEY` in `bucket`.
async fn put_manifest(s3: &aws_sdk_s3::Client, bucket: &str) {
    put_manifest_of(s3, bucket, &samples()).await;
}

/// The CSV manifest of `listed` (rows naming the source bucket) as `MANIFEST_KEY` in `bucket`.
pub async fn put_manifest_of(s3: &aws_sdk_s3::Client, bucket: &str, listed: &[objects::Sample]) {
    s3.put_object()
        .bucket(bucket)
        .key(MANIFEST_KEY)
        .body(ByteStream::from(objects::csv_manifest(
            SOURCE_BUCKET,
            listed,
        )))
        .send()
        .await
        .unwrap();
}

/// The sandbox scenario (sandbox, function host, clients of both accounts, owned policies and
/// the leftovers check: `ferry_local::scenario`, which the demo shares) with the tests' own
/// conveniences; `world.sandbox` and the scenario's other fields read through it.
pub struct World {
    scenario: Scenario,
}

impl std::ops::Deref for World {
    type Target = Scenario;

    fn deref(&self) -> &Scenario {
        &self.scenario
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir` whose extension is `ext`, outside installed packages and caches
/// (`node_modules`, `__pycache__`, hidden folders such as venvs), sorted.
pub fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "node_modules" && name != "__pycache__" && !name.starts_with('.') {
                out.extend(files_with(&path, ext));
            }
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// template.yaml as the sandbox reads it (cfn-lint's decoder, which knows CloudFormation's YAML
/// tags; the state machine's definition inlined from its DefinitionUri file), decoded once per
/// test binary.
pub fn decoded_template() -> serde_json::Value {
    static DECODED: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DECODED
        .get_or_init(|| {
            let root = repo_root();
            let out = root.join(format!(
                "target/template-decoded-{}.json",
                std::process::id()
            ));
            sandbox_template("--decoded", &out);
            let text = std::fs::read_to_string(&out).unwrap();
            let _ = std::fs::remove_file(&out);
            serde_json::from_str(&text).unwrap()
        })
        .clone()
}

/// `python -m sandbox.template FLAG template.yaml OUT` in the venv `make` installs: the template
/// as the sandbox reads it, written to `out` (`--decoded`: the whole template as JSON;
/// `--policies`: each inline identity policy, resolved, as a file in the folder `out`).
pub fn sandbox_template(flag: &str, out: &std::path::Path) {
    let root = repo_root();
    let status = std::process::Command::new(root.join(".venv/bin/python"))
        .args(["-m", "sandbox.template", flag])
        .arg(root.join("template.yaml"))
        .arg(out)
        .current_dir(root.join("local"))
        .status()
        .expect("the venv's python runs (make installs it)");
    assert!(status.success(), "sandbox.template {flag} failed");
}

/// This test process's fork server (`sandbox/forkserver.py`), started by the first test that
/// asks for a sandbox; it stops when the process ends (its standard input closes).
fn fork_server() -> &'static ForkServer {
    static SERVER: std::sync::OnceLock<ForkServer> = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| ForkServer::start(&repo_root()).expect("the sandbox's fork server starts"))
}

impl World {
    pub async fn start() -> World {
        World::start_for(600).await
    }

    /// A sandbox that stops itself after `lifetime_seconds` (long runs need more than 600),
    /// forked from this test process's fork server: every sandbox starts from the same deployed
    /// stacks and shares nothing with another.
    pub async fn start_for(lifetime_seconds: u64) -> World {
        let sandbox = fork_server()
            .sandbox(lifetime_seconds)
            .expect("the fork server forks a sandbox");
        let scenario = Scenario::around(sandbox)
            .await
            .expect("the sandbox and the function host start");
        World { scenario }
    }

    /// A started sandbox with the sample buckets seeded (see [`World::seed`]).
    pub async fn seeded() -> World {
        let world = World::start().await;
        world.seed().await;
        world
    }

    /// The source bucket with the samples and a foreign policy, the manifest bucket with the
    /// CSV manifest and a foreign policy, and an empty destination bucket.
    pub async fn seed(&self) {
        let own = |p: &str| serde_json::from_str::<Value>(p).unwrap();
        for (side, bucket, policy) in [
            (
                Side::Source,
                SOURCE_BUCKET,
                Some(own(FOREIGN_SOURCE_POLICY)),
            ),
            (
                Side::Source,
                MANIFEST_BUCKET,
                Some(own(FOREIGN_MANIFEST_POLICY)),
            ),
            (Side::Destination, DESTINATION_BUCKET, None),
        ] {
            self.create_bucket(side, bucket, policy.as_ref())
                .await
                .unwrap();
        }
        objects::put_samples(&self.source.s3, SOURCE_BUCKET, &samples())
            .await
            .unwrap();
        put_manifest(&self.source.s3, MANIFEST_BUCKET).await;
    }

    /// `request(copy_id)` with its CSV manifest kept in the destination account, in
    /// [`DESTINATION_MANIFEST_BUCKET`] (created here, with the same rows).
    pub async fn destination_manifest_request(&self, copy_id: &str) -> Value {
        // A second call (another scenario in the same sandbox) finds the bucket there already.
        let _ = self
            .create_bucket(Side::Destination, DESTINATION_MANIFEST_BUCKET, None)
            .await;
        put_manifest(&self.destination.s3, DESTINATION_MANIFEST_BUCKET).await;
        let mut request = self.request(copy_id);
        request["manifest"] = json!({
            "kind": "csv",
            "accountId": self.sandbox.info.destination_account(),
            "bucket": DESTINATION_MANIFEST_BUCKET,
            "key": MANIFEST_KEY
        });
        request
    }

    /// Puts `key` in the source bucket in storage class `class` (archived ones included: the
    /// sandbox keeps them archived until restored).
    pub async fn put_source_in_class(
        &self,
        key: &str,
        body: Vec<u8>,
        class: aws_sdk_s3::types::StorageClass,
    ) {
        self.source
            .s3
            .put_object()
            .bucket(SOURCE_BUCKET)
            .key(key)
            .storage_class(class)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap_or_else(|e| panic!("putting {key}: {e:?}"));
    }

    /// Replaces the source bucket's own policy; [`World::assert_no_leftovers`] then expects
    /// exactly this one.
    pub async fn set_source_policy(&self, policy: &str) {
        self.set_own_policy(
            Side::Source,
            SOURCE_BUCKET,
            &serde_json::from_str(policy).unwrap(),
        )
        .await
        .unwrap();
    }

    /// Puts both accounts in the organization `org`: every request then carries
    /// `aws:PrincipalOrgID` (`POST /context`).
    pub async fn join_organization(&self, org: &str) {
        self.sandbox
            .control("/context", json!({ "aws:PrincipalOrgID": org }))
            .await
            .unwrap();
    }

    /// Flow B's request with the sandbox's short timings.
    pub fn request(&self, copy_id: &str) -> Value {
        json!({
            "copyId": copy_id,
            "region": self.sandbox.info.region,
            "source": { "accountId": self.sandbox.info.source_account(), "bucket": SOURCE_BUCKET, "prefix": "2026/" },
            "destination": { "accountId": self.sandbox.info.destination_account(), "bucket": DESTINATION_BUCKET },
            "manifest": { "kind": "csv", "accountId": self.sandbox.info.source_account(), "bucket": MANIFEST_BUCKET, "key": MANIFEST_KEY },
            "retry": { "maxAttempts": 2 },
            "timing": { "pollSeconds": 1, "maxPollSeconds": 2, "grantLifetimeSeconds": 3600 }
        })
    }

    /// Flow A's request (an inventory report delivered to the ferry bucket), sandbox timings.
    pub fn inventory_request(
        &self,
        copy_id: &str,
        check_seconds: u64,
        deadline_seconds: u64,
    ) -> Value {
        json!({
            "copyId": copy_id,
            "region": self.sandbox.info.region,
            "source": { "accountId": self.sandbox.info.source_account(), "bucket": SOURCE_BUCKET, "prefix": "2026/" },
            "destination": { "accountId": self.sandbox.info.destination_account(), "bucket": DESTINATION_BUCKET },
            "manifest": { "kind": "inventory" },
            "timing": { "pollSeconds": 1, "maxPollSeconds": 2, "grantLifetimeSeconds": 3600,
                        "inventoryCheckSeconds": check_seconds, "inventoryDeadlineSeconds": deadline_seconds }
        })
    }

    /// Starts an execution and waits for its end; returns its status, output and error.
    pub async fn run(&self, name: &str, input: &Value) -> Execution {
        let arn = self.start_execution(name, input).await;
        self.wait_for(&arn).await
    }

    /// Runs an execution of `side`'s state machine to its end.
    pub async fn run_in(&self, side: Side, name: &str, input: &Value) -> Execution {
        let arn = self.start_execution_in(side, name, input).await;
        self.wait_for(&arn).await
    }

    /// Starts an execution; returns its ARN.
    pub async fn start_execution(&self, name: &str, input: &Value) -> String {
        self.start_execution_in(Side::Destination, name, input)
            .await
    }

    /// Starts an execution of the state machine of `side`'s destination stack; returns its
    /// ARN.
    pub async fn start_execution_in(&self, side: Side, name: &str, input: &Value) -> String {
        let machine = self.sandbox.info.state_machine_of(self.account(side));
        self.clients(side)
            .sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .unwrap()
            .execution_arn()
            .to_string()
    }

    /// The ARN of the execution named `name`.
    pub fn execution_arn(&self, name: &str) -> String {
        self.sandbox
            .info
            .state_machine_arn
            .replace(":stateMachine:", ":execution:")
            + ":"
            + name
    }

    /// Waits until the execution exists and has ended (240 s at most).
    pub async fn wait_for(&self, arn: &str) -> Execution {
        match self.wait_at_most(arn, Duration::from_secs(240)).await {
            Some(execution) => execution,
            None => panic!(
                "execution {arn} not ended after 240 s; sandbox log: {}",
                self.sandbox.log.display()
            ),
        }
    }

    /// The Step Functions client of the account an execution ARN names.
    fn sfn_of(&self, arn: &str) -> &aws_sdk_sfn::Client {
        let account = arn.split(':').nth(4).unwrap_or_default();
        let side = self
            .side_of(account)
            .unwrap_or_else(|| panic!("{arn}: not an account of the sandbox"));
        &self.clients(side).sfn
    }

    /// The execution once it exists and has ended, or None after `limit`.
    pub async fn wait_at_most(&self, arn: &str, limit: Duration) -> Option<Execution> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(d) = self
                .sfn_of(arn)
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
            {
                if d.status() != &ExecutionStatus::Running {
                    return Some(Execution {
                        status: d.status().clone(),
                        output: d.output().and_then(|o| serde_json::from_str(o).ok()),
                        error: d.error().map(str::to_string),
                        cause: d.cause().map(str::to_string),
                        failures: self.failures(arn).await,
                        states: self.states_entered(arn).await,
                    });
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// An execution's whole history, oldest first, every page of it.
    async fn history(&self, arn: &str) -> Option<Vec<aws_sdk_sfn::types::HistoryEvent>> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sfn_of(arn)
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .ok()?;
            events.extend(page.events().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Some(events);
            }
        }
    }

    /// The state of an execution as it left `state` (its last visit): the input with the
    /// state's result at its ResultPath.
    pub async fn state_output(&self, arn: &str, state: &str) -> Option<Value> {
        let h = self.history(arn).await?;
        h.iter()
            .filter_map(|e| e.state_exited_event_details())
            .rfind(|d| d.name() == state)
            .and_then(|d| serde_json::from_str(d.output()?).ok())
    }

    /// The objects of the ferry bucket under `control/<copyId>/<below>`, by key.
    async fn control_objects(&self, copy_id: &str, below: &str) -> Vec<(String, Vec<u8>)> {
        let info = &self.sandbox.info;
        let bucket =
            ferry_core::layout::ferry_bucket_name(info.destination_account(), &info.region);
        let layout = ferry_core::layout::CopyLayout::of(info.destination_account(), copy_id);
        let prefix = format!("{}{below}", layout.control_prefix());
        let mut pages = self
            .destination
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut listed = Vec::new();
        while let Some(page) = pages.next().await {
            listed.extend(page.unwrap().contents().to_vec());
        }
        let mut out = Vec::new();
        for o in &listed {
            let key = o.key().unwrap().to_string();
            let (body, _) =
                ferry_core::clients::get_object_bytes(&self.destination.s3, &bucket, &key)
                    .await
                    .unwrap()
                    .expect("a listed object");
            out.push((key, body));
        }
        out
    }

    /// The copy's job records (`control/<copyId>/run-<n>/job-<m>.json`), as job-submit wrote them.
    pub async fn job_records(&self, copy_id: &str) -> Vec<Value> {
        self.control_objects(copy_id, "run-")
            .await
            .into_iter()
            .filter(|(k, _)| k.ends_with(".json"))
            .map(|(_, b)| serde_json::from_slice(&b).unwrap())
            .collect()
    }

    /// The copy worker's upload records of the copy still in the ferry bucket, by key.
    pub async fn upload_records(&self, copy_id: &str) -> Vec<String> {
        self.control_objects(copy_id, "uploads/")
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// The states an execution entered, in order.
    pub async fn states_entered(&self, arn: &str) -> Vec<String> {
        self.history(arn)
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                e.state_entered_event_details()
                    .map(|d| d.name().to_string())
            })
            .collect()
    }

    /// The failed events of an execution's history, for assertion messages.
    async fn failures(&self, arn: &str) -> Vec<String> {
        let Some(h) = self.history(arn).await else {
            return vec!["(no history)".into()];
        };
        h.iter()
            .filter(|e| e.r#type().as_str().ends_with("Failed"))
            .map(|e| {
                let detail = e
                    .task_failed_event_details()
                    .map(|d| format!("{:?}: {:?}", d.error(), d.cause()))
                    .or_else(|| {
                        e.execution_failed_event_details()
                            .map(|d| format!("{:?}: {:?}", d.error(), d.cause()))
                    })
                    .unwrap_or_default();
                format!("{} {detail}", e.r#type().as_str())
            })
            .collect()
    }

    pub async fn bucket_policy(&self, client: &aws_sdk_s3::Client, bucket: &str) -> Option<Value> {
        match client.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => out.policy().map(|p| serde_json::from_str(p).unwrap()),
            Err(_) => None,
        }
    }

    /// Whether any IAM role of the destination account still lives under ferry's path.
    pub async fn ferry_roles(&self) -> Vec<String> {
        let out = self
            .destination
            .iam
            .list_roles()
            .path_prefix("/ferry/")
            .send()
            .await
            .unwrap();
        out.roles()
            .iter()
            .map(|r| r.role_name().to_string())
            .collect()
    }

    /// Nothing ferry added is left: the source and manifest bucket policies hold only their
    /// foreign statements (a single `Statement` object may come back as a one-element array,
    /// which AWS reads the same), no role under `/ferry/`, no ferry inventory configuration.
    pub async fn assert_no_leftovers(&self) {
        self.assert_no_leftovers_of(&["photos-2026"]).await;
    }

    /// [`World::assert_no_leftovers`] after copies with these copyIds: every bucket of the
    /// scenario holds exactly its owner's policy again (the source bucket's as
    /// [`World::set_source_policy`] last set it), and the scenario's leftovers check finds
    /// nothing else.
    pub async fn assert_no_leftovers_of(&self, copy_ids: &[&str]) {
        let left = self.leftovers(SOURCE_BUCKET, copy_ids).await.unwrap();
        assert!(left.is_empty(), "ferry left:\n{}", left.join("\n"));
    }

    /// Steers the sandbox's inventory delivery (`POST /inventory`: delaySeconds, deliver,
    /// notify, duplicate, corruptChecksum, delayWaiterSeconds).
    pub async fn inventory_delivery(&self, settings: Value) {
        self.sandbox.control("/inventory", settings).await.unwrap();
    }

    /// What the state machines announced when runs ended (`GET /announced`), in order: each
    /// EventBridge event (`service` `events`: `source`, `detail-type`, `detail`, `account`) and
    /// SNS message (`service` `sns`: `topic`, `subject`, `message`).
    pub async fn announced(&self) -> Vec<Value> {
        let all = self.sandbox.get("/announced").await.unwrap();
        all.as_array().cloned().unwrap_or_default()
    }

    /// The announcements of run `execution`: its event and its SNS message (if any).
    pub async fn announced_by(&self, execution: &str) -> (Option<Value>, Option<Value>) {
        let all = self.announced().await;
        let event = all
            .iter()
            .find(|a| a["service"] == "events" && a["detail"]["execution"] == execution)
            .cloned();
        let message = all
            .iter()
            .find(|a| {
                a["service"] == "sns"
                    && a["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(&format!("run {execution} ")))
            })
            .cloned();
        (event, message)
    }

    /// Fails the sandbox's Batch Operations tasks whose key matches (`POST /failures`).
    pub async fn fail_tasks(&self, failure: Value) {
        self.sandbox.control("/failures", failure).await.unwrap();
    }

    /// Holds the sandbox's Batch Operations jobs in Active (`true`) or lets them run.
    /// An EventBridge Scheduler schedule of the destination account that fires now: it invokes
    /// `function` (its name) with `input`; returns the function's answer.
    pub async fn schedule_fires(&self, function: &str, input: Value) -> Value {
        let info = &self.sandbox.info;
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{function}",
            info.region,
            info.destination_account()
        );
        self.sandbox
            .control("/schedule", json!({"function": arn, "input": input}))
            .await
            .unwrap()["answer"]
            .clone()
    }

    pub async fn hold(&self, on: bool) {
        self.sandbox
            .control("/hold", json!({"hold": on}))
            .await
            .unwrap();
    }

    /// From now on, a new grant (bucket policy statement, role policy, KMS grant) takes effect
    /// `seconds` after it is made (the sandbox's propagation delay; docs/src/contributing/sandbox-facts.md).
    pub async fn propagation_delay(&self, seconds: u64) {
        self.sandbox
            .control("/propagation", json!({ "seconds": seconds }))
            .await
            .unwrap();
    }

    /// One field of every Batch Operations job of the sandbox, in the order they were created.
    pub async fn job_fields(&self, field: &str) -> Vec<Value> {
        let jobs = self.sandbox.jobs().await.unwrap();
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|j| j[field].clone())
            .collect()
    }

    /// Waits until a job is Active (60 s at most).
    pub async fn wait_for_active_job(&self) {
        self.wait_for_active_jobs(1).await;
    }

    /// Waits until `n` jobs (of any account) are Active at once (60 s at most).
    pub async fn wait_for_active_jobs(&self, n: usize) {
        if !self.jobs_active_within(n, Duration::from_secs(60)).await {
            panic!(
                "{n} jobs did not become Active: {}",
                self.sandbox.jobs().await.unwrap()
            );
        }
    }

    /// Whether a job is Active within `limit`.
    pub async fn job_active_within(&self, limit: Duration) -> bool {
        self.jobs_active_within(1, limit).await
    }

    /// Whether `n` jobs are Active at once within `limit`.
    pub async fn jobs_active_within(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let jobs = self.sandbox.jobs().await.unwrap();
            let active = jobs
                .as_array()
                .unwrap()
                .iter()
                .filter(|j| j["status"] == "Active")
                .count();
            if active >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The ClientRequestTokens of every job the sandbox knows, sorted.
    pub async fn job_tokens(&self) -> Vec<String> {
        let jobs = self.sandbox.jobs().await.unwrap();
        let mut t: Vec<String> = jobs
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["token"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    }

    /// The statements of ferry's (Sid `Ferry...`) in a source-account bucket's policy.
    pub async fn ferry_statements(&self, bucket: &str) -> Vec<Value> {
        let policy = self.bucket_policy(&self.source.s3, bucket).await;
        let policy = policy
            .map(|p| ferry_core::policy::normalize(&p))
            .unwrap_or_default();
        policy["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["Sid"]
                    .as_str()
                    .is_some_and(|sid| sid.starts_with("Ferry"))
            })
            .cloned()
            .collect()
    }

    /// What a person might do by hand: takes ferry's statements out of a source-account
    /// bucket's policy, keeping the others.
    pub async fn remove_ferry_statements(&self, bucket: &str) {
        let policy = self.bucket_policy(&self.source.s3, bucket).await.unwrap();
        let mut policy = ferry_core::policy::normalize(&policy);
        policy["Statement"].as_array_mut().unwrap().retain(|s| {
            !s["Sid"]
                .as_str()
                .is_some_and(|sid| sid.starts_with("Ferry"))
        });
        self.source
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
    }

    /// Every destination object equals its source: bytes, metadata, tags.
    pub async fn assert_copied(&self, samples: &[Sample]) {
        let differences = objects::differences(&self.destination.s3, DESTINATION_BUCKET, samples)
            .await
            .unwrap();
        assert!(differences.is_empty(), "{differences:#?}");
    }
}

#[derive(Debug)]
pub struct Execution {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Failed events of the history (empty when nothing failed).
    pub failures: Vec<String>,
    /// The states it entered, in order.
    pub states: Vec<String>,
}
