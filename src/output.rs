//! `--output FILE`: where the JSON report goes, decided and checked before
//! any network call, and written so that a reader never sees half a report.
//!
//! A report holds the account, ARNs and addresses: the file is created with
//! mode 0600, as a temporary file in the destination's directory, written,
//! flushed to disk, then renamed over the destination. So a full disk or a
//! crash leaves the previous report whole; a symlink at the destination is
//! replaced, its target untouched; a hard link is not written through (the
//! other names keep the old report).
//!
//! Not every path can be replaced: `-`, `/dev/stdout` (or any path that is
//! this process's standard output) mean standard output, where the report
//! is printed once; a device, FIFO or socket (`/dev/null`, `>(gzip >x)`) and
//! anything under `/dev` or `/proc` are written in place, as a shell
//! redirection would; a FIFO that nobody reads is refused at once rather
//! than waited on.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tidbpe_checks::text::quoted;

/// Where `--output` sends the JSON report.
#[derive(Debug)]
pub enum Destination {
    /// No `--output`.
    Nowhere,
    /// `-`, or a path that is this process's standard output: the JSON
    /// report is what standard output gets, once.
    Stdout,
    /// A device, pipe or socket, opened now, written in place.
    Stream { name: String, file: File },
    /// A file, replaced atomically.
    File { path: PathBuf, name: String },
}

/// A destination that cannot be written, or a write that failed, as one line.
#[derive(Debug, thiserror::Error)]
#[error("--output {name}: {problem}")]
pub struct OutputError {
    name: String,
    problem: String,
    /// The error of a failed write, kept to tell a closed pipe apart.
    #[source]
    io: Option<io::Error>,
}

impl OutputError {
    /// True when the reader went away (`| head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        self.io
            .as_ref()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }
}

fn fail(name: &str, problem: impl Into<String>) -> OutputError {
    OutputError {
        name: name.to_string(),
        problem: problem.into(),
        io: None,
    }
}

fn fail_io(name: &str, what: &str, err: io::Error) -> OutputError {
    OutputError {
        name: name.to_string(),
        problem: format!("{what}: {err}"),
        io: Some(err),
    }
}

/// Decide where `path` sends the report and check it can be written, now:
/// before any network call, so a mistyped directory costs nothing.
pub fn prepare(path: Option<&Path>) -> Result<Destination, OutputError> {
    let Some(path) = path else {
        return Ok(Destination::Nowhere);
    };
    if path == Path::new("-") {
        return Ok(Destination::Stdout);
    }
    let name = crate::untrusted::display_name(path);
    let special = path.starts_with("/dev") || path.starts_with("/proc");
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(fail(&name, "is a directory: expected a file path")),
        Ok(meta) if is_stdout(&meta) && (special || !meta.is_file()) => Ok(Destination::Stdout),
        Ok(meta) if meta.file_type().is_fifo() => open_fifo(path, name),
        Ok(meta) if special || !meta.is_file() => {
            let file = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| fail_io(&name, "cannot open it for writing", e))?;
            Ok(Destination::Stream { name, file })
        }
        Err(e) if special => Err(fail_io(&name, "cannot open it for writing", e)),
        // A regular file, a symlink to one, or nothing yet (a dangling
        // symlink included): the directory must take a new file.
        Ok(_) => check_directory(path, name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => check_directory(path, name),
        Err(e) => Err(fail_io(&name, "cannot look at it", e)),
    }
}

/// True when writing the report to `output` would replace the file `input`
/// names (the same file, or `input` a symlink to it): the input would be
/// lost. A symlink at `output` is replaced, not written through, so it does
/// not count; a hard link does (its other name would keep the file, but
/// refusing is the safe side).
pub fn would_replace(output: &Path, input: &Path) -> bool {
    if input == Path::new("-") {
        return false;
    }
    match (fs::symlink_metadata(output), fs::metadata(input)) {
        (Ok(out), Ok(inp)) => (out.dev(), out.ino()) == (inp.dev(), inp.ino()),
        _ => false,
    }
}

/// A FIFO or pipe (`mkfifo`, `>(gzip >r.gz)`), opened only if something
/// reads it: a plain open would wait for a reader forever, before any
/// `--timeout` runs. Once open, writes block as a shell redirection's do.
fn open_fifo(path: &Path, name: String) -> Result<Destination, OutputError> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let file = OpenOptions::new()
        .append(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
                fail(
                    &name,
                    "is a FIFO (named pipe) that nobody reads: start its reader first, or give a file path",
                )
            } else {
                fail_io(&name, "cannot open it for writing", e)
            }
        })?;
    fcntl_getfl(&file)
        .and_then(|flags| fcntl_setfl(&file, flags - OFlags::NONBLOCK))
        .map_err(|e| fail_io(&name, "cannot open it for writing", e.into()))?;
    Ok(Destination::Stream { name, file })
}

/// The directory that will hold the temporary file, and proof that a file
/// can be created there (one is created and removed at once).
fn check_directory(path: &Path, name: String) -> Result<Destination, OutputError> {
    if path.file_name().is_none() {
        return Err(fail(&name, "expected a file path"));
    }
    let dir = directory_of(path);
    temp_file_in(dir).map_err(|e| {
        fail_io(
            &name,
            &format!("cannot create a file in {}", dir_name(dir)),
            e,
        )
    })?;
    Ok(Destination::File {
        path: path.to_path_buf(),
        name,
    })
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn dir_name(dir: &Path) -> String {
    quoted(&dir.display().to_string(), 120)
}

/// A new file of mode 0600 in `dir`, removed when dropped.
fn temp_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    // tempfile creates files with mode 0600 on Unix: only the owner reads
    // the account and addresses a report holds.
    tempfile::Builder::new()
        .prefix(".tidbpe-report-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// True when `meta` is the file standard output writes to.
fn is_stdout(meta: &fs::Metadata) -> bool {
    let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(out) = File::from(fd).metadata() else {
        return false;
    };
    (out.dev(), out.ino()) == (meta.dev(), meta.ino())
}

impl Destination {
    /// True when the JSON report is what standard output gets.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Destination::Stdout)
    }

    /// Write `report` (the whole JSON document) to the destination. Standard
    /// output and nowhere are the caller's business: nothing is done.
    pub fn write(self, report: &[u8]) -> Result<(), OutputError> {
        match self {
            Destination::Nowhere | Destination::Stdout => Ok(()),
            Destination::Stream { name, mut file } => file
                .write_all(report)
                .and_then(|()| file.flush())
                .map_err(|e| fail_io(&name, "cannot write", e)),
            Destination::File { path, name } => replace(&path, &name, report),
        }
    }
}

/// Write `report` to a temporary file beside `path`, flush it to disk, and
/// rename it over `path`. On any failure the temporary file is removed and
/// `path` is as it was.
fn replace(path: &Path, name: &str, report: &[u8]) -> Result<(), OutputError> {
    let dir = directory_of(path);
    let mut temp = temp_file_in(dir).map_err(|e| {
        fail_io(
            name,
            &format!("cannot create a file in {}", dir_name(dir)),
            e,
        )
    })?;
    temp.write_all(report)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| {
            fail_io(
                name,
                "cannot write (the previous file, if any, is unchanged)",
                e,
            )
        })?;
    temp.persist(path)
        .map_err(|e| fail_io(name, "cannot rename the new report into place", e.error))?;
    // The rename itself reaches the disk with the directory. A directory
    // that cannot be synced (some network file systems) still holds it.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    fn written(dest: Destination, text: &str) {
        dest.write(text.as_bytes()).expect("write");
    }

    #[test]
    fn a_new_file_is_private_and_no_temporary_file_stays() {
        let d = dir();
        let path = d.path().join("report.json");
        let dest = prepare(Some(&path)).expect("prepare");
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "nothing before the write"
        );
        written(dest, "{}\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlink_is_replaced_and_its_target_untouched() {
        let d = dir();
        let target = d.path().join("target.txt");
        fs::write(&target, "keep me").unwrap();
        let link = d.path().join("report.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        written(prepare(Some(&link)).unwrap(), "new");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
        assert!(!fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&link).unwrap(), "new");
    }

    #[test]
    fn a_hard_link_is_not_written_through() {
        let d = dir();
        let other = d.path().join("other.json");
        fs::write(&other, "old").unwrap();
        let path = d.path().join("report.json");
        fs::hard_link(&other, &path).unwrap();
        written(prepare(Some(&path)).unwrap(), "new");
        assert_eq!(fs::read_to_string(&other).unwrap(), "old");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn a_fifo_is_written_when_read_and_refused_when_not() {
        let d = dir();
        let fifo = d.path().join("report.fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = prepare(Some(&fifo)).unwrap_err();
        assert!(e.to_string().contains("nobody reads"), "{e}");
        let mut reader = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo)
            .unwrap();
        written(prepare(Some(&fifo)).unwrap(), "{}\n");
        let mut got = String::new();
        io::Read::read_to_string(&mut reader, &mut got).unwrap();
        assert_eq!(got, "{}\n");
    }

    #[test]
    fn dashes_devices_and_missing_directories() {
        assert!(prepare(Some(Path::new("-"))).unwrap().is_stdout());
        assert!(matches!(prepare(None).unwrap(), Destination::Nowhere));
        let null = prepare(Some(Path::new("/dev/null"))).unwrap();
        // Standard output when the test runner's own output is /dev/null.
        assert!(
            matches!(null, Destination::Stream { .. } | Destination::Stdout),
            "{null:?}"
        );
        written(null, "gone");
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        let e = prepare(Some(Path::new("/nonexistent-dir-tidbpe/r.json"))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--output /nonexistent-dir-tidbpe/r.json: cannot create a file in /nonexistent-dir-tidbpe"),
            "{e}"
        );
        let d = dir();
        let e = prepare(Some(d.path())).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is a directory: expected a file path"),
            "{e}"
        );
    }
}
