//! Reading input files with a bound. Every file loadgate reads (scenario, body_file, ca_file,
//! results.json, a baseline) is hostile until bounded: `/dev/zero` must not fill the memory, a
//! FIFO must not block the run forever, and a 2 GB file is refused before it is read.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// A scenario file: far more than any hand-written one.
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;
/// A request body given by `body_file` (kept in memory and sent as is, on every request).
pub const MAX_BODY_FILE_BYTES: u64 = 16 << 20;
/// A CA bundle (`tls.ca_file`): the whole Mozilla bundle is about 200 KB.
pub const MAX_CA_FILE_BYTES: u64 = 1 << 20;
/// A results.json (a report, a baseline, a history entry): hours of timeline fit in a few MB.
pub const MAX_RESULTS_BYTES: u64 = 64 << 20;

/// Why a file could not be read, in words.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file: a FIFO, a device, a directory, a socket.
    NotAFile(&'static str),
    TooLarge {
        limit: u64,
    },
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotAFile(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge { limit } => {
                write!(f, "it is larger than {}", human_bytes(*limit))
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// `4 MB`, `64 MB`, `1 MB`, `512 bytes`.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Reads a regular file of at most `limit` bytes. Anything else is refused before it is opened
/// (opening a FIFO for reading blocks until a writer comes), and the read itself stops at the
/// limit whatever the file's size said (a file may grow, `/proc` files say 0).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotAFile(describe(&kind)));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_text_limited(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_limited(path, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_before_reading() {
        let err = read_limited(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err.to_string(), "it is a device, not a regular file");
        let dir = tempfile::tempdir().unwrap();
        let err = read_limited(dir.path(), 1024).unwrap_err();
        assert_eq!(err.to_string(), "it is a directory, not a regular file");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_limited(&fifo, 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is a FIFO (named pipe), not a regular file"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 2048]).unwrap();
        let err = read_limited(&path, 1024).unwrap_err();
        assert_eq!(err.to_string(), "it is larger than 1 KB");
        assert_eq!(read_limited(&path, 2048).unwrap().len(), 2048);
        assert!(read_text_limited(&path, 4096).is_ok());
    }
}
