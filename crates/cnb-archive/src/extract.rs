//! Extraction that cannot write outside its target: no `..`, no entry outside the mapped prefix,
//! no path through a symlink, no symlink or hard link that points outside, no whiteouts or device
//! files. The diffID of the uncompressed stream is computed while extracting.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::EntryType;

use crate::error::io;
use crate::{ArchiveError, Owner, Result};

/// How entries map onto the target directory.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// The in-image directory the target stands for (e.g. `/layers` when restoring a cached layer
    /// into the real layers dir). Entries outside it are refused. `None`: the target is the root.
    pub prefix: Option<String>,
    /// Owner given to every extracted entry (needs root); `None` keeps the extractor's.
    pub owner: Option<Owner>,
}

/// What an extraction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: String,
    /// How many entries were written.
    pub entries: usize,
}

/// Whether `path` is a tar archive, plain or gzip-compressed (what `extract` reads): a `ustar`
/// header, as Docker's `ADD` recognises a local archive to unpack.
pub fn is_tar_archive(path: &Path) -> std::io::Result<bool> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut stream: Box<dyn Read> = if gzip {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut header = [0u8; 512];
    let mut filled = 0;
    while filled < header.len() {
        match stream.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            // Not gzip after all, or cut short: not an archive we can unpack.
            Err(_) => return Ok(false),
        }
    }
    Ok(filled == header.len() && header[257..262] == *b"ustar")
}

/// Extracts a plain, gzip- or zstd-compressed layer (told apart by their magic bytes) into
/// `target` (created if missing). The layer is read, decompressed and hashed on a thread of its
/// own while this one parses the tar and writes the files.
pub fn extract(
    reader: impl Read + Send,
    target: &Path,
    opts: &ExtractOptions,
) -> Result<Extracted> {
    std::fs::create_dir_all(target).map_err(io("create", target))?;
    let mut buffered = BufReader::with_capacity(READ_BUFFER, reader);
    let head = buffered.fill_buf().map_err(io("read layer", target))?;
    let stream: Box<dyn Read + Send> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(GzDecoder::new(buffered))
    } else if head.starts_with(&ZSTD_MAGIC) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| ArchiveError::Corrupt(format!("zstd: {e}")))?,
        )
    } else {
        Box::new(buffered)
    };
    let (producer, mut chunks) = crate::pipe::pipe(stream);
    std::thread::scope(|s| {
        let hashed = s.spawn(move || producer.run());
        let entries = extract_entries(&mut chunks, target, opts);
        // The hash covers the whole stream, also what follows the tar's end marker; on an error
        // the producer stops at its next chunk, once `chunks` is dropped.
        let drained = match &entries {
            Ok(_) => chunks
                .drain()
                .map_err(|e| ArchiveError::Corrupt(e.to_string())),
            Err(_) => Ok(()),
        };
        drop(chunks);
        let diff_id = hashed.join();
        let entries = entries?;
        drained?;
        match diff_id {
            Ok(Some(diff_id)) => Ok(Extracted { diff_id, entries }),
            // A read error reached the tar side first; a panic is re-raised by the scope.
            _ => Err(ArchiveError::Corrupt("the layer stream ended early".into())),
        }
    })
}

/// Bytes read from the layer at a time (the registry and the file system hand over more than
/// a default 8 KiB buffer takes).
const READ_BUFFER: usize = 256 * 1024;

/// The tar's entries into `target`; how many were written.
fn extract_entries(stream: impl Read, target: &Path, opts: &ExtractOptions) -> Result<usize> {
    let mut entries = 0;
    let mut archive = tar::Archive::new(stream);
    let mut state = State {
        buf: vec![0u8; COPY_BUFFER],
        dirs: HashSet::new(),
    };
    for entry in archive
        .entries()
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
    {
        let mut entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        if extract_entry(&mut entry, target, opts, &mut state)? {
            entries += 1;
        }
    }
    Ok(entries)
}

/// Bytes of file content written at a time.
const COPY_BUFFER: usize = 128 * 1024;

/// What one extraction keeps between entries.
struct State {
    /// The copy buffer for file contents.
    buf: Vec<u8>,
    /// Paths (relative to the target) this extraction found or made to be real directories. An
    /// entry can only replace a non-directory (see `remove_existing`), so they stay directories
    /// and need no second look when the next entry goes through them.
    dirs: HashSet<PathBuf>,
}

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn unsafe_entry(entry: &str, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Unsafe {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

/// The entry's path relative to the target, after the prefix; `None` for the prefix itself.
fn map_name(name: &str, prefix: Option<&str>) -> Result<Option<PathBuf>> {
    let trimmed = name.trim_start_matches("./").trim_start_matches('/');
    let absolute = format!("/{}", trimmed.trim_end_matches('/'));
    let rel = match prefix.map(|p| p.trim_end_matches('/')) {
        Some(p) if !p.is_empty() => {
            // The prefix itself and its ancestors (layers carry their parent dirs) exist already.
            if absolute == p
                || p.starts_with(&format!("{}/", absolute.trim_end_matches('/')))
                || absolute == "/"
            {
                return Ok(None);
            }
            match absolute.strip_prefix(&format!("{p}/")) {
                Some(rest) => rest.to_string(),
                None => return Err(unsafe_entry(name, format!("outside '{p}'"))),
            }
        }
        _ => absolute.trim_start_matches('/').to_string(),
    };
    if rel.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(&rel);
    for c in path.components() {
        match c {
            Component::Normal(part) => {
                if part.to_string_lossy().starts_with(".wh.") {
                    return Err(unsafe_entry(
                        name,
                        "whiteout entries are not supported here",
                    ));
                }
            }
            Component::CurDir => {}
            _ => {
                return Err(unsafe_entry(
                    name,
                    "path leaves the target ('..' or a root component)",
                ));
            }
        }
    }
    Ok(Some(path))
}

/// Creates the parents of `rel` under `target`, refusing to pass through a symlink.
fn prepare_parents(
    target: &Path,
    rel: &Path,
    name: &str,
    dirs: &mut HashSet<PathBuf>,
) -> Result<()> {
    let mut cur = target.to_path_buf();
    let mut cur_rel = PathBuf::new();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            cur_rel.push(c);
            if dirs.contains(&cur_rel) {
                continue;
            }
            match std::fs::symlink_metadata(&cur) {
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(unsafe_entry(
                        name,
                        format!("path goes through the symlink '{}'", cur.display()),
                    ));
                }
                Ok(md) if md.is_dir() => {}
                Ok(_) => {
                    return Err(unsafe_entry(
                        name,
                        format!("'{}' is not a directory", cur.display()),
                    ));
                }
                Err(_) => create_dir(&cur)?,
            }
            dirs.insert(cur_rel.clone());
        }
    }
    Ok(())
}

/// Creates a directory; one another extraction (of a layer sharing parents) created meanwhile
/// is fine, a symlink in its place is not.
fn create_dir(path: &Path) -> Result<()> {
    match std::fs::create_dir(path) {
        Err(e)
            if e.kind() == std::io::ErrorKind::AlreadyExists
                && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) =>
        {
            Ok(())
        }
        r => r.map_err(io("create", path)),
    }
}

/// Whether a symlink at `rel` pointing at `link` resolves outside the target.
fn link_escapes(rel: &Path, link: &str, prefix: Option<&str>) -> bool {
    let (mut stack, rest): (Vec<String>, &str) = if let Some(abs) = link.strip_prefix('/') {
        match prefix
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
        {
            Some(p) => match abs.strip_prefix(p) {
                Some(r) if r.is_empty() || r.starts_with('/') => (Vec::new(), r),
                _ => return true,
            },
            None => (Vec::new(), abs),
        }
    } else {
        let base = rel.parent().map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        });
        (base.unwrap_or_default(), link)
    };
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return true;
                }
            }
            p => stack.push(p.to_string()),
        }
    }
    false
}

fn remove_existing(path: &Path, name: &str) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => Err(unsafe_entry(name, "a directory is in the way")),
        Ok(_) => std::fs::remove_file(path).map_err(io("remove", path)),
        Err(_) => Ok(()),
    }
}

fn extract_entry<R: Read>(
    entry: &mut tar::Entry<R>,
    target: &Path,
    opts: &ExtractOptions,
    state: &mut State,
) -> Result<bool> {
    let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let prefix = opts.prefix.as_deref();
    let Some(rel) = map_name(&name, prefix)? else {
        return Ok(false);
    };
    prepare_parents(target, &rel, &name, &mut state.dirs)?;
    let dest = target.join(&rel);
    let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
    match entry.header().entry_type() {
        EntryType::Directory => {
            match std::fs::symlink_metadata(&dest) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => return Err(unsafe_entry(&name, "a non-directory is in the way")),
                Err(_) => create_dir(&dest)?,
            }
            set_mode(&dest, mode)?;
            state.dirs.insert(rel.clone());
        }
        EntryType::Regular | EntryType::Continuous => {
            let mut file = create_file(&dest, &name)?;
            copy(entry, &mut file, &mut state.buf).map_err(io("write", &dest))?;
            set_file_mode(&file, &dest, mode)?;
        }
        EntryType::Symlink => {
            let link = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| unsafe_entry(&name, "symlink without a target"))?;
            if link_escapes(&rel, &link, prefix) {
                return Err(unsafe_entry(
                    &name,
                    format!("symlink to '{link}' points outside the target"),
                ));
            }
            remove_existing(&dest, &name)?;
            cnb_os::symlink(Path::new(&link), &dest)
                .map_err(|e| unsafe_entry(&name, e.to_string()))?;
        }
        EntryType::Link => {
            let link = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| unsafe_entry(&name, "hard link without a target"))?;
            let source_rel = map_name(&link, prefix)
                .map_err(|_| {
                    unsafe_entry(
                        &name,
                        format!("hard link to '{link}' points outside the target"),
                    )
                })?
                .ok_or_else(|| unsafe_entry(&name, "hard link to the target itself"))?;
            prepare_parents(target, &source_rel, &name, &mut state.dirs)?;
            let source = target.join(&source_rel);
            match std::fs::symlink_metadata(&source) {
                Ok(md) if md.is_file() => {}
                _ => {
                    return Err(unsafe_entry(
                        &name,
                        format!("hard link to '{link}', which is not an extracted file"),
                    ));
                }
            }
            remove_existing(&dest, &name)?;
            std::fs::hard_link(&source, &dest).map_err(io("link", &dest))?;
        }
        other => {
            return Err(unsafe_entry(
                &name,
                format!("unsupported entry type {other:?}"),
            ));
        }
    }
    if let Some(owner) = opts.owner {
        chown(&dest, owner)?;
    }
    Ok(true)
}

/// `std::io::copy` with the caller's (larger) buffer.
fn copy(from: &mut impl Read, to: &mut impl Write, buf: &mut [u8]) -> std::io::Result<()> {
    loop {
        match from.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => to.write_all(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A new file at `path`. Whatever is there already (`create_new` does not follow a symlink, it
/// fails) is removed first unless it is a directory; looked at only then, since a fresh target
/// has nothing in the way.
fn create_file(path: &Path, name: &str) -> Result<std::fs::File> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            remove_existing(path, name)?;
            open().map_err(io("create", path))
        }
        r => r.map_err(io("create", path)),
    }
}

#[cfg(unix)]
fn set_file_mode(file: &std::fs::File, path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io("chmod", path))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &std::fs::File, _path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io("chmod", path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn chown(path: &Path, owner: Owner) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(owner.uid), Some(owner.gid)).map_err(io("chown", path))
}

#[cfg(not(unix))]
fn chown(_path: &Path, _owner: Owner) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_escape_rules() {
        let rel = Path::new("bp/layer/bin/x");
        assert!(!link_escapes(rel, "../lib/y", None));
        assert!(!link_escapes(rel, "../../../z", None));
        assert!(link_escapes(rel, "../../../../z", None));
        assert!(!link_escapes(rel, "/anything", None));
        assert!(!link_escapes(rel, "/layers/bp/other", Some("/layers")));
        assert!(link_escapes(rel, "/etc/passwd", Some("/layers")));
        assert!(link_escapes(rel, "/layersx/y", Some("/layers")));
        assert!(link_escapes(rel, "/layers/../etc", Some("/layers")));
    }

    #[test]
    fn name_mapping() {
        assert_eq!(
            map_name("/layers/bp/f", Some("/layers")).unwrap(),
            Some(PathBuf::from("bp/f"))
        );
        assert_eq!(
            map_name("layers/bp/", Some("/layers")).unwrap(),
            Some(PathBuf::from("bp"))
        );
        assert_eq!(map_name("/layers", Some("/layers")).unwrap(), None);
        assert_eq!(
            map_name("/tmp/", Some("/tmp/x/layers")).unwrap(),
            None,
            "an ancestor of the prefix"
        );
        assert!(map_name("/tmp/other", Some("/tmp/x/layers")).is_err());
        assert!(map_name("/etc/x", Some("/layers")).is_err());
        assert!(map_name("a/../../x", None).is_err());
        assert!(map_name("a/.wh.b", None).is_err());
        assert_eq!(map_name("./a/b", None).unwrap(), Some(PathBuf::from("a/b")));
    }
}
