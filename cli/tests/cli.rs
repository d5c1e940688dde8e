//! The `ferry` binary against the sandbox: every command, exit statuses included.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_cli::target::Target;
use ferry_tests::{repo_root, Side, World, SOURCE_BUCKET};
use serde_json::{json, Value};

struct Ran {
    status: i32,
    stdout: String,
    stderr: String,
}

impl From<std::process::Output> for Ran {
    fn from(out: std::process::Output) -> Ran {
        Ran {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `ferry` with `args`; with the sandbox's description when `world` is given.
fn ferry(world: Option<&World>, args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.env_remove("FERRY_SANDBOX")
        .env_remove("AWS_PROFILE")
        .env_remove("FERRY_STATE_MACHINE_ARN");
    if let Some(w) = world {
        cmd.env("FERRY_SANDBOX", describe(w));
    }
    cmd.args(args).output().expect("ferry runs").into()
}

fn scratch() -> PathBuf {
    let dir = repo_root().join("target/cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The sandbox's description, as `make sandbox` writes it.
fn describe(world: &World) -> PathBuf {
    let path = scratch().join(format!("sandbox-{}.json", world.sandbox.info.pid));
    std::fs::write(&path, serde_json::to_string(&world.sandbox.info).unwrap()).unwrap();
    path
}

fn request_file(name: &str, request: &Value) -> String {
    let path = scratch().join(format!("{name}-{}.json", std::process::id()));
    std::fs::write(&path, request.to_string()).unwrap();
    path.display().to_string()
}

/// `ferry plan --estimate`: one run of 100 million objects in us-east-1, every line item with
/// its price and the page it comes from, and the total; in eu-west-1, where the price data has
/// only Step Functions' price, the lines it cannot price are named and left out of the total.
/// The count can come from a local copy of the CSV manifest.
#[test]
fn plan_estimate_prints_each_line_item_with_its_source() {
    let fixture = repo_root().join("shared/fixtures/request-csv.json");
    let mut request: Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    request["region"] = "us-east-1".into();
    request["destination"]["existing"] = "overwrite".into();
    let path = request_file("estimate", &request);
    let ran = ferry(
        None,
        &[
            "plan",
            &path,
            "--estimate",
            "--objects",
            "100000000",
            "--bytes",
            "100000000000000",
        ],
    );
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    for line in [
        "S3 Batch Operations jobs                                                1  x $0.25 per 1  = $0.250000",
        "S3 Batch Operations objects processed                           100000000  x $1 per 1000000  = $100.000000",
        "COPY requests                                                   100000000  x $0.005 per 1000  = $500.000000",
        "(https://aws.amazon.com/s3/pricing/",
        "total (priced lines) $600.251250 in us-east-1\n",
        "100000000000000 bytes: not priced",
    ] {
        assert!(ran.stdout.contains(line), "{line:?} not in:\n{}", ran.stdout);
    }
    let ran = ferry(
        None,
        &[
            "plan",
            fixture.to_str().unwrap(),
            "--estimate",
            "--manifest-file",
            repo_root()
                .join("shared/fixtures/csv-manifest.csv")
                .to_str()
                .unwrap(),
            "--json",
        ],
    );
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let out: Value = serde_json::from_str(&ran.stdout).unwrap();
    let rows = std::fs::read_to_string(repo_root().join("shared/fixtures/csv-manifest.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(
        out["usage"]["tasks"],
        2 * rows,
        "the copy and its verification: {out}"
    );
    assert_eq!(out["bill"]["region"], "eu-west-1");
    assert!(
        out["bill"]["unpriced"]
            .as_array()
            .unwrap()
            .contains(&"batchJob".into()),
        "{out}"
    );
    let ran = ferry(None, &["plan", &path, "--estimate"]);
    assert_eq!(ran.status, 2);
    assert!(
        ran.stderr
            .contains("--estimate needs the number of objects"),
        "{}",
        ran.stderr
    );
}

#[test]
fn plan_prints_every_change_and_an_invalid_request_exits_2_naming_each_rule() {
    let fixture = repo_root().join("shared/fixtures/request-csv.json");
    let ran = ferry(None, &["plan", fixture.to_str().unwrap()]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    for part in [
        "copy photos-2026 (flow B, CSV manifest), Region eu-west-1: the request is valid",
        "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026",
        "bucket src-photos",
        "bucket src-manifests",
        "CreateJob request of the first job",
        "\"ClientRequestToken\": \"ferry-photos-2026-1-0\"",
    ] {
        assert!(ran.stdout.contains(part), "{part} missing:\n{}", ran.stdout);
    }
    let json = ferry(None, &["plan", fixture.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["createJob"]["Priority"], 10);

    let mut bad: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    bad["destination"]["bucket"] = "src-photos".into();
    bad["timing"]["pollSeconds"] = 0.into();
    let ran = ferry(None, &["plan", &request_file("bad", &bad)]);
    assert_eq!(ran.status, 2);
    assert!(ran.stderr.contains("destination.bucket"), "{}", ran.stderr);
    assert!(ran.stderr.contains("timing.pollSeconds"), "{}", ran.stderr);
    // start refuses it too, before any AWS call (no credentials are needed to find that out).
    let ran = ferry(None, &["start", &request_file("bad", &bad)]);
    assert_eq!(ran.status, 2, "{}", ran.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_watch_report_and_list_follow_a_copy_to_its_end() {
    let world = World::seeded().await;
    let request = request_file("ok", &world.request("photos-2026"));
    world.hold(true).await;
    let ran = ferry(Some(&world), &["start", &request]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("started photos-2026-1"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("ferry watch photos-2026"));
    // A second start while it runs is refused.
    let again = ferry(Some(&world), &["start", &request]);
    assert_eq!(again.status, 3);
    assert!(
        again
            .stderr
            .contains("copy photos-2026 is already running: photos-2026-1"),
        "{}",
        again.stderr
    );
    world.wait_for_active_job().await;
    world.hold(false).await;
    let watched = ferry(Some(&world), &["watch", "photos-2026"]);
    assert_eq!(watched.status, 0, "{}\n{}", watched.stdout, watched.stderr);
    for part in [
        "Plan the copy",
        "destination.existing refuse: existing objects are left alone; s3://dst-photos: no object there is overwritten",
        "Submit copy job",
        "submitted",
        "tasks, 0 failed",
        "verification job",
        "Revoke source access",
        "photos-2026-1 SUCCEEDED: copied 6 objects, 0 failed, 6 verified at the destination",
    ] {
        assert!(watched.stdout.contains(part), "{part}:\n{}", watched.stdout);
    }
    let report = ferry(Some(&world), &["report", "photos-2026"]);
    assert_eq!(report.status, 0);
    assert!(report.stdout.contains("copied     6"), "{}", report.stdout);
    assert!(
        report
            .stdout
            .contains("jobs       2 (0 retries, then the verification)"),
        "{}",
        report.stdout
    );
    let json = ferry(Some(&world), &["report", "photos-2026", "--json"]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["totals"]["copied"], 6);

    // The next start is run 2 of the same copy.
    let ran = ferry(Some(&world), &["start", &request, "--watch"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("started photos-2026-2"),
        "{}",
        ran.stdout
    );
    // Every object is there already: the copy worker leaves them, the verification proves it.
    assert!(
        ran.stdout.contains("photos-2026-2 SUCCEEDED: copied 0 objects (6 already there, identical), 0 failed, 6 verified at the destination"),
        "{}",
        ran.stdout
    );
    // `ferry verify`: run 3, one verification job, nothing copied.
    let verified = ferry(Some(&world), &["verify", "photos-2026", "--watch"]);
    assert_eq!(
        verified.status, 0,
        "{}\n{}",
        verified.stdout, verified.stderr
    );
    for part in [
        "started photos-2026-3",
        "run 3 of copy photos-2026: the verification of its manifest at the destination",
        "verification run: one job checks every object of copy photos-2026 at s3://dst-photos",
        "verification job",
        "photos-2026-3 SUCCEEDED: copied 0 objects, 0 failed, 6 verified at the destination",
    ] {
        assert!(
            verified.stdout.contains(part),
            "{part}:\n{}",
            verified.stdout
        );
    }
    let report = ferry(Some(&world), &["report", "photos-2026"]);
    for part in [
        "copied     0",
        "jobs       1 (the verification)",
        "verified   6 at the destination; 0 missing, 0 different",
    ] {
        assert!(report.stdout.contains(part), "{part}:\n{}", report.stdout);
    }
    let never = ferry(Some(&world), &["verify", "elsewhere"]);
    assert_eq!(never.status, 3);
    assert!(
        never.stderr.contains("copy elsewhere has no run"),
        "{}",
        never.stderr
    );
    let list = ferry(Some(&world), &["list", "--sandbox"]);
    assert_eq!(list.status, 0);
    let rows: Vec<&str> = list.stdout.lines().collect();
    assert!(rows[0].starts_with("COPY"), "{}", list.stdout);
    assert!(
        rows[1].starts_with("photos-2026") && rows[1].contains("   3  SUCCEEDED"),
        "{}",
        list.stdout
    );
    let all = ferry(Some(&world), &["list", "--executions"]);
    let rows: Vec<&str> = all.stdout.lines().collect();
    assert!(rows[0].starts_with("EXECUTION"), "{}", all.stdout);
    assert!(rows[1].starts_with("photos-2026-3") && rows[1].contains("SUCCEEDED"));
    assert!(rows[2].starts_with("photos-2026-2") && rows[2].contains("SUCCEEDED"));
    assert!(rows[3].starts_with("photos-2026-1") && rows[3].contains("SUCCEEDED"));
    world.assert_no_leftovers().await;
}

/// `ferry start --watch` of flow B's request, which must end `CopyIncomplete` with exit 1; then
/// `ferry report`, which exits 1 too.
fn incomplete_copy(world: &World, name: &str) -> Ran {
    let request = request_file(name, &world.request("photos-2026"));
    let ran = ferry(Some(world), &["start", &request, "--watch"]);
    assert_eq!(ran.status, 1, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("FAILED: CopyIncomplete"),
        "{}",
        ran.stdout
    );
    let report = ferry(Some(world), &["report", "photos-2026"]);
    assert_eq!(report.status, 1);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_copy_exits_1_and_its_report_names_codes_and_keys() {
    let world = World::seeded().await;
    world.fail_tasks(serde_json::json!({"pattern": "2026/notes/*", "code": "AccessDenied", "http": 403, "message": "Access Denied"})).await;
    let report = incomplete_copy(&world, "notes");
    assert!(report.stdout.contains("AccessDenied"), "{}", report.stdout);
    assert!(
        report.stdout.contains("2026/notes/a+b=c.txt  AccessDenied"),
        "{}",
        report.stdout
    );
    world.assert_no_leftovers().await;
}

/// A source bucket policy that denies reads from outside a VPC endpoint, on some keys only,
/// applies to S3 Batch Operations too, and the preflight (which asks about one object name under
/// the prefix) does not see it: the strict sandbox refuses those tasks (nothing is injected),
/// the copy ends incomplete, `ferry report` names the denied keys, and the policy is left as
/// it was. (On the whole prefix, the preflight refuses the copy first: the next test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_endpoint_deny_on_some_keys_fails_their_tasks_and_the_report_names_them() {
    let world = World::seeded().await;
    world
        .set_source_policy(ferry_tests::VPC_ENDPOINT_DENY_SOME_KEYS_POLICY)
        .await;
    let report = incomplete_copy(&world, "vpce");
    for sample in ferry_tests::samples() {
        assert!(
            report
                .stdout
                .contains(&format!("{}  AccessDenied", sample.key)),
            "{} is not named:\n{}",
            sample.key,
            report.stdout
        );
    }
    let json: Value =
        serde_json::from_str(&ferry(Some(&world), &["report", "photos-2026", "--json"]).stdout)
            .unwrap();
    let last = &json["totals"]["lastReport"];
    assert_eq!(last["permanent"], 6, "no retry is spent on a deny: {json}");
    assert_eq!(last["byErrorCode"]["AccessDenied"]["httpStatus"], 403);
    // The run's end event says the same: incomplete, the failures by code.
    let (event, message) = world.announced_by("photos-2026-1").await;
    let event = event.expect("the run's event");
    assert_eq!(event["detail-type"], "Copy Incomplete", "{event}");
    assert_eq!(event["detail"]["error"], "CopyIncomplete", "{event}");
    assert_eq!(
        event["detail"]["totals"]["lastReport"]["byErrorCode"]["AccessDenied"]["count"], 6,
        "{event}"
    );
    assert_eq!(
        message.expect("the SNS message")["subject"],
        "ferry: a copy is incomplete"
    );
    world.assert_no_leftovers().await;
}

/// `ferry plan --check` asks the simulator what a run's preflight asks, against the policy given
/// on the command line, and prints the same verdict the run fails with (exit 1); the bucket's
/// own policy is not read (it has none here). Without the deny, nothing refuses: exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_check_prints_the_preflights_verdicts_against_the_policies_given() {
    let world = World::seeded().await;
    let request = request_file("check", &world.request("photos-2026"));
    let policy = scratch().join(format!("vpce-policy-{}.json", std::process::id()));
    std::fs::write(&policy, ferry_tests::VPC_ENDPOINT_DENY_POLICY).unwrap();
    let given = format!("src-photos={}", policy.display());
    let ran = ferry(
        Some(&world),
        &["plan", &request, "--check", "--bucket-policy", &given],
    );
    assert_eq!(ran.status, 1, "{}\n{}", ran.stdout, ran.stderr);
    let refusal = "src-photos: s3:GetObject by ferry-batch-photos-2026: refused by statement Access-to-specific-VPCE-only (condition StringNotEquals aws:SourceVpce)";
    assert!(ran.stdout.contains(refusal), "{}", ran.stdout);
    assert!(
        ran.stdout.contains(" refused, 0 undecided"),
        "{}",
        ran.stdout
    );
    // The run, against the same policy set on the bucket, fails with the same verdict.
    world
        .set_source_policy(ferry_tests::VPC_ENDPOINT_DENY_POLICY)
        .await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert!(
        run.cause.as_deref().unwrap_or_default().contains(refusal),
        "{run:?}"
    );
    let json = ferry(Some(&world), &["plan", &request, "--check", "--json"]);
    assert_eq!(json.status, 0, "{}\n{}", json.stdout, json.stderr);
    let out: Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        out["preflight"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["outcome"] == "allowed"),
        "{out}"
    );
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_stops_a_running_copy_cancels_its_job_and_removes_every_grant() {
    let world = World::seeded().await;
    world.hold(true).await;
    let request = request_file("revoke", &world.request("photos-2026"));
    assert_eq!(ferry(Some(&world), &["start", &request]).status, 0);
    world.wait_for_active_job().await;
    let ran = ferry(Some(&world), &["revoke", "photos-2026"]);
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("stopped photos-2026-1"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("photos-2026-cleanup-1 SUCCEEDED"),
        "{}",
        ran.stdout
    );
    let jobs = world.sandbox.jobs().await.unwrap();
    assert_eq!(jobs[0]["status"], "Cancelled", "{jobs}");
    world.assert_no_leftovers().await;
    // Again: nothing left to do, and it says so.
    let again = ferry(Some(&world), &["revoke", "photos-2026"]);
    assert_eq!(again.status, 0);
    assert!(again.stdout.contains("already revoked"), "{}", again.stdout);
}

/// The security round's findings 2 and 4: a copy that kept its bucket statements
/// (`cleanup.revokeGrants: false`) and ended leaves them until they expire; `ferry revoke` forces
/// a cleanup that takes them back too, so nothing is left. A cleanup that is not forced, naming
/// a run that never was, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_after_a_copy_that_kept_its_grants_leaves_nothing() {
    let world = World::seeded().await;
    let mut request = world.request("photos-2026");
    request["cleanup"] = json!({"revokeGrants": false});
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        !world.ferry_statements(SOURCE_BUCKET).await.is_empty(),
        "kept until they expire"
    );
    let made_up = world
        .run(
            "photos-2026-cleanup-7",
            &json!({"cleanup": {"execution": "photos-2026-7"}}),
        )
        .await;
    assert_eq!(made_up.status, ExecutionStatus::Failed, "{made_up:?}");
    let cause = made_up.cause.unwrap_or_default();
    assert!(
        cause.contains("run photos-2026-7 does not exist"),
        "{cause}"
    );
    let ran = ferry(Some(&world), &["revoke", "photos-2026"]);
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("photos-2026-cleanup-1 SUCCEEDED"),
        "{}",
        ran.stdout
    );
    world.assert_no_leftovers().await;
}

/// `ferry revoke` of a running copy that keeps its grants: the stop makes the cleanup rule start
/// the run's cleanup, which keeps the bucket statements as the copy asked, and a second cleanup
/// of the run cannot start. Whichever cleanup ran (the rule's, or `revoke`'s forced one when the
/// rule was slower), what `revoke` says is what is left: exit 0 and nothing left, or exit 1
/// naming the kept statements, which are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_of_a_running_copy_that_keeps_its_grants_says_what_is_left() {
    let world = World::seeded().await;
    let mut request = world.request("photos-2026");
    request["cleanup"] = json!({"revokeGrants": false});
    world.hold(true).await;
    world.start_execution("photos-2026-1", &request).await;
    world.wait_for_active_job().await;
    let ran = ferry(Some(&world), &["revoke", "photos-2026"]);
    println!("{}\n{}", ran.stdout, ran.stderr);
    let statements = world.ferry_statements(SOURCE_BUCKET).await;
    match ran.status {
        0 => {
            assert!(
                statements.is_empty(),
                "exit 0 with statements left: {statements:#?}"
            );
            world.assert_no_leftovers().await;
        }
        1 => {
            assert!(
                ran.stdout
                    .contains("kept the statements of src-manifests (until ")
                    && ran
                        .stdout
                        .contains("as the copy asked (cleanup.revokeGrants: false)")
                    && ran
                        .stdout
                        .contains("remove the statements whose Sid ends in"),
                "{}",
                ran.stdout
            );
            assert!(
                !statements.is_empty(),
                "exit 1 says statements are kept: none are"
            );
            assert!(world.ferry_roles().await.is_empty(), "the role is gone");
        }
        other => panic!("exit {other}: {}\n{}", ran.stdout, ran.stderr),
    }
    world.hold(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_accounts_unlisted_sources_and_unknown_state_machines_are_named() {
    let world = World::seeded().await;
    // Credentials of one account, a request for another.
    let mut other = world.request("photos-2026");
    other["destination"]["accountId"] = "444444444444".into();
    let ran = ferry(Some(&world), &["start", &request_file("other", &other)]);
    assert_eq!(ran.status, 3);
    assert!(
        ran.stderr
            .contains("the request copies into account 444444444444, but these credentials are of account 222222222222"),
        "{}",
        ran.stderr
    );
    // Valid offline, refused by the stack's plan step: exit 2 once the run ends.
    let mut unlisted = world.request("photos-2026");
    unlisted["source"]["accountId"] = "444444444444".into();
    unlisted["manifest"]["accountId"] = "444444444444".into();
    let ran = ferry(
        Some(&world),
        &["start", &request_file("unlisted", &unlisted), "--watch"],
    );
    assert_eq!(ran.status, 2, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("SourceAccountIds"), "{}", ran.stdout);
    // A copy that never ran.
    let ran = ferry(Some(&world), &["watch", "never-ran"]);
    assert_eq!(ran.status, 3);
    assert!(
        ran.stderr.contains("copy never-ran has no execution"),
        "{}",
        ran.stderr
    );
    // A state machine that is not there.
    let mut target = Target::sandbox_from(&world.sandbox.info).unwrap();
    target.state_machine_arn = target.state_machine_arn.replace(":ferry", ":nope");
    let err = target.check_state_machine().await.unwrap_err();
    assert_eq!(err.status, 3);
    assert!(
        err.message.contains("no ferry state machine") && err.message.contains("222222222222"),
        "{}",
        err.message
    );
    world.assert_no_leftovers().await;
}

/// `ferry` with an AWS environment of nothing but `vars`: no profile files, no instance role.
fn ferry_on_aws(vars: &[(&str, &str)], args: &[&str]) -> Ran {
    let empty = scratch().join("no-aws-config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &empty)
        .env("AWS_CONFIG_FILE", empty.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", empty.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied());
    cmd.args(args).output().expect("ferry runs").into()
}

#[test]
fn missing_region_and_missing_credentials_are_named() {
    let ran = ferry_on_aws(&[], &["list"]);
    assert_eq!(ran.status, 3);
    assert!(
        ran.stderr.contains("no AWS Region: pass --region"),
        "{}",
        ran.stderr
    );
    let ran = ferry_on_aws(&[("AWS_REGION", "eu-west-1")], &["list"]);
    assert_eq!(ran.status, 3);
    assert!(
        ran.stderr.contains("no usable AWS credentials"),
        "{}",
        ran.stderr
    );
    // One line, the cause chain after the message: never the SDK error's Debug dump.
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(!ran.stderr.contains(" { "), "{}", ran.stderr);
    // A profile no file defines is named as such, not blamed on the instance metadata service.
    let ran = ferry_on_aws(&[], &["list", "--region", "eu-west-1", "--profile", "nope"]);
    assert_eq!(ran.status, 3);
    assert!(
        ran.stderr.contains(
            "no AWS profile named nope in the AWS config or credentials files (they define none)"
        ),
        "{}",
        ran.stderr
    );
    // AWS options belong to the commands that call AWS: an offline command takes none.
    let ran = ferry_on_aws(&[], &["plan", "x.json", "--profile", "p"]);
    assert_eq!(ran.status, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("--profile"), "{}", ran.stderr);
}

/// A directory of its own for `test`, outside the repository, so that nothing can be found
/// through it.
fn elsewhere(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ferry` run from `dir`, with no AWS environment.
fn ferry_in(dir: &std::path::Path, args: &[&str]) -> Ran {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .current_dir(dir)
        .env_remove("FERRY_SANDBOX")
        .env_remove("AWS_PROFILE")
        .args(args)
        .output()
        .expect("ferry runs")
        .into()
}

#[test]
fn the_offline_commands_run_from_any_directory() {
    let dir = elsewhere("offline");
    let ran = ferry_in(&dir, &["--version"]);
    assert_eq!(ran.status, 0);
    assert_eq!(
        ran.stdout.trim(),
        format!("ferry {}", env!("CARGO_PKG_VERSION"))
    );
    let ran = ferry_in(&dir, &["--help"]);
    assert_eq!(ran.status, 0);
    for needle in ["plan", "doctor", "completions", "Exit status: 0 success"] {
        assert!(ran.stdout.contains(needle), "{needle} in {}", ran.stdout);
    }
    // Each command's help: its arguments described, AWS options under their own heading, an
    // example and the exit statuses.
    let ran = ferry_in(&dir, &["start", "--help"]);
    for needle in [
        "<REQUEST>  The copy request, a JSON file",
        "AWS options:",
        "--profile <NAME>",
        "Example: ferry start request.json --watch",
        "Exit status: 0 started",
    ] {
        assert!(ran.stdout.contains(needle), "{needle} in {}", ran.stdout);
    }
    let ran = ferry_in(&dir, &["plan", "--help"]);
    assert!(!ran.stdout.contains("AWS options"), "{}", ran.stdout);
    // init writes a request that plan takes as it is, and never overwrites a file.
    let ran = ferry_in(&dir, &["init", "request.json"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let ran = ferry_in(&dir, &["plan", "request.json"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("photos-2026"), "{}", ran.stdout);
    let ran = ferry_in(&dir, &["init", "request.json"]);
    assert_eq!(ran.status, 2);
    assert!(ran.stderr.contains("already exists"), "{}", ran.stderr);
    let ran = ferry_in(&dir, &["init", "--deployment"]);
    assert_eq!(ran.status, 0);
    assert!(ran.stdout.contains("[[destination]]"), "{}", ran.stdout);
    // Completions for each shell clap_complete knows.
    for shell in ["bash", "zsh", "fish"] {
        let ran = ferry_in(&dir, &["completions", shell]);
        assert_eq!(ran.status, 0, "{shell}: {}", ran.stderr);
        assert!(ran.stdout.contains("doctor"), "{shell}: {}", ran.stdout);
    }
    // The schema is the request's: an editor checks request files with it.
    let ran = ferry_in(&dir, &["schema"]);
    assert_eq!(ran.status, 0);
    let schema: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(schema["title"], "ferry copy request");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in ["copyId", "region", "source", "destination", "manifest"] {
        assert!(required.contains(&field), "{field} in {required:?}");
    }
    // The sandbox is the repository's: outside it, --sandbox says where to run it.
    let ran = ferry_in(&dir, &["list", "--sandbox"]);
    assert_eq!(ran.status, 3);
    assert!(
        ran.stderr.contains("is not inside the ferry repository"),
        "{}",
        ran.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_on_the_sandboxs_stacks_and_names_a_missing_destination() {
    let world = World::start_for(600).await;
    let ran = ferry(Some(&world), &["doctor", "--sandbox"]);
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    for needle in [
        "ok    destination stack in account 222222222222",
        "ok    source stack in account 111111111111",
        "ok    source stack in 111111111111 lists destination account 222222222222 (DestinationAccountIds)",
        "ok    ferry bucket ferry-222222222222-eu-west-1 exists",
        "the stacks agree",
    ] {
        assert!(ran.stdout.contains(needle), "{needle} in {}", ran.stdout);
    }
    // The sandbox's topology as a deployment file (consolidation, fan-out, an account of both
    // sides): every stack is what the file derives.
    let keys = &world.sandbox.info.kms_keys;
    let file = scratch().join(format!("deployment-{}.toml", world.sandbox.info.pid));
    let fixture = include_str!("fixtures/sandbox-deployment.toml")
        .replace("\"SOURCE_KEY\"", &format!("{:?}", keys["source"]))
        .replace(
            "\"SOURCE_KEY_WITHOUT_GRANTS\"",
            &format!("{:?}", keys["sourceWithoutGrants"]),
        );
    std::fs::write(&file, fixture).unwrap();
    let config = file.to_string_lossy().to_string();
    let ran = ferry(Some(&world), &["doctor", "--sandbox", "--config", &config]);
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    for needle in [
        "ok    source stack in 333333333333 is what",
        "ok    destination stack in 333333333333 is what",
        "ok    destination stack in 222222222222 lists every bucket of source account 333333333333 (SourceBuckets)",
    ] {
        assert!(ran.stdout.contains(needle), "{needle} in {}", ran.stdout);
    }
    // A request the stacks admit, and one whose destination bucket they do not list.
    let request = world.request("photos-2026");
    let ran = ferry(
        Some(&world),
        &[
            "doctor",
            "--sandbox",
            "--request",
            &request_file("doctor-ok", &request),
        ],
    );
    assert_eq!(ran.status, 0, "{}", ran.stdout);
    let mut unlisted = request.clone();
    unlisted["destination"]["bucket"] = "dst-unlisted".into();
    let ran = ferry(
        Some(&world),
        &[
            "doctor",
            "--sandbox",
            "--request",
            &request_file("doctor-unlisted", &unlisted),
        ],
    );
    assert_eq!(ran.status, 1, "{}", ran.stdout);
    assert!(
        ran.stdout.contains("FAIL  request photos-2026: destination bucket dst-unlisted in the DestinationBuckets of the destination stack in 222222222222: not listed"),
        "{}",
        ran.stdout
    );
    // The source stack updated without the destination in its DestinationAccountIds.
    world
        .clients(Side::Source)
        .ssm
        .put_parameter()
        .name("ferry-source-eu-west-1-destination-account-ids")
        .value("333333333333")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let ran = ferry(Some(&world), &["doctor", "--sandbox"]);
    assert_eq!(ran.status, 1, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains(
            "FAIL  source stack in account 111111111111: DestinationAccountIds (333333333333) lacks destination account 222222222222, whose destination stack copies from 111111111111: add 222222222222 to DestinationAccountIds"
        ),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("1 problem found"), "{}", ran.stdout);
    // With the file, it also says the stack is not what the file derives, and how to fix it.
    let ran = ferry(Some(&world), &["doctor", "--sandbox", "--config", &config]);
    assert_eq!(ran.status, 1, "{}", ran.stdout);
    assert!(
        ran.stdout.contains(&format!(
            "FAIL  source stack in account 111111111111: DestinationAccountIds is 333333333333; the deployment file says 222222222222,333333333333: ferry deploy --config {config} --account 111111111111"
        )),
        "{}",
        ran.stdout
    );
}

#[cfg(feature = "demo")]
/// The demo's check of the destination counts every object, past ListObjectsV2's 1,000 keys a
/// page (a 10,000-object demo reported "1000 objects at s3://dst-photos, 10000 expected").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_check_counts_past_one_page_of_keys() {
    let world = World::start().await;
    let bucket = "src-many";
    world
        .create_bucket(ferry_local::scenario::Side::Source, bucket, None)
        .await
        .unwrap();
    let samples: Vec<ferry_local::objects::Sample> = (0..1_001)
        .map(|n| ferry_local::objects::Sample {
            key: format!("many/{n:05}.txt"),
            body: format!("object {n}").into_bytes(),
            ..Default::default()
        })
        .collect();
    ferry_local::objects::put_samples(&world.source.s3, bucket, &samples)
        .await
        .unwrap();
    let counted = ferry_local::objects::count_objects(&world.source.s3, bucket, "many/")
        .await
        .unwrap();
    assert_eq!(counted, 1_001);
    let problems = ferry_cli::demo::verify(&world.source, bucket, &samples)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// `ferry deploy` with the credentials of `side`'s sandbox account in the environment, as an
/// operator's default chain would give them, run from `dir`.
fn deploy_as(world: &World, side: &str, dir: &std::path::Path, args: &[&str]) -> Ran {
    let info = &world.sandbox.info;
    let c = &info.credentials[side];
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .current_dir(dir)
        .env_remove("FERRY_SANDBOX")
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", &info.endpoint)
        .env("AWS_ACCESS_KEY_ID", &c.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
        .env("AWS_SESSION_TOKEN", &c.session_token)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("deploy")
        .args(args)
        .output()
        .expect("ferry runs")
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_refuses_the_credentials_of_another_account_before_anything_runs() {
    let world = World::start_for(600).await;
    let file = scratch().join(format!("deploy-{}.toml", world.sandbox.info.pid));
    std::fs::write(&file, include_str!("fixtures/sandbox-deployment.toml")).unwrap();
    let config = file.to_string_lossy().to_string();
    // The source account's credentials, the destination account's stack: nothing deployed.
    let ran = deploy_as(
        &world,
        "source",
        &repo_root(),
        &["--config", &config, "--account", "222222222222"],
    );
    assert_eq!(ran.status, 2, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("the credentials for account 222222222222 (the default chain) are of account 111111111111: nothing deployed"),
        "{}",
        ran.stderr
    );
    // The right account's credentials, but no `sam build` yet (and outside the repository,
    // no repository to build in): said before sam would run.
    let ran = deploy_as(
        &world,
        "destination",
        &elsewhere("deploy"),
        &["--config", &config, "--account", "222222222222"],
    );
    assert_eq!(ran.status, 3, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("is not inside the ferry repository"),
        "{}",
        ran.stderr
    );
    // The printed command names the stack and its derived parameters.
    assert!(
        ran.stdout
            .contains("sam deploy --stack-name ferry-destination --region eu-west-1")
            && ran
                .stdout
                .contains("SourceAccountIds=111111111111,333333333333"),
        "{}",
        ran.stdout
    );
    std::fs::remove_dir_all(elsewhere("deploy")).unwrap();
}

/// `ferry start --watch` of a copy that restores: the restore job, the wait and the copy job are
/// each shown as they happen, and the run copies the archived object with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_shows_the_restore_job_the_wait_and_the_copy() {
    let world = World::seeded().await;
    let key = "2026/archive/flexible.bin";
    world
        .put_source_in_class(
            key,
            b"archived".to_vec(),
            aws_sdk_s3::types::StorageClass::Glacier,
        )
        .await;
    world
        .sandbox
        .control("/archive", json!({"restoreSeconds": 2}))
        .await
        .unwrap();
    let mut listed = ferry_tests::samples();
    listed.push(ferry_tests::Sample {
        key: key.into(),
        body: b"archived".to_vec(),
        content_type: None,
        metadata: Default::default(),
        tags: Default::default(),
    });
    ferry_tests::put_manifest_of(&world.source.s3, ferry_tests::MANIFEST_BUCKET, &listed).await;
    let mut request = world.request("photos-2026");
    request["source"]["archived"] = json!("restore");
    request["timing"]["restoreWaitSeconds"] = json!(1);
    request["timing"]["restoreCheckSeconds"] = json!(1);
    request["timing"]["restoreSlowestSeconds"] = json!(120);
    request["timing"]["grantLifetimeSeconds"] = json!(7_200);
    let ran = ferry(
        Some(&world),
        &["start", &request_file("restore", &request), "--watch"],
    );
    assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
    let out = &ran.stdout;
    let at = |said: &str| {
        out.find(said)
            .unwrap_or_else(|| panic!("watch did not show {said:?}:\n{out}"))
    };
    let restore = at("restore job (1 archived objects, glacier)");
    let wait = at("Wait for the restores");
    // The copy job's line: `[  8.8s] job <id> submitted`, after the wait.
    let copy = wait
        + out[wait..]
            .lines()
            .take_while(|l| !(l.contains("] job ") && l.ends_with(" submitted")))
            .map(|l| l.len() + 1)
            .sum::<usize>();
    assert!(copy < out.len(), "no copy job after the wait:\n{out}");
    assert!(restore < wait, "{out}");
    assert!(out.contains("SUCCEEDED: copied 7 objects"), "{out}");
    world.assert_no_leftovers().await;
}
