//! template.yaml checked against the code: the functions, the state machine's definition, its
//! error names and failure paths, the role it may assume, and the permissions boundary. The
//! template is read through cfn-lint's decoder (the one the sandbox uses), which knows
//! CloudFormation's YAML tags.

use std::collections::{BTreeMap, BTreeSet};

use ferry_core::ErrorName;
use ferry_tests::repo_root;
use serde_json::{json, Value};

fn decoded() -> Value {
    ferry_tests::decoded_template()
}

fn definition(t: &Value) -> &Value {
    &t["Resources"]["StateMachine"]["Properties"]["Definition"]
}

/// The states a state leads to: Next, Default, every Choice's Next and every Catch's Next.
fn successors(state: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(n) = state[key].as_str() {
            out.push((n.to_string(), false));
        }
    }
    for c in state["Choices"].as_array().into_iter().flatten() {
        out.push((c["Next"].as_str().unwrap().to_string(), false));
    }
    for c in state["Catch"].as_array().into_iter().flatten() {
        out.push((c["Next"].as_str().unwrap().to_string(), true));
    }
    out
}

#[test]
fn every_function_crate_has_a_function_resource_and_the_reverse() {
    let t = decoded();
    let resources: BTreeSet<String> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| {
            r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|e| format!("ferry-{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(resources, crates);
    // And each is named after its binary, so that each side can name the other's functions.
    for r in t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
    {
        assert_eq!(
            r["Properties"]["FunctionName"],
            r["Metadata"]["BuildProperties"]["Binary"]
        );
    }
}

#[test]
fn every_substitution_is_declared_and_used() {
    let t = decoded();
    let text = definition(&t).to_string();
    let used: BTreeSet<String> = text
        .split("${")
        .skip(1)
        .map(|rest| rest.split('}').next().unwrap().to_string())
        .collect();
    let declared: BTreeSet<String> = t["Resources"]["StateMachine"]["Properties"]
        ["DefinitionSubstitutions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(used, declared);
}

#[test]
fn the_definition_uses_only_ferrys_error_names() {
    let t = decoded();
    let ours: BTreeSet<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
    let mut seen = 0;
    for (name, state) in definition(&t)["States"].as_object().unwrap() {
        for list in ["Retry", "Catch"] {
            for rule in state[list].as_array().into_iter().flatten() {
                for e in rule["ErrorEquals"].as_array().unwrap() {
                    let e = e.as_str().unwrap();
                    seen += 1;
                    assert!(
                        ours.contains(e)
                            || e.starts_with("States.")
                            || e.starts_with("Lambda.")
                            // The Lambda runtime's own: the process died, or timed out.
                            || ["Sandbox.Timedout", "Runtime.ExitError"].contains(&e),
                        "{name}: {e} is not one of ferry's error names"
                    );
                }
            }
        }
        if state["Type"] == "Fail" {
            if let Some(e) = state["Error"].as_str() {
                assert!(
                    ours.contains(e),
                    "{name} fails with {e}, not one of ferry's names"
                );
            }
        }
    }
    assert!(seen > 20);
}

#[test]
fn every_state_is_reachable() {
    let t = decoded();
    let states = definition(&t)["States"].as_object().unwrap();
    let mut reached = BTreeSet::new();
    let mut todo = vec![definition(&t)["StartAt"].as_str().unwrap().to_string()];
    while let Some(s) = todo.pop() {
        if reached.insert(s.clone()) {
            todo.extend(successors(&states[&s]).into_iter().map(|(n, _)| n));
        }
    }
    let all: BTreeSet<String> = states.keys().cloned().collect();
    assert_eq!(reached, all);
}

/// After the plan exists, every failure (every Catch) leads through the revoke steps before the
/// execution can fail; only the plan steps' own Catch may fail at once (nothing is touched yet).
#[test]
fn every_failure_path_goes_through_revoke() {
    let t = decoded();
    let states: BTreeMap<String, Value> = definition(&t)["States"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    const REVOKE: &str = "Stop jobs and remove the role";
    const SOURCE_REVOKE: &str = "Revoke source access";
    for (name, state) in &states {
        for (target, is_catch) in successors(state) {
            // The plan steps and the preflight touch nothing (and without a plan there is
            // nothing to revoke).
            // The run's end announcements come after everything was revoked.
            let planning = name == "Plan the copy"
                || name == "Check the source's policies"
                || name == "Load the plan of the run to clean up"
                || name == "Announce the end"
                || name == "Tell the topic";
            if !is_catch || planning || name == REVOKE || name == SOURCE_REVOKE {
                continue;
            }
            if name == "Remove source inventory" {
                continue; // a step of the revoke path itself
            }
            // Walk forward from the Catch's target without passing the revoke steps: no Fail
            // state may be reached.
            let mut seen = BTreeSet::new();
            let mut todo = vec![target.clone()];
            while let Some(s) = todo.pop() {
                if s == REVOKE || !seen.insert(s.clone()) {
                    continue;
                }
                assert_ne!(
                    states[&s]["Type"], "Fail",
                    "{name}'s Catch reaches {s} without revoking"
                );
                todo.extend(successors(&states[&s]).into_iter().map(|(n, _)| n));
            }
        }
    }
    // And the revoke path reaches the source side's revoke.
    assert_eq!(states[REVOKE]["Catch"][0]["Next"], SOURCE_REVOKE);
}

#[test]
fn the_state_machine_may_assume_exactly_the_source_sides_roles() {
    let t = decoded();
    let r = &t["Resources"];
    let statements = r["StateMachineRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"]
        .as_array()
        .unwrap();
    let assume: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Action"] == "sts:AssumeRole")
        .collect();
    assert_eq!(assume.len(), 1, "one statement may assume roles");
    // The per-destination resources of the source stack (Fn::ForEach over
    // DestinationAccountIds, expanded by the AWS::LanguageExtensions transform, which must come
    // before SAM's).
    assert_eq!(
        t["Transform"],
        json!(["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"])
    );
    let each = &r["Fn::ForEach::Destinations"];
    assert_eq!(each[0], "AccountId");
    assert_eq!(each[1], json!({"Ref": "DestinationAccountIds"}));
    let per = &each[2];
    let role = &per["SourceInvokeRole${AccountId}"];
    let role_name = role["Properties"]["RoleName"]["Fn::Sub"].as_str().unwrap();
    for logical in [
        "SourceInvokeRole${AccountId}",
        "SourceAccessAlias${AccountId}",
        "SourceInventoryAlias${AccountId}",
    ] {
        assert_eq!(per[logical]["Condition"], "IsSource", "{logical}");
    }
    // This account's invoke role of the source stack in any account, on the condition that the
    // account is one of SourceAccountIds (local/sandbox/test_template.py evaluates the two
    // together).
    assert_eq!(
        assume[0]["Resource"]["Fn::Sub"],
        format!(
            "arn:${{AWS::Partition}}:iam::*:role/{}",
            role_name.replace("${AccountId}", "${AWS::AccountId}")
        )
    );
    assert_eq!(
        assume[0]["Condition"],
        json!({"StringEquals": {"aws:ResourceAccount": {"Ref": "SourceAccountIds"}}})
    );
    // The role and functions a Task calls in the source account are the plan's, and the plan's
    // are the template's names (ferry-core's SourceSide, resolved for one source account and
    // one destination account).
    let side = ferry_core::names::SourceSide::of("111111111111", "eu-west-1", "222222222222");
    let resolve = |s: &str| {
        s.replace("${AWS::Region}", "eu-west-1")
            .replace("${AccountId}", "222222222222")
    };
    assert_eq!(
        side.invoke_role,
        format!("arn:aws:iam::111111111111:role/{}", resolve(role_name))
    );
    let invokable = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"]
        .as_array()
        .unwrap();
    for (n, (function, alias, arn)) in [
        (
            "SourceAccessFunction",
            "SourceAccessAlias${AccountId}",
            &side.access_function,
        ),
        (
            "SourceInventoryFunction",
            "SourceInventoryAlias${AccountId}",
            &side.inventory_function,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let name = r[function]["Properties"]["FunctionName"].as_str().unwrap();
        let alias = &per[alias]["Properties"];
        assert_eq!(alias["FunctionName"], json!({"Ref": function}));
        assert_eq!(alias["FunctionVersion"], "$LATEST");
        let alias_name = resolve(alias["Name"]["Fn::Sub"].as_str().unwrap());
        assert_eq!(
            *arn,
            format!("arn:aws:lambda:eu-west-1:111111111111:function:{name}:{alias_name}")
        );
        // The role invokes that alias and nothing else of the function.
        assert_eq!(
            resolve(invokable[n]["Fn::Sub"].as_str().unwrap()),
            format!("${{{function}.Arn}}:{alias_name}")
        );
    }
    assert_eq!(invokable.len(), 2);
    let asl = serde_json::to_string(&r["StateMachine"]["Properties"]["Definition"]).unwrap();
    assert_eq!(
        asl.matches(r#""Credentials":{"RoleArn.$":"$.plan.sourceSide.invokeRole"}"#)
            .count(),
        7,
        "every source-side Task assumes the plan's invoke role"
    );
    // The invoke role's trust: its destination account's root, and of it only the state
    // machine's role, by name.
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["AWS"], json!({"Ref": "AccountId"}));
    let pinned = trust["Condition"]["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"]
        .as_str()
        .unwrap();
    let sm_role = r["StateMachineRole"]["Properties"]["RoleName"]["Fn::Sub"]
        .as_str()
        .unwrap();
    assert_eq!(
        pinned,
        format!("arn:${{AWS::Partition}}:iam::${{AccountId}}:role/{sm_role}")
    );
}

#[test]
fn the_templates_boundary_is_ferry_cores() {
    let resolved = resolved_policies();
    let doc = &resolved["template-destination-PermissionsBoundary-0.json"];
    assert_eq!(
        *doc,
        ferry_core::policy::permissions_boundary(&ferry_core::policy::BoundaryScope {
            partition: "aws",
            region: "eu-west-1",
            own_account: "222222222222",
            source_accounts: &["111111111111".into(), "333333333333".into()],
            destination_buckets: &["dst-photos".into(), "dst-archive".into()],
            manifest_buckets: &["dst-manifests".into()],
        })
    );
}

/// History events a state costs per visit: Task = Entered, Scheduled, Started, Succeeded,
/// Exited; Wait, Choice and Pass = Entered, Exited (the Step Functions developer guide's event
/// types). A `.waitForTaskToken` Task adds TaskSubmitted.
fn events_of(state: &Value) -> u64 {
    match state["Type"].as_str().unwrap() {
        "Task"
            if state["Resource"]
                .as_str()
                .unwrap()
                .ends_with(".waitForTaskToken") =>
        {
            6
        }
        "Task" => 5,
        _ => 2,
    }
}

/// The states of the loop that starts at `from` and follows `Next` / `Default` back to it.
fn cycle(states: &serde_json::Map<String, Value>, from: &str) -> Vec<String> {
    let mut path = vec![from.to_string()];
    loop {
        let s = &states[path.last().unwrap()];
        let next = s["Next"]
            .as_str()
            .or(s["Default"].as_str())
            .unwrap()
            .to_string();
        if next == from {
            return path;
        }
        assert!(path.len() < 20, "no loop back to {from}");
        path.push(next);
    }
}

#[test]
fn one_execution_tracks_a_job_for_fourteen_days_within_the_history_limit() {
    let t = decoded();
    let states = definition(&t)["States"].as_object().unwrap();
    let round = cycle(states, "Wait for the job");
    assert_eq!(
        round,
        ["Wait for the job", "Track job", "Has the job ended?"]
    );
    let per_round: u64 = round.iter().map(|s| events_of(&states[s])).sum();
    assert_eq!(per_round, 9);
    // Everything else one run of flow A visits at most once, plus a retry job's own path.
    let once: u64 = states.values().map(events_of).sum();
    let timing = ferry_core::request::Timing::default();
    // The smallest cap a request may set (`pollSeconds` = `maxPollSeconds` = 1) costs the most
    // rounds: the first 600 looks a second apart, then the growth to 15 minutes.
    let rounds = ferry_core::job::rounds_to_cover(1, 1, 14 * 86_400);
    assert!(
        rounds
            >= ferry_core::job::rounds_to_cover(
                timing.poll_seconds,
                timing.max_poll_seconds,
                14 * 86_400
            )
    );
    // The inventory wait, over its default deadline: one wait, one look and one choice per check.
    let checks = timing.inventory_deadline_seconds / timing.inventory_check_seconds;
    let wait = [
        "Wait for inventory report",
        "Look for the inventory report",
        "Was the report there?",
    ];
    let per_check: u64 = wait.iter().map(|s| events_of(&states[*s])).sum();
    let total = once + rounds * per_round + checks * per_check;
    assert!(
        total < 25_000,
        "{rounds} tracking rounds x {per_round} + {checks} inventory checks x {per_check} + {once} = {total}"
    );
    println!("14 days: {rounds} rounds x {per_round} events; inventory wait: {checks} checks x {per_check}; total {total} of 25,000");
}

/// The IAM actions each SDK call (or ferry-core helper) needs, from AWS's service authorization
/// reference. HeadObject is authorized as s3:GetObject; DeleteBucketInventoryConfiguration as
/// s3:PutInventoryConfiguration; CreateJob also needs iam:PassRole for the job's role and
/// s3:PutJobTagging for its tags.
const ACTIONS: &[(&str, &[&str])] = &[
    ("get_object", &["s3:GetObject"]),
    ("get_object_bytes", &["s3:GetObject"]),
    ("head_object", &["s3:GetObject"]),
    // A HeadObject (or a copy source) of a given version is authorized as s3:GetObjectVersion.
    ("set_version_id", &["s3:GetObjectVersion"]),
    ("put_object", &["s3:PutObject"]),
    ("delete_object", &["s3:DeleteObject"]),
    ("list_objects_v2", &["s3:ListBucket"]),
    // HeadBucket is authorized as s3:ListBucket (AWS's HeadBucket page).
    ("head_bucket", &["s3:ListBucket"]),
    ("get_bucket_encryption", &["s3:GetEncryptionConfiguration"]),
    ("get_bucket_versioning", &["s3:GetBucketVersioning"]),
    ("create_grant", &["kms:CreateGrant"]),
    ("list_grants", &["kms:ListGrants"]),
    ("revoke_grant", &["kms:RevokeGrant"]),
    ("list_retirable_grants", &["kms:ListRetirableGrants"]),
    // The grant's retiring principal needs no permission (KMS Developer Guide, grant-manage:
    // "Principals specified in the grant can retire a grant without the kms:RetireGrant
    // permission"), nor does anyone for GetCallerIdentity.
    ("retire_grant", &[]),
    ("get_caller_identity", &[]),
    ("list_aliases", &["kms:ListAliases"]),
    ("describe_key", &["kms:DescribeKey"]),
    ("s3_as", &["sts:AssumeRole"]),
    ("abort_multipart_upload", &["s3:AbortMultipartUpload"]),
    ("create_multipart_upload", &["s3:PutObject"]),
    ("upload_part_copy", &["s3:PutObject", "s3:GetObject"]),
    ("list_parts", &["s3:ListMultipartUploadParts"]),
    ("complete_multipart_upload", &["s3:PutObject"]),
    ("copy_object", &["s3:PutObject", "s3:GetObject"]),
    ("get_object_tagging", &["s3:GetObjectTagging"]),
    ("get_bucket_policy", &["s3:GetBucketPolicy"]),
    // ferry-core's read of a bucket's own policy.
    ("read_bucket_policy", &["s3:GetBucketPolicy"]),
    // ferry-core's preflight: IAM's policy simulator.
    ("preflight::run_half", &["iam:SimulateCustomPolicy"]),
    ("put_bucket_policy", &["s3:PutBucketPolicy"]),
    ("delete_bucket_policy", &["s3:DeleteBucketPolicy"]),
    (
        "get_bucket_inventory_configuration",
        &["s3:GetInventoryConfiguration"],
    ),
    (
        "put_bucket_inventory_configuration",
        &["s3:PutInventoryConfiguration"],
    ),
    (
        "delete_bucket_inventory_configuration",
        &["s3:PutInventoryConfiguration"],
    ),
    ("create_role", &["iam:CreateRole"]),
    ("get_role", &["iam:GetRole"]),
    ("put_role_policy", &["iam:PutRolePolicy"]),
    ("delete_role_policy", &["iam:DeleteRolePolicy"]),
    ("delete_role", &["iam:DeleteRole"]),
    (
        "create_job",
        &["s3:CreateJob", "iam:PassRole", "s3:PutJobTagging"],
    ),
    ("describe_job", &["s3:DescribeJob"]),
    ("update_job_status", &["s3:UpdateJobStatus"]),
    ("send_task_success", &["states:SendTaskSuccess"]),
    ("send_task_failure", &["states:SendTaskFailure"]),
    ("start_execution", &["states:StartExecution"]),
    ("list_executions", &["states:ListExecutions"]),
    ("describe_execution", &["states:DescribeExecution"]),
    // ferry-core's control objects and inventory deliveries (control.rs, delivery.rs).
    ("read_plan", &["s3:GetObject"]),
    ("store_plan", &["s3:GetObject", "s3:PutObject"]),
    ("put_job_record", &["s3:PutObject"]),
    ("read_last_complete", &["s3:GetObject"]),
    ("put_last_complete", &["s3:GetObject", "s3:PutObject"]),
    ("job_records", &["s3:ListBucket", "s3:GetObject"]),
    ("put_waiter", &["s3:PutObject"]),
    ("list_waiters", &["s3:ListBucket", "s3:GetObject"]),
    ("delete_waiter", &["s3:DeleteObject"]),
    ("read_delivery", &["s3:GetObject"]),
    (
        "complete_wait",
        &["states:SendTaskSuccess", "states:SendTaskFailure"],
    ),
];

/// What a function may be denied explicitly: taking ferry's permissions boundary off a role,
/// or editing the boundary policy (AWS's pattern for delegating role creation).
const BOUNDARY_GUARD: &[&str] = &[
    "iam:DeleteRolePermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicy",
];

/// Granted beyond the calls: a function that reads an object that may not exist yet (plan's
/// stored plan) needs s3:ListBucket, or S3 answers 403 instead of 404.
const ALSO_GRANTED: &[&str] = &["s3:ListBucket"];

/// Calls found in a crate's code that the function never makes: inventory-wait calls
/// `complete_wait` only with a report it found intact (a damaged one fails its own Task), so
/// never SendTaskFailure (`make mutations` showed the grant unused).
const NEVER_CALLED: &[(&str, &str)] = &[("ferry-inventory-wait", "states:SendTaskFailure")];

/// Calls a function makes as the copy's Batch role (the copy worker, through `s3_as`): that
/// role's policy must allow them (checked below), the function's own need not.
const AS_BATCH_ROLE: &[(&str, &[&str])] = &[(
    "ferry-copy-worker",
    &[
        "head_object",
        "copy_object",
        "create_multipart_upload",
        "upload_part_copy",
        "list_parts",
        "complete_multipart_upload",
        "abort_multipart_upload",
        "get_object_tagging",
        "set_version_id",
    ],
)];

fn as_batch_role(krate: &str) -> &'static [&'static str] {
    AS_BATCH_ROLE
        .iter()
        .find(|(k, _)| *k == krate)
        .map_or(&[], |(_, calls)| calls)
}

/// A crate's code, without its tests (tests.rs files, and everything after `#[cfg(test)]`).
fn code_of(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            text.push_str(&code_of(&path));
        } else if path.extension().is_some_and(|x| x == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let src = std::fs::read_to_string(&path).unwrap();
            text.push_str(src.split("#[cfg(test)]").next().unwrap());
        }
    }
    text
}

/// The actions a function's code needs: its SDK calls and the ferry-core helpers it calls
/// (no function crate depends on another: `functions_depend_on_ferry_core_only`).
fn needed_actions(krate: &str) -> BTreeSet<String> {
    let dir = repo_root()
        .join("functions")
        .join(krate.trim_start_matches("ferry-"));
    let code: String = code_of(&dir.join("src")).split_whitespace().collect();
    ACTIONS
        .iter()
        .filter(|(call, _)| {
            code.contains(&format!(".{call}()")) || code.contains(&format!("{call}("))
        })
        .filter(|(call, _)| !as_batch_role(krate).contains(call))
        .flat_map(|(_, actions)| actions.iter().map(|a| a.to_string()))
        .collect()
}

/// The template's inline policies resolved for the sandbox's accounts, by file name; resolved
/// once per test binary (the tests run in parallel and share the directory).
fn resolved_policies() -> BTreeMap<String, Value> {
    static RESOLVED: std::sync::OnceLock<BTreeMap<String, Value>> = std::sync::OnceLock::new();
    RESOLVED.get_or_init(resolve_policies).clone()
}

fn resolve_policies() -> BTreeMap<String, Value> {
    let root = repo_root();
    let dir = root.join("target/template-policies-test");
    let _ = std::fs::remove_dir_all(&dir);
    ferry_tests::sandbox_template("--policies", &dir);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let doc = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().to_string(), doc)
        })
        .collect()
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => vec![],
    }
}

#[test]
fn each_function_may_do_exactly_what_its_code_calls() {
    let t = decoded();
    let policies = resolved_policies();
    let mut checked = 0;
    for (logical, r) in t["Resources"].as_object().unwrap() {
        if r["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let krate = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        // A function with its own role (job-submit) is governed by that role's policy.
        let holder = r["Properties"]["Role"]["Fn::GetAtt"]
            .as_array()
            .map(|a| a[0].as_str().unwrap().to_string())
            .or_else(|| {
                r["Properties"]["Role"]["Fn::GetAtt"]
                    .as_str()
                    .map(|s| s.split('.').next().unwrap().to_string())
            })
            .unwrap_or_else(|| logical.clone());
        let mut granted = BTreeSet::new();
        let mut star_resources = BTreeSet::new();
        for (name, doc) in &policies {
            if !name.contains(&format!("-{holder}-")) {
                continue;
            }
            for s in doc["Statement"].as_array().unwrap() {
                let actions = as_list(&s["Action"]);
                if s["Effect"] == "Deny" {
                    // Only the guard of ferry's permissions boundary denies.
                    for a in &actions {
                        assert!(BOUNDARY_GUARD.contains(&a.as_str()), "{name} denies {a}");
                    }
                    continue;
                }
                assert_eq!(s["Effect"], "Allow", "{name}");
                if as_list(&s["Resource"]).iter().any(|r| r == "*") {
                    star_resources.extend(actions.clone());
                }
                granted.extend(actions);
            }
        }
        let mut needed = needed_actions(krate);
        for (k, a) in NEVER_CALLED {
            if *k == krate {
                assert!(
                    needed.remove(*a),
                    "{krate}: NEVER_CALLED lists {a}, which it does not call"
                );
            }
        }
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            missing.is_empty(),
            "{krate} calls for {missing:?}, which its policy does not grant"
        );
        let extra: Vec<_> = granted
            .difference(&needed)
            .filter(|a| !ALSO_GRANTED.contains(&a.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{krate}'s policy grants {extra:?}, which its code never calls for"
        );
        // "*" only where IAM has no resource type for the action.
        let no_resource_type = [
            "s3:CreateJob",
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
            "kms:ListAliases",
            // KMS authorizes it on the retiring principal it is asked about, not a key (KMS
            // API reference, ListRetirableGrants); "*" is the form that admits it whatever IAM
            // takes that resource to be.
            "kms:ListRetirableGrants",
            // The service authorization reference lists SimulateCustomPolicy with no resource
            // type; it evaluates only the policies it is given.
            "iam:SimulateCustomPolicy",
        ];
        for a in &star_resources {
            assert!(
                no_resource_type.contains(&a.as_str()),
                "{krate} is granted {a} on every resource"
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        std::fs::read_dir(repo_root().join("functions"))
            .unwrap()
            .count()
    );
}

#[test]
fn what_the_copy_worker_does_as_the_batch_role_that_role_may_do() {
    let plan = ferry_core::testing::csv_plan();
    let policy = ferry_core::policy::batch_role_policy(&plan.request, &plan.names(), None);
    let granted: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| as_list(&s["Action"]))
        .collect();
    for call in as_batch_role("ferry-copy-worker") {
        let (_, actions) = ACTIONS
            .iter()
            .find(|(c, _)| c == call)
            .expect("listed in ACTIONS");
        for a in *actions {
            assert!(
                granted.contains(*a),
                "the worker's {call} needs {a}, which the Batch role lacks"
            );
        }
    }
    // And the worker may become exactly the copies' Batch roles.
    let doc = &resolved_policies()["template-destination-CopyWorkerRole-0.json"];
    let assume: Vec<&Value> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| as_list(&s["Action"]) == ["sts:AssumeRole"])
        .collect();
    assert_eq!(assume.len(), 1);
    assert_eq!(
        assume[0]["Resource"],
        "arn:aws:iam::222222222222:role/ferry/ferry-batch-*"
    );
}

#[test]
fn no_role_ferry_creates_can_lose_or_change_its_boundary() {
    let policies = resolved_policies();
    let doc = &policies["template-destination-DestinationAccessFunction-0.json"];
    let denied: BTreeSet<String> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .flat_map(|s| as_list(&s["Action"]))
        .collect();
    let guard: BTreeSet<String> = BOUNDARY_GUARD.iter().map(|a| a.to_string()).collect();
    assert_eq!(denied, guard);
    // And roles are created only under /ferry/, only with the boundary attached.
    let create = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| as_list(&s["Action"]).contains(&"iam:CreateRole".to_string()))
        .unwrap();
    assert_eq!(
        create["Condition"]["ArnEquals"]["iam:PermissionsBoundary"],
        "arn:aws:iam::222222222222:policy/ferry/ferry-boundary-eu-west-1"
    );
    assert_eq!(create["Resource"], "arn:aws:iam::222222222222:role/ferry/*");
}

#[test]
fn the_source_functions_touch_only_the_source_buckets_of_their_own_account() {
    let policies = resolved_policies();
    let buckets = ["arn:aws:s3:::src-photos", "arn:aws:s3:::src-manifests"];
    for (file, allowed) in [
        ("SourceAccessFunction-0", &buckets),
        ("SourceInventoryFunction-0", &buckets),
    ] {
        let doc = &policies[&format!("template-source-{file}.json")];
        let matching: Vec<&Value> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| as_list(&s["Resource"]) == *allowed)
            .collect();
        assert!(!matching.is_empty(), "{file}: {allowed:?}");
        for s in doc["Statement"].as_array().unwrap() {
            let r = as_list(&s["Resource"]);
            if as_list(&s["Action"]) == ["kms:ListAliases"]
                || as_list(&s["Action"]) == ["kms:ListRetirableGrants"]
                || as_list(&s["Action"]) == ["iam:SimulateCustomPolicy"]
            {
                // Which key is aws/s3: an account-wide listing with no resource type; and the
                // grants this role may retire, authorized on the principal asked about.
                assert_eq!(r, ["*"], "{file}");
                continue;
            }
            if as_list(&s["Action"]) == ["kms:DescribeKey"] {
                // Which key a default key's alias names: the account's own keys only.
                assert_eq!(r, ["arn:aws:kms:eu-west-1:111111111111:key/*"], "{file}");
                continue;
            }
            if as_list(&s["Action"]) == ["s3:GetObject"] {
                // source-access's sample (HeadObject) of the objects' encryption: objects of
                // this account's buckets (the condition below), which keeps the policy under
                // IAM's limit with 200 buckets; the code HEADs under a listed bucket only.
                assert_eq!(r, ["arn:aws:s3:::*/*"], "{file}");
            } else {
                assert!(
                    r == buckets,
                    "{file}: the sandbox's SourceBuckets, and nothing else: {r:?}"
                );
            }
            assert_eq!(
                s["Condition"]["StringEquals"]["s3:ResourceAccount"],
                "111111111111"
            );
        }
    }
    // Grants on exactly the keys of SourceKmsKeyArns.
    let doc = &policies["template-source-SourceAccessFunction-1.json"];
    assert_eq!(
        as_list(&doc["Statement"][0]["Resource"]),
        [
            "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-4111-8111-000000000001",
            "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-4111-8111-000000000002"
        ]
    );
}
