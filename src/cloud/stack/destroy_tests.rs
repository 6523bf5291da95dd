//! Destroy with aws-smithy-mocks: the complete path through CloudFormation's delete states.

use aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageOutput;
use aws_sdk_ecr::operation::list_images::ListImagesOutput;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecr::Client as Ecr;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::types::ObjectVersion;
use aws_sdk_s3::Client as S3;

use super::super::destroy::destroy_with;
use super::*;

/// One page of three object versions. How many keys a DeleteObjects call takes, and the paging
/// of real listings, are shown against moto (tests/it/aws_limits.rs); here only the
/// CloudFormation side of a destroy needs mocks (moto cannot delete this template's stack).
fn versions() -> Rule {
    mock!(S3::list_object_versions).then_output(|| {
        let mut out = ListObjectVersionsOutput::builder().is_truncated(false);
        for i in 0..3 {
            out = out.versions(
                ObjectVersion::builder()
                    .key(format!("runs/r/{i}.json"))
                    .version_id("null")
                    .build(),
            );
        }
        out.build()
    })
}

fn recording_deletes(sizes: Arc<Mutex<Vec<usize>>>) -> Rule {
    mock!(S3::delete_objects)
        .match_requests(move |r| {
            let n = r.delete().map_or(0, |d| d.objects().len());
            sizes.lock().map(|mut s| s.push(n)).is_ok()
        })
        .then_output(|| DeleteObjectsOutput::builder().build())
}

fn images(n: usize) -> Rule {
    mock!(Ecr::list_images).then_output(move || {
        let mut out = ListImagesOutput::builder();
        for i in 0..n {
            out = out.image_ids(
                ImageIdentifier::builder()
                    .image_digest(format!("sha256:{i:064}"))
                    .image_tag(format!("0.1.{i}"))
                    .build(),
            );
        }
        out.build()
    })
}

fn recording_image_deletes(sizes: Arc<Mutex<Vec<usize>>>) -> Rule {
    mock!(Ecr::batch_delete_image)
        .match_requests(move |r| {
            sizes
                .lock()
                .map(|mut s| s.push(r.image_ids().len()))
                .is_ok()
        })
        .then_output(|| BatchDeleteImageOutput::builder().build())
}

#[tokio::test]
async fn destroy_empties_then_deletes_and_waits() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| found(current(StackStatus::CreateComplete)))
        .output(|| found(current(StackStatus::DeleteInProgress)))
        .output(|| found(current(StackStatus::DeleteComplete)))
        .build();
    let (delete, events) = (delete_ok(), no_events());
    let c = clients(&[&describe, &delete, &events], &[]);
    let object_sizes = Arc::new(Mutex::new(Vec::new()));
    let (list, delete_objects) = (versions(), recording_deletes(object_sizes.clone()));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list, &delete_objects]);
    let image_sizes = Arc::new(Mutex::new(Vec::new()));
    let (images, delete_images) = (images(3), recording_image_deletes(image_sizes.clone()));
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&images, &delete_images]);
    let done = destroy_with(&c, &s3, &ecr, "lg", Duration::from_secs(60))
        .await
        .expect("destroyed");
    assert_eq!(
        done,
        Destroyed::Deleted {
            objects: 3,
            images: 3
        }
    );
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(describe.num_calls(), 3);
    // Emptied before the delete, each in one call.
    assert_eq!(*object_sizes.lock().expect("lock"), [3]);
    assert_eq!(*image_sizes.lock().expect("lock"), [3]);
}

#[tokio::test]
async fn destroying_a_missing_stack_does_nothing() {
    let describe = mock!(Cfn::describe_stacks).then_error(missing);
    let delete = delete_ok();
    let c = clients(&[&describe, &delete], &[]);
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&versions()]);
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&images(1)]);
    let done = destroy_with(&c, &s3, &ecr, "lg", Duration::from_secs(60))
        .await
        .expect("nothing to do");
    assert_eq!(done, Destroyed::Absent);
    assert_eq!(delete.num_calls(), 0);
}
