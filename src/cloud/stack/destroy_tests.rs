//! Destroy with aws-smithy-mocks: DeleteObjects and BatchDeleteImage limits, the complete path.

use aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageOutput;
use aws_sdk_ecr::operation::list_images::ListImagesOutput;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecr::Client as Ecr;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::types::ObjectVersion;
use aws_sdk_s3::Client as S3;

use super::super::destroy::{destroy_with, empty_bucket, empty_repository};
use super::*;

/// Two pages of versions, 1,500 then 1,000 keys.
fn versions() -> Rule {
    let page = |from: usize, to: usize, more: bool| {
        let mut out = ListObjectVersionsOutput::builder().is_truncated(more);
        for i in from..to {
            out = out.versions(
                ObjectVersion::builder()
                    .key(format!("runs/r/{i}.json"))
                    .version_id("null")
                    .build(),
            );
        }
        if more {
            out = out.next_key_marker(format!("runs/r/{}.json", to - 1));
        }
        out.build()
    };
    mock!(S3::list_object_versions)
        .sequence()
        .output(move || page(0, 1_500, true))
        .output(move || page(1_500, 2_500, false))
        .build()
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
async fn delete_objects_pages_past_1000_keys() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let (list, delete) = (versions(), recording_deletes(sizes.clone()));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list, &delete]);
    let deleted = empty_bucket(&s3, "lg-bucket").await.expect("emptied");
    assert_eq!(deleted, 2_500);
    let sizes = sizes.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(sizes, [1_000, 500, 1_000]);
}

#[tokio::test]
async fn batch_delete_image_pages_past_100_images() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let (list, delete) = (images(250), recording_image_deletes(sizes.clone()));
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&list, &delete]);
    let deleted = empty_repository(&ecr, "lg").await.expect("emptied");
    assert_eq!(deleted, 250);
    let sizes = sizes.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(sizes, [100, 100, 50]);
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
            objects: 2_500,
            images: 3
        }
    );
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(describe.num_calls(), 3);
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
