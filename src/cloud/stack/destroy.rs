//! `loadgate stack destroy`: CloudFormation cannot delete a bucket that holds objects, so the
//! bucket and the image repository are emptied first, then the stack is deleted and waited for.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::Stack;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::wait::wait_until_settled;
use super::{describe, note, output, stack_id, Clients};
use crate::cloud::aws::{self, Aws};
use crate::{Error, Result};

/// DeleteObjects takes at most 1,000 keys a call.
pub(crate) const DELETE_OBJECTS_MAX: usize = 1_000;
/// BatchDeleteImage takes at most 100 images a call.
pub(crate) const DELETE_IMAGES_MAX: usize = 100;

/// What `destroy` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destroyed {
    /// There was no such stack.
    Absent,
    Deleted {
        objects: usize,
        images: usize,
    },
}

/// Empties the stack's bucket and repository, deletes the stack and waits up to `wait`.
pub async fn destroy(aws: &Aws, name: &str, wait: Duration) -> Result<Destroyed> {
    let clients = Clients::new(aws);
    destroy_with(&clients, &aws.s3(), &aws.ecr(), name, wait).await
}

pub(crate) async fn destroy_with(
    clients: &Clients,
    s3: &aws_sdk_s3::Client,
    ecr: &aws_sdk_ecr::Client,
    name: &str,
    wait: Duration,
) -> Result<Destroyed> {
    let deadline = Instant::now() + wait;
    let Some(stack) = describe(&clients.cfn, name).await? else {
        return Ok(Destroyed::Absent);
    };
    let id = stack_id(&stack).to_string();
    let (mut objects, mut images) = (0, 0);
    if let Some(bucket) = physical_id(clients, &stack, "BucketName", "AWS::S3::Bucket").await? {
        note(&format!("emptying bucket {bucket}"));
        objects = empty_bucket(s3, &bucket).await?;
    }
    let repository = physical_id(clients, &stack, "RepositoryName", "AWS::ECR::Repository").await?;
    if let Some(repository) = repository {
        note(&format!("emptying repository {repository}"));
        images = empty_repository(ecr, &repository).await?;
    }
    note(&format!(
        "deleted {objects} object(s) and {images} image(s); deleting stack {name}"
    ));
    clients
        .cfn
        .delete_stack()
        .stack_name(&id)
        .send()
        .await
        .map_err(|e| {
            let dependency = aws::error_code(&e) == Some("DependencyViolation");
            let err = aws::error(format_args!("delete stack {name}"), e);
            if !dependency {
                return err;
            }
            // Something outside the stack (an ENI, an endpoint, another security group) still
            // uses one of its network resources.
            Error::infra(
                err,
                format!(
                    "the bucket and the repository are empty now; remove what still uses the \
                     stack's network (see the message), then run `loadgate stack destroy \
                     --stack-name {name}` again"
                ),
            )
        })?;
    let settled = wait_until_settled(clients, name, &id, deadline).await?;
    if settled.status != "DELETE_COMPLETE" {
        let reason = settled.reason.as_deref().unwrap_or("no reason given");
        return Err(Error::infra(
            format!(
                "cannot delete stack {name}: it ended {}: {reason}",
                settled.status
            ),
            format!(
                "remove what blocks the deletion (see the reason), then run `loadgate stack \
                 destroy --stack-name {name}` again"
            ),
        ));
    }
    Ok(Destroyed::Deleted { objects, images })
}

/// The bucket or repository name: from the outputs, or from the resources when the stack never
/// finished creating (a ROLLBACK_* stack has no outputs but may have the bucket).
async fn physical_id(
    clients: &Clients,
    stack: &Stack,
    output_key: &str,
    resource_type: &str,
) -> Result<Option<String>> {
    if let Some(value) = output(stack, output_key) {
        return Ok(Some(value.to_string()));
    }
    let out = clients
        .cfn
        .describe_stack_resources()
        .stack_name(stack_id(stack))
        .send()
        .await
        .map_err(|e| aws::error("list the stack's resources", e))?;
    Ok(out
        .stack_resources()
        .iter()
        .find(|r| r.resource_type() == Some(resource_type))
        .and_then(|r| r.physical_resource_id())
        .filter(|id| !id.is_empty())
        .map(str::to_string))
}

/// Deletes every object version and delete marker (the template's bucket is not versioned, but a
/// user may have turned versioning on, and CloudFormation cannot delete a bucket that has them).
///
/// Each round lists from the start: what the previous round listed is deleted by then (S3's
/// listings are strongly consistent), so no marker is needed, and none can point at a deleted
/// key (moto then lists nothing after it, and the bucket was left half full).
pub(crate) async fn empty_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<usize> {
    let mut deleted = 0;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).send().await {
            Ok(page) => page,
            Err(e) if aws::error_code(&e) == Some("NoSuchBucket") => return Ok(deleted),
            Err(e) => return Err(aws::error(format_args!("list the objects of {bucket}"), e)),
        };
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        let ids: Vec<ObjectIdentifier> = versions
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version.filter(|v| *v != "null").map(str::to_string))
                    .build()
                    .ok()
            })
            .collect();
        for chunk in ids.chunks(DELETE_OBJECTS_MAX) {
            deleted += delete_objects(s3, bucket, chunk).await?;
        }
        if page.is_truncated() != Some(true) || ids.is_empty() {
            return Ok(deleted);
        }
    }
}

async fn delete_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    ids: &[ObjectIdentifier],
) -> Result<usize> {
    let delete = Delete::builder()
        .set_objects(Some(ids.to_vec()))
        .quiet(true)
        .build()
        .map_err(|e| Error::infra(format!("cannot build DeleteObjects: {e}"), None))?;
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map_err(|e| aws::error(format_args!("delete the objects of {bucket}"), e))?;
    if let Some(failed) = out.errors().first() {
        return Err(Error::infra(
            format!(
                "cannot delete {} object(s) of {bucket}, e.g. {}: {}",
                out.errors().len(),
                failed.key().unwrap_or("?"),
                failed
                    .message()
                    .or(failed.code())
                    .unwrap_or("no reason given")
            ),
            "check the deploy policy (`loadgate stack policy --deploy`), then run destroy again"
                .to_string(),
        ));
    }
    Ok(ids.len())
}

/// Deletes every image of the repository, 100 a call.
pub(crate) async fn empty_repository(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<usize> {
    let mut ids: Vec<ImageIdentifier> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match ecr
            .list_images()
            .repository_name(repository)
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) if aws::error_code(&e) == Some("RepositoryNotFoundException") => return Ok(0),
            Err(e) => {
                return Err(aws::error(
                    format_args!("list the images of {repository}"),
                    e,
                ))
            }
        };
        // By digest alone: that deletes the image with all its tags, which are listed apart.
        ids.extend(page.image_ids().iter().map(|id| match id.image_digest() {
            Some(digest) => ImageIdentifier::builder().image_digest(digest).build(),
            None => id.clone(),
        }));
        match page.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    ids.sort_by(|a, b| (a.image_digest(), a.image_tag()).cmp(&(b.image_digest(), b.image_tag())));
    ids.dedup();
    let mut deleted = 0;
    for chunk in ids.chunks(DELETE_IMAGES_MAX) {
        let out = ecr
            .batch_delete_image()
            .repository_name(repository)
            .set_image_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws::error(format_args!("delete the images of {repository}"), e))?;
        let failures: Vec<_> = out
            .failures()
            .iter()
            .filter(|f| f.failure_code().map(|c| c.as_str()) != Some("ImageNotFound"))
            .collect();
        if let Some(failed) = failures.first() {
            return Err(Error::infra(
                format!(
                    "cannot delete {} image(s) of {repository}: {}",
                    failures.len(),
                    failed.failure_reason().unwrap_or("no reason given")
                ),
                "check the deploy policy (`loadgate stack policy --deploy`), then run destroy \
                 again"
                    .to_string(),
            ));
        }
        deleted += chunk.len() - out.failures().len();
    }
    Ok(deleted)
}
