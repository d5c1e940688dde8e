//! Flow C in the strict sandbox: S3 Batch Operations generates each job's manifest from the
//! source bucket (the sandbox's generator, local/sandbox/generator.py, lists it as the job's
//! role), objects are routed by size between S3PutObjectCopy and the copy worker through two
//! complementary filters, archived objects are left out, and an incremental scheduled run lists
//! only what was created since the last complete run.

use std::time::Duration;

use aws_sdk_s3::types::StorageClass;
use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::{json, Value};

const GIB: u64 = 1 << 30;

fn object(key: &str) -> Sample {
    Sample {
        key: key.to_string(),
        body: format!("the bytes of {key}").into_bytes(),
        content_type: None,
        metadata: Default::default(),
        tags: Default::default(),
    }
}

/// Objects at `keys` in the source bucket, over 5 GiB as the generator and S3PutObjectCopy see
/// them (`POST /sizes`; the bytes stay small).
async fn put_large(world: &World, keys: &[&str]) -> Vec<Sample> {
    let large: Vec<Sample> = keys.iter().map(|k| object(k)).collect();
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &large)
        .await
        .unwrap();
    let sizes: Vec<Value> = large
        .iter()
        .map(|o| json!({"bucket": SOURCE_BUCKET, "key": o.key, "size": 6 * GIB}))
        .collect();
    world
        .sandbox
        .control("/sizes", json!({ "objects": sizes }))
        .await
        .unwrap();
    large
}

/// Flow C's request for the seeded world, with `filter`.
fn generated_request(world: &World, copy_id: &str, filter: Value) -> Value {
    let mut request = world.request(copy_id);
    request["manifest"] = json!({"kind": "generated", "filter": filter});
    request
}

/// The sandbox's jobs whose token is one of `copy_id`'s run `run`, in submission order.
async fn jobs_of(world: &World, copy_id: &str, run: u16) -> Vec<Value> {
    let mut jobs: Vec<Value> =
        serde_json::from_value(world.sandbox.get("/jobs").await.unwrap()).unwrap();
    let prefix = format!("ferry-{copy_id}-{run}-");
    jobs.retain(|j| {
        j["token"]
            .as_str()
            .is_some_and(|t| t.starts_with(&prefix) && !t.ends_with("-census"))
    });
    jobs.sort_by_key(|j| {
        j["token"].as_str().unwrap()[prefix.len()..]
            .parse::<u32>()
            .unwrap()
    });
    jobs
}

/// The census job of `copy_id`'s run `run`, as the sandbox lists it.
async fn census_of(world: &World, copy_id: &str, run: u16) -> Value {
    let jobs: Vec<Value> =
        serde_json::from_value(world.sandbox.get("/jobs").await.unwrap()).unwrap();
    let token = format!("ferry-{copy_id}-{run}-census");
    jobs.into_iter()
        .find(|j| j["token"] == token.as_str())
        .unwrap_or_else(|| panic!("no census job {token}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_copy_sends_each_object_to_the_job_its_size_calls_for_and_leaves_archived_ones_out(
) {
    let world = World::seeded().await;
    let large = put_large(&world, &["2026/video/take 1.mov", "2026/video/take 2.mov"]).await;
    for (key, class) in [
        ("2026/cold/2019.tar", StorageClass::Glacier),
        ("2026/cold/2018.tar", StorageClass::DeepArchive),
    ] {
        world
            .put_source_in_class(key, b"archived".to_vec(), class)
            .await;
    }
    let request = generated_request(&world, "photos-2026", json!({}));
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    println!("output: {out}");
    assert_eq!(out["copied"], 8, "six samples and two large objects: {out}");
    assert_eq!(out["failed"], 0, "{out}");
    let jobs = jobs_of(&world, "photos-2026", 1).await;
    let shape: Vec<(String, u64, u64)> = jobs
        .iter()
        .map(|j| {
            (
                j["operation"].as_str().unwrap().to_string(),
                j["total"].as_u64().unwrap(),
                j["failed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("S3PutObjectCopy".to_string(), 6, 0),
            ("LambdaInvoke".to_string(), 2, 0),
            ("LambdaInvoke".to_string(), 8, 0),
        ],
        "the samples by S3PutObjectCopy, the large ones by the worker, then the verification of all, no task failed: {jobs:?}"
    );
    assert_eq!(
        out["largeObjectsJob"], jobs[1]["jobId"],
        "the worker's job is the large objects', not a retry: {out}"
    );
    let limit = 5 * GIB;
    assert_eq!(
        jobs[0]["generator"]["ObjectSizeLessThanBytes"],
        (limit + 1).to_string(),
        "{jobs:?}"
    );
    assert_eq!(
        jobs[1]["generator"]["ObjectSizeGreaterThanBytes"],
        limit.to_string(),
        "{jobs:?}"
    );
    let classes = &jobs[0]["generator"]["MatchAnyStorageClass"]["member"];
    assert!(
        !classes.to_string().contains("GLACIER\"") && !classes.to_string().contains("DEEP_ARCHIVE"),
        "archived classes are left out: {classes}"
    );
    assert_eq!(out["verification"]["verified"], 8, "{out}");
    // Left out, and counted: the census job listed them and never ran; the revoke cancelled it.
    assert_eq!(out["leftOut"]["archived"], 2, "{out}");
    let mut keys: Vec<&str> = out["leftOut"]["firstKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["2026/cold/2018.tar", "2026/cold/2019.tar"], "{out}");
    let census = census_of(&world, "photos-2026", 1).await;
    assert_eq!(census["status"], "Cancelled", "{census}");
    assert_eq!(
        census["succeeded"], 0,
        "no task of the census ran: {census}"
    );
    let all: Vec<Sample> = samples().into_iter().chain(large).collect();
    world.assert_copied(&all).await;
    for key in ["2026/cold/2019.tar", "2026/cold/2018.tar"] {
        let found = world
            .destination
            .s3
            .head_object()
            .bucket(DESTINATION_BUCKET)
            .key(key)
            .send()
            .await;
        assert!(found.is_err(), "{key} was left out, not copied");
    }
    world.assert_no_leftovers().await;
}

/// A source bucket policy that denies inventory configuration to other accounts: the preflight
/// sees that the generator (which runs as the job's role) would be refused, and the run fails
/// before any grant naming the statement. The same deny on a key the preflight cannot know
/// (`aws:PrincipalOrgID`: undecided, the run goes on) fails the job while S3 Batch Operations
/// prepares it, with AWS's reason, before any task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_copy_fails_before_any_task_when_the_source_does_not_let_it_list() {
    let world = World::seeded().await;
    let account = world.sandbox.info.source_account();
    let run = run_under_inventory_deny(
        &world,
        &format!(r#"{{"aws:PrincipalAccount":"{account}"}}"#),
        "photos-2026",
    )
    .await;
    assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{run:?}");
    let cause = run.cause.unwrap_or_default();
    assert!(
        cause.contains("src-photos: s3:PutInventoryConfiguration by ferry-batch-photos-2026: refused by statement NoForeignInventory (condition StringNotEquals aws:PrincipalAccount)"),
        "{cause}"
    );
    assert!(
        world
            .sandbox
            .jobs()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty(),
        "no job"
    );
    // Undecided by the preflight: the job's own failure.
    let run =
        run_under_inventory_deny(&world, r#"{"aws:PrincipalOrgID":"o-abc123"}"#, "photos-org")
            .await;
    assert_eq!(run.error.as_deref(), Some("JobFailed"), "{run:?}");
    let cause = run.cause.unwrap_or_default();
    assert!(
        cause.contains("Error occurred when preparing manifest"),
        "the job's own reason: {cause}"
    );
    world
        .assert_no_leftovers_of(&["photos-2026", "photos-org"])
        .await;
}

/// Run 1 of flow C copy `copy_id`, without retries, under a source bucket policy that denies
/// `s3:PutInventoryConfiguration` on `StringNotEquals` `condition`: it fails.
async fn run_under_inventory_deny(world: &World, condition: &str, copy_id: &str) -> Execution {
    world
        .set_source_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"NoForeignInventory","Effect":"Deny","Principal":"*","Action":"s3:PutInventoryConfiguration","Resource":"arn:aws:s3:::{SOURCE_BUCKET}","Condition":{{"StringNotEquals":{condition}}}}}]}}"#
        ))
        .await;
    let mut request = generated_request(world, copy_id, json!({}));
    request["retry"] = json!({"maxAttempts": 0});
    let run = world.run(&format!("{copy_id}-1"), &request).await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    run
}

/// Flow C with `incremental`: the scheduled second run lists only the objects created since the
/// first run started, and copies exactly those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_scheduled_run_copies_only_the_objects_created_since_the_last_one() {
    let world = World::seeded().await;
    let (first, second) = incremental_sync(&world, 40, 10).await;
    assert_eq!(first.copied, 46, "{first:?}");
    assert_eq!(first.tasks, 46, "{first:?}");
    assert_eq!(second.copied, 10, "exactly the new ones: {second:?}");
    assert_eq!(second.tasks, 10, "no task for an old object: {second:?}");
    println!("run 1: {first:?}\nrun 2: {second:?}");
}

/// One run's counts: objects copied, Batch tasks, and ferry's functions' AWS calls (the
/// sandbox's census, `GET /calls`).
#[derive(Debug)]
struct RunCounts {
    copied: u64,
    tasks: u64,
    function_calls: u64,
}

/// The AWS calls ferry's functions (and Step Functions invoking them) have made so far, from
/// the sandbox's census; the test's own calls are not counted.
async fn function_calls(world: &World) -> u64 {
    let calls = world.sandbox.get("/calls").await.unwrap();
    calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let role = c["role"].as_str().unwrap_or_default();
            role.contains("FunctionRole")
                || role.starts_with("ferry-")
                || c["action"] == "lambda:InvokeFunction"
        })
        .map(|c| c["calls"].as_u64().unwrap())
        .sum()
}

async fn incremental_sync(world: &World, bulk: usize, new: usize) -> (RunCounts, RunCounts) {
    let limit = Duration::from_secs(3600);
    let objects: Vec<Sample> = (0..bulk)
        .map(|i| object(&format!("2026/bulk/{i:05}.txt")))
        .collect();
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &objects)
        .await
        .unwrap();
    // The first run starts over a second after the last object was written: with
    // `overlapSeconds` 1 the second run lists from a second before the first run's start.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut request = generated_request(
        world,
        "photos-2026",
        json!({"incremental": true, "overlapSeconds": 1}),
    );
    request["destination"]["existing"] = json!("overwrite");
    let calls_before = function_calls(world).await;
    let first = world.start_execution("photos-2026-1", &request).await;
    let first = world
        .wait_at_most(&first, limit)
        .await
        .expect("run 1 ended");
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    let calls_after_first = function_calls(world).await;
    let added: Vec<Sample> = (0..new)
        .map(|i| object(&format!("2026/new/{i:05}.txt")))
        .collect();
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &added)
        .await
        .unwrap();
    let answer = world
        .schedule_fires(
            "ferry-cleanup-start",
            json!({"scheduledRun": "photos-2026"}),
        )
        .await;
    assert_eq!(answer["started"], "photos-2026-2", "{answer}");
    let arn = world.execution_arn("photos-2026-2");
    let second = world.wait_at_most(&arn, limit).await.expect("run 2 ended");
    assert_eq!(second.status, ExecutionStatus::Succeeded, "{second:?}");
    let calls_after_second = function_calls(world).await;
    let all: Vec<Sample> = samples().into_iter().chain(objects).chain(added).collect();
    world.assert_copied(&all).await;
    world.assert_no_leftovers().await;
    let counts = |out: Value, tasks: u64, calls: u64| RunCounts {
        copied: out["copied"].as_u64().unwrap(),
        tasks,
        function_calls: calls,
    };
    let tasks = |jobs: Vec<Value>| jobs.iter().map(|j| j["total"].as_u64().unwrap()).sum();
    (
        counts(
            first.output.unwrap(),
            tasks(jobs_of(world, "photos-2026", 1).await),
            calls_after_first - calls_before,
        ),
        counts(
            second.output.unwrap(),
            tasks(jobs_of(world, "photos-2026", 2).await),
            calls_after_second - calls_after_first,
        ),
    )
}

/// The issue's figure: a source of `FERRY_BENCH_OBJECTS` objects (10,000 by default) copied by
/// flow C, 100 new objects written, then (1) the incremental scheduled run and (2) a
/// `skip-identical` re-run of the same objects (a flow C copy without `incremental`, as a
/// `skip-identical` sync runs), each counted: Batch tasks and the AWS calls of ferry's
/// functions (the copy worker's included). Minutes in the sandbox; run by hand with
/// `cargo test -p ferry-tests --test suite generated::bench -- --ignored --nocapture`; the
/// numbers are in docs/src/contributing/benchmarks.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes: run by hand, its numbers are in docs/src/contributing/benchmarks.md"]
async fn bench_incremental_sync_against_a_skip_identical_rerun() {
    let bulk: usize = std::env::var("FERRY_BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let world = World::start_for(7200).await;
    world.seed().await;
    let started = std::time::Instant::now();
    let (first, second) = incremental_sync(&world, bulk, 100).await;
    let objects = 6 + bulk as u64 + 100;
    // The same objects again, all of them listed, each looked at by the worker.
    let mut full = generated_request(&world, "photos-full", json!({}));
    full["destination"]["existing"] = json!("skip-identical");
    println!("run 1: {first:?}\nincremental run 2: {second:?}");
    let before = function_calls(&world).await;
    let arn = world.start_execution("photos-full-1", &full).await;
    let run = world
        .wait_at_most(&arn, Duration::from_secs(3600))
        .await
        .expect("the re-run ended");
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    let rerun = RunCounts {
        copied: out["copied"].as_u64().unwrap(),
        tasks: jobs_of(&world, "photos-full", 1)
            .await
            .iter()
            .map(|j| j["total"].as_u64().unwrap())
            .sum(),
        function_calls: function_calls(&world).await - before,
    };
    assert_eq!(second.copied, 100, "{second:?}");
    assert_eq!(out["identical"].as_u64(), Some(objects), "{out}");
    let per = |r: &RunCounts, n: u64| (r.tasks + r.function_calls) as f64 / n as f64;
    println!(
        "source: {objects} objects, 100 of them new since run 1 ({:.0} s in all)",
        started.elapsed().as_secs_f64()
    );
    println!("| run | Batch tasks | ferry's AWS calls | calls + tasks | per new object |");
    println!("|---|---|---|---|---|");
    for (name, r, new) in [
        ("run 1, flow C (everything)", &first, None),
        ("incremental run 2, flow C", &second, Some(100)),
        ("skip-identical re-run", &rerun, Some(100)),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            r.tasks,
            r.function_calls,
            r.tasks + r.function_calls,
            new.map_or("-".to_string(), |n| format!("{:.1}", per(r, n)))
        );
    }
}

/// SSE-C cannot be left out by the filter (it takes one encryption type): such an object fails
/// its copy task as in flows A and B, counted apart as not copyable with what to do, and said
/// before the job by the source side's sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_c_object_is_counted_apart_as_not_copyable_in_a_generated_copy() {
    let world = World::seeded().await;
    const SSE_C: &str = "2026/locked/customer-key.bin";
    ferry_local::objects::put_sse_c(&world.source.s3, SOURCE_BUCKET, SSE_C, b"customer key")
        .await
        .unwrap();
    let large = put_large(&world, &["2026/video/take 1.mov"]).await;
    let request = generated_request(&world, "photos-2026", json!({"incremental": true}));
    let arn = world.start_execution("photos-2026-1", &request).await;
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    let cause = run.cause.unwrap();
    for expected in [
        "1 objects were not copied",
        "InvalidRequest (SSE-C) x1",
        "not copyable (SSE-C): encrypted with a customer-provided key",
        // The objects over 5 GiB are copied all the same.
        "Then the job of the objects over 5 GiB copied 1.",
    ] {
        assert!(cause.contains(expected), "{expected}: {cause}");
    }
    // An SSE-C object is listed again only once written again: the run advances the sync.
    let info = &world.sandbox.info;
    let ferry = ferry_core::layout::ferry_bucket_name(info.destination_account(), &info.region);
    let layout = ferry_core::layout::CopyLayout::of(info.destination_account(), "photos-2026");
    let last = world
        .destination
        .s3
        .get_object()
        .bucket(&ferry)
        .key(layout.last_complete_key())
        .send()
        .await;
    assert!(last.is_ok(), "the incremental sync advanced: {last:?}");
    let granted = world
        .state_output(&arn, "Grant source access")
        .await
        .expect("the grant ran");
    assert_eq!(
        granted["grants"]["notCopyable"]["keys"]["SSE-C"],
        json!([SSE_C]),
        "said before the job: {granted}"
    );
    let shape: Vec<String> = jobs_of(&world, "photos-2026", 1)
        .await
        .iter()
        .map(|j| j["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        shape,
        ["S3PutObjectCopy", "LambdaInvoke"],
        "the SSE-C object is not retried; the large one is copied by the worker"
    );
    let mut copied = samples();
    copied.extend(large);
    world.assert_copied(&copied).await;
    world.assert_no_leftovers().await;
}

/// A filter that leaves no object up to 5 GiB: the first job is the copy worker's, on the large
/// ones, and nothing else runs but the verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_copy_of_large_objects_only_starts_with_the_workers_job() {
    let world = World::seeded().await;
    let large = put_large(&world, &["2026/video/take 1.mov"]).await;
    let request = generated_request(
        &world,
        "photos-2026",
        json!({"sizeGreaterThanBytes": 5 * GIB}),
    );
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    assert_eq!(out["copied"], 1, "{out}");
    let shape: Vec<(String, u64)> = jobs_of(&world, "photos-2026", 1)
        .await
        .iter()
        .map(|j| {
            (
                j["operation"].as_str().unwrap().to_string(),
                j["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("LambdaInvoke".to_string(), 1),
            ("LambdaInvoke".to_string(), 1)
        ],
        "the worker's copy, then its verification"
    );
    world.assert_copied(&large).await;
    world.assert_no_leftovers().await;
}
