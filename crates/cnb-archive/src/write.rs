//! Reproducible layer tars, hashed (and optionally gzip- or zstd-compressed and hashed again) as
//! they are written: one pass over the files, no temporary copy of the layer.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use gzp::ZWriter as _;
use gzp::deflate::Gzip;
use gzp::par::compress::{ParCompress, ParCompressBuilder};
use tar::{EntryType, Header};

use crate::error::io;
use crate::hash::HashingWriter;
use crate::offload::Offload;
use crate::{ArchiveError, Result};

/// 1980-01-01T00:00:01Z, the modification time of every entry (as upstream).
pub const NORMALIZED_MTIME: u64 = 315_532_801;

/// Numeric owner of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Owner {
    /// root:root.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// What the stream is turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// The plain tar (or nothing at all, when only the diffID is wanted).
    None,
    /// gzip at this level (1 = fastest, as upstream; 9 = smallest).
    Gzip(u32),
    /// zstd at this level (1 = fastest ... 19), with libzstd's worker threads.
    Zstd(i32),
}

/// The identities of a written layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
    /// sha256 of the bytes written out (equal to `diff_id` without compression).
    pub digest: String,
    /// Size of the bytes written out.
    pub size: u64,
}

enum Sink<W: Write + Send + 'static> {
    Plain(W),
    Gzip(Box<ParCompress<'static, Gzip, HashingWriter<W>>>),
    /// libzstd's workers compress; the output is hashed and written on a thread of its own.
    Zstd(Box<zstd::stream::write::Encoder<'static, Offload<HashingWriter<W>>>>),
    /// The encoder could not start; writing reports why.
    Failed(std::io::ErrorKind, String),
}

/// A zstd encoder with `threads` workers; at least one, so that the frames are the same whatever
/// the count (0 would be libzstd's single-threaded mode, whose output differs).
fn zstd_sink<W: Write + Send + 'static>(out: W, level: i32, threads: usize) -> Sink<W> {
    let workers = u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
    let Ok(out) = Offload::new(HashingWriter::new(out)) else {
        return Sink::Failed(
            std::io::ErrorKind::Other,
            "start the zstd writer thread".into(),
        );
    };
    match zstd::stream::write::Encoder::new(out, level)
        .and_then(|mut e| e.multithread(workers).map(|()| e))
    {
        Ok(e) => Sink::Zstd(Box::new(e)),
        Err(e) => Sink::Failed(e.kind(), format!("start zstd: {e}")),
    }
}

impl<W: Write + Send + 'static> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
            Sink::Failed(kind, why) => Err(std::io::Error::new(*kind, why.clone())),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
            Sink::Failed(kind, why) => Err(std::io::Error::new(*kind, why.clone())),
        }
    }
}

/// The tar stream's first stop: the diffID hash, then the sink. Offloaded (a thread of its own)
/// when the layer is written somewhere, so that reading the files overlaps hashing and
/// compressing; inline when only the diffID is wanted (those are hashed one layer per core).
enum Stream<W: Write + Send + 'static> {
    Inline(HashingWriter<Sink<W>>),
    Offloaded(Offload<HashingWriter<Sink<W>>>),
}

/// Bytes read from a file at a time on the inline path (tar itself copies 8 KiB at a time).
const COPY_BUF: usize = 256 * 1024;

impl<W: Write + Send + 'static> Stream<W> {
    /// Copies `src` to its end; `buf` is the inline path's read buffer (kept across files).
    fn copy_from(
        &mut self,
        src: &mut dyn std::io::Read,
        buf: &mut Vec<u8>,
    ) -> std::io::Result<u64> {
        match self {
            Stream::Offloaded(o) => o.copy_from(src),
            Stream::Inline(w) => {
                buf.resize(COPY_BUF, 0);
                let mut total = 0u64;
                loop {
                    let n = match src.read(buf) {
                        Ok(0) => return Ok(total),
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    w.write_all(&buf[..n])?;
                    total += n as u64;
                }
            }
        }
    }

    fn finish(self) -> std::io::Result<HashingWriter<Sink<W>>> {
        match self {
            Stream::Inline(w) => Ok(w),
            Stream::Offloaded(o) => o.finish(),
        }
    }
}

impl<W: Write + Send + 'static> Write for Stream<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Inline(w) => w.write(buf),
            Stream::Offloaded(o) => o.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Inline(w) => w.flush(),
            Stream::Offloaded(o) => o.flush(),
        }
    }
}

/// Builds one layer. Entries are named by absolute in-image paths (`/layers/bp/layer/file`, as
/// upstream), with fixed mtimes and empty user/group names. Hard links are stored as regular files
/// (as upstream). Sockets, fifos and devices are skipped: upstream skips sockets only and writes
/// the others as entries its own extraction then refuses, failing the next restore of a cache.
pub struct LayerBuilder<W: Write + Send + 'static> {
    tar: tar::Builder<Stream<W>>,
    dirs: BTreeSet<String>,
    /// Read buffer of [`Stream::copy_from`] on the inline path.
    copy_buf: Vec<u8>,
}

impl LayerBuilder<std::io::Sink> {
    /// A builder that only computes the diffID (to check for reuse before compressing).
    pub fn hash_only() -> Self {
        Self::build(std::io::sink(), Compression::None, 1, false)
    }
}

/// Compression threads: one per core. The output does not depend on it: gzip blocks are
/// fixed-size and each is compressed with the previous block as its dictionary, as pigz does;
/// libzstd's multithreaded mode gives the same frames for any number (>= 1) of workers.
fn compression_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl<W: Write + Send + 'static> LayerBuilder<W> {
    /// A builder writing the (possibly compressed) tar to `out`.
    pub fn new(out: W, compression: Compression) -> Self {
        Self::with_threads(out, compression, compression_threads())
    }

    /// [`Self::new`] with an explicit number of compression threads (at least one).
    pub fn with_threads(out: W, compression: Compression, threads: usize) -> Self {
        Self::build(out, compression, threads, true)
    }

    /// `offload`: hash and compress on a thread of their own (see [`Stream`]).
    fn build(out: W, compression: Compression, threads: usize, offload: bool) -> Self {
        let sink = match compression {
            Compression::None => Sink::Plain(out),
            Compression::Gzip(level) => {
                let builder = ParCompressBuilder::<Gzip>::new()
                    .compression_level(gzp::Compression::new(level.min(9)));
                // num_threads only fails for 0, which max(1) rules out.
                let builder = match builder.num_threads(threads.max(1)) {
                    Ok(b) => b,
                    Err(_) => ParCompressBuilder::<Gzip>::new()
                        .compression_level(gzp::Compression::new(level.min(9))),
                };
                Sink::Gzip(Box::new(builder.from_writer(HashingWriter::new(out))))
            }
            Compression::Zstd(level) => zstd_sink(out, level, threads),
        };
        let hashing = HashingWriter::new(sink);
        let stream = if offload {
            // Without a thread, the same bytes are written inline.
            Offload::new(hashing).map_or_else(Stream::Inline, Stream::Offloaded)
        } else {
            Stream::Inline(hashing)
        };
        Self::over(stream)
    }

    fn header(kind: EntryType, mode: u32, owner: Owner, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode & 0o7777);
        h.set_uid(owner.uid.into());
        h.set_gid(owner.gid.into());
        h.set_mtime(NORMALIZED_MTIME);
        h.set_size(size);
        h
    }

    fn check(dest: &str) -> Result<()> {
        if dest.starts_with('/') {
            Ok(())
        } else {
            Err(ArchiveError::RelativeDestination(dest.to_string()))
        }
    }

    /// A directory entry (once per path).
    pub fn add_dir(&mut self, dest: &str, mode: u32, owner: Owner) -> Result<()> {
        Self::check(dest)?;
        let dest = dest.trim_end_matches('/');
        if dest.is_empty() || !self.dirs.insert(dest.to_string()) {
            return Ok(());
        }
        let mut h = Self::header(EntryType::Directory, mode, owner, 0);
        self.tar
            .append_data(&mut h, format!("{dest}/"), std::io::empty())
            .map_err(io("write tar entry", dest))
    }

    /// Directory entries for every ancestor of `dest`, outermost first, each once.
    pub fn add_parents(&mut self, dest: &str, mode: u32, owner: Owner) -> Result<()> {
        Self::check(dest)?;
        let mut prefix = String::new();
        let parts: Vec<&str> = dest.trim_matches('/').split('/').collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            prefix.push('/');
            prefix.push_str(part);
            self.add_dir(&prefix, mode, owner)?;
        }
        Ok(())
    }

    /// A regular file with the given content.
    pub fn add_bytes(&mut self, dest: &str, bytes: &[u8], mode: u32, owner: Owner) -> Result<()> {
        Self::check(dest)?;
        let mut h = Self::header(EntryType::Regular, mode, owner, bytes.len() as u64);
        self.tar
            .append_data(&mut h, dest, bytes)
            .map_err(io("write tar entry", dest))
    }

    /// A regular file copied from `src`; `mode` overrides the file's own.
    pub fn add_file(
        &mut self,
        src: &Path,
        dest: &str,
        mode: Option<u32>,
        owner: Owner,
    ) -> Result<()> {
        Self::check(dest)?;
        let mut file = std::fs::File::open(src).map_err(io("open", src))?;
        let md = file.metadata().map_err(io("stat", src))?;
        let mode = mode.unwrap_or_else(|| mode_of(&md));
        let mut h = Self::header(EntryType::Regular, mode, owner, md.len());
        // The header (and a long-name entry when needed) through tar with no data (tar adds no
        // padding after 0 bytes), then the data in large reads and the padding as tar writes
        // them: the same bytes as `append_data(.., file)`, without its 8 KiB copy loop.
        self.tar
            .append_data(&mut h, dest, std::io::empty())
            .map_err(io("write tar entry", dest))?;
        let stream = self.tar.get_mut();
        let len = stream
            .copy_from(&mut file, &mut self.copy_buf)
            .map_err(io("read", src))?;
        let pad = (512 - len % 512) % 512;
        stream
            .write_all(&[0; 512][..pad as usize])
            .map_err(io("read", src))
    }

    /// A symlink at `dest` pointing to `target` (kept as written).
    pub fn add_symlink(&mut self, dest: &str, target: &str, owner: Owner) -> Result<()> {
        Self::check(dest)?;
        let mut h = Self::header(EntryType::Symlink, 0o777, owner, 0);
        self.tar
            .append_link(&mut h, dest, target)
            .map_err(io("write tar entry", dest))
    }

    /// One file system entry (dir, regular file or symlink; anything else is skipped) as `dest`.
    pub fn add_path(&mut self, src: &Path, dest: &str, owner: Owner) -> Result<()> {
        let md = std::fs::symlink_metadata(src).map_err(io("stat", src))?;
        let ft = md.file_type();
        if ft.is_dir() {
            self.add_dir(dest, mode_of(&md), owner)
        } else if ft.is_symlink() {
            let target = std::fs::read_link(src).map_err(io("read link", src))?;
            self.add_symlink(dest, &target.to_string_lossy(), owner)
        } else if ft.is_file() {
            self.add_file(src, dest, None, owner)
        } else {
            Ok(())
        }
    }

    /// The directory `src` as `dest` and everything below it, in sorted order, owned by `owner`.
    /// Ancestors of `dest` are emitted first with the owner and mode of the matching on-disk
    /// ancestors of `src` (root 0755 where there is none).
    pub fn add_tree(&mut self, src: &Path, dest: &str, owner: Owner) -> Result<()> {
        Self::check(dest)?;
        let dest = dest.trim_end_matches('/');
        let mut ancestors: Vec<&str> = Vec::new();
        let mut cur = dest;
        while let Some(i) = cur.rfind('/') {
            cur = &cur[..i];
            if cur.is_empty() {
                break;
            }
            ancestors.push(cur);
        }
        let mut on_disk = src.parent();
        let mut pairs = Vec::new();
        for a in &ancestors {
            pairs.push((*a, on_disk.and_then(|p| std::fs::metadata(p).ok())));
            on_disk = on_disk.and_then(Path::parent);
        }
        for (a, md) in pairs.into_iter().rev() {
            let (mode, o) = md
                .map(|m| (mode_of(&m), owner_of(&m)))
                .unwrap_or((0o755, Owner::ROOT));
            self.add_dir(a, mode, o)?;
        }
        for entry in walkdir::WalkDir::new(src)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| cnb_os::IoError::walk("walk", src, e))?;
            let rel = entry.path().strip_prefix(src).unwrap_or(entry.path());
            let rel = rel.to_string_lossy().replace('\\', "/");
            let name = if rel.is_empty() {
                dest.to_string()
            } else {
                format!("{dest}/{rel}")
            };
            let ft = entry.file_type();
            if ft.is_dir() {
                let md = entry
                    .metadata()
                    .map_err(|e| cnb_os::IoError::walk("stat", entry.path(), e))?;
                self.add_dir(&name, mode_of(&md), owner)?;
            } else if ft.is_symlink() {
                let target =
                    std::fs::read_link(entry.path()).map_err(io("read link", entry.path()))?;
                self.add_symlink(&name, &target.to_string_lossy(), owner)?;
            } else if ft.is_file() {
                self.add_file(entry.path(), &name, None, owner)?;
            }
        }
        Ok(())
    }

    /// Ends the tar and the compression, returning the writer and the layer's digests.
    pub fn finish(self) -> Result<(W, LayerDigests)> {
        let stream = self.tar.into_inner().map_err(io("finish tar", ""))?;
        let hashing = stream.finish().map_err(io("write layer", ""))?;
        let (sink, diff_id, uncompressed_size) = hashing.finish();
        // The compressed stream's writer, digest and size (an uncompressed layer is its own).
        let (w, digest, size) = match sink {
            Sink::Plain(w) => (w, diff_id.clone(), uncompressed_size),
            Sink::Zstd(enc) => {
                let offloaded = enc.finish().map_err(io("finish zstd", ""))?;
                offloaded.finish().map_err(io("write layer", ""))?.finish()
            }
            Sink::Failed(kind, why) => {
                return Err(io("write layer", "")(std::io::Error::new(kind, why)));
            }
            Sink::Gzip(mut enc) => enc
                .finish()
                .map_err(|e| io("finish gzip", "")(std::io::Error::other(e)))?
                .finish(),
        };
        let digests = LayerDigests {
            diff_id,
            uncompressed_size,
            digest,
            size,
        };
        Ok((w, digests))
    }
}

impl<W: Write + Send + 'static> LayerBuilder<W> {
    /// A builder writing the plain tar to `out` without hashing it, for a caller that knows the
    /// diffID already (the cache dir rewrites layers the export just hashed): `finish` gives
    /// empty digests and the sizes.
    pub fn unhashed(out: W) -> Self {
        // Inline: with no hash, the stream is only copied, which costs less than a hand-over.
        let stream = Stream::Inline(HashingWriter::counting(Sink::Plain(out)));
        Self::over(stream)
    }

    /// A builder writing its tar (absolute names kept, symlinks stored as links) to `stream`.
    fn over(stream: Stream<W>) -> Self {
        let mut tar = tar::Builder::new(stream);
        tar.preserve_absolute(true);
        tar.follow_symlinks(false);
        Self {
            tar,
            dirs: BTreeSet::new(),
            copy_buf: Vec::new(),
        }
    }
}

#[cfg(unix)]
fn mode_of(md: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(md: &std::fs::Metadata) -> u32 {
    if md.is_dir() { 0o755 } else { 0o644 }
}

#[cfg(unix)]
fn owner_of(md: &std::fs::Metadata) -> Owner {
    use std::os::unix::fs::MetadataExt;
    Owner {
        uid: md.uid(),
        gid: md.gid(),
    }
}

#[cfg(not(unix))]
fn owner_of(_md: &std::fs::Metadata) -> Owner {
    Owner::ROOT
}
