//! Sample objects in the sandbox, for the end-to-end tests and `ferry demo`: buckets to put them
//! in, the objects themselves (bytes, content type, metadata, tags), a CSV manifest listing
//! them, and every difference a copy left at the destination.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_s3::Client as S3;
use ferry_core::manifest::{encode_key, CsvManifestWriter, ManifestEntry};

/// One object: what is put at the source and must be found at the destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub key: String,
    pub body: Vec<u8>,
    /// Checked at the destination only when set.
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

pub async fn create_bucket(s3: &S3, bucket: &str, region: &str) -> Result<(), aws_sdk_s3::Error> {
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

/// Sets `bucket`'s default encryption to SSE-KMS under `key` (a key ARN, or an alias).
pub async fn set_default_kms(s3: &S3, bucket: &str, key: &str) -> Result<(), aws_sdk_s3::Error> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .expect("both fields are set");
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .build();
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .expect("one rule is set");
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await?;
    Ok(())
}

/// Puts `body` as `key` encrypted with a customer-provided key (SSE-C, the key derived from
/// `key`): an object S3 Batch Operations cannot read.
pub async fn put_sse_c(
    s3: &S3,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Result<(), aws_sdk_s3::Error> {
    use md5::{Digest, Md5};
    let customer_key: Vec<u8> = Md5::digest(key.as_bytes()).repeat(2);
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(aws_smithy_types::base64::encode(&customer_key))
        .sse_customer_key_md5(aws_smithy_types::base64::encode(Md5::digest(&customer_key)))
        .send()
        .await?;
    Ok(())
}

/// Puts `body` as `key` SSE-KMS without naming a key: S3 uses the account's AWS managed key
/// `aws/s3`, which no other account can use.
pub async fn put_under_aws_managed_key(
    s3: &S3,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Result<(), aws_sdk_s3::Error> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .send()
        .await?;
    Ok(())
}

/// Puts every sample into `bucket`, with its content type, metadata and tags.
pub async fn put_samples(
    s3: &S3,
    bucket: &str,
    samples: &[Sample],
) -> Result<(), aws_sdk_s3::Error> {
    put_samples_encrypted(s3, bucket, samples, None).await
}

/// Requests in flight at once when seeding or reading back many objects: the sandbox's S3 and
/// the client each keep a core busy, where one request at a time left each waiting on the other.
const IN_FLIGHT: usize = 8;

/// [`put_samples`], each object SSE-KMS under `kms_key` when it is set.
pub async fn put_samples_encrypted(
    s3: &S3,
    bucket: &str,
    samples: &[Sample],
    kms_key: Option<&str>,
) -> Result<(), aws_sdk_s3::Error> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(samples)
        .map(|s| put_sample(s3, bucket, s, kms_key))
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<()>()
        .await
}

async fn put_sample(
    s3: &S3,
    bucket: &str,
    s: &Sample,
    kms_key: Option<&str>,
) -> Result<(), aws_sdk_s3::Error> {
    let tagging: Vec<String> = s
        .tags
        .iter()
        .map(|(k, v)| format!("{}={}", encode_key(k), encode_key(v)))
        .collect();
    s3.put_object()
        .bucket(bucket)
        .key(&s.key)
        .body(ByteStream::from(s.body.clone()))
        .set_content_type(s.content_type.clone())
        .set_metadata(Some(s.metadata.clone().into_iter().collect()))
        .set_tagging((!tagging.is_empty()).then(|| tagging.join("&")))
        .set_server_side_encryption(
            kms_key.map(|_| aws_sdk_s3::types::ServerSideEncryption::AwsKms),
        )
        .set_ssekms_key_id(kms_key.map(str::to_string))
        .send()
        .await?;
    Ok(())
}

/// A CSV manifest (flow B) of the samples in `bucket`.
pub fn csv_manifest(bucket: &str, samples: &[Sample]) -> Vec<u8> {
    let mut manifest = CsvManifestWriter::new(Vec::new());
    for s in samples {
        manifest
            .write(&ManifestEntry {
                bucket: bucket.into(),
                key: s.key.clone(),
                version_id: None,
            })
            .expect("writing to memory");
    }
    manifest.finish().expect("writing to memory")
}

/// How many objects `bucket` holds under `prefix`, every page of ListObjectsV2 read (one page
/// holds at most 1,000 keys).
pub async fn count_objects(
    s3: &S3,
    bucket: &str,
    prefix: &str,
) -> Result<usize, aws_sdk_s3::Error> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        count += page.map_err(aws_sdk_s3::Error::from)?.contents().len();
    }
    Ok(count)
}

/// Every way the destination `bucket` differs from the samples, a line each: a missing object,
/// other bytes, content type, metadata or tags, in the samples' order. Empty when the copy is
/// exact.
pub async fn differences(
    s3: &S3,
    bucket: &str,
    samples: &[Sample],
) -> Result<Vec<String>, aws_sdk_s3::Error> {
    use futures::{StreamExt, TryStreamExt};
    let each: Vec<Vec<String>> = futures::stream::iter(samples)
        .map(|s| differences_of(s3, bucket, s))
        .buffered(IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(each.into_iter().flatten().collect())
}

/// How the object at `s.key` in `bucket` differs from the sample `s`.
async fn differences_of(
    s3: &S3,
    bucket: &str,
    s: &Sample,
) -> Result<Vec<String>, aws_sdk_s3::Error> {
    let mut found = Vec::new();
    let Ok(got) = s3.get_object().bucket(bucket).key(&s.key).send().await else {
        found.push(format!("{}: missing at s3://{bucket}", s.key));
        return Ok(found);
    };
    let content_type = got.content_type().map(str::to_string);
    let metadata: BTreeMap<String, String> = got
        .metadata()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let body = got
        .body
        .collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .unwrap_or_default();
    if body != s.body {
        found.push(format!(
            "{}: {} bytes at the destination, {} at the source, or other bytes",
            s.key,
            body.len(),
            s.body.len()
        ));
    }
    if s.content_type.is_some() && content_type != s.content_type {
        found.push(format!(
            "{}: content type {content_type:?}, not {:?}",
            s.key, s.content_type
        ));
    }
    if metadata != s.metadata {
        found.push(format!(
            "{}: metadata {metadata:?}, not {:?}",
            s.key, s.metadata
        ));
    }
    let tags: BTreeMap<String, String> = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(&s.key)
        .send()
        .await?
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    if tags != s.tags {
        found.push(format!("{}: tags {tags:?}, not {:?}", s.key, s.tags));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_lists_every_sample_url_encoded() {
        let sample = |key: &str| Sample {
            key: key.into(),
            body: vec![],
            content_type: None,
            metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
        };
        let csv = csv_manifest(
            "src-photos",
            &[sample("2026/a b.jpg"), sample("2026/é+.txt")],
        );
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "src-photos,2026/a%20b.jpg\nsrc-photos,2026/%C3%A9%2B.txt\n"
        );
    }
}
