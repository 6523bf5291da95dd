//! Run history: every run's results.json kept under `<scenario>/<branch>/<time>-<run_id>.json`.
//!
//! The layout is the stack bucket's `history/` prefix, so a local directory (`--history DIR`,
//! default `.loadgate/history/`) can be synced to or from S3 as it is, and kept between CI jobs
//! with actions/cache or as an artifact. The same [`BlobHistory`] runs over a directory
//! ([`Directory`]) and over S3 (`cloud::s3_blobs`), so both lay keys out and list them alike.
//!
//! Path segments (scenario, branch, run id) are percent-encoded: every byte outside
//! `A-Z a-z 0-9 - _ .` becomes `%XX`, and a leading `.` too (no hidden or `..` directories). So
//! `feature/x` is stored as `feature%2Fx`, one directory, and decodes back exactly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use crate::cloud::aws::Aws;
use crate::cloud::s3_blobs::{S3Blobs, HISTORY_PREFIX};
use crate::env::Env;
use crate::report;
use crate::results::Results;
use crate::{Error, Result};

/// Where history lives when `--history` is not given.
pub const DEFAULT_DIR: &str = ".loadgate/history";

/// What a run is recorded under, apart from its results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    pub branch: String,
    pub commit: Option<String>,
}

/// One recorded run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub scenario: String,
    pub branch: String,
    /// `20261126T180000Z`: when the run started, UTC; entries sort by it.
    pub time: String,
    pub run_id: String,
    /// The store's key: `<scenario>/<branch>/<time>-<run_id>.json`, segments encoded.
    pub key: String,
}

/// Where past runs are kept.
pub trait HistoryStore {
    /// Records `results` under its scenario and `info.branch`.
    fn record(&self, results: &Results, info: &RunInfo) -> Result<Entry>;
    /// The runs of `scenario` on `branch`, newest first. Nothing recorded is an empty list.
    fn list(&self, scenario: &str, branch: &str) -> Result<Vec<Entry>>;
    /// Scenarios with at least one branch, sorted.
    fn scenarios(&self) -> Result<Vec<String>>;
    /// Branches of `scenario`, sorted.
    fn branches(&self, scenario: &str) -> Result<Vec<String>>;
    fn load(&self, entry: &Entry) -> Result<Results>;
    /// For messages: `history directory .loadgate/history`.
    fn describe(&self) -> String;
}

/// Bytes under `/`-separated keys: where history's files live. The history logic (keys,
/// listing, decoding) is [`BlobHistory`]'s alone, so a backend knows nothing of results: the S3
/// one (src/cloud/s3_blobs.rs) stays on its side of the AWS boundary.
pub trait Blobs {
    /// Writes `bytes` under `key`, whole: a reader never sees half of it.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    fn get(&self, key: &str) -> Result<Vec<u8>>;
    /// What lies directly under `dir` (`""` for the root, else a key prefix ending in `/`):
    /// names of files and of sub-directories, not recursive. A missing `dir` is empty.
    fn children(&self, dir: &str) -> Result<Children>;
    /// For messages: `history directory .loadgate/history`, `history s3://bucket/history/`.
    fn describe(&self) -> String;
}

/// The names directly under a key prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Children {
    pub files: Vec<String>,
    pub dirs: Vec<String>,
}

/// The history of runs over any [`Blobs`].
#[derive(Clone, Debug)]
pub struct BlobHistory<B> {
    blobs: B,
}

/// History in a local directory.
pub type LocalStore = BlobHistory<Directory>;

impl BlobHistory<Directory> {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        BlobHistory::over(Directory::new(root))
    }
}

impl<B: Blobs> BlobHistory<B> {
    pub fn over(blobs: B) -> BlobHistory<B> {
        BlobHistory { blobs }
    }

    /// Directory names under `dir`, decoded and sorted.
    fn names(&self, dir: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .blobs
            .children(dir)?
            .dirs
            .iter()
            .filter_map(|d| decode(d))
            .collect();
        names.sort();
        Ok(names)
    }
}

impl<B: Blobs> HistoryStore for BlobHistory<B> {
    fn record(&self, results: &Results, info: &RunInfo) -> Result<Entry> {
        let time = compact_time(&results.started_at);
        let key = key(&results.scenario, &info.branch, &time, &results.run_id);
        let mut recorded = results.clone();
        recorded.branch = Some(info.branch.clone());
        recorded.commit.clone_from(&info.commit);
        self.blobs.put(&key, report::json(&recorded).as_bytes())?;
        Ok(Entry {
            scenario: results.scenario.clone(),
            branch: info.branch.clone(),
            time,
            run_id: results.run_id.clone(),
            key,
        })
    }

    fn list(&self, scenario: &str, branch: &str) -> Result<Vec<Entry>> {
        let dir = format!("{}/{}/", encode(scenario), encode(branch));
        let mut entries: Vec<Entry> = self
            .blobs
            .children(&dir)?
            .files
            .into_iter()
            .filter_map(|name| {
                let stem = name.strip_suffix(".json")?;
                let (time, run_id) = stem.split_once('-')?;
                Some(Entry {
                    scenario: scenario.to_string(),
                    branch: branch.to_string(),
                    time: time.to_string(),
                    run_id: decode(run_id)?,
                    key: format!("{dir}{name}"),
                })
            })
            .collect();
        // Newest first; the run id breaks ties of runs started in the same second.
        entries.sort_by(|a, b| (&b.time, &b.run_id).cmp(&(&a.time, &a.run_id)));
        Ok(entries)
    }

    fn scenarios(&self) -> Result<Vec<String>> {
        self.names("")
    }

    fn branches(&self, scenario: &str) -> Result<Vec<String>> {
        self.names(&format!("{}/", encode(scenario)))
    }

    fn load(&self, entry: &Entry) -> Result<Results> {
        let bytes = self.blobs.get(&entry.key)?;
        let shown = format!("{} ({})", entry.key, self.blobs.describe());
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::input(format!("{shown}: results are not UTF-8 text")))?;
        report::parse_results(&text, &shown)
    }

    fn describe(&self) -> String {
        self.blobs.describe()
    }
}

/// [`Blobs`] in a local directory: keys are relative paths.
#[derive(Clone, Debug)]
pub struct Directory {
    root: PathBuf,
}

impl Directory {
    pub fn new(root: impl Into<PathBuf>) -> Directory {
        Directory { root: root.into() }
    }

    fn io_error(&self, what: &str, path: &Path, e: std::io::Error) -> Error {
        Error::infra(
            format!("history: cannot {what} {}: {e}", path.display()),
            "check that --history names a readable and writable directory".to_string(),
        )
    }
}

impl Blobs for Directory {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| self.io_error("create", dir, e))?;
        }
        // Written aside and renamed: a reader never sees half a file, even on a shared cache.
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, bytes).map_err(|e| self.io_error("write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| self.io_error("write", &path, e))
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.root.join(key);
        fs::read(&path).map_err(|e| self.io_error("read", &path, e))
    }

    fn children(&self, dir: &str) -> Result<Children> {
        let path = self.root.join(dir);
        let read = match fs::read_dir(&path) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Children::default()),
            Err(e) => return Err(self.io_error("read", &path, e)),
        };
        let mut children = Children::default();
        for entry in read.filter_map(|e| e.ok()) {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => children.dirs.push(name),
                Ok(t) if t.is_file() => children.files.push(name),
                _ => {}
            }
        }
        Ok(children)
    }

    fn describe(&self) -> String {
        format!("history directory {}", self.root.display())
    }
}

/// History in S3.
pub type S3Store = BlobHistory<S3Blobs>;

/// The history of Fargate runs: `history/` in the stack's bucket (`StackOutputs.bucket`).
pub fn s3_history(aws: &Aws, bucket: &str) -> Result<S3Store> {
    Ok(BlobHistory::over(S3Blobs::new(
        aws,
        bucket,
        HISTORY_PREFIX,
    )?))
}

/// The store `--history` names: `s3://bucket[/prefix]` (AWS configuration from the standard
/// chain, so local runs can share history with Fargate runs), else a directory.
pub fn open(history: &Path) -> Result<Box<dyn HistoryStore>> {
    match history.to_str() {
        Some(url) if url.starts_with("s3://") => {
            Ok(Box::new(BlobHistory::over(S3Blobs::from_url(url, None)?)))
        }
        _ => Ok(Box::new(LocalStore::new(history))),
    }
}

/// `<scenario>/<branch>/<time>-<run_id>.json`, each segment encoded.
pub fn key(scenario: &str, branch: &str, time: &str, run_id: &str) -> String {
    format!(
        "{}/{}/{}-{}.json",
        encode(scenario),
        encode(branch),
        encode(time),
        encode(run_id)
    )
}

/// `2026-11-26T18:00:00Z` -> `20261126T180000Z`. A start time that does not parse (a
/// hand-edited file) is recorded at the current time rather than refused.
fn compact_time(started_at: &str) -> String {
    let time = humantime::parse_rfc3339_weak(started_at).unwrap_or_else(|_| SystemTime::now());
    let text = humantime::format_rfc3339_seconds(time).to_string();
    text.replace(['-', ':'], "")
}

/// Percent-encodes a path segment (see the module docs).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for (i, b) in segment.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_') || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        // An empty name still needs a directory of its own.
        out.push_str("%00");
    }
    out
}

/// The inverse of [`encode`]; None for a name it could not have produced.
pub fn decode(segment: &str) -> Option<String> {
    if segment == "%00" {
        return Some(String::new());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The first of `keys` that is set to something: CI systems set some variables to "" outside the
/// events that fill them, so an empty value counts as unset.
pub(crate) fn first_set(env: &dyn Env, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| env.var(k))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

/// The branch a run is recorded under: its own. A pull/merge request's source branch, else the
/// pushed branch, else `--branch`, else the working directory's git branch, else `local`.
pub fn resolve_branch(env: &dyn Env, flag: Option<&str>, git: bool) -> String {
    first_set(
        env,
        &["GITHUB_HEAD_REF", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"],
    )
    .or_else(|| first_set(env, &["GITHUB_REF_NAME", "CI_COMMIT_BRANCH"]))
    .or_else(|| {
        flag.map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
    })
    .or_else(|| git.then(git_branch).flatten())
    .unwrap_or_else(|| "local".to_string())
}

/// The commit a run measured: CI's SHA, else the working directory's HEAD.
pub fn resolve_commit(env: &dyn Env, git: bool) -> Option<String> {
    first_set(env, &["GITHUB_SHA", "CI_COMMIT_SHA"]).or_else(|| git.then(git_commit).flatten())
}

fn git_branch() -> Option<String> {
    // A detached HEAD says "HEAD": not a branch.
    git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD")
}

fn git_commit() -> Option<String> {
    git(&["rev-parse", "HEAD"])
}

/// One quick git query; None when git is missing, this is no repository, or it fails.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests;
