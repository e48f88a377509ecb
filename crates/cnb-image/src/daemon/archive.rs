//! The tarball formats of `docker load` and `docker save`: a `manifest.json` naming a config
//! file and one file per layer. A layer the daemon already holds (the same stack of layers below
//! it included) may be an empty placeholder: the daemon looks layers up by chain ID first.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Where one layer's bytes come from when writing a load archive.
#[derive(Debug, Clone)]
pub enum LayerFile {
    /// The daemon has this layer (and everything below it): an empty placeholder.
    Present,
    /// A tar or gzip'd tar on disk (`docker load` decompresses either).
    Path(PathBuf),
    /// Small content in memory.
    Bytes(Arc<[u8]>),
}

#[derive(Serialize, Deserialize)]
struct ArchiveManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    tar.append_data(&mut header, name, data)
}

/// Writes a `docker load` archive of one image: its config (named by its digest's hex), its
/// layers in order, and a manifest with `repo_tags`.
pub fn write_load_archive(
    out: impl Write,
    config: &[u8],
    config_hex: &str,
    repo_tags: &[String],
    layers: &[LayerFile],
) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let config_name = format!("{config_hex}.json");
    append(&mut tar, &config_name, config.len() as u64, config)?;
    let mut names = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let name = format!("layer-{i}.tar");
        match layer {
            LayerFile::Present => append(&mut tar, &name, 0, io::empty())?,
            LayerFile::Bytes(b) => append(&mut tar, &name, b.len() as u64, &b[..])?,
            LayerFile::Path(p) => {
                let f = File::open(p)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
                let size = f.metadata()?.len();
                append(&mut tar, &name, size, f)?;
            }
        }
        names.push(name);
    }
    let manifest = serde_json::to_vec(&[ArchiveManifest {
        config: config_name,
        repo_tags: Some(repo_tags.to_vec()),
        layers: names,
    }])
    .map_err(io::Error::other)?;
    append(
        &mut tar,
        "manifest.json",
        manifest.len() as u64,
        &manifest[..],
    )?;
    tar.into_inner()?.flush()
}

/// Unpacks a `docker save` stream of one image into `dir` and returns its config file and its
/// layer files in order (the legacy `<id>/layer.tar` form and the OCI form alike, through
/// `manifest.json`).
pub fn unpack_saved(input: impl Read, dir: &Path) -> io::Result<(PathBuf, Vec<PathBuf>)> {
    let mut archive = tar::Archive::new(input);
    // `unpack_in` refuses entries that would land outside `dir`.
    for entry in archive.entries()? {
        let mut entry = entry?;
        entry.unpack_in(dir)?;
    }
    let manifest: Vec<ArchiveManifest> =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)
            .map_err(|e| io::Error::other(format!("docker save manifest.json: {e}")))?;
    let first = manifest
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::other("docker save manifest.json lists no image"))?;
    let inside = |l: &str| {
        if Path::new(l)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(io::Error::other(format!(
                "docker save manifest.json names a file outside the archive: {l}"
            )));
        }
        Ok(dir.join(l))
    };
    let layers = first
        .layers
        .iter()
        .map(|l| inside(l))
        .collect::<io::Result<_>>()?;
    Ok((inside(&first.config)?, layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_archive_reads_back_as_a_saved_one() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("l.tar");
        std::fs::write(&layer, b"layer bytes").unwrap();
        let mut buf = Vec::new();
        write_load_archive(
            &mut buf,
            b"{}",
            "abc",
            &["x:latest".into()],
            &[
                LayerFile::Present,
                LayerFile::Path(layer),
                LayerFile::Bytes(Arc::from(&b"xy"[..])),
            ],
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let (config, layers) = unpack_saved(&buf[..], out.path()).unwrap();
        assert_eq!(layers.len(), 3);
        assert_eq!(std::fs::read(&layers[0]).unwrap(), b"");
        assert_eq!(std::fs::read(&layers[1]).unwrap(), b"layer bytes");
        assert_eq!(std::fs::read(&layers[2]).unwrap(), b"xy");
        assert_eq!(config, out.path().join("abc.json"));
        assert_eq!(std::fs::read(&config).unwrap(), b"{}");
    }

    #[test]
    fn a_saved_manifest_pointing_outside_is_refused() {
        let mut buf = Vec::new();
        {
            let mut tar = tar::Builder::new(&mut buf);
            let m = br#"[{"Config":"c.json","Layers":["../etc/passwd"]}]"#;
            append(&mut tar, "manifest.json", m.len() as u64, &m[..]).unwrap();
            tar.finish().unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        assert!(unpack_saved(&buf[..], out.path()).is_err());
    }
}
