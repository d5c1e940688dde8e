//! The AWS clients a handler is given, built once from one `SdkConfig`, and the only two local
//! adjustments ferry makes for a custom endpoint such as the sandbox (docs/src/contributing/architecture.md,
//! "Build settings"):
//! path-style S3 addressing, and no account-id host prefix for S3 Control (the SDK sends
//! `222222222222.127.0.0.1:port`, which does not resolve). Both switch on only when the config
//! carries a custom endpoint URL (`AWS_ENDPOINT_URL`); against AWS the clients are the SDK's
//! defaults.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;

/// One client per service ferry calls, all from the same `SdkConfig` (credentials, Region,
/// endpoint), each built on its first use: a function builds only the clients it calls (most
/// call two of the six), and nothing at init but the `SdkConfig`.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: Lazy<aws_sdk_s3::Client>,
    pub s3control: Lazy<aws_sdk_s3control::Client>,
    pub iam: Lazy<aws_sdk_iam::Client>,
    pub sfn: Lazy<aws_sdk_sfn::Client>,
    pub kms: Lazy<aws_sdk_kms::Client>,
    pub sts: Lazy<aws_sdk_sts::Client>,
    /// The stack's lists (`ferry doctor`; the functions read them once, at cold start, through
    /// [`crate::parameters::load_for`]).
    pub ssm: Lazy<aws_sdk_ssm::Client>,
    /// S3 clients of assumed roles, by role and session, while their credentials last: a
    /// function instance serves many invocations (the copy worker one per Batch task), and one
    /// AssumeRole per role and hour is enough.
    pub assumed: AssumedClients,
    /// Bodies of objects that never change once written, by bucket and key
    /// ([`Clients::immutable_object`]).
    pub immutable: ImmutableObjects,
}

/// A client built by its first use (through `Deref`), then shared by every clone.
#[derive(Clone)]
pub struct Lazy<C> {
    cell: std::sync::Arc<std::sync::OnceLock<C>>,
    make: std::sync::Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> Lazy<C> {
    /// A client that `make` builds when it is first used.
    pub fn new(make: impl Fn() -> C + Send + Sync + 'static) -> Lazy<C> {
        Lazy {
            cell: Default::default(),
            make: std::sync::Arc::new(make),
        }
    }

    /// A client built already (tests' mocks).
    pub fn ready(client: C) -> Lazy<C> {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(client);
        Lazy {
            cell: std::sync::Arc::new(cell),
            make: std::sync::Arc::new(|| unreachable!("a ready client is never built")),
        }
    }

    /// Whether the client has been built (by a use, or given ready).
    pub fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }
}

impl<C> std::ops::Deref for Lazy<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.cell.get_or_init(|| (self.make)())
    }
}

impl<C> std::fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_built() {
            "Lazy(built)"
        } else {
            "Lazy(not built)"
        })
    }
}

/// The cache behind [`Clients::s3_as`].
pub type AssumedClients = std::sync::Arc<
    std::sync::Mutex<
        std::collections::HashMap<(String, String), (aws_sdk_s3::Client, std::time::SystemTime)>,
    >,
>;

/// The cache behind [`Clients::immutable_object`].
pub type ImmutableObjects =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(String, String), Vec<u8>>>>;

/// The session policy of a role assumed through [`Clients::s3_as`] (the copy worker, as a
/// copy's Batch role): everything the role may do but configure a bucket's inventory, which
/// flow C grants the Batch role for S3 Batch Operations' manifest generator only, and restore
/// an archived object, which `source.archived: restore` grants it for the restore jobs only. "The resulting
/// session's permissions are the intersection of the role's identity-based policy and the
/// session policies" (IAM User Guide, id_credentials_temp_control-access_assumerole).
pub const ASSUMED_SESSION_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NotTheGenerators","Effect":"Deny","Action":"s3:PutInventoryConfiguration","Resource":"*"},{"Sid":"NotTheRestores","Effect":"Deny","Action":"s3:RestoreObject","Resource":"*"}]}"#;

/// An assumed role's client is used until this long before its credentials expire (a copy
/// worker invocation may run 15 minutes after it was handed the client).
pub const ASSUMED_MARGIN: std::time::Duration = std::time::Duration::from_secs(20 * 60);

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Clients {
        let local = sdk.endpoint_url().is_some();
        let (s3, s3control) = (sdk.clone(), sdk.clone());
        let (iam, sfn, kms, sts) = (sdk.clone(), sdk.clone(), sdk.clone(), sdk.clone());
        let ssm = sdk.clone();
        Clients {
            s3: Lazy::new(move || {
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&s3)
                        .force_path_style(local)
                        .build(),
                )
            }),
            s3control: Lazy::new(move || {
                let mut b = aws_sdk_s3control::config::Builder::from(&s3control);
                if local {
                    b = b.interceptor(StripAccountHostPrefix);
                }
                aws_sdk_s3control::Client::from_conf(b.build())
            }),
            iam: Lazy::new(move || aws_sdk_iam::Client::new(&iam)),
            sfn: Lazy::new(move || aws_sdk_sfn::Client::new(&sfn)),
            kms: Lazy::new(move || aws_sdk_kms::Client::new(&kms)),
            sts: Lazy::new(move || aws_sdk_sts::Client::new(&sts)),
            ssm: Lazy::new(move || aws_sdk_ssm::Client::new(&ssm)),
            assumed: Default::default(),
            immutable: Default::default(),
        }
    }

    /// The body of an object that never changes once written (a copy's stored plan,
    /// `control/<copyId>/plan.json`), read once per process: a copy worker instance serves one
    /// Batch task per invocation and checks each against its copy's plan. `None`, not kept, while
    /// the object does not exist.
    pub async fn immutable_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, crate::StepError> {
        let wanted = (bucket.to_string(), key.to_string());
        if let Some(body) = self
            .immutable
            .lock()
            .expect("the immutable objects")
            .get(&wanted)
        {
            return Ok(Some(body.clone()));
        }
        let Some((body, _)) = get_object_bytes(&self.s3, bucket, key).await? else {
            return Ok(None);
        };
        self.immutable
            .lock()
            .expect("the immutable objects")
            .insert(wanted, body.clone());
        Ok(Some(body))
    }

    /// An S3 client like this one (endpoint, addressing, and in tests its mocks) that calls as
    /// the role `role_arn`, assumed with STS for `session` (one hour) under
    /// [`ASSUMED_SESSION_POLICY`]; the same client again while its credentials have more than
    /// [`ASSUMED_MARGIN`] left.
    pub async fn s3_as(
        &self,
        role_arn: &str,
        session: &str,
    ) -> Result<aws_sdk_s3::Client, crate::StepError> {
        let wanted = (role_arn.to_string(), session.to_string());
        let now = std::time::SystemTime::now();
        if let Some((client, _)) = self
            .assumed
            .lock()
            .expect("the assumed-role cache")
            .get(&wanted)
            .filter(|(_, expires)| now + ASSUMED_MARGIN < *expires)
        {
            return Ok(client.clone());
        }
        let out = self
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session)
            .policy(ASSUMED_SESSION_POLICY)
            .send()
            .await
            .map_err(|e| crate::error::from_sdk(e, &format!("AssumeRole {role_arn}")))?;
        let c = out.credentials().ok_or_else(|| {
            crate::StepError::new(
                crate::ErrorName::Retryable,
                format!("AssumeRole {role_arn} answered without credentials"),
            )
        })?;
        let credentials = aws_sdk_s3::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "ferry-assumed-role",
        );
        let expires = std::time::SystemTime::try_from(*c.expiration()).unwrap_or(now);
        let conf = self
            .s3
            .config()
            .to_builder()
            .credentials_provider(credentials)
            .build();
        let client = aws_sdk_s3::Client::from_conf(conf);
        self.assumed
            .lock()
            .expect("the assumed-role cache")
            .insert(wanted, (client.clone(), expires));
        Ok(client)
    }
}

/// An object's bytes and ETag (without quotes), or `None` when the key does not exist: the one
/// S3 read most handlers repeat. `what` names the object in errors.
pub async fn get_object_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, String)>, crate::StepError> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let etag = out
                .e_tag()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string();
            let bytes = out.body.collect().await.map_err(|e| {
                crate::StepError::new(
                    crate::ErrorName::Retryable,
                    format!("reading s3://{bucket}/{key}: {e}"),
                )
            })?;
            Ok(Some((bytes.into_bytes().to_vec(), etag)))
        }
        Err(e) if crate::error::sdk_code(&e) == Some("NoSuchKey") => Ok(None),
        Err(e) => Err(crate::error::from_sdk(
            e,
            &format!("GetObject s3://{bucket}/{key}"),
        )),
    }
}

/// A bucket's policy, or `None` when it has none (`NoSuchBucketPolicy`). GetBucketPolicy is for
/// the bucket owner's account only (S3 API reference), so `owner` is the caller's account.
pub async fn read_bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<String>, crate::StepError> {
    match s3
        .get_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
    {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(e) if crate::error::sdk_code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
        Err(e) => Err(crate::error::from_sdk(
            e,
            &format!("GetBucketPolicy on {bucket}"),
        )),
    }
}

/// Removes the leading 12-digit account label that S3 Control puts before the endpoint's host,
/// before the request is signed (the `x-amz-account-id` header still names the account).
#[derive(Debug, Clone, Copy)]
pub struct StripAccountHostPrefix;

impl Intercept for StripAccountHostPrefix {
    fn name(&self) -> &'static str {
        "StripAccountHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some(uri) = strip_account_label(request.uri()) {
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

/// `http://222222222222.127.0.0.1:5000/v20180820/jobs` -> `http://127.0.0.1:5000/v20180820/jobs`;
/// `None` when the host does not start with a 12-digit label.
fn strip_account_label(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let (label, host_and_path) = rest.split_once('.')?;
    crate::request::is_account_id(label).then(|| format!("{scheme}://{host_and_path}"))
}

/// An SDK configuration for one endpoint and one session's static credentials: how clients of
/// the sandbox are made (its description names both), by its handle and by the CLI alike.
pub fn static_session_config(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: &str,
) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(
            aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
        )
        .region(aws_types::region::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(
                access_key_id,
                secret_access_key,
                Some(session_token.to_string()),
                None,
                "ferry-sandbox",
            ),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_http_client::test_util::capture_request;
    use aws_types::region::Region;

    fn sdk(
        endpoint: Option<&str>,
        http: aws_smithy_http_client::test_util::CaptureRequestHandler,
    ) -> SdkConfig {
        let mut b = SdkConfig::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("AKID", "SECRET", None, None, "test"),
            ))
            .http_client(http);
        if let Some(e) = endpoint {
            b = b.endpoint_url(e);
        }
        b.build()
    }

    #[test]
    fn only_a_leading_account_label_is_stripped() {
        assert_eq!(
            strip_account_label("http://222222222222.127.0.0.1:5000/v20180820/jobs/j1").as_deref(),
            Some("http://127.0.0.1:5000/v20180820/jobs/j1")
        );
        assert_eq!(
            strip_account_label("http://127.0.0.1:5000/v20180820/jobs"),
            None
        );
        assert_eq!(strip_account_label("http://localhost:5000/x"), None);
        assert_eq!(strip_account_label("https://12345.example.com/x"), None);
    }

    #[tokio::test]
    async fn s3_control_reaches_a_local_endpoint_without_the_account_prefix() {
        let (http, rx) = capture_request(None);
        let clients = Clients::new(&sdk(Some("http://127.0.0.1:5000"), http));
        let _ = clients
            .s3control
            .describe_job()
            .account_id("222222222222")
            .job_id("j1")
            .send()
            .await;
        let req = rx.expect_request();
        assert_eq!(req.uri(), "http://127.0.0.1:5000/v20180820/jobs/j1");
        assert_eq!(req.headers().get("x-amz-account-id"), Some("222222222222"));
    }

    #[tokio::test]
    async fn a_client_is_built_by_its_first_use_only_and_shared_by_clones() {
        let (http, rx) = capture_request(None);
        let clients = Clients::new(&sdk(Some("http://127.0.0.1:5000"), http));
        let copy = clients.clone();
        let built = |c: &Clients| {
            [
                c.s3.is_built(),
                c.s3control.is_built(),
                c.iam.is_built(),
                c.sfn.is_built(),
                c.kms.is_built(),
                c.sts.is_built(),
            ]
        };
        assert_eq!(built(&clients), [false; 6]);
        let _ = clients.s3.head_bucket().bucket("src-photos").send().await;
        assert_eq!(
            rx.expect_request().uri(),
            "http://127.0.0.1:5000/src-photos/"
        );
        assert_eq!(built(&copy), [true, false, false, false, false, false]);
    }

    #[tokio::test]
    async fn s3_uses_path_style_on_a_local_endpoint() {
        let (http, rx) = capture_request(None);
        let clients = Clients::new(&sdk(Some("http://127.0.0.1:5000"), http));
        let _ = clients
            .s3
            .get_bucket_policy()
            .bucket("src-photos")
            .send()
            .await;
        assert_eq!(
            rx.expect_request().uri(),
            "http://127.0.0.1:5000/src-photos/?policy"
        );
    }

    #[tokio::test]
    async fn against_aws_the_sdk_defaults_stand() {
        let (http, rx) = capture_request(None);
        let clients = Clients::new(&sdk(None, http.clone()));
        let _ = clients
            .s3control
            .describe_job()
            .account_id("222222222222")
            .job_id("j1")
            .send()
            .await;
        assert_eq!(
            rx.expect_request().uri(),
            "https://222222222222.s3-control.eu-west-1.amazonaws.com/v20180820/jobs/j1"
        );
        let (http, rx) = capture_request(None);
        let clients = Clients::new(&sdk(None, http));
        let _ = clients
            .s3
            .get_bucket_policy()
            .bucket("src-photos")
            .send()
            .await;
        assert_eq!(
            rx.expect_request().uri(),
            "https://src-photos.s3.eu-west-1.amazonaws.com/?policy"
        );
    }
}
