//! Reading and atomically writing TOML and JSON, with errors that name the key.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{FormatError, Result};

/// Parses TOML text; `origin` names the file in errors.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T> {
    let de = toml::de::Deserializer::parse(text).map_err(|e| FormatError::Invalid {
        path: origin.to_path_buf(),
        key: String::new(),
        message: e.message().to_string(),
        line: e.span().map(|s| line_of(text, s.start)),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        FormatError::Invalid {
            path: origin.to_path_buf(),
            key,
            message: inner.message().to_string(),
            line: inner.span().map(|s| line_of(text, s.start)),
        }
    })
}

/// Parses JSON text (a label value); `origin` names it in errors.
pub fn parse_json<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        FormatError::Invalid {
            path: origin.into(),
            key,
            message: strip_position(&inner),
            line: Some(inner.line()),
        }
    })
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Reads and parses a TOML file.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| FormatError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, path)
}

/// Reads a TOML file, or `None` when it does not exist (files upstream treats as optional).
pub fn read_toml_if_exists<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_toml(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FormatError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads and parses a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| FormatError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_json(&text, &path.to_string_lossy())
}

/// Encodes a value as TOML.
pub fn to_toml_string<T: Serialize>(value: &T) -> Result<String> {
    toml::to_string(value).map_err(|e| FormatError::Encode {
        what: std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("value")
            .to_string(),
        message: e.to_string(),
    })
}

/// Writes a value as TOML, atomically.
pub fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, to_toml_string(value)?.as_bytes())
}

/// Removes temp files of writers that no longer run (SIGKILLed before their rename), so a killed
/// phase leaves nothing behind once the next one writes here. A writer is known gone when procfs
/// is there and has no entry for its pid; without procfs nothing is removed. Best effort.
fn remove_stale_temps(dir: &Path) {
    cnb_os::remove_stale_pid_entries(dir, ".tmp-", |p| std::fs::remove_file(p));
}

/// Writes bytes to `path` through a temp file in the same directory and a rename, so readers
/// never see a partial file. Parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| FormatError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    remove_stale_temps(dir);
    // Not `tempfile`: its files are 0600, and these files are read by other users (the build
    // user, the platform copying report.toml out).
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}
