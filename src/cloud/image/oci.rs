//! The worker image as bytes: one gzip layer (the binary, the CA bundle, `/tmp`), its config and a
//! Docker v2 schema 2 manifest, built in memory without Docker.
//!
//! Deterministic on purpose: the same binary gives the same digests on any host (fixed modes,
//! owners and mtimes in the tar, no timestamps in the config, a fixed gzip level), so the tag
//! `<version>-<short diff id>` names exactly one content and an immutable ECR tag never conflicts.
//!
//! Docker's schema rather than OCI's media types: ECR, Fargate's every platform version and the
//! registries people run (distribution 2.x) all take it, which is not true of OCI manifests on
//! older ones; the content is the same.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::CpuArch;

/// Mozilla's roots as Debian ships them (container/ca-certificates.crt, also what
/// container/Dockerfile copies): embedded so the image's digest does not depend on the host that
/// pushes it, and so a binary alone can always make its own image.
pub const CA_BUNDLE: &[u8] = include_bytes!("../../../container/ca-certificates.crt");
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The image's user, as in container/Dockerfile: not root, and the owner of `/tmp`.
pub const USER: u32 = 65532;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A content-addressed blob: its `sha256:` digest and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            digest: sha256_digest(&bytes),
            bytes,
        }
    }
}

/// The uncompressed layer and its digest (the config's `diff_id`), which is all the tag needs:
/// the warm path stops here, before the costlier gzip.
#[derive(Clone, Debug)]
pub struct Layer {
    pub tar: Vec<u8>,
    pub diff_id: String,
}

impl Layer {
    /// The image's file system: `/loadgate` (0755), the CA bundle, and `/tmp` owned by the user.
    pub fn new(binary: &[u8]) -> Layer {
        let mut tar = Tar::default();
        for dir in ["etc/", "etc/ssl/", "etc/ssl/certs/"] {
            tar.dir(dir, 0o755, 0);
        }
        tar.file(CA_BUNDLE_PATH.trim_start_matches('/'), 0o644, CA_BUNDLE);
        tar.file("loadgate", 0o755, binary);
        // Sticky and world-writable as /tmp should be, and owned by the user as in the Dockerfile.
        tar.dir("tmp/", 0o1777, USER);
        let tar = tar.finish();
        let diff_id = sha256_digest(&tar);
        Layer { tar, diff_id }
    }

    /// The tag this layer is pushed under: tags cannot hold `:`, so the digest's hex goes after
    /// the version, cut to 12 characters as Docker's short ids are.
    pub fn tag(&self) -> String {
        let hex = self.diff_id.trim_start_matches("sha256:");
        format!(
            "{}-{}",
            env!("CARGO_PKG_VERSION"),
            &hex[..12.min(hex.len())]
        )
    }
}

/// Everything a registry needs: two blobs and the manifest naming them.
#[derive(Clone, Debug)]
pub struct Image {
    pub arch: CpuArch,
    pub tag: String,
    pub layer: Blob,
    pub config: Blob,
    pub manifest: Blob,
}

impl Image {
    pub fn new(layer: &Layer, arch: CpuArch) -> Image {
        let compressed = Blob::new(gzip(&layer.tar));
        let config = Blob::new(config_json(&layer.diff_id, arch));
        let manifest = Blob::new(manifest_json(&config, &compressed));
        Image {
            arch,
            tag: layer.tag(),
            layer: compressed,
            config,
            manifest,
        }
    }
}

/// The runtime configuration, as container/Dockerfile's worker target has it.
fn config_json(diff_id: &str, arch: CpuArch) -> Vec<u8> {
    let config = json!({
        "architecture": arch.oci(),
        "os": "linux",
        "config": {
            "User": format!("{USER}:{USER}"),
            "Env": [format!("SSL_CERT_FILE={CA_BUNDLE_PATH}")],
            "Entrypoint": ["/loadgate"],
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.title": "loadgate",
                "org.opencontainers.image.version": env!("CARGO_PKG_VERSION"),
                "org.opencontainers.image.licenses": "Apache-2.0",
            },
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created_by": "loadgate image push" }],
    });
    config.to_string().into_bytes()
}

fn manifest_json(config: &Blob, layer: &Blob) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "size": config.bytes.len(),
            "digest": config.digest,
        },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "size": layer.bytes.len(),
            "digest": layer.digest,
        }],
    });
    manifest.to_string().into_bytes()
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for b in hash {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// Level 6 (zlib's default) with flate2's pure-Rust backend: the same bytes wherever it runs, and
/// the gzip header carries no mtime or file name.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// A minimal ustar writer: the image needs three kinds of entry and no long names, which is less
/// code than a dependency, and every header field is ours to fix.
#[derive(Default)]
struct Tar {
    out: Vec<u8>,
}

const BLOCK: usize = 512;

impl Tar {
    fn dir(&mut self, name: &str, mode: u32, owner: u32) {
        self.header(name, mode, owner, 0, b'5');
    }

    fn file(&mut self, name: &str, mode: u32, contents: &[u8]) {
        self.header(name, mode, 0, contents.len() as u64, b'0');
        self.out.extend_from_slice(contents);
        let padding = (BLOCK - contents.len() % BLOCK) % BLOCK;
        self.out.resize(self.out.len() + padding, 0);
    }

    fn header(&mut self, name: &str, mode: u32, owner: u32, size: u64, kind: u8) {
        let mut h = [0u8; BLOCK];
        put(&mut h[0..100], name.as_bytes());
        octal(&mut h[100..108], u64::from(mode));
        octal(&mut h[108..116], u64::from(owner));
        octal(&mut h[116..124], u64::from(owner));
        octal(&mut h[124..136], size);
        // mtime 0: no build time in the digest.
        octal(&mut h[136..148], 0);
        h[156] = kind;
        put(&mut h[257..263], b"ustar\0");
        put(&mut h[263..265], b"00");
        // The checksum is computed with its own field as spaces.
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        octal(&mut h[148..155], sum);
        self.out.extend_from_slice(&h);
    }

    /// Two zero blocks end the archive.
    fn finish(mut self) -> Vec<u8> {
        self.out.resize(self.out.len() + 2 * BLOCK, 0);
        self.out
    }
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal, NUL-terminated, filling the field.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    put(field, text.as_bytes());
    field[digits] = 0;
}

/// What the ELF header of a binary says about it as an image's entrypoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elf {
    pub arch: CpuArch,
    /// No program interpreter (`PT_INTERP`): static or static-pie, so it runs in a scratch image.
    pub is_static: bool,
}

const PT_INTERP: u32 = 3;

/// Reads a 64-bit little-endian ELF header and its program headers. `bytes` may be just the start
/// of the file, as long as it holds the program headers (they follow the header in practice).
pub fn inspect_elf(bytes: &[u8]) -> Result<Elf, String> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not a Linux (ELF) binary".into());
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF binary".into());
    }
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let truncated = || "truncated ELF header".to_string();
    let arch = match u16_at(0x12).ok_or_else(truncated)? {
        62 => CpuArch::X86_64,
        183 => CpuArch::Arm64,
        other => return Err(format!("ELF machine {other} is neither x86_64 nor aarch64")),
    };
    let phoff = usize::try_from(u64_at(0x20).ok_or_else(truncated)?).map_err(|_| truncated())?;
    let phentsize = usize::from(u16_at(0x36).ok_or_else(truncated)?);
    let phnum = usize::from(u16_at(0x38).ok_or_else(truncated)?);
    let mut is_static = true;
    for i in 0..phnum {
        let at = phentsize
            .checked_mul(i)
            .and_then(|o| o.checked_add(phoff))
            .ok_or_else(truncated)?;
        if u32_at(at).ok_or_else(truncated)? == PT_INTERP {
            is_static = false;
        }
    }
    Ok(Elf { arch, is_static })
}

#[cfg(test)]
#[path = "oci_tests.rs"]
pub(crate) mod tests;
