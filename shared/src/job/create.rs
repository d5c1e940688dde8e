//! The CreateJob request of one attempt of a copy, in AWS's JSON shape (what `ferry plan`
//! prints) and mapped field by field onto the SDK's call, ferry's enums straight to the SDK's.

use serde::{Deserialize, Serialize};

use aws_sdk_s3control::operation::create_job::builders::CreateJobFluentBuilder;
use aws_sdk_s3control::types as s3c;
use aws_smithy_types::error::operation::BuildError;

use super::generated::{
    GeneratorFilter, JobManifestGenerator, ManifestOutputLocation, S3JobManifestGenerator,
    SizeRoute, GENERATED_FORMAT,
};
use crate::names::{Attempt, Names};
use crate::request::{
    CopyRequest, EncryptionType, MetadataDirective, ReportScope, StorageClass, DESCRIPTION_MAX,
};

/// The completion report's format (the one Batch Operations writes).
pub const REPORT_FORMAT: &str = "Report_CSV_20180820";

/// A job manifest's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManifestFormat {
    #[serde(rename = "S3BatchOperations_CSV_20180820")]
    Csv,
    #[serde(rename = "S3InventoryReport_CSV_20161130")]
    Inventory,
}

/// A column of a CSV manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManifestField {
    Bucket,
    Key,
    VersionId,
}

/// The completion report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportFormat {
    #[serde(rename = "Report_CSV_20180820")]
    Csv,
}

/// The manifest a job reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestLocation {
    pub kind: ManifestKind,
    /// ARN of the CSV, or of the inventory report's `manifest.json`.
    pub object_arn: String,
    /// Required by CreateJob; `job-submit` reads it with HeadObject.
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Flow C: the generator's filter (`object_arn` is then the source bucket's ARN, `etag`
    /// empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<GeneratorFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManifestKind {
    /// A CSV manifest; `with_versions` when its rows carry version ids.
    #[serde(rename_all = "camelCase")]
    Csv {
        with_versions: bool,
    },
    Inventory,
    /// Flow C: S3 Batch Operations generates the manifest from the source bucket, the objects
    /// of `route`.
    #[serde(rename_all = "camelCase")]
    Generated {
        route: SizeRoute,
    },
}

/// A CreateJob request in AWS's JSON shape (as `aws s3control create-job --cli-input-json`
/// takes it), so that `ferry plan` prints exactly what will be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateJobRequest {
    pub account_id: String,
    pub confirmation_required: bool,
    pub operation: JobOperation,
    pub report: JobReport,
    pub client_request_token: String,
    /// Absent when the job generates its manifest (`manifest_generator`): CreateJob takes
    /// "either a manifest file or a ManifestGenerator, but not both".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<JobManifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_generator: Option<JobManifestGenerator>,
    pub description: String,
    pub priority: i32,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<JobTag>,
}

/// The job's operation: S3PutObjectCopy, or LambdaInvoke of the copy worker (objects over 5 GB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobOperation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_put_object_copy: Option<S3PutObjectCopy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_invoke: Option<LambdaInvoke>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_initiate_restore_object: Option<super::restore::S3InitiateRestoreObject>,
}

/// The copy worker's invocation: schema 2.0, the copy's settings as `UserArguments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LambdaInvoke {
    pub function_arn: String,
    pub invocation_schema_version: String,
    pub user_arguments: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3PutObjectCopy {
    /// The destination bucket's ARN.
    pub target_resource: String,
    /// Absent when empty: the API requires at least one character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_key_prefix: Option<String>,
    pub storage_class: StorageClass,
    pub metadata_directive: MetadataDirective,
    /// The copies' server-side encryption, when the request names one (else the destination
    /// bucket's default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_object_metadata: Option<NewObjectMetadata>,
    #[serde(
        rename = "SSEAwsKmsKeyId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sse_aws_kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key_enabled: bool,
}

/// S3PutObjectCopy's `NewObjectMetadata`, of which ferry sets the encryption only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewObjectMetadata {
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: SseAlgorithm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseAlgorithm {
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "KMS")]
    Kms,
}

impl From<SseAlgorithm> for s3c::S3SseAlgorithm {
    fn from(a: SseAlgorithm) -> Self {
        match a {
            SseAlgorithm::Aes256 => s3c::S3SseAlgorithm::Aes256,
            SseAlgorithm::Kms => s3c::S3SseAlgorithm::Kms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobReport {
    pub bucket: String,
    pub format: ReportFormat,
    pub enabled: bool,
    pub prefix: String,
    pub report_scope: ReportScope,
    pub expected_bucket_owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifest {
    pub spec: JobManifestSpec,
    pub location: JobManifestLocation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifestSpec {
    pub format: ManifestFormat,
    /// CSV only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<ManifestField>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifestLocation {
    pub object_arn: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobTag {
    pub key: String,
    pub value: String,
}

impl CreateJobRequest {
    /// The CreateJob request of one attempt of a validated copy.
    pub fn for_copy(
        req: &CopyRequest,
        names: &Names,
        manifest: &ManifestLocation,
        attempt: Attempt,
    ) -> CreateJobRequest {
        let spec = match manifest.kind {
            ManifestKind::Inventory => Some((ManifestFormat::Inventory, None)),
            ManifestKind::Csv { with_versions } => {
                let mut f = vec![ManifestField::Bucket, ManifestField::Key];
                if with_versions {
                    f.push(ManifestField::VersionId);
                }
                Some((ManifestFormat::Csv, Some(f)))
            }
            ManifestKind::Generated { .. } => None,
        };
        let generator = spec.is_none().then(|| JobManifestGenerator {
            s3_job_manifest_generator: S3JobManifestGenerator {
                source_bucket: manifest.object_arn.clone(),
                enable_manifest_output: true,
                manifest_output_location: ManifestOutputLocation {
                    expected_manifest_bucket_owner: req.destination.account_id.clone(),
                    bucket: names.s3_arn(&names.ferry_bucket, None),
                    manifest_prefix: names.layout().generated_manifest_prefix(attempt),
                    manifest_format: GENERATED_FORMAT.into(),
                },
                filter: manifest.filter.clone().unwrap_or_default(),
            },
        });
        let report_bucket = req.report.bucket.as_deref().unwrap_or(&names.ferry_bucket);
        let base = req
            .job
            .description
            .clone()
            .unwrap_or_else(|| format!("ferry copy {}", req.copy_id));
        let description = if attempt.job == 0 {
            base
        } else {
            let suffix = format!(" (run {}, retry {})", attempt.run, attempt.job);
            let keep = DESCRIPTION_MAX - suffix.chars().count();
            base.chars().take(keep).collect::<String>() + &suffix
        };
        CreateJobRequest {
            account_id: req.destination.account_id.clone(),
            confirmation_required: false,
            operation: JobOperation {
                lambda_invoke: None,
                s3_initiate_restore_object: None,
                s3_put_object_copy: Some(S3PutObjectCopy {
                    target_resource: names.s3_arn(&req.destination.bucket, None),
                    target_key_prefix: (!req.destination.key_prefix.is_empty())
                        .then(|| req.destination.key_prefix.clone()),
                    storage_class: req.destination.storage_class,
                    metadata_directive: req.destination.metadata_directive,
                    new_object_metadata: req.destination.encryption.as_ref().map(|e| {
                        NewObjectMetadata {
                            sse_algorithm: match e.kind {
                                EncryptionType::SseS3 => SseAlgorithm::Aes256,
                                EncryptionType::SseKms => SseAlgorithm::Kms,
                            },
                        }
                    }),
                    sse_aws_kms_key_id: req
                        .destination
                        .encryption
                        .as_ref()
                        .and_then(|e| e.kms_key_arn.clone()),
                    bucket_key_enabled: req
                        .destination
                        .encryption
                        .as_ref()
                        .is_some_and(|e| e.bucket_key_enabled),
                }),
            },
            report: JobReport {
                bucket: names.s3_arn(report_bucket, None),
                format: ReportFormat::Csv,
                enabled: true,
                prefix: names.layout().report_prefix(attempt.run),
                report_scope: req.report.scope,
                expected_bucket_owner: req.destination.account_id.clone(),
            },
            client_request_token: names.client_request_token(attempt),
            manifest: spec.map(|(format, fields)| JobManifest {
                spec: JobManifestSpec { format, fields },
                location: JobManifestLocation {
                    object_arn: manifest.object_arn.clone(),
                    etag: manifest.etag.clone(),
                    object_version_id: manifest.version_id.clone(),
                },
            }),
            manifest_generator: generator,
            description,
            // Validation keeps the priority within i32.
            priority: i32::try_from(req.job.priority).unwrap_or(i32::MAX),
            role_arn: names.batch_role_arn.clone(),
            tags: req
                .job
                .tags
                .iter()
                .map(|(k, v)| JobTag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
    }

    /// The same job run by the copy worker (LambdaInvoke) instead of S3PutObjectCopy: what
    /// S3PutObjectCopy cannot copy (over 5 GB) is copied part by part.
    /// In verify mode (`verify`) the worker checks each object at the destination instead.
    pub fn with_worker(self, req: &CopyRequest, names: &Names, verify: bool) -> CreateJobRequest {
        let mut arguments = crate::worker::WorkerArguments::of(req);
        arguments.verify = verify;
        self.through_worker(names, arguments)
    }

    /// The copy's own manifest again through the copy worker, after a job that Batch
    /// Operations failed by its task-failure threshold: what that job copied is found identical
    /// at the destination and not copied twice (`overwrite` becomes `skip-identical`, which
    /// copies every object that is not already the source's), what it never ran is copied, and
    /// the objects over 5 GB that failed it are copied part by part.
    pub fn with_worker_for_the_rest(self, req: &CopyRequest, names: &Names) -> CreateJobRequest {
        let mut arguments = crate::worker::WorkerArguments::of(req);
        if arguments.existing == crate::request::Existing::Overwrite {
            arguments.existing = crate::request::Existing::SkipIdentical;
        }
        self.through_worker(names, arguments)
    }

    fn through_worker(
        mut self,
        names: &Names,
        arguments: crate::worker::WorkerArguments,
    ) -> CreateJobRequest {
        let all_tasks =
            arguments.verify || arguments.existing != crate::request::Existing::Overwrite;
        self.operation = JobOperation {
            s3_put_object_copy: None,
            s3_initiate_restore_object: None,
            lambda_invoke: Some(LambdaInvoke {
                function_arn: names.worker_function_arn(),
                invocation_schema_version: crate::worker::INVOCATION_SCHEMA.into(),
                user_arguments: arguments.to_map(),
            }),
        };
        if all_tasks {
            // The objects left alone as identical are successes: only a report of every task
            // counts them.
            self.report.report_scope = ReportScope::AllTasks;
        }
        self
    }

    /// Sets every field of this request on the SDK's CreateJob call.
    pub fn apply(
        &self,
        call: CreateJobFluentBuilder,
    ) -> Result<CreateJobFluentBuilder, BuildError> {
        let mut operation = s3c::JobOperation::builder();
        if let Some(copy) = &self.operation.s3_put_object_copy {
            operation = operation.s3_put_object_copy(
                s3c::S3CopyObjectOperation::builder()
                    .target_resource(&copy.target_resource)
                    .set_target_key_prefix(copy.target_key_prefix.clone())
                    .storage_class(copy.storage_class.into())
                    .metadata_directive(copy.metadata_directive.into())
                    .set_new_object_metadata(copy.new_object_metadata.as_ref().map(|m| {
                        s3c::S3ObjectMetadata::builder()
                            .sse_algorithm(m.sse_algorithm.into())
                            .build()
                    }))
                    .set_sse_aws_kms_key_id(copy.sse_aws_kms_key_id.clone())
                    .set_bucket_key_enabled(copy.bucket_key_enabled.then_some(true))
                    .build(),
            );
        }
        if let Some(invoke) = &self.operation.lambda_invoke {
            operation = operation.lambda_invoke(
                s3c::LambdaInvokeOperation::builder()
                    .function_arn(&invoke.function_arn)
                    .invocation_schema_version(&invoke.invocation_schema_version)
                    .set_user_arguments(Some(invoke.user_arguments.clone().into_iter().collect()))
                    .build(),
            );
        }
        if let Some(restore) = &self.operation.s3_initiate_restore_object {
            operation = operation.s3_initiate_restore_object(restore.to_sdk());
        }
        let operation = operation.build();
        let r = &self.report;
        let report = s3c::JobReport::builder()
            .bucket(&r.bucket)
            .format(r.format.into())
            .enabled(r.enabled)
            .prefix(&r.prefix)
            .report_scope(r.report_scope.into())
            .expected_bucket_owner(&r.expected_bucket_owner)
            .build();
        let mut manifest = None;
        if let Some(m) = &self.manifest {
            let (spec, loc) = (&m.spec, &m.location);
            manifest = Some(
                s3c::JobManifest::builder()
                    .spec(
                        s3c::JobManifestSpec::builder()
                            .format(spec.format.into())
                            .set_fields(
                                spec.fields
                                    .as_ref()
                                    .map(|f| f.iter().map(|&n| n.into()).collect()),
                            )
                            .build()?,
                    )
                    .location(
                        s3c::JobManifestLocation::builder()
                            .object_arn(&loc.object_arn)
                            .e_tag(&loc.etag)
                            .set_object_version_id(loc.object_version_id.clone())
                            .build()?,
                    )
                    .build(),
            );
        }
        let generator = self
            .manifest_generator
            .as_ref()
            .map(JobManifestGenerator::to_sdk)
            .transpose()?;
        let mut call = call
            .account_id(&self.account_id)
            .confirmation_required(self.confirmation_required)
            .operation(operation)
            .report(report)
            .client_request_token(&self.client_request_token)
            .set_manifest(manifest)
            .set_manifest_generator(generator)
            .description(&self.description)
            .priority(self.priority)
            .role_arn(&self.role_arn);
        for t in &self.tags {
            call = call.tags(s3c::S3Tag::builder().key(&t.key).value(&t.value).build()?);
        }
        Ok(call)
    }
}

impl From<StorageClass> for s3c::S3StorageClass {
    fn from(c: StorageClass) -> Self {
        match c {
            StorageClass::Standard => s3c::S3StorageClass::Standard,
            StorageClass::StandardIa => s3c::S3StorageClass::StandardIa,
            StorageClass::OnezoneIa => s3c::S3StorageClass::OnezoneIa,
            StorageClass::Glacier => s3c::S3StorageClass::Glacier,
            StorageClass::IntelligentTiering => s3c::S3StorageClass::IntelligentTiering,
            StorageClass::DeepArchive => s3c::S3StorageClass::DeepArchive,
            StorageClass::GlacierIr => s3c::S3StorageClass::GlacierIr,
        }
    }
}

impl From<MetadataDirective> for s3c::S3MetadataDirective {
    fn from(d: MetadataDirective) -> Self {
        match d {
            MetadataDirective::Copy => s3c::S3MetadataDirective::Copy,
            MetadataDirective::Replace => s3c::S3MetadataDirective::Replace,
        }
    }
}

impl From<ReportScope> for s3c::JobReportScope {
    fn from(s: ReportScope) -> Self {
        match s {
            ReportScope::AllTasks => s3c::JobReportScope::AllTasks,
            ReportScope::FailedTasksOnly => s3c::JobReportScope::FailedTasksOnly,
        }
    }
}

impl From<ReportFormat> for s3c::JobReportFormat {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Csv => s3c::JobReportFormat::ReportCsv20180820,
        }
    }
}

impl From<ManifestFormat> for s3c::JobManifestFormat {
    fn from(f: ManifestFormat) -> Self {
        match f {
            ManifestFormat::Csv => s3c::JobManifestFormat::S3BatchOperationsCsv20180820,
            ManifestFormat::Inventory => s3c::JobManifestFormat::S3InventoryReportCsv20161130,
        }
    }
}

impl From<ManifestField> for s3c::JobManifestFieldName {
    fn from(f: ManifestField) -> Self {
        match f {
            ManifestField::Bucket => s3c::JobManifestFieldName::Bucket,
            ManifestField::Key => s3c::JobManifestFieldName::Key,
            ManifestField::VersionId => s3c::JobManifestFieldName::VersionId,
        }
    }
}
