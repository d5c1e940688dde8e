//! Test doubles for the function crates' tests: clients answered by aws-smithy-mocks rules, and
//! fake buckets that keep objects in memory.

use crate::clients::{Clients, Lazy};

impl Clients {
    /// Clients whose calls are answered by aws-smithy-mocks rules (any matching rule answers;
    /// a call no rule matches fails the test).
    pub fn mocked(
        s3: &[&aws_smithy_mocks::Rule],
        s3control: &[&aws_smithy_mocks::Rule],
        iam: &[&aws_smithy_mocks::Rule],
        sfn: &[&aws_smithy_mocks::Rule],
    ) -> Clients {
        use aws_smithy_mocks::{mock_client, RuleMode};
        Clients {
            s3: Lazy::ready(mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3)),
            s3control: Lazy::ready(mock_client!(
                aws_sdk_s3control,
                RuleMode::MatchAny,
                s3control
            )),
            iam: Lazy::ready(mock_client!(aws_sdk_iam, RuleMode::MatchAny, iam)),
            sfn: Lazy::ready(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn)),
            kms: Lazy::ready(mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[])),
            sts: Lazy::ready(mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[])),
            ssm: Lazy::ready(mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[])),
            assumed: Default::default(),
            immutable: Default::default(),
        }
    }

    /// These clients with STS calls answered by `sts`'s rules.
    pub fn with_sts(mut self, sts: &[&aws_smithy_mocks::Rule]) -> Clients {
        use aws_smithy_mocks::{mock_client, RuleMode};
        self.sts = Lazy::ready(mock_client!(aws_sdk_sts, RuleMode::MatchAny, sts));
        self
    }

    /// These clients with KMS calls answered by `kms`'s rules.
    pub fn with_kms(mut self, kms: &[&aws_smithy_mocks::Rule]) -> Clients {
        use aws_smithy_mocks::{mock_client, RuleMode};
        self.kms = Lazy::ready(mock_client!(aws_sdk_kms, RuleMode::MatchAny, kms));
        self
    }
}

/// Objects of fake buckets for tests: `(bucket, key) -> bytes`.
pub type FakeObjects =
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<(String, String), Vec<u8>>>>;

/// aws-smithy-mocks rules that keep S3 objects in `store`: GetObject (ETag = MD5 of the body,
/// NoSuchKey when absent), PutObject, DeleteObject, and ListObjectsV2 with prefix and delimiter.
pub fn fake_s3(store: &FakeObjects) -> Vec<aws_smithy_mocks::Rule> {
    use aws_sdk_s3::operation::{
        delete_object::DeleteObjectOutput, get_object::GetObjectError, get_object::GetObjectOutput,
        list_objects_v2::ListObjectsV2Output, put_object::PutObjectOutput,
    };
    use aws_sdk_s3::types::{CommonPrefix, Object};
    use aws_smithy_mocks::{mock, MockResponse};
    let (g, p, d, l) = (store.clone(), store.clone(), store.clone(), store.clone());
    let md5 = |b: &[u8]| {
        use md5::{Digest, Md5};
        Md5::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    vec![
        mock!(aws_sdk_s3::Client::get_object).then_compute_response(move |r| {
            let k = (
                r.bucket().unwrap_or_default().to_string(),
                r.key().unwrap_or_default().to_string(),
            );
            match g.lock().unwrap().get(&k) {
                Some(b) => MockResponse::Output(
                    GetObjectOutput::builder()
                        .e_tag(format!("\"{}\"", md5(b)))
                        .body(aws_sdk_s3::primitives::ByteStream::from(b.clone()))
                        .build(),
                ),
                None => MockResponse::Error(GetObjectError::generic(
                    aws_sdk_s3::error::ErrorMetadata::builder()
                        .code("NoSuchKey")
                        .build(),
                )),
            }
        }),
        mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
            let k = (
                r.bucket().unwrap_or_default().to_string(),
                r.key().unwrap_or_default().to_string(),
            );
            p.lock()
                .unwrap()
                .insert(k, r.body().bytes().unwrap_or_default().to_vec());
            PutObjectOutput::builder().build()
        }),
        mock!(aws_sdk_s3::Client::delete_object).then_compute_output(move |r| {
            let k = (
                r.bucket().unwrap_or_default().to_string(),
                r.key().unwrap_or_default().to_string(),
            );
            d.lock().unwrap().remove(&k);
            DeleteObjectOutput::builder().build()
        }),
        mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(move |r| {
            let bucket = r.bucket().unwrap_or_default();
            let prefix = r.prefix().unwrap_or_default();
            let mut b = ListObjectsV2Output::builder();
            let mut common = std::collections::BTreeSet::new();
            for (bk, key) in l.lock().unwrap().keys() {
                let Some(rest) = key.strip_prefix(prefix).filter(|_| bk == bucket) else {
                    continue;
                };
                match r
                    .delimiter()
                    .and_then(|d| rest.find(d).map(|i| i + d.len()))
                {
                    Some(end) => {
                        common.insert(format!("{prefix}{}", &rest[..end]));
                    }
                    None => b = b.contents(Object::builder().key(key).build()),
                }
            }
            for c in common {
                b = b.common_prefixes(CommonPrefix::builder().prefix(c).build());
            }
            b.build()
        }),
    ]
}
