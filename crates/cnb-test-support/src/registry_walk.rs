//! Walks everything a plain-HTTP registry holds (catalog, every tag, every manifest and index
//! child, every blob they name) straight from the registry, so a test can assert after a run
//! that no tag points at an image whose parts are missing.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// An answer: status and body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
}

/// One HTTP/1.0 request (so the answer is never chunked and ends with the connection).
pub fn request(host: &str, method: &str, path: &str, auth: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\nAccept: {ACCEPT}\r\n{auth}\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(all.len());
    let head = String::from_utf8_lossy(&all[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        body: all.get(end + 4..).unwrap_or_default().to_vec(),
    }
}

fn json(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body).unwrap_or(Value::Null)
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Tags walked (`repo:tag`).
    pub tags: Vec<String>,
    /// Manifests and indexes checked.
    pub manifests: usize,
    /// Blob references checked.
    pub blobs: usize,
    /// Every broken reference, one line each.
    pub problems: Vec<String>,
}

/// [`walk`], then every manifest revision the storage holds, tagged or not (what a failed run
/// may have left behind), each checked by digest.
pub fn walk_all(host: &str, auth: Option<&str>, storage: &std::path::Path) -> Walk {
    let mut w = walk(host, auth);
    for (repo, digest) in revisions(storage) {
        check_manifest(host, auth, &repo, &digest, Some(&digest), &mut w);
    }
    w
}

/// Every `(repository, digest)` manifest revision in a `docker-registry` storage root.
pub fn revisions(storage: &std::path::Path) -> BTreeSet<(String, String)> {
    links(storage, "_manifests/revisions")
}

/// Walks every repository and tag of the registry at `host`.
pub fn walk(host: &str, auth: Option<&str>) -> Walk {
    let mut walk = Walk::default();
    let catalog = json(&request(host, "GET", "/v2/_catalog?n=1000", auth));
    let repos: Vec<String> = catalog["repositories"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for repo in repos {
        let tags = json(&request(
            host,
            "GET",
            &format!("/v2/{repo}/tags/list"),
            auth,
        ));
        for tag in tags["tags"].as_array().into_iter().flatten() {
            let Some(tag) = tag.as_str() else { continue };
            walk.tags.push(format!("{repo}:{tag}"));
            check_manifest(host, auth, &repo, tag, None, &mut walk);
        }
    }
    walk
}

fn check_manifest(
    host: &str,
    auth: Option<&str>,
    repo: &str,
    reference: &str,
    expected: Option<&str>,
    walk: &mut Walk,
) {
    let answer = request(
        host,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        auth,
    );
    walk.manifests += 1;
    if answer.status != 200 {
        walk.problems.push(format!(
            "{repo}@{reference}: manifest answers {}",
            answer.status
        ));
        return;
    }
    let actual = cnb_image::Digest::of(&answer.body).to_string();
    if expected.is_some_and(|e| e != actual) {
        walk.problems
            .push(format!("{repo}@{reference}: content has digest {actual}"));
    }
    let m = json(&answer);
    if let Some(children) = m["manifests"].as_array() {
        for child in children {
            if let Some(d) = child["digest"].as_str() {
                check_manifest(host, auth, repo, d, Some(d), walk);
            }
        }
        return;
    }
    for d in references(&m) {
        walk.blobs += 1;
        let status = request(host, "HEAD", &format!("/v2/{repo}/blobs/{d}"), auth).status;
        if status != 200 {
            walk.problems
                .push(format!("{repo}@{reference}: blob {d} answers {status}"));
        }
    }
}

/// The config and layer digests of an image manifest.
fn references(m: &Value) -> Vec<String> {
    let mut out: Vec<String> = m["config"]["digest"]
        .as_str()
        .map(String::from)
        .into_iter()
        .collect();
    for l in m["layers"].as_array().into_iter().flatten() {
        if let Some(d) = l["digest"].as_str() {
            out.push(d.to_string());
        }
    }
    out
}

/// Every blob the image (or index) `repo:reference` needs.
pub fn blobs_of(host: &str, auth: Option<&str>, repo: &str, reference: &str) -> BTreeSet<String> {
    let answer = request(
        host,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        auth,
    );
    if answer.status != 200 {
        return BTreeSet::new();
    }
    let m = json(&answer);
    if let Some(children) = m["manifests"].as_array() {
        return children
            .iter()
            .filter_map(|c| c["digest"].as_str())
            .flat_map(|d| blobs_of(host, auth, repo, d))
            .collect();
    }
    references(&m).into_iter().collect()
}

/// Whether `repo` has the blob `digest`.
pub fn has_blob(host: &str, auth: Option<&str>, repo: &str, digest: &str) -> bool {
    request(host, "HEAD", &format!("/v2/{repo}/blobs/{digest}"), auth).status == 200
}

/// Every `(repository, digest)` blob link in a `docker-registry` storage root: what each
/// repository holds, read from disk, to tell what a later run had to upload.
pub fn linked_blobs(storage: &std::path::Path) -> BTreeSet<(String, String)> {
    links(storage, "_layers")
}

/// The `(repository, digest)` links under `<repo>/<under>/sha256/<hex>/link`.
fn links(storage: &std::path::Path, under: &str) -> BTreeSet<(String, String)> {
    let (first, rest) = under.split_once('/').unwrap_or((under, ""));
    let root = storage.join("docker/registry/v2/repositories");
    let mut out = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name() == first {
                let repo = dir
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                for hex in std::fs::read_dir(path.join(rest).join("sha256"))
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    if hex.path().join("link").exists() {
                        out.insert((
                            repo.clone(),
                            format!("sha256:{}", hex.file_name().to_string_lossy()),
                        ));
                    }
                }
            } else if path.is_dir() && !e.file_name().to_string_lossy().starts_with('_') {
                stack.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::image;
    use crate::registry::Registry;
    use cnb_image::registry::{RegistryOptions, RegistryStore};

    #[test]
    fn a_tag_whose_blob_is_gone_is_reported() {
        let reg = Registry::start();
        let store = RegistryStore::new(RegistryOptions {
            insecure_registries: vec![reg.host().into()],
            ..Default::default()
        })
        .unwrap();
        image(
            &cnb_image::Target::new("linux", "amd64", None),
            &[("/a", "a")],
            &[],
        )
        .save(&store, &[reg.image("cnb/a:latest")])
        .unwrap();
        let w = walk(reg.host(), None);
        assert_eq!(w.tags, ["cnb/a:latest"]);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let blobs = blobs_of(reg.host(), None, "cnb/a", "latest");
        assert_eq!(blobs.len(), 2, "config and one layer");
        assert_eq!(linked_blobs(reg.storage_dir()).len(), 2);
        assert_eq!(revisions(reg.storage_dir()).len(), 1);
        assert!(
            walk_all(reg.host(), None, reg.storage_dir())
                .problems
                .is_empty()
        );
        let layer = blobs.iter().next().unwrap();
        let deleted = request(
            reg.host(),
            "DELETE",
            &format!("/v2/cnb/a/blobs/{layer}"),
            None,
        );
        assert_eq!(deleted.status, 202);
        let w = walk_all(reg.host(), None, reg.storage_dir());
        assert_eq!(w.problems.len(), 2, "tag and revision: {:?}", w.problems);
        assert!(w.problems[0].contains(layer.as_str()), "{:?}", w.problems);
    }
}
