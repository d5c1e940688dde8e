//! Whether an object at the destination is the source's: sizes, ETags, full-object checksums
//! and user metadata compared, as skip-identical, refuse and verify mode decide.

use aws_sdk_s3::types::{ChecksumMode, ServerSideEncryption};

/// Whether the object at the destination is the source's: the same size, and the same ETag or
/// the same full-object checksum (an ETag differs between a multipart copy and its source).
pub(crate) fn identical(
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> bool {
    if source.content_length() != there.content_length() {
        return false;
    }
    if source.e_tag().is_some() && source.e_tag() == there.e_tag() {
        return true;
    }
    // A checksum is whole-object only when neither says it is composite (one of the parts').
    let full = |h: &aws_sdk_s3::operation::head_object::HeadObjectOutput| {
        h.checksum_type() != Some(&aws_sdk_s3::types::ChecksumType::Composite)
    };
    full(source)
        && full(there)
        && checksums(source, there)
            .iter()
            .any(|(a, b)| a.is_some() && a == b)
}

/// The two objects' checksums, algorithm by algorithm (`None` where one has none).
fn checksums<'a>(
    source: &'a aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &'a aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> [(Option<&'a str>, Option<&'a str>); 5] {
    [
        (source.checksum_crc64_nvme(), there.checksum_crc64_nvme()),
        (source.checksum_crc32(), there.checksum_crc32()),
        (source.checksum_crc32_c(), there.checksum_crc32_c()),
        (source.checksum_sha1(), there.checksum_sha1()),
        (source.checksum_sha256(), there.checksum_sha256()),
    ]
}

/// How an object at the destination compares with its source, for verification: `Ok` with
/// what was compared, or `Err` with the difference.
pub(crate) fn compare(
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> Result<String, String> {
    let (a, b) = (source.content_length(), there.content_length());
    if a != b {
        return Err(format!(
            "{} bytes, the source {} bytes",
            b.unwrap_or(0),
            a.unwrap_or(0)
        ));
    }
    // An ETag is the object's MD5 only for a single-part object not under SSE-KMS.
    let plain = |h: &aws_sdk_s3::operation::head_object::HeadObjectOutput| {
        h.e_tag().is_some_and(|e| !e.contains('-'))
            && h.server_side_encryption() != Some(&ServerSideEncryption::AwsKms)
    };
    if plain(source) && plain(there) {
        return if source.e_tag() == there.e_tag() {
            Ok("same size and ETag".into())
        } else {
            Err(format!(
                "ETag {}, the source's {}",
                there.e_tag().unwrap_or_default(),
                source.e_tag().unwrap_or_default()
            ))
        };
    }
    match checksums(source, there)
        .iter()
        .find(|(x, y)| x.is_some() && y.is_some())
    {
        Some((x, y)) if x == y => Ok("same size and full-object checksum".into()),
        Some((x, y)) => Err(format!(
            "checksum {}, the source's {}",
            y.unwrap_or_default(),
            x.unwrap_or_default()
        )),
        None => Ok("same size (no comparable ETag or checksum)".into()),
    }
}

/// Whether a copy made with `metadataDirective: COPY` carries its source's user metadata and
/// Content-Type. AWS does not say what S3PutObjectCopy does to user metadata when
/// `NewObjectMetadata` holds only the encryption (its model: "If you don't provide this
/// parameter, Amazon S3 copies all the metadata from the original objects"), which ferry sets
/// for `destination.encryption`: the verification checks that nothing was lost.
pub(crate) fn same_metadata(
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> Result<(), String> {
    if source.metadata() != there.metadata() {
        fn keys(h: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> Vec<&String> {
            let mut k: Vec<&String> = h.metadata().map(|m| m.keys().collect()).unwrap_or_default();
            k.sort();
            k
        }
        return Err(format!(
            "user metadata {:?}, the source's {:?}",
            keys(there),
            keys(source)
        ));
    }
    if source.content_type() != there.content_type() {
        return Err(format!(
            "Content-Type {}, the source's {}",
            there.content_type().unwrap_or("(none)"),
            source.content_type().unwrap_or("(none)")
        ));
    }
    Ok(())
}

/// HeadObject with the object's checksum when the caller may read it. With `ChecksumMode`, S3
/// needs `kms:Decrypt` on an SSE-KMS object's key (S3 API, HeadObject `ChecksumMode`: "you must
/// have permission to use the kms:Decrypt action to retrieve the checksum"), which the Batch
/// role has only for the copy's keys: refused (403), the HEAD is made again without it, and
/// the comparison falls back to size and ETag.
pub(crate) async fn head_with_checksum(
    call: aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder,
) -> Result<
    aws_sdk_s3::operation::head_object::HeadObjectOutput,
    aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::head_object::HeadObjectError>,
> {
    match call
        .clone()
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(403) => call.send().await,
        other => other,
    }
}
