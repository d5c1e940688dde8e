//! The copy worker copying one large object server side on a local S3 server, for
//! `make bench-worker` (which starts the server and runs `aws s3 cp` on the same object in the
//! same run). Not a test: it prints MB/s, it asserts nothing about time.
//!
//! `bench_worker <endpoint> <MiB> <part MiB> <parts in flight>...`: creates the buckets, puts a
//! `<MiB>` object (multipart, 64 MiB parts), then for each parts-in-flight value runs the
//! worker's handler on it (as LambdaInvoke would, one task) into a fresh key, checks the copy's
//! size and ETag shape, and prints one line: `ferry-copy-worker  <in flight>  <parts>  <s>  <MB/s>`.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use ferry_core::clients::Clients;
use ferry_core::stack::StackConfig;
use ferry_core::worker::{WorkerEvent, WorkerJob, WorkerTask, MIB};
use lambda_runtime::{Context, LambdaEvent};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const SOURCE: &str = "bench-source";
const DESTINATION: &str = "bench-destination";
const KEY: &str = "big/object.bin";

fn config() -> StackConfig {
    use ferry_core::stack::*;
    let vars = BTreeMap::from([
        (VAR_ACCOUNT_ID, ACCOUNT.to_string()),
        (VAR_REGION, REGION.to_string()),
        (VAR_FERRY_BUCKET, format!("ferry-{ACCOUNT}-{REGION}")),
        (VAR_SOURCE_BUCKETS, SOURCE.to_string()),
        (VAR_DESTINATION_BUCKETS, DESTINATION.to_string()),
    ]);
    StackConfig::from_lookup(|n| vars.get(n).cloned()).expect("every variable is set")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, mib, part_mib, in_flight @ ..] = args.as_slice() else {
        return Err("usage: bench_worker <endpoint> <MiB> <part MiB> <parts in flight>...".into());
    };
    let size = mib.parse::<u64>()? * MIB;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "AKIABENCH",
            "bench",
            None,
            None,
            "bench",
        ))
        .load()
        .await;
    let clients = Clients::new(&sdk);
    let config = config();
    for bucket in [SOURCE, DESTINATION, config.ferry_bucket.as_str()] {
        ferry_local::objects::create_bucket(&clients.s3, bucket, REGION).await?;
    }
    put_large(&clients.s3, size).await?;
    for n in in_flight {
        let mut args = BTreeMap::from([
            ("copyId".to_string(), format!("bench-{n}")),
            ("destinationBucket".to_string(), DESTINATION.to_string()),
            ("keyPrefix".to_string(), format!("ferry-{n}/")),
            ("storageClass".to_string(), "STANDARD".to_string()),
            ("metadataDirective".to_string(), "COPY".to_string()),
        ]);
        args.insert("partsInFlight".into(), n.clone());
        args.insert("partMiB".into(), part_mib.clone());
        let event = WorkerEvent {
            invocation_schema_version: "2.0".into(),
            invocation_id: format!("bench-{n}"),
            job: WorkerJob {
                id: "bench".into(),
                user_arguments: args,
            },
            tasks: vec![WorkerTask {
                task_id: "t".into(),
                s3_bucket: Some(SOURCE.into()),
                s3_bucket_name: None,
                s3_bucket_arn: None,
                s3_key: KEY.into(),
                s3_version_id: None,
            }],
        };
        let started = Instant::now();
        let out = ferry_copy_worker::handle(
            &clients,
            &config,
            LambdaEvent::new(event, Context::default()),
        )
        .await?;
        let seconds = started.elapsed().as_secs_f64();
        let result = &out.results[0];
        let head = clients
            .s3
            .head_object()
            .bucket(DESTINATION)
            .key(format!("ferry-{n}/{KEY}"))
            .send()
            .await?;
        if head.content_length() != Some(size as i64) {
            return Err(
                format!("the copy is {:?} bytes, not {size}", head.content_length()).into(),
            );
        }
        println!(
            "ferry-copy-worker  {n:>3} in flight  {:<32}  {seconds:>7.2} s  {:>8.1} MB/s",
            result.result_string,
            size as f64 / 1e6 / seconds
        );
    }
    Ok(())
}

/// The source object, uploaded in 64 MiB parts of a repeating pattern.
async fn put_large(s3: &aws_sdk_s3::Client, size: u64) -> Result<(), Box<dyn std::error::Error>> {
    let part = 64 * MIB;
    let upload = s3
        .create_multipart_upload()
        .bucket(SOURCE)
        .key(KEY)
        .send()
        .await?;
    let id = upload.upload_id().unwrap_or_default();
    let mut done = Vec::new();
    let mut first = 0;
    let mut number = 1;
    while first < size {
        let len = part.min(size - first);
        let body: Vec<u8> = (0..len).map(|i| ((first + i) % 251) as u8).collect();
        let out = s3
            .upload_part()
            .bucket(SOURCE)
            .key(KEY)
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await?;
        done.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag().unwrap_or_default())
                .build(),
        );
        first += len;
        number += 1;
    }
    s3.complete_multipart_upload()
        .bucket(SOURCE)
        .key(KEY)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await?;
    Ok(())
}
