//! Many copies at once: 20 copies started together, sharing two source buckets (ten each, both
//! with policies of their owners') and one destination bucket (a key prefix each). Every copy
//! ends SUCCEEDED with every object in place, or fails cleanly with `PolicyTooLarge` where a
//! shared bucket policy cannot hold its statements; afterwards each policy is its owner's
//! again. The peak size of each shared policy during the run is printed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_local::objects;
use ferry_local::scenario::Side;
use ferry_tests::*;
use serde_json::json;

const COPIES: usize = 20;

/// The size in bytes of `bucket`'s policy as its owner reads it (0 without one).
async fn policy_size(s3: &aws_sdk_s3::Client, bucket: &str) -> usize {
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy().map_or(0, str::len),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_copies_at_once_through_two_shared_source_buckets_all_land_or_fail_cleanly() {
    let world = World::start_for(1200).await;
    world.seed().await;
    // The second source bucket (src-manifests, in SourceBuckets) holds the samples too.
    objects::put_samples(&world.source.s3, MANIFEST_BUCKET, &samples())
        .await
        .unwrap();
    // Each copy's CSV manifest is kept in the destination account, so that the source
    // buckets' policies carry only the copies' read grants.
    world
        .create_bucket(Side::Destination, DESTINATION_MANIFEST_BUCKET, None)
        .await
        .unwrap();
    for (bucket, key) in [
        (SOURCE_BUCKET, "lists/photos.csv"),
        (MANIFEST_BUCKET, "lists/archive.csv"),
    ] {
        world
            .destination
            .s3
            .put_object()
            .bucket(DESTINATION_MANIFEST_BUCKET)
            .key(key)
            .body(objects::csv_manifest(bucket, &samples()).into())
            .send()
            .await
            .unwrap();
    }
    let sizes_before = (
        policy_size(&world.source.s3, SOURCE_BUCKET).await,
        policy_size(&world.source.s3, MANIFEST_BUCKET).await,
    );

    // The peak size of each shared policy, sampled every 50 ms while the copies run.
    let stop = Arc::new(AtomicBool::new(false));
    let peaks = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let sampler = {
        let (stop, peaks, s3) = (stop.clone(), peaks.clone(), world.source.s3.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for (i, bucket) in [SOURCE_BUCKET, MANIFEST_BUCKET].iter().enumerate() {
                    peaks[i].fetch_max(policy_size(&s3, bucket).await, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let mut started = Vec::new();
    for i in 0..COPIES {
        let copy_id = format!("load-{i:02}");
        let (source, manifest) = if i % 2 == 0 {
            (SOURCE_BUCKET, "lists/photos.csv")
        } else {
            (MANIFEST_BUCKET, "lists/archive.csv")
        };
        let mut request = world.request(&copy_id);
        request["source"]["bucket"] = source.into();
        request["destination"]["keyPrefix"] = format!("{copy_id}/").into();
        request["manifest"] = json!({
            "kind": "csv",
            "accountId": world.sandbox.info.destination_account(),
            "bucket": DESTINATION_MANIFEST_BUCKET,
            "key": manifest
        });
        let arn = world
            .start_execution(&format!("{copy_id}-1"), &request)
            .await;
        started.push((copy_id, source, arn));
    }

    let (mut succeeded, mut too_large) = (Vec::new(), Vec::new());
    for (copy_id, source, arn) in &started {
        let run = world
            .wait_at_most(arn, Duration::from_secs(900))
            .await
            .unwrap_or_else(|| panic!("{copy_id} did not end"));
        match (run.status.clone(), run.error.clone().as_deref()) {
            (ExecutionStatus::Succeeded, _) => {
                assert_eq!(run.output.unwrap()["copied"], samples().len(), "{copy_id}");
                // Every object under the copy's own prefix, byte for byte.
                for s in samples() {
                    let key = format!("{copy_id}/{}", s.key);
                    let (bytes, _) = ferry_core::clients::get_object_bytes(
                        &world.destination.s3,
                        DESTINATION_BUCKET,
                        &key,
                    )
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{copy_id}: {key} is missing"));
                    assert_eq!(bytes, s.body, "{copy_id}: {key} from {source}");
                }
                succeeded.push(copy_id.clone());
            }
            (ExecutionStatus::Failed, Some("PolicyTooLarge")) => {
                let cause = run.cause.unwrap_or_default();
                assert!(cause.contains("20480"), "{copy_id}: {cause}");
                too_large.push(copy_id.clone());
            }
            _ => panic!("{copy_id} ended neither copied nor PolicyTooLarge: {run:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();

    let ids: Vec<&str> = started.iter().map(|(c, _, _)| c.as_str()).collect();
    world.assert_no_leftovers_of(&ids).await;
    let peak = [
        peaks[0].load(Ordering::Relaxed),
        peaks[1].load(Ordering::Relaxed),
    ];
    println!(
        "{COPIES} copies at once: {} succeeded, {} PolicyTooLarge ({too_large:?}); peak policy size: s3://{SOURCE_BUCKET} {} bytes (its own {}), s3://{MANIFEST_BUCKET} {} bytes (its own {}); the limit is 20,480",
        succeeded.len(),
        too_large.len(),
        peak[0],
        sizes_before.0,
        peak[1],
        sizes_before.1
    );
    assert!(peak.iter().all(|p| *p <= 20_480), "{peak:?}");
    assert!(
        succeeded.len() >= COPIES / 2,
        "most copies fit: {succeeded:?}"
    );
}
