//! The mutation check of the strict sandbox: for every action of every Allow statement of every
//! role the template gives ferry's functions (and the state machine's role and the source side's
//! invoke role), the action is taken out of the live role policy in a fresh sandbox, and the
//! scenarios run until one is refused with AccessDenied naming that role's session and that
//! action. A mutation no scenario catches fails the check: either the action is not needed (take
//! it out of the template) or a scenario is missing.
//!
//! Not part of `make test` (one sandbox per mutation, about ten minutes on two cores):
//! `make mutations`, which runs `cargo test --test mutations -- --ignored --nocapture`.

use std::time::Instant;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::{json, Value};

/// Granted for what the sandbox cannot run: Step Functions' log delivery to CloudWatch Logs.
const NOT_EXERCISED: &[(&str, &str)] = &[(
    "logs:",
    "the sandbox has no CloudWatch Logs; Step Functions' log delivery is checked by cfn-lint and checkov",
)];

#[derive(Debug, Clone)]
struct Mutation {
    account: String,
    role: String,
    policy_name: String,
    statement: usize,
    action: String,
    /// For a statement with several resources and one action (the state machine's invokes):
    /// the one resource taken out instead of the action.
    resource: Option<String>,
}

impl Mutation {
    fn apply(&self, doc: &Value) -> Value {
        let mut doc = doc.clone();
        let statements = doc["Statement"].as_array_mut().unwrap();
        let s = &mut statements[self.statement];
        if let Some(r) = &self.resource {
            let kept: Vec<Value> = as_list(&s["Resource"])
                .into_iter()
                .filter(|x| x.as_str() != Some(r))
                .collect();
            if kept.is_empty() {
                statements.remove(self.statement);
            } else {
                s["Resource"] = Value::Array(kept);
            }
        } else {
            let kept: Vec<Value> = as_list(&s["Action"])
                .into_iter()
                .filter(|x| x.as_str() != Some(&self.action))
                .collect();
            if kept.is_empty() {
                statements.remove(self.statement);
            } else {
                s["Action"] = Value::Array(kept);
            }
        }
        doc
    }

    fn describe(&self) -> String {
        match &self.resource {
            Some(r) => format!("{} {} on {}", self.role, self.action, short(r)),
            None => format!("{} {}", self.role, self.action),
        }
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

fn iam_of(world: &World, account: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&world.sandbox.info.sdk_config(account))
}

async fn role_policies(iam: &aws_sdk_iam::Client, role: &str) -> Vec<(String, Value)> {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut out = vec![];
    for name in names.policy_names() {
        let got = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        let text = ferry_core::policy::decode_iam_document(got.policy_document()).unwrap();
        out.push((name.to_string(), serde_json::from_str(&text).unwrap()));
    }
    out
}

/// Every mutation of the template's roles, read from a sandbox's live IAM.
async fn mutations(world: &World) -> Vec<Mutation> {
    let info = &world.sandbox.info;
    let mut roles: Vec<(String, String)> = info
        .functions
        .values()
        .map(|f| {
            (
                f.account.clone(),
                f.role.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect();
    let region = &info.region;
    roles.push((
        info.destination_account().into(),
        format!("ferry-state-machine-{region}"),
    ));
    roles.push((
        info.source_account().into(),
        format!("ferry-source-invoke-{region}"),
    ));
    roles.sort();
    roles.dedup();
    let mut out = vec![];
    for (account, role) in roles {
        for (policy_name, doc) in role_policies(&iam_of(world, &account), &role).await {
            for (i, s) in doc["Statement"].as_array().unwrap().iter().enumerate() {
                if s["Effect"] != "Allow" {
                    continue;
                }
                let actions = as_list(&s["Action"]);
                let resources = as_list(&s["Resource"]);
                for a in &actions {
                    let action = a.as_str().unwrap().to_string();
                    let base = Mutation {
                        account: account.clone(),
                        role: role.clone(),
                        policy_name: policy_name.clone(),
                        statement: i,
                        action: action.clone(),
                        resource: None,
                    };
                    if actions.len() == 1 && resources.len() > 1 {
                        for r in &resources {
                            out.push(Mutation {
                                resource: Some(r.as_str().unwrap().to_string()),
                                ..base.clone()
                            });
                        }
                    } else {
                        out.push(base);
                    }
                }
            }
        }
    }
    out
}

/// The scenarios, cheapest first; each returns whether the copy ended as it should.
const SCENARIOS: &[&str] = &[
    "flow B",
    "flow A",
    "flow B, a source bucket without a policy of its own",
    "flow B, transient failures retried",
    "flow B, a run stopped by hand and cleaned up by the rule",
    "flow A, a damaged inventory report",
    "flow A, a report that lands before its waiter",
    "flow A, a lost S3 event",
];

async fn scenario(world: &World, n: usize) -> bool {
    let id = format!("m{n}");
    match SCENARIOS[n] {
        "flow B" => {
            world
                .run(&format!("{id}-1"), &world.request(&id))
                .await
                .status
                == ExecutionStatus::Succeeded
        }
        "flow A" => {
            world
                .run(&format!("{id}-1"), &world.inventory_request(&id, 30, 120))
                .await
                .status
                == ExecutionStatus::Succeeded
        }
        "flow B, a source bucket without a policy of its own" => {
            // Revoke then deletes the policy rather than writing an empty one.
            world
                .source_s3
                .delete_bucket_policy()
                .bucket(SOURCE_BUCKET)
                .send()
                .await
                .unwrap();
            let ok = world.run(&format!("{id}-1"), &world.request(&id)).await.status
                == ExecutionStatus::Succeeded;
            ok && world
                .bucket_policy(&world.source_s3, SOURCE_BUCKET)
                .await
                .is_none()
        }
        "flow B, transient failures retried" => {
            world
                .fail_tasks(
                    json!({"pattern": "2026/notes/*", "code": "SlowDown", "http": 503, "times": 1}),
                )
                .await;
            world
                .run(&format!("{id}-1"), &world.request(&id))
                .await
                .status
                == ExecutionStatus::Succeeded
        }
        "flow B, a run stopped by hand and cleaned up by the rule" => {
            world.hold(true).await;
            let arn = world
                .start_execution(&format!("{id}-1"), &world.request(&id))
                .await;
            world.wait_for_active_job().await;
            let _ = world.sfn.stop_execution().execution_arn(&arn).send().await;
            world.wait_for(&arn).await;
            world.hold(false).await;
            world
                .wait_for(&world.execution_arn(&format!("{id}-cleanup-1")))
                .await
                .status
                == ExecutionStatus::Succeeded
        }
        "flow A, a damaged inventory report" => {
            world
                .inventory_delivery(json!({"corruptChecksum": true}))
                .await;
            let run = world
                .run(&format!("{id}-1"), &world.inventory_request(&id, 30, 120))
                .await;
            world
                .inventory_delivery(json!({"corruptChecksum": false}))
                .await;
            run.error.as_deref() == Some("InventoryChecksumMismatch")
        }
        "flow A, a report that lands before its waiter" => {
            world
                .inventory_delivery(json!({"delayWaiterSeconds": 3}))
                .await;
            let ok = world
                .run(&format!("{id}-1"), &world.inventory_request(&id, 30, 120))
                .await
                .status
                == ExecutionStatus::Succeeded;
            world
                .inventory_delivery(json!({"delayWaiterSeconds": 0}))
                .await;
            ok
        }
        "flow A, a lost S3 event" => {
            world.inventory_delivery(json!({"notify": false})).await;
            world
                .run(&format!("{id}-1"), &world.inventory_request(&id, 3, 120))
                .await
                .status
                == ExecutionStatus::Succeeded
        }
        other => unreachable!("{other}"),
    }
}

/// The refusal that names the mutated role's session and action, if the sandbox made one.
async fn refusal(world: &World, m: &Mutation) -> Option<String> {
    let denials = world.sandbox.get("/denials").await.unwrap();
    denials.as_array().unwrap().iter().find_map(|d| {
        let message = d["message"].as_str().unwrap_or("");
        (message.contains(&format!("/{}/", m.role))
            && message.contains(&format!("perform: {}", m.action)))
        .then(|| message.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "one sandbox per mutation: `make mutations`"]
async fn removing_any_action_from_any_role_makes_a_scenario_fail_with_access_denied() {
    let started = Instant::now();
    let mut all = mutations(&World::start().await).await;
    // FERRY_MUTATIONS=<text> runs only the mutations whose description contains it.
    if let Ok(only) = std::env::var("FERRY_MUTATIONS") {
        all.retain(|m| m.describe().contains(&only));
    }
    let mut survived = vec![];
    let mut caught = 0;
    let mut skipped = 0;
    println!("{} mutations", all.len());
    for (i, m) in all.iter().enumerate() {
        if let Some((_, why)) = NOT_EXERCISED
            .iter()
            .find(|(prefix, _)| m.action.starts_with(prefix))
        {
            println!("{i:>3} {:<70} not exercised: {why}", m.describe());
            skipped += 1;
            continue;
        }
        let world = World::seeded().await;
        let iam = iam_of(&world, &m.account);
        let doc = role_policies(&iam, &m.role)
            .await
            .into_iter()
            .find(|(n, _)| *n == m.policy_name)
            .unwrap()
            .1;
        iam.put_role_policy()
            .role_name(&m.role)
            .policy_name(&m.policy_name)
            .policy_document(m.apply(&doc).to_string())
            .send()
            .await
            .unwrap();
        let mut found = None;
        for n in 0..SCENARIOS.len() {
            let ok = scenario(&world, n).await;
            if let Some(message) = refusal(&world, m).await {
                found = Some((n, ok, message));
                break;
            }
        }
        match found {
            Some((n, ok, message)) => {
                caught += 1;
                let cut: String = message.chars().take(150).collect();
                println!(
                    "{i:>3} {:<70} caught by \"{}\"{}: {cut}",
                    m.describe(),
                    SCENARIOS[n],
                    if ok {
                        " (the copy still ended well)"
                    } else {
                        ""
                    }
                );
            }
            None => {
                println!("{i:>3} {:<70} SURVIVED every scenario", m.describe());
                survived.push(m.describe());
            }
        }
    }
    println!(
        "mutations: {} in all, {caught} caught, {skipped} not exercised, {} survived, in {:.0} s",
        all.len(),
        survived.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(survived.is_empty(), "survived: {survived:#?}");
}
