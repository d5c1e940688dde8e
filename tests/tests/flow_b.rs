//! Flow B (a CSV manifest in the source account) end to end, through the template's state
//! machine in the two-account sandbox.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::policy::normalize;
use ferry_tests::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_b_copies_every_object_and_leaves_nothing_behind() {
    let world = World::start().await;
    world.seed().await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(
        run.status,
        ExecutionStatus::Succeeded,
        "{run:?}; sandbox log: {}",
        world.sandbox.log.display()
    );
    let output = run.output.unwrap();
    assert_eq!(output["copied"], samples().len() as u64);
    assert_eq!(output["failed"], 0);
    world.assert_copied(&samples()).await;

    // Foreign statements are unchanged, ferry's are gone, and so is its role. (A single
    // `Statement` object comes back as a one-element array, which AWS reads the same.)
    let src = world
        .bucket_policy(&world.source_s3, SOURCE_BUCKET)
        .await
        .unwrap();
    assert_eq!(
        normalize(&src),
        normalize(&serde_json::from_str::<Value>(FOREIGN_SOURCE_POLICY).unwrap())
    );
    let man = world
        .bucket_policy(&world.source_s3, MANIFEST_BUCKET)
        .await
        .unwrap();
    assert_eq!(
        man,
        serde_json::from_str::<Value>(FOREIGN_MANIFEST_POLICY).unwrap()
    );
    assert!(world.ferry_roles().await.is_empty());
}
