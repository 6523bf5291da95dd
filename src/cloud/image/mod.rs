//! The worker image without Docker: the controller pushes its own static Linux binary (and the CA
//! bundle) to the stack's ECR repository, so the workers run exactly the controller's version and
//! the user needs no Docker, build service or public registry.
//!
//! The warm path costs one hash of the binary and one DescribeImages; gzip, the token and the
//! upload happen only when the tag is missing.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;

use self::oci::{inspect_elf, Image, Layer};
use self::registry::{Credentials, PushReport, Registry, Repository};
use crate::cloud::aws::{self, Aws};
use crate::cloud::outputs::StackOutputs;
use crate::{Error, Result};

pub mod oci;
pub mod registry;

/// The CPU architecture of the worker image, which the task definition must match (the same
/// type the cost table is keyed by).
pub use crate::cost::CpuArch;

impl CpuArch {
    /// ECS's `runtimePlatform.cpuArchitecture`.
    pub fn ecs(&self) -> &'static str {
        match self {
            CpuArch::X86_64 => "X86_64",
            CpuArch::Arm64 => "ARM64",
        }
    }

    /// The image config's `architecture` (Go's names).
    pub fn oci(&self) -> &'static str {
        match self {
            CpuArch::X86_64 => "amd64",
            CpuArch::Arm64 => "arm64",
        }
    }
}

/// An image in a registry that the workers can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerImage {
    /// `<registry>/<repository>:<tag>`.
    pub uri: String,
    pub arch: CpuArch,
}

/// Whether this process's own binary can be the worker image: a Linux ELF without a program
/// interpreter (musl static or static-pie). Reads the file's header, not a build flag, so it is
/// the truth about the file that would be pushed.
pub fn current_binary_is_static() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|path| read_header(&path).ok())
        .is_some_and(|head| inspect_elf(&head).is_ok_and(|elf| elf.is_static))
}

/// The CPU architecture this binary was built for: its own image runs on tasks of that kind
/// (an ARM runner launches Graviton workers).
pub fn current_arch() -> CpuArch {
    if cfg!(target_arch = "aarch64") {
        CpuArch::Arm64
    } else {
        CpuArch::X86_64
    }
}

/// Makes sure the stack's repository holds this binary's image and returns it: one DescribeImages
/// when it is there; otherwise an ECR token and a push.
pub async fn ensure_pushed(aws: &Aws, outputs: &StackOutputs) -> Result<WorkerImage> {
    let binary = current_binary()?;
    ensure_pushed_binary(aws, outputs, &binary).await
}

/// `ensure_pushed` for a given binary: the tests push a small static ELF through the same path.
#[doc(hidden)]
pub async fn ensure_pushed_binary(
    aws: &Aws,
    outputs: &StackOutputs,
    binary: &Path,
) -> Result<WorkerImage> {
    Ok(ensure_in_stack(aws, outputs, binary).await?.0)
}

async fn ensure_in_stack(
    aws: &Aws,
    outputs: &StackOutputs,
    binary: &Path,
) -> Result<(WorkerImage, PushReport)> {
    let (layer, arch) = read_layer(binary)?;
    let tag = layer.tag();
    let repository = Repository::parse(&outputs.repository_uri)?;
    let image = WorkerImage {
        uri: format!("{repository}:{tag}"),
        arch,
    };
    if ecr_has_tag(aws, &outputs.repository_name, &tag).await? {
        let report = PushReport {
            already_present: true,
            ..PushReport::default()
        };
        return Ok((image, report));
    }
    let credentials = ecr_credentials(aws).await?;
    let registry = Registry::new(repository, Some(&credentials))?;
    let report = registry.push(&Image::new(&layer, arch)).await?;
    Ok((image, report))
}

/// What `loadgate image push` did.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub image: WorkerImage,
    pub report: PushReport,
    pub elapsed: Duration,
}

/// Pushes `binary`'s image to a repository given explicitly (`--image`): ECR credentials from AWS
/// for an ECR registry unless `credentials` are given, none otherwise. The tag-exists check is the
/// registry's HEAD here, so it also works for registries that are not ECR.
pub async fn push_to(
    repository: Repository,
    credentials: Option<Credentials>,
    region: Option<&str>,
    binary: &Path,
) -> Result<Pushed> {
    let start = Instant::now();
    let (layer, arch) = read_layer(binary)?;
    let credentials = match credentials {
        Some(c) => Some(c),
        None if repository.is_ecr() => Some(ecr_credentials(&Aws::load(region).await?).await?),
        None => None,
    };
    let registry = Registry::new(repository, credentials.as_ref())?;
    let tag = layer.tag();
    let report = if registry.has_manifest(&tag).await? {
        PushReport {
            already_present: true,
            ..PushReport::default()
        }
    } else {
        registry.push(&Image::new(&layer, arch)).await?
    };
    Ok(Pushed {
        image: WorkerImage {
            uri: registry.uri(&tag),
            arch,
        },
        report,
        elapsed: start.elapsed(),
    })
}

/// `loadgate image push` without `--image`: the stack's repository, the warm path included.
pub async fn push_to_stack(aws: &Aws, stack_name: &str, binary: &Path) -> Result<Pushed> {
    let start = Instant::now();
    let outputs = crate::cloud::outputs::describe(aws, stack_name).await?;
    let (image, report) = ensure_in_stack(aws, &outputs, binary).await?;
    Ok(Pushed {
        image,
        report,
        elapsed: start.elapsed(),
    })
}

/// The registry credentials ECR hands out for twelve hours: user `AWS` and a password, as
/// `base64("AWS:<password>")`.
pub async fn ecr_credentials(aws: &Aws) -> Result<Credentials> {
    let answer = aws
        .ecr()
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| aws::error("get an ECR authorization token", e))?;
    let token = answer
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .ok_or_else(|| {
            Error::infra(
                "ECR returned no authorization token",
                "retry; if it persists, check the region".to_string(),
            )
        })?;
    decode_token(token)
}

/// Decodes GetAuthorizationToken's token. The error never repeats the token.
pub fn decode_token(token: &str) -> Result<Credentials> {
    let malformed = || {
        Error::infra(
            "ECR returned a malformed authorization token",
            "retry; if it persists, check AWS_ENDPOINT_URL and the region".to_string(),
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (user, password) = text.split_once(':').ok_or_else(malformed)?;
    if user.is_empty() || password.is_empty() {
        return Err(malformed());
    }
    Ok(Credentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// DescribeImages by tag: the one call of the warm path.
async fn ecr_has_tag(aws: &Aws, repository_name: &str, tag: &str) -> Result<bool> {
    let answer = aws
        .ecr()
        .describe_images()
        .repository_name(repository_name)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await;
    match answer {
        Ok(answer) => Ok(!answer.image_details().is_empty()),
        Err(e) if aws::error_code(&e) == Some("ImageNotFoundException") => Ok(false),
        Err(e) => Err(aws::error(
            format!("look up image {tag} in ECR repository {repository_name}"),
            e,
        )),
    }
}

/// This process's binary: what the product pushes (the tests give another path).
pub fn current_binary() -> Result<std::path::PathBuf> {
    std::env::current_exe().map_err(|e| {
        Error::infra(
            format!("cannot locate loadgate's own binary: {e}"),
            "pass --image URI to use an image pushed beforehand".to_string(),
        )
    })
}

/// `loadgate image push`: the binary is checked before any AWS or registry call, so a laptop
/// build is told what to do (exit 2) rather than failing on credentials.
pub async fn push_command(args: &crate::cli::ImagePushArgs) -> Result<Pushed> {
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => current_binary()?,
    };
    let head = read_header(&binary)
        .map_err(|e| Error::input(format!("cannot read the binary {}: {e}", binary.display())))?;
    static_arch(&binary, &head, PUSH_ADVICE)?;
    match &args.image {
        Some(reference) => {
            let repository = Repository::parse(reference)?;
            let credentials = credentials_from_env(|name| std::env::var(name).ok())?;
            push_to(repository, credentials, args.region.as_deref(), &binary).await
        }
        None => {
            let aws = Aws::load(args.region.as_deref()).await?;
            push_to_stack(&aws, &args.stack_name, &binary).await
        }
    }
}

/// `LOADGATE_REGISTRY_USER` and `LOADGATE_REGISTRY_PASSWORD`: both or neither.
pub fn credentials_from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Credentials>> {
    let user = var("LOADGATE_REGISTRY_USER").filter(|v| !v.is_empty());
    let password = var("LOADGATE_REGISTRY_PASSWORD").filter(|v| !v.is_empty());
    match (user, password) {
        (Some(user), Some(password)) => Ok(Some(Credentials { user, password })),
        (None, None) => Ok(None),
        _ => Err(Error::input(
            "set both LOADGATE_REGISTRY_USER and LOADGATE_REGISTRY_PASSWORD, or neither",
        )),
    }
}

/// The binary's layer and architecture; a binary that cannot run in a scratch image is exit 2.
fn read_layer(binary: &Path) -> Result<(Layer, CpuArch)> {
    let bytes = std::fs::read(binary)
        .map_err(|e| Error::input(format!("cannot read the binary {}: {e}", binary.display())))?;
    let arch = static_arch(binary, &bytes, RUN_ADVICE)?;
    Ok((Layer::new(&bytes), arch))
}

/// What a controller that cannot push itself does instead.
const RUN_ADVICE: &str = "pass --image URI to use an image pushed beforehand (e.g. the project's \
                          published image), or run the static Linux release binary";
const PUSH_ADVICE: &str = "push with the static Linux release binary instead (e.g. from a Linux \
                           CI runner)";

/// The architecture of a binary that can be a scratch image's entrypoint; exit 2 otherwise.
fn static_arch(binary: &Path, head: &[u8], advice: &str) -> Result<CpuArch> {
    let not_static = |why: &str| {
        Error::input(format!(
            "{} cannot be the worker image: {why}. The worker image is loadgate's static Linux \
             build (x86_64 or aarch64, musl): {advice}",
            binary.display()
        ))
    };
    let elf = inspect_elf(head).map_err(|why| not_static(&why))?;
    if !elf.is_static {
        return Err(not_static("it is dynamically linked"));
    }
    Ok(elf.arch)
}

/// The first 64 KiB: the ELF header and, in practice, the program headers.
fn read_header(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    Ok(head)
}

#[cfg(test)]
mod tests;
