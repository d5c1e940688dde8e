//! Flow C's jobs: CreateJob's `ManifestGenerator` (S3 Batch Operations lists the source bucket
//! when the job is created) built from the request's filter, and the routing of objects by size
//! between S3PutObjectCopy and the copy worker through two complementary size filters.
//!
//! What AWS documents, and where it is silent (docs/src/contributing/sandbox-facts.md, "Generated
//! manifests"): the filter's fields are each "includes only ... objects that ..." (so they all
//! narrow the list); "greater than" and "less than" are not said to be strict or inclusive. The
//! two routes therefore overlap by at most the two sizes at the boundary: under either reading
//! every object is in at least one job, and an object of exactly 5 GiB may be copied by both
//! (overwrite copies only; the same bytes twice).

use serde::{Deserialize, Serialize};

use aws_sdk_s3control::types as s3c;
use aws_smithy_types::error::operation::BuildError;
use aws_smithy_types::DateTime;

use super::create::{CreateJobRequest, ManifestKind, ManifestLocation};
use crate::clock::{format_timestamp, Epoch};
use crate::inventory::COPY_SIZE_MAX;
use crate::names::Names;
use crate::request::{CopyRequest, GeneratedFilter, StorageClass};

/// The only format of a generated manifest (S3 Control API, `GeneratedManifestFormat`).
pub const GENERATED_FORMAT: &str = "S3InventoryReport_CSV_20211130";

/// Which of the filter's objects a job takes, by size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SizeRoute {
    /// Every object the filter lists (the copy worker's job, or a verification).
    #[default]
    All,
    /// Objects S3PutObjectCopy can copy: up to 5 GiB.
    Copyable,
    /// Objects over 5 GiB, for the copy worker.
    Large,
}

/// CreateJob's `ManifestGenerator`, in AWS's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobManifestGenerator {
    pub s3_job_manifest_generator: S3JobManifestGenerator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3JobManifestGenerator {
    /// The source bucket's ARN.
    pub source_bucket: String,
    pub enable_manifest_output: bool,
    pub manifest_output_location: ManifestOutputLocation,
    pub filter: GeneratorFilter,
}

/// Where the generated manifest is written: the ferry bucket, under the run's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestOutputLocation {
    pub expected_manifest_bucket_owner: String,
    pub bucket: String,
    pub manifest_prefix: String,
    pub manifest_format: String,
}

/// `JobManifestGeneratorFilter`, the fields ferry sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeneratorFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<String>,
    /// `source.prefix`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name_constraint: Option<KeyNameConstraint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_less_than_bytes: Option<u64>,
    pub match_any_storage_class: Vec<StorageClass>,
}

/// `KeyNameConstraint`: ferry sets the prefix only ("an array of strings with a length of 1
/// string").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyNameConstraint {
    pub match_any_prefix: Vec<String>,
}

impl GeneratorFilter {
    /// The filter of one job of the copy: the request's, `created_after` raised to an
    /// incremental run's start when later, and the size route's bounds. `None` when the route
    /// can list nothing (the request's size bounds leave no object over 5 GiB, for example).
    pub fn of(
        filter: &GeneratedFilter,
        prefix: &str,
        created_after: Option<String>,
        route: SizeRoute,
    ) -> Option<GeneratorFilter> {
        let mut greater = filter.size_greater_than_bytes;
        let mut less = filter.size_less_than_bytes;
        match route {
            SizeRoute::All => {}
            // "less than" 5 GiB + 1: every object up to 5 GiB if strict, one byte more if not.
            SizeRoute::Copyable => {
                less = Some(less.map_or(COPY_SIZE_MAX + 1, |l| l.min(COPY_SIZE_MAX + 1)));
            }
            // "greater than" 5 GiB: every object over it if strict, 5 GiB itself too if not.
            SizeRoute::Large => {
                greater = Some(greater.map_or(COPY_SIZE_MAX, |g| g.max(COPY_SIZE_MAX)));
            }
        }
        if let (Some(g), Some(l)) = (greater, less) {
            if crate::request::no_size_between(g, l) {
                return None;
            }
        }
        Some(GeneratorFilter {
            created_after: created_after.or_else(|| filter.created_after.clone()),
            created_before: filter.created_before.clone(),
            key_name_constraint: (!prefix.is_empty()).then(|| KeyNameConstraint {
                match_any_prefix: vec![prefix.to_string()],
            }),
            object_size_greater_than_bytes: greater,
            object_size_less_than_bytes: less,
            match_any_storage_class: filter.storage_classes(),
        })
    }
}

impl JobManifestGenerator {
    /// The SDK's value of this generator.
    pub fn to_sdk(&self) -> Result<s3c::JobManifestGenerator, BuildError> {
        let g = &self.s3_job_manifest_generator;
        let f = &g.filter;
        let time = |t: &Option<String>| -> Result<Option<DateTime>, BuildError> {
            t.as_deref()
                .map(|t| {
                    crate::clock::parse_timestamp(t)
                        .map(DateTime::from_secs)
                        .map_err(BuildError::other)
                })
                .transpose()
        };
        let filter = s3c::JobManifestGeneratorFilter::builder()
            .set_created_after(time(&f.created_after)?)
            .set_created_before(time(&f.created_before)?)
            .set_key_name_constraint(f.key_name_constraint.as_ref().map(|k| {
                s3c::KeyNameConstraint::builder()
                    .set_match_any_prefix(Some(k.match_any_prefix.clone()))
                    .build()
            }))
            .set_object_size_greater_than_bytes(f.object_size_greater_than_bytes.map(|n| n as i64))
            .set_object_size_less_than_bytes(f.object_size_less_than_bytes.map(|n| n as i64))
            .set_match_any_storage_class(Some(
                f.match_any_storage_class
                    .iter()
                    .map(|&c| c.into())
                    .collect(),
            ))
            .build();
        let out = &g.manifest_output_location;
        let location = s3c::S3ManifestOutputLocation::builder()
            .expected_manifest_bucket_owner(&out.expected_manifest_bucket_owner)
            .bucket(&out.bucket)
            .manifest_prefix(&out.manifest_prefix)
            .manifest_format(s3c::GeneratedManifestFormat::from(
                out.manifest_format.as_str(),
            ))
            .build()?;
        Ok(s3c::JobManifestGenerator::S3JobManifestGenerator(
            s3c::S3JobManifestGenerator::builder()
                .source_bucket(&g.source_bucket)
                .enable_manifest_output(g.enable_manifest_output)
                .manifest_output_location(location)
                .filter(filter)
                .build()?,
        ))
    }
}

/// The size route of flow C's first job: every object when the copy worker must look at each
/// destination key first (`worker_for_everything`); else the objects up to 5 GiB, or, when the
/// request's sizes leave none of those, the objects over it (the copy worker's job).
pub fn first_route(req: &CopyRequest, names: &Names, worker_for_everything: bool) -> SizeRoute {
    if worker_for_everything {
        SizeRoute::All
    } else if ManifestLocation::generated(req, names, None, SizeRoute::Copyable).is_some() {
        SizeRoute::Copyable
    } else {
        SizeRoute::Large
    }
}

impl ManifestLocation {
    /// Flow C's manifest of a job taking `route`: the source bucket, listed through the
    /// request's filter; an incremental run's from `overlapSeconds` before `incremental_since`
    /// (the start of the last run that copied everything). `None` when the request is not
    /// flow C, or when the route can list nothing.
    pub fn generated(
        req: &CopyRequest,
        names: &Names,
        incremental_since: Option<Epoch>,
        route: SizeRoute,
    ) -> Option<ManifestLocation> {
        let filter = req.manifest.generated_filter()?;
        Self::generated_with(req, names, filter, incremental_since, route)
    }

    /// The census of what flow C's filter leaves out as archived: the same filter, on the
    /// classes `GLACIER` and `DEEP_ARCHIVE` only. `None` when the request is not flow C.
    pub fn archived_census(
        req: &CopyRequest,
        names: &Names,
        incremental_since: Option<Epoch>,
    ) -> Option<ManifestLocation> {
        let mut filter = req.manifest.generated_filter()?.clone();
        filter.storage_classes = Some(crate::request::ARCHIVED_CLASSES.to_vec());
        Self::generated_with(req, names, &filter, incremental_since, SizeRoute::All)
    }

    fn generated_with(
        req: &CopyRequest,
        names: &Names,
        filter: &GeneratedFilter,
        incremental_since: Option<Epoch>,
        route: SizeRoute,
    ) -> Option<ManifestLocation> {
        let created_after = incremental_since
            .filter(|_| filter.incremental)
            .map(|since| format_timestamp(since.saturating_sub(filter.overlap_seconds as Epoch)));
        let generator = GeneratorFilter::of(filter, &req.source.prefix, created_after, route)?;
        Some(ManifestLocation {
            kind: ManifestKind::Generated { route },
            object_arn: names.s3_arn(&req.source.bucket, None),
            etag: String::new(),
            version_id: None,
            filter: Some(generator),
        })
    }
}

impl CreateJobRequest {
    /// Flow C's census job of run `run`: a job created with `ConfirmationRequired` whose
    /// generated manifest lists what the copy's filter leaves out as archived. S3 Batch
    /// Operations prepares it (the generator runs, "Amazon S3 is processing the manifest
    /// object") and then waits for a confirmation that never comes ("If the job requires
    /// confirmation before running ... the job transitions from Preparing to Suspended", S3
    /// User Guide, batch-ops-job-status); job-report counts its manifest's rows and then cancels
    /// it (the revoke does, if it still waits). Its operation is the copy worker's verification, which only reads, in case
    /// someone confirms it by hand.
    pub fn census_of(
        req: &CopyRequest,
        names: &Names,
        census: &ManifestLocation,
        run: u16,
    ) -> CreateJobRequest {
        let attempt = crate::names::Attempt { run, job: 0 };
        let mut job =
            CreateJobRequest::for_copy(req, names, census, attempt).with_worker(req, names, true);
        job.confirmation_required = true;
        job.client_request_token = names.census_token(run);
        if let Some(g) = job.manifest_generator.as_mut() {
            g.s3_job_manifest_generator
                .manifest_output_location
                .manifest_prefix = names.layout().generated_census_prefix(run);
        }
        let suffix = " (census of archived objects)";
        let keep = crate::request::DESCRIPTION_MAX - suffix.chars().count();
        job.description = job.description.chars().take(keep).collect::<String>() + suffix;
        job
    }
}
