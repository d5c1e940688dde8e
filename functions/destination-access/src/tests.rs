use super::*;
use aws_sdk_iam::error::ErrorMetadata as IamMeta;
use aws_sdk_iam::operation::create_role::{CreateRoleError, CreateRoleOutput};
use aws_sdk_iam::operation::delete_role::DeleteRoleOutput;
use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
use aws_sdk_iam::operation::get_role::GetRoleOutput;
use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;
use aws_sdk_iam::types::{AttachedPermissionsBoundary, Role};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3control::operation::describe_job::DescribeJobOutput;
use aws_sdk_s3control::operation::update_job_status::UpdateJobStatusOutput;
use aws_sdk_s3control::types::{JobDescriptor, JobStatus};
use aws_smithy_mocks::{mock, Rule};
use std::sync::{Arc, Mutex};

const BOUNDARY: &str = ferry_core::testing::BOUNDARY_ARN;

fn config() -> StackConfig {
    ferry_core::testing::destination_stack()
}

fn plan() -> RunPlan {
    ferry_core::testing::csv_plan()
}

fn role(boundary: Option<&str>) -> Role {
    let mut b = Role::builder()
        .path("/ferry/")
        .role_name("ferry-batch-photos-2026")
        .role_id("AROAEXAMPLE")
        .arn("arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026")
        .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0));
    if let Some(arn) = boundary {
        b = b.permissions_boundary(
            AttachedPermissionsBoundary::builder()
                .permissions_boundary_arn(arn)
                .build(),
        );
    }
    b.build().unwrap()
}

async fn call(clients: &Clients, action: AccessAction) -> Result<AccessOutput, StepError> {
    let input = AccessInput {
        action,
        plan: plan(),
        expires_at: None,
    };
    handle(
        clients,
        &config(),
        LambdaEvent::new(input, Default::default()),
    )
    .await
}

#[tokio::test]
async fn grant_creates_the_role_under_ferry_with_the_boundary_and_its_policy() {
    let created = Arc::new(Mutex::new(None));
    let put = Arc::new(Mutex::new(None));
    let (c, p) = (created.clone(), put.clone());
    let create = mock!(aws_sdk_iam::Client::create_role).then_compute_output(move |r| {
        *c.lock().unwrap() = Some((
            r.path().unwrap().to_string(),
            r.role_name().unwrap().to_string(),
            r.permissions_boundary().unwrap().to_string(),
            r.assume_role_policy_document().unwrap().to_string(),
        ));
        CreateRoleOutput::builder().build()
    });
    let put_policy = mock!(aws_sdk_iam::Client::put_role_policy).then_compute_output(move |r| {
        *p.lock().unwrap() = Some(r.policy_document().unwrap().to_string());
        PutRolePolicyOutput::builder().build()
    });
    let clients = Clients::mocked(&[], &[], &[&create, &put_policy], &[]);
    let out = call(&clients, AccessAction::Grant).await.unwrap();
    assert_eq!(
        out.changed,
        ["arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"]
    );
    let (path, name, boundary, trust) = created.lock().unwrap().clone().unwrap();
    assert_eq!(
        (path.as_str(), name.as_str(), boundary.as_str()),
        ("/ferry/", "ferry-batch-photos-2026", BOUNDARY)
    );
    let trust: serde_json::Value = serde_json::from_str(&trust).unwrap();
    assert_eq!(
        trust,
        ferry_core::policy::batch_trust_policy(&ferry_core::testing::csv_plan().names())
    );
    let policy: serde_json::Value =
        serde_json::from_str(put.lock().unwrap().as_ref().unwrap()).unwrap();
    assert_eq!(policy, plan().policies().role);
}

/// A role left by an earlier run of the copy (same name, ferry's boundary, this copy's trust) is
/// adopted: its policy is put again, its trust left as it is.
#[tokio::test]
async fn an_existing_ferry_role_is_adopted_without_touching_its_trust() {
    let exists = mock!(aws_sdk_iam::Client::create_role).then_error(|| {
        CreateRoleError::generic(IamMeta::builder().code("EntityAlreadyExists").build())
    });
    let trust = ferry_core::policy::batch_trust_policy(&plan().names());
    // IAM answers GetRole with the trust policy URL-encoded.
    let encoded: String = url_encoded(&trust.to_string());
    let get = mock!(aws_sdk_iam::Client::get_role).then_output(move || {
        let mut r = role(Some(BOUNDARY));
        r.assume_role_policy_document = Some(encoded.clone());
        GetRoleOutput::builder().role(r).build()
    });
    let put = mock!(aws_sdk_iam::Client::put_role_policy)
        .then_output(|| PutRolePolicyOutput::builder().build());
    let clients = Clients::mocked(&[], &[], &[&exists, &get, &put], &[]);
    call(&clients, AccessAction::Grant).await.unwrap();
    assert_eq!(put.num_calls(), 1);
}

/// The security round's finding 5: a /ferry/ role of the copy's name whose trust is not this
/// copy's (an earlier ferry's, or rewritten since) is never rewritten in place: it is deleted
/// and created again with the copy's trust.
#[tokio::test]
async fn a_ferry_role_trusting_someone_else_is_created_again() {
    let create = mock!(aws_sdk_iam::Client::create_role)
        .sequence()
        .error(|| CreateRoleError::generic(IamMeta::builder().code("EntityAlreadyExists").build()))
        .output(|| aws_sdk_iam::operation::create_role::CreateRoleOutput::builder().build())
        .build();
    let get = mock!(aws_sdk_iam::Client::get_role).then_output(|| {
        let mut r = role(Some(BOUNDARY));
        r.assume_role_policy_document = Some(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444444444444:root"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        );
        GetRoleOutput::builder().role(r).build()
    });
    let delete_policy = mock!(aws_sdk_iam::Client::delete_role_policy)
        .then_output(|| DeleteRolePolicyOutput::builder().build());
    let delete =
        mock!(aws_sdk_iam::Client::delete_role).then_output(|| DeleteRoleOutput::builder().build());
    let put = mock!(aws_sdk_iam::Client::put_role_policy)
        .then_output(|| PutRolePolicyOutput::builder().build());
    let clients = Clients::mocked(
        &[],
        &[],
        &[&create, &get, &delete_policy, &delete, &put],
        &[],
    );
    call(&clients, AccessAction::Grant).await.unwrap();
    assert_eq!(
        (create.num_calls(), delete.num_calls(), put.num_calls()),
        (2, 1, 1)
    );
}

/// Percent-encodes `text` as IAM returns policy documents.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_role_of_that_name_without_the_boundary_is_not_adopted() {
    let exists = mock!(aws_sdk_iam::Client::create_role).then_error(|| {
        CreateRoleError::generic(IamMeta::builder().code("EntityAlreadyExists").build())
    });
    let get = mock!(aws_sdk_iam::Client::get_role)
        .then_output(|| GetRoleOutput::builder().role(role(None)).build());
    let put = mock!(aws_sdk_iam::Client::put_role_policy)
        .then_output(|| PutRolePolicyOutput::builder().build());
    let clients = Clients::mocked(&[], &[], &[&exists, &get, &put], &[]);
    let err = call(&clients, AccessAction::Grant).await.unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert!(err
        .cause
        .contains("exists without ferry's permissions boundary"));
    assert_eq!(put.num_calls(), 0, "its policy is left alone");
}

/// A job record under control/, and DescribeJob answering `status`.
const COPY_ROLE: &str = "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026";

fn job_rules(status: JobStatus) -> (Vec<Rule>, Rule, Rule) {
    job_rules_of(status, COPY_ROLE)
}

/// The copy's one job record, naming job-1, which DescribeJob shows in `status` running as
/// `role_arn`.
fn job_rules_of(status: JobStatus, role_arn: &'static str) -> (Vec<Rule>, Rule, Rule) {
    let record = ferry_core::testing::csv_job_record(0);
    let body = serde_json::to_vec(&record).unwrap();
    let list = mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(|req| {
        // The control prefix's objects, as S3 lists them under the request's prefix.
        let mut out = ListObjectsV2Output::builder();
        for key in [
            "control/photos-2026/plan.json",
            "control/photos-2026/run-1/job-0.json",
        ] {
            if key.starts_with(req.prefix().unwrap_or_default()) {
                out = out.contents(aws_sdk_s3::types::Object::builder().key(key).build());
            }
        }
        out.build()
    });
    let get = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key() == Some("control/photos-2026/run-1/job-0.json"))
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from(body.clone()))
                .build()
        });
    let describe = mock!(aws_sdk_s3control::Client::describe_job).then_output(move || {
        DescribeJobOutput::builder()
            .job(
                JobDescriptor::builder()
                    .job_id("job-1")
                    .status(status.clone())
                    .role_arn(role_arn)
                    .build(),
            )
            .build()
    });
    let cancel = mock!(aws_sdk_s3control::Client::update_job_status)
        .match_requests(|r| {
            r.requested_job_status() == Some(&RequestedJobStatus::Cancelled)
                && r.job_id() == Some("job-1")
        })
        .then_output(|| UpdateJobStatusOutput::builder().build());
    (vec![list, get], describe, cancel)
}

#[tokio::test]
async fn revoke_cancels_a_running_job_and_keeps_the_role_until_it_stops() {
    let (s3, describe, cancel) = job_rules(JobStatus::Active);
    let s3: Vec<&Rule> = s3.iter().collect();
    let delete =
        mock!(aws_sdk_iam::Client::delete_role).then_output(|| DeleteRoleOutput::builder().build());
    let clients = Clients::mocked(&s3, &[&describe, &cancel], &[&delete], &[]);
    let out = call(&clients, AccessAction::Revoke).await.unwrap();
    assert!(out.still_active);
    assert_eq!(cancel.num_calls(), 1);
    assert_eq!(delete.num_calls(), 0);
}

/// IAM during a revoke: GetRole answers `found`; DeleteRolePolicy (ferry's one inline policy)
/// and DeleteRole (the copy's role) succeed.
fn iam_revoke_rules(found: Role) -> [Rule; 3] {
    [
        mock!(aws_sdk_iam::Client::get_role)
            .then_output(move || GetRoleOutput::builder().role(found.clone()).build()),
        mock!(aws_sdk_iam::Client::delete_role_policy)
            .match_requests(|r| r.policy_name() == Some(ROLE_POLICY_NAME))
            .then_output(|| DeleteRolePolicyOutput::builder().build()),
        mock!(aws_sdk_iam::Client::delete_role)
            .match_requests(|r| r.role_name() == Some("ferry-batch-photos-2026"))
            .then_output(|| DeleteRoleOutput::builder().build()),
    ]
}

/// A DeleteRole whose first attempt deleted the role and whose answer was lost: the SDK's retry
/// finds the role gone and IAM, authorizing the path-less name, answers AccessDenied. GetRole
/// then says NoSuchEntity: the role is deleted, the revoke succeeds. A refusal while the role
/// is still there stays a refusal.
#[tokio::test]
async fn a_role_deleted_by_an_attempt_whose_answer_was_lost_is_deleted() {
    use aws_sdk_iam::operation::delete_role::DeleteRoleError;
    use aws_sdk_iam::operation::get_role::GetRoleError;
    for gone in [true, false] {
        let (s3, describe, cancel) = job_rules(JobStatus::Complete);
        let s3: Vec<&Rule> = s3.iter().collect();
        let found = role(Some(BOUNDARY));
        let again = found.clone();
        let get = mock!(aws_sdk_iam::Client::get_role)
            .sequence()
            .output(move || GetRoleOutput::builder().role(found.clone()).build());
        // After DeleteRole: gone, or still there (a real refusal).
        let get = if gone {
            get.error(|| GetRoleError::generic(IamMeta::builder().code("NoSuchEntity").build()))
        } else {
            get.output(move || GetRoleOutput::builder().role(again.clone()).build())
        }
        .build();
        let delete_policy = mock!(aws_sdk_iam::Client::delete_role_policy)
            .then_output(|| DeleteRolePolicyOutput::builder().build());
        let delete = mock!(aws_sdk_iam::Client::delete_role).then_error(|| {
            DeleteRoleError::generic(IamMeta::builder().code("AccessDenied").build())
        });
        let clients = Clients::mocked(
            &s3,
            &[&describe, &cancel],
            &[&get, &delete_policy, &delete],
            &[],
        );
        let out = call(&clients, AccessAction::Revoke).await;
        if gone {
            let out = out.unwrap();
            assert_eq!(
                out.changed,
                ["arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"]
            );
        } else {
            let e = out.unwrap_err();
            assert_eq!(e.name, ErrorName::AccessDenied, "{e}");
            assert!(e.cause.contains("DeleteRole"), "{e}");
        }
        assert_eq!(get.num_calls(), 2);
    }
}

#[tokio::test]
async fn revoke_deletes_the_role_once_every_job_has_ended() {
    let (s3, describe, cancel) = job_rules(JobStatus::Complete);
    let s3: Vec<&Rule> = s3.iter().collect();
    let [get, delete_policy, delete] = iam_revoke_rules(role(Some(BOUNDARY)));
    let clients = Clients::mocked(
        &s3,
        &[&describe, &cancel],
        &[&get, &delete_policy, &delete],
        &[],
    );
    let out = call(&clients, AccessAction::Revoke).await.unwrap();
    assert!(!out.still_active);
    assert_eq!(cancel.num_calls(), 0);
    assert_eq!((delete_policy.num_calls(), delete.num_calls()), (1, 1));
    assert_eq!(
        out.changed,
        ["arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"]
    );
}

/// The copy worker's unfinished upload, recorded under `control/<copyId>/uploads/`, is aborted
/// once no job runs, and its record removed; one naming a bucket outside DestinationBuckets is
/// not touched (its record goes).
#[tokio::test]
async fn revoke_aborts_the_copy_workers_unfinished_uploads() {
    use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
    use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
    use ferry_core::worker::UploadRecord;
    let (mut s3, describe, cancel) = job_rules(JobStatus::Complete);
    let record = |bucket: &str, id: &str| UploadRecord {
        upload_id: id.into(),
        bucket: bucket.into(),
        key: "2026/video/raw+take.mov".into(),
        part_size: 256 << 20,
        size: 6 << 30,
        source_etag: "\"e-769\"".into(),
    };
    let ours = serde_json::to_vec(&record("dst-photos", "upload-2")).unwrap();
    let foreign = serde_json::to_vec(&record("prod-database-backups", "upload-9")).unwrap();
    s3[0] = mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(|req| {
        let mut out = ListObjectsV2Output::builder();
        if req.prefix() == Some("control/photos-2026/uploads/") {
            for key in ["a.json", "b.json"] {
                out = out.contents(
                    aws_sdk_s3::types::Object::builder()
                        .key(format!("control/photos-2026/uploads/{key}"))
                        .build(),
                );
            }
        }
        out.build()
    });
    let records = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().unwrap().contains("/uploads/"))
        .then_compute_output(move |r| {
            let body = if r.key().unwrap().ends_with("a.json") {
                &ours
            } else {
                &foreign
            };
            GetObjectOutput::builder()
                .body(ByteStream::from(body.clone()))
                .build()
        });
    let aborted: Arc<Mutex<Vec<String>>> = Default::default();
    let a = aborted.clone();
    let abort = mock!(aws_sdk_s3::Client::abort_multipart_upload).then_compute_output(move |r| {
        a.lock().unwrap().push(format!(
            "{}/{}",
            r.bucket().unwrap(),
            r.upload_id().unwrap()
        ));
        AbortMultipartUploadOutput::builder().build()
    });
    let delete_record = mock!(aws_sdk_s3::Client::delete_object)
        .then_output(|| DeleteObjectOutput::builder().build());
    s3.extend([records, abort, delete_record]);
    let s3: Vec<&Rule> = s3.iter().collect();
    let [get, delete_policy, delete] = iam_revoke_rules(role(Some(BOUNDARY)));
    let clients = Clients::mocked(
        &s3,
        &[&describe, &cancel],
        &[&get, &delete_policy, &delete],
        &[],
    );
    let out = call(&clients, AccessAction::Revoke).await.unwrap();
    assert_eq!(*aborted.lock().unwrap(), ["dst-photos/upload-2"]);
    assert_eq!(out.changed[0], "upload upload-2");
    assert_eq!(s3[4].num_calls(), 2, "both records removed");
}

/// A second revoke (the cleanup rule after the copy's own) finds the role gone through GetRole,
/// which IAM answers with NoSuchEntity, and deletes nothing: DeleteRolePolicy on a role that no
/// longer exists would be authorized against its path-less ARN and denied.
#[tokio::test]
async fn revoke_of_a_role_already_gone_deletes_nothing() {
    let (s3, describe, cancel) = job_rules(JobStatus::Complete);
    let s3: Vec<&Rule> = s3.iter().collect();
    let gone = mock!(aws_sdk_iam::Client::get_role).then_error(|| {
        aws_sdk_iam::operation::get_role::GetRoleError::generic(
            IamMeta::builder().code("NoSuchEntity").build(),
        )
    });
    let delete_policy = mock!(aws_sdk_iam::Client::delete_role_policy)
        .then_output(|| DeleteRolePolicyOutput::builder().build());
    let clients = Clients::mocked(&s3, &[&describe, &cancel], &[&gone, &delete_policy], &[]);
    let out = call(&clients, AccessAction::Revoke).await.unwrap();
    assert!(!out.still_active);
    assert_eq!(delete_policy.num_calls(), 0);
    assert!(out.changed.is_empty(), "{:?}", out.changed);
}

/// A job record that names a job of another role (forged, or left by something else) stops
/// nothing; a job that moves to a status that cannot be cancelled between DescribeJob and
/// UpdateJobStatus is "still stopping", not a failure; a role of the copy's name that is not
/// ferry's (outside /ferry/ or without the boundary) is never deleted.
#[tokio::test]
async fn revoke_touches_only_what_is_ferrys() {
    let (s3, describe, cancel) = job_rules_of(
        JobStatus::Active,
        "arn:aws:iam::222222222222:role/nightly-etl",
    );
    let s3: Vec<&Rule> = s3.iter().collect();
    let [get, delete_policy, delete] = iam_revoke_rules(role(Some(BOUNDARY)));
    let clients = Clients::mocked(
        &s3,
        &[&describe, &cancel],
        &[&get, &delete_policy, &delete],
        &[],
    );
    let out = call(&clients, AccessAction::Revoke).await.unwrap();
    assert_eq!(cancel.num_calls(), 0, "another role's job is not cancelled");
    assert!(!out.still_active);

    let (s3, describe, _) = job_rules(JobStatus::Active);
    let s3: Vec<&Rule> = s3.iter().collect();
    let stopping = mock!(aws_sdk_s3control::Client::update_job_status).then_error(|| {
        aws_sdk_s3control::operation::update_job_status::UpdateJobStatusError::generic(
            aws_sdk_s3control::error::ErrorMetadata::builder()
                .code("JobStatusException")
                .build(),
        )
    });
    let clients = Clients::mocked(&s3, &[&describe, &stopping], &[], &[]);
    let out = call(&clients, AccessAction::Revoke).await.unwrap();
    assert!(out.still_active, "a job that is stopping is waited for");

    for not_ferrys in [
        role(None),
        Role::builder()
            .path("/")
            .role_name("ferry-batch-photos-2026")
            .role_id("AROAEXAMPLE")
            .arn("arn:aws:iam::222222222222:role/ferry-batch-photos-2026")
            .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
            .permissions_boundary(
                AttachedPermissionsBoundary::builder()
                    .permissions_boundary_arn(BOUNDARY)
                    .build(),
            )
            .build()
            .unwrap(),
    ] {
        let (s3, describe, cancel) = job_rules(JobStatus::Complete);
        let s3: Vec<&Rule> = s3.iter().collect();
        let [get, _, delete] = iam_revoke_rules(not_ferrys);
        let clients = Clients::mocked(&s3, &[&describe, &cancel], &[&get, &delete], &[]);
        let err = call(&clients, AccessAction::Revoke).await.unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(err.cause.contains("is not ferry's"), "{}", err.cause);
        assert_eq!(delete.num_calls(), 0);
    }
}
