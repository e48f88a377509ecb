//! `lifecycle-v<version>+<os>.<arch>.tgz`: `lifecycle/` with every binary of a bin dir and
//! `lifecycle.toml`, sorted, owned by 0:0 with a fixed mtime, so the same binaries give the same
//! bytes.

use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

const MTIME: u64 = 315_532_801;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(size);
    h
}

/// The binaries of `bin_dir`, sorted by name.
pub fn binaries(bin_dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut files: Vec<_> = std::fs::read_dir(bin_dir)
        .map_err(|e| format!("{}: {e}", bin_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: no binaries (run make build-<os>-<arch> first)",
            bin_dir.display()
        ));
    }
    Ok(files)
}

/// Writes the package.
pub fn package(bin_dir: &Path, out: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", out.display());
    let tmp = out.with_extension("tgz.tmp");
    let file = std::fs::File::create(&tmp).map_err(err)?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    tar.append_data(
        &mut header(tar::EntryType::Directory, 0o755, 0),
        "lifecycle/",
        std::io::empty(),
    )
    .map_err(err)?;
    let descriptor = crate::descriptor::toml();
    let mut entries: Vec<(String, Vec<u8>, u32)> =
        vec![("lifecycle.toml".into(), descriptor.into_bytes(), 0o644)];
    for p in binaries(bin_dir)? {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        entries.push((name, bytes, 0o755));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, bytes, mode) in entries {
        let mut h = header(tar::EntryType::Regular, mode, bytes.len() as u64);
        tar.append_data(&mut h, format!("lifecycle/{name}"), &bytes[..])
            .map_err(err)?;
    }
    tar.into_inner().and_then(|gz| gz.finish()).map_err(err)?;
    std::fs::rename(&tmp, out).map_err(err)
}
