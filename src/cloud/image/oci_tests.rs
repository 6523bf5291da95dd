use std::io::Read;

use serde_json::Value;

use super::*;

/// A minimal 64-bit little-endian ELF: the header and two program headers (a PT_LOAD, and a
/// PT_INTERP when `dynamic`), then a payload so that different binaries differ.
pub(crate) fn fake_elf(machine: u16, dynamic: bool, payload: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1;
    elf[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
    elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    elf[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
    for kind in [1u32, if dynamic { PT_INTERP } else { 4 }] {
        let mut ph = [0u8; 56];
        ph[..4].copy_from_slice(&kind.to_le_bytes());
        elf.extend_from_slice(&ph);
    }
    elf.extend_from_slice(payload);
    elf
}

struct Entry {
    name: String,
    mode: u64,
    uid: u64,
    gid: u64,
    mtime: u64,
    kind: u8,
    contents: Vec<u8>,
}

fn field(h: &[u8], range: std::ops::Range<usize>) -> u64 {
    let text: String = h[range]
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(&text, 8).expect("octal field")
}

/// Reads the archive back the way tar does, checking every header's checksum.
fn entries(tar: &[u8]) -> Vec<Entry> {
    assert_eq!(tar.len() % BLOCK, 0, "whole blocks");
    let mut out = Vec::new();
    let mut at = 0;
    while at + BLOCK <= tar.len() {
        let h = &tar[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            assert!(
                tar[at..].iter().all(|&b| b == 0),
                "only zeros after the end"
            );
            assert_eq!(tar.len() - at, 2 * BLOCK, "two zero blocks end the archive");
            return out;
        }
        let mut blank = h.to_vec();
        blank[148..156].fill(b' ');
        let sum: u64 = blank.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(field(h, 148..156), sum, "checksum");
        assert_eq!(&h[257..263], b"ustar\0");
        let size = field(h, 124..136) as usize;
        let name = String::from_utf8(h[..100].iter().take_while(|&&b| b != 0).copied().collect())
            .expect("name");
        at += BLOCK;
        out.push(Entry {
            name,
            mode: field(h, 100..108),
            uid: field(h, 108..116),
            gid: field(h, 116..124),
            mtime: field(h, 136..148),
            kind: h[156],
            contents: tar[at..at + size].to_vec(),
        });
        at += size.div_ceil(BLOCK) * BLOCK;
    }
    panic!("no end-of-archive blocks");
}

fn json(blob: &Blob) -> Value {
    serde_json::from_slice(&blob.bytes).expect("JSON")
}

#[test]
fn the_layer_holds_the_binary_the_bundle_and_tmp() {
    let binary = fake_elf(62, false, &[7u8; 1000]);
    let layer = Layer::new(&binary);
    let entries = entries(&layer.tar);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "etc/",
            "etc/ssl/",
            "etc/ssl/certs/",
            "etc/ssl/certs/ca-certificates.crt",
            "loadgate",
            "tmp/"
        ]
    );
    let get = |name: &str| entries.iter().find(|e| e.name == name).expect(name);
    let exe = get("loadgate");
    assert_eq!((exe.mode, exe.uid, exe.kind), (0o755, 0, b'0'));
    assert_eq!(exe.contents, binary);
    let bundle = get("etc/ssl/certs/ca-certificates.crt");
    assert_eq!((bundle.mode, bundle.kind), (0o644, b'0'));
    assert_eq!(bundle.contents, CA_BUNDLE);
    let tmp = get("tmp/");
    assert_eq!(
        (tmp.mode, tmp.uid, tmp.gid, tmp.kind),
        (0o1777, 65532, 65532, b'5')
    );
    assert!(
        entries.iter().all(|e| e.mtime == 0),
        "no build time in the layer"
    );
}

#[test]
fn the_vendored_bundle_is_a_full_pem_bundle() {
    let text = std::str::from_utf8(CA_BUNDLE).expect("PEM is text");
    // Debian's bundle holds some 140 roots; a handful would mean a truncated file.
    assert!(text.matches("-----BEGIN CERTIFICATE-----").count() > 100);
}

#[test]
fn same_binary_same_digests_and_tag() {
    let binary = fake_elf(62, false, b"one");
    let a = Image::new(&Layer::new(&binary), CpuArch::X86_64);
    let b = Image::new(&Layer::new(&binary), CpuArch::X86_64);
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(a.layer.digest, b.layer.digest);
    assert_eq!(a.tag, b.tag);

    let other = Image::new(&Layer::new(&fake_elf(62, false, b"two")), CpuArch::X86_64);
    assert_ne!(other.tag, a.tag);
    assert_ne!(other.manifest.digest, a.manifest.digest);
}

#[test]
fn the_tag_is_the_version_and_a_short_diff_id() {
    let layer = Layer::new(b"binary");
    let tag = layer.tag();
    let (version, short) = tag.rsplit_once('-').expect("version-digest");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(short.len(), 12);
    assert!(layer.diff_id.starts_with(&format!("sha256:{short}")));
    // Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, so no `:` and no `+`.
    assert!(tag.len() <= 128);
    assert!(tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)));
}

#[test]
fn diff_id_is_the_digest_of_the_uncompressed_layer() {
    let layer = Layer::new(&fake_elf(183, false, b"arm"));
    let image = Image::new(&layer, CpuArch::Arm64);
    assert_eq!(image.layer.digest, sha256_digest(&image.layer.bytes));
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(image.layer.bytes.as_slice())
        .read_to_end(&mut unpacked)
        .expect("gzip");
    assert_eq!(unpacked, layer.tar);
    assert_eq!(sha256_digest(&unpacked), layer.diff_id);
    let config = json(&image.config);
    assert_eq!(config["rootfs"]["diff_ids"][0], layer.diff_id.as_str());
    assert_eq!(config["rootfs"]["type"], "layers");
}

#[test]
fn the_config_is_the_dockerfiles_worker() {
    for (arch, name) in [(CpuArch::X86_64, "amd64"), (CpuArch::Arm64, "arm64")] {
        let image = Image::new(&Layer::new(b"x"), arch);
        let config = json(&image.config);
        assert_eq!(config["architecture"], name);
        assert_eq!(config["os"], "linux");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/loadgate"])
        );
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["config"]["Env"],
            serde_json::json!(["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"])
        );
        assert!(config.get("created").is_none(), "no timestamp");
    }
}

#[test]
fn the_manifest_names_both_blobs() {
    let image = Image::new(&Layer::new(b"x"), CpuArch::X86_64);
    let manifest = json(&image.manifest);
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
    assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["config"]["digest"], image.config.digest.as_str());
    assert_eq!(manifest["config"]["size"], image.config.bytes.len());
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], LAYER_MEDIA_TYPE);
    assert_eq!(layers[0]["digest"], image.layer.digest.as_str());
    assert_eq!(layers[0]["size"], image.layer.bytes.len());
}

#[test]
fn elf_headers_give_arch_and_linkage() {
    let x86 = inspect_elf(&fake_elf(62, false, b"")).expect("x86_64");
    assert_eq!((x86.arch, x86.is_static), (CpuArch::X86_64, true));
    let arm = inspect_elf(&fake_elf(183, true, b"")).expect("aarch64");
    assert_eq!((arm.arch, arm.is_static), (CpuArch::Arm64, false));

    assert!(inspect_elf(b"\xcf\xfa\xed\xfe macho").is_err());
    assert!(inspect_elf(&fake_elf(40, false, b""))
        .unwrap_err()
        .contains("40"));
    let mut elf32 = fake_elf(62, false, b"");
    elf32[4] = 1;
    assert!(inspect_elf(&elf32).is_err());
    // Program headers cut off: an error, not a guess.
    assert!(inspect_elf(&fake_elf(62, false, b"")[..100]).is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn the_running_binary_is_read_correctly() {
    let exe = std::env::current_exe().expect("test binary");
    let bytes = std::fs::read(exe).expect("read");
    let elf = inspect_elf(&bytes).expect("the test binary is ELF");
    let arch = if cfg!(target_arch = "aarch64") {
        CpuArch::Arm64
    } else {
        CpuArch::X86_64
    };
    assert_eq!(elf.arch, arch);
    assert_eq!(elf.is_static, cfg!(target_env = "musl"));
}
