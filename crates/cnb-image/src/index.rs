//! Adding one saved image to a multi-arch index: the entry for the same platform is replaced,
//! every other entry is kept.
//!
//! Builds of different architectures may finish together on different machines and all write
//! the same index. A layout gives exclusive access (a file lock), so one read-modify-write is
//! enough. A registry has no compare-and-swap on tags, so a writer that read the index before
//! ours landed can put back an index without our entry. There we read the index back after
//! writing, wait for a settle window longer than a writer's read-modify-write, read it again,
//! and start over (with jittered backoff, a bounded number of times) whenever our entry is gone.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use crate::backend::{Blob, BlobData, BlobStore, RawManifest};
use crate::oci::{self, Descriptor, Index, Manifest, Platform};
use crate::target::Target;
use crate::{Digest, ImageError, ImageRef, Result};

/// How patiently to retry when other writers replace the index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Read-modify-write rounds in all before giving up.
    pub attempts: u32,
    /// Upper bound of the first backoff; doubled each round (full jitter).
    pub initial_backoff: Duration,
    /// Upper bound of any backoff.
    pub max_backoff: Duration,
    /// Shortest wait before the confirming read (registries only); the wait is also at least
    /// four times our own read-modify-write, so slower registries wait longer.
    pub min_settle: Duration,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            attempts: 20,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            min_settle: Duration::from_millis(250),
        }
    }
}

/// How the index ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOutcome {
    /// Our entry is in the index with this digest.
    Added {
        /// The index digest as last read with our entry in it.
        digest: Digest,
        /// Entries in that index.
        children: usize,
        /// Read-modify-write rounds it took.
        attempts: u32,
    },
    /// A build of the same platform we had never seen replaced our entry after we wrote it:
    /// a concurrent build of the same platform; the later one wins, as with a plain tag.
    Superseded {
        /// The index digest as last read.
        digest: Digest,
        /// The entry that replaced ours.
        by: Digest,
    },
}

/// Adds the image `manifest` (saved under `image`, of platform `target`) to the index `index`:
/// copies the image into the index's repository or layout when it lives elsewhere (by
/// reference: a mount or hard link), then edits the index.
pub fn add_to_index(
    store: &dyn BlobStore,
    index: &str,
    image: &str,
    manifest: &RawManifest,
    target: &Target,
    options: &IndexOptions,
) -> Result<IndexOutcome> {
    let index_ref = ImageRef::parse(index)?;
    if index_ref.digest.is_some() {
        return Err(ImageError::InvalidReference {
            reference: index.to_string(),
            reason: "an index is written by tag, not by digest".into(),
        });
    }
    copy_child(store, &index_ref, image, manifest)?;
    let entry = entry_for(manifest, target);
    let lock = store.lock(index)?;
    // Digests of our platform that we saw before writing: if one comes back after our write,
    // a stale writer put it back and ours must be added again.
    let mut seen_ours: HashSet<Digest> = HashSet::new();
    for attempt in 1..=options.attempts.max(1) {
        let started = Instant::now();
        let current = read_index(store, index)?;
        if let Some(i) = &current {
            seen_ours.extend(same_platform(i, target).filter(|d| *d != manifest.digest));
        }
        let updated = with_entry(current.clone(), &entry, target);
        let bytes = serialise(&updated, index)?;
        let written = RawManifest {
            digest: Digest::of(&bytes),
            media_type: updated
                .media_type
                .clone()
                .unwrap_or_else(|| oci::OCI_INDEX.into()),
            bytes,
        };
        if current.as_ref() != Some(&updated) {
            store.put_manifest(index, &written)?;
        }
        if lock.is_some() {
            return Ok(IndexOutcome::Added {
                digest: written.digest,
                children: updated.manifests.len(),
                attempts: attempt,
            });
        }
        // Any writer that read before our write landed finishes its own write within about one
        // read-modify-write; wait several of ours, then look again.
        let settle = options.min_settle.max(started.elapsed() * 4);
        std::thread::sleep(settle + jitter(settle / 2));
        let (now, digest) = match read_index_raw(store, index)? {
            Some(v) => v,
            None => continue,
        };
        match presence(&now, &manifest.digest, target, &seen_ours) {
            Presence::Ours => {
                return Ok(IndexOutcome::Added {
                    digest,
                    children: now.manifests.len(),
                    attempts: attempt,
                });
            }
            Presence::Newer(by) => return Ok(IndexOutcome::Superseded { digest, by }),
            Presence::Missing => {
                let cap = options
                    .initial_backoff
                    .saturating_mul(1 << attempt.min(16))
                    .min(options.max_backoff);
                std::thread::sleep(jitter(cap));
            }
        }
    }
    Err(ImageError::IndexContention {
        index: index.to_string(),
        platform: target.to_string(),
        attempts: options.attempts.max(1),
    })
}

/// The index's children must live in its own repository (a registry) or layout: link the
/// image's blobs there and store its manifest by digest. Nothing moves when they share one.
fn copy_child(
    store: &dyn BlobStore,
    index: &ImageRef,
    image: &str,
    manifest: &RawManifest,
) -> Result<()> {
    let parsed: Manifest =
        serde_json::from_slice(&manifest.bytes).map_err(|e| ImageError::Invalid {
            what: "manifest",
            reference: image.to_string(),
            reason: e.to_string(),
        })?;
    let blobs: Vec<Blob> = std::iter::once(&parsed.config)
        .chain(&parsed.layers)
        .map(|d| Blob {
            digest: d.digest.clone(),
            size: d.size,
            data: BlobData::Remote {
                from: image.to_string(),
            },
        })
        .collect();
    // `repo:tag@digest` stores content only: the tag names the layout (or repository) and the
    // digest the manifest, so the tag itself is not moved.
    let tag = index.tag.as_deref().unwrap_or("latest");
    let by_digest = format!("{}:{tag}@{}", index.name(), manifest.digest);
    store.put_blobs(&by_digest, &blobs)?;
    store.put_manifest(&by_digest, manifest)
}

fn entry_for(manifest: &RawManifest, target: &Target) -> Descriptor {
    let mut d = Descriptor::new(
        &manifest.media_type,
        manifest.digest.clone(),
        manifest.bytes.len() as u64,
    );
    d.platform = Some(Platform {
        architecture: target.arch.clone(),
        os: target.os.clone(),
        os_version: target.os_version.clone(),
        variant: target.variant.clone(),
    });
    d
}

/// Whether an entry is for `target`: os, architecture and variant after normalisation, and
/// os.version (Windows builds of different versions live side by side in one index).
fn is_platform(entry: &Descriptor, target: &Target) -> bool {
    entry.platform.as_ref().map(Platform::target).as_ref() == Some(target)
}

fn same_platform<'a>(index: &'a Index, target: &'a Target) -> impl Iterator<Item = Digest> + 'a {
    index
        .manifests
        .iter()
        .filter(move |m| is_platform(m, target))
        .map(|m| m.digest.clone())
}

/// The index with `entry` in place of any entry of the same platform; the others keep their
/// order, annotations and media types. A new index is an OCI index.
fn with_entry(current: Option<Index>, entry: &Descriptor, target: &Target) -> Index {
    let mut index = current.unwrap_or(Index {
        schema_version: 2,
        media_type: Some(oci::OCI_INDEX.into()),
        manifests: Vec::new(),
        annotations: BTreeMap::new(),
        extra: BTreeMap::new(),
    });
    // Ours takes the place of the first entry of its platform; any further ones (an index
    // written by a tool that allowed duplicates) go, so the platform resolves to ours.
    let mut placed = false;
    index.manifests = std::mem::take(&mut index.manifests)
        .into_iter()
        .filter_map(|m| match is_platform(&m, target) {
            false => Some(m),
            true if placed => None,
            true => {
                placed = true;
                Some(entry.clone())
            }
        })
        .collect();
    if !placed {
        index.manifests.push(entry.clone());
    }
    index
}

enum Presence {
    Ours,
    Newer(Digest),
    Missing,
}

fn presence(index: &Index, ours: &Digest, target: &Target, seen: &HashSet<Digest>) -> Presence {
    let mut newer = None;
    for d in same_platform(index, target) {
        if &d == ours {
            return Presence::Ours;
        }
        if !seen.contains(&d) {
            newer = Some(d);
        }
    }
    newer.map_or(Presence::Missing, Presence::Newer)
}

fn read_index(store: &dyn BlobStore, name: &str) -> Result<Option<Index>> {
    Ok(read_index_raw(store, name)?.map(|(i, _)| i))
}

fn read_index_raw(store: &dyn BlobStore, name: &str) -> Result<Option<(Index, Digest)>> {
    let Some(raw) = store.manifest(name)? else {
        return Ok(None);
    };
    if !oci::is_index(&raw.media_type) {
        return Err(ImageError::NotAnIndex(name.to_string()));
    }
    let index: Index = serde_json::from_slice(&raw.bytes).map_err(|e| ImageError::Invalid {
        what: "index",
        reference: name.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Some((index, raw.digest)))
}

fn serialise(index: &Index, name: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(index).map_err(|e| ImageError::Invalid {
        what: "index",
        reference: name.to_string(),
        reason: e.to_string(),
    })
}

/// A random duration in `[0, max)`: writers that collided once must not collide again in step.
fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded randomly per process (and moves on per instance): enough for
    // spreading retries, no extra dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    max.mul_f64(h.finish() as f64 / u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seed: &str, t: &Target) -> Descriptor {
        let raw = RawManifest {
            bytes: seed.as_bytes().to_vec(),
            media_type: oci::OCI_MANIFEST.into(),
            digest: Digest::of(seed.as_bytes()),
        };
        entry_for(&raw, t)
    }

    #[test]
    fn replaces_the_same_platform_and_keeps_the_others() {
        let amd = Target::new("linux", "x86_64", None);
        let arm = Target::new("linux", "aarch64", None);
        let v6 = Target::new("linux", "arm", Some("v6"));
        let mut index = with_entry(None, &entry("a1", &amd), &amd);
        index = with_entry(Some(index), &entry("r1", &arm), &arm);
        index = with_entry(Some(index), &entry("v6", &v6), &v6);
        index = with_entry(Some(index), &entry("a2", &amd), &amd);
        let digests: Vec<Digest> = index.manifests.iter().map(|m| m.digest.clone()).collect();
        assert_eq!(
            digests,
            vec![Digest::of(b"a2"), Digest::of(b"r1"), Digest::of(b"v6")]
        );
        // Duplicates of the platform (another tool's doing) go, so it resolves to ours.
        let mut dup = index.clone();
        dup.manifests.push(entry("a3", &amd));
        let dup = with_entry(Some(dup), &entry("a4", &amd), &amd);
        assert_eq!(dup.manifests.len(), 3);
        assert_eq!(dup.manifests[0].digest, Digest::of(b"a4"));
        // arm64 is written with its normalised variant.
        assert_eq!(
            index.manifests[1]
                .platform
                .as_ref()
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
    }

    #[test]
    fn an_entry_put_back_by_a_stale_writer_is_missing_not_newer() {
        let amd = Target::new("linux", "amd64", None);
        let old = entry("old", &amd);
        let index = with_entry(None, &old, &amd);
        let seen: HashSet<Digest> = [old.digest.clone()].into();
        assert!(matches!(
            presence(&index, &Digest::of(b"new"), &amd, &seen),
            Presence::Missing
        ));
        assert!(matches!(
            presence(&index, &Digest::of(b"new"), &amd, &HashSet::new()),
            Presence::Newer(_)
        ));
        assert!(matches!(
            presence(&index, &old.digest, &amd, &seen),
            Presence::Ours
        ));
    }

    /// A registry-like store (no lock) where every index write is followed at once by another
    /// writer's: `then` replaces whatever we wrote. Blobs and child manifests are accepted.
    struct Racing {
        current: std::sync::Mutex<Option<RawManifest>>,
        then: Option<Index>,
    }

    fn raw_index(index: &Index) -> RawManifest {
        let bytes = serde_json::to_vec(index).unwrap();
        RawManifest {
            digest: Digest::of(&bytes),
            media_type: oci::OCI_INDEX.into(),
            bytes,
        }
    }

    impl BlobStore for Racing {
        fn manifest(&self, _: &str) -> Result<Option<RawManifest>> {
            Ok(self.current.lock().unwrap().clone())
        }
        fn manifest_by_digest(&self, name: &str, _: &Digest) -> Result<RawManifest> {
            Err(ImageError::NotFound(name.into()))
        }
        fn blob(&self, name: &str, _: &Digest) -> Result<Box<dyn std::io::Read + Send>> {
            Err(ImageError::NotFound(name.into()))
        }
        fn has_blob(&self, _: &str, _: &Digest) -> Result<bool> {
            Ok(true)
        }
        fn put_blobs(&self, _: &str, _: &[Blob]) -> Result<()> {
            Ok(())
        }
        fn put_blob_stream(&self, _: &str, _: &mut dyn std::io::Read) -> Result<(Digest, u64)> {
            Ok((Digest::of(b""), 0))
        }
        fn put_manifest(&self, name: &str, m: &RawManifest) -> Result<()> {
            if name.contains('@') {
                return Ok(());
            }
            *self.current.lock().unwrap() = Some(match &self.then {
                Some(i) => raw_index(i),
                None => m.clone(),
            });
            Ok(())
        }
        fn identifier(&self, name: &str, digest: &Digest) -> Result<String> {
            Ok(format!("{name}@{digest}"))
        }
    }

    fn app_manifest(seed: &str) -> RawManifest {
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":1}},"layers":[]}}"#,
            oci::OCI_MANIFEST,
            oci::OCI_CONFIG,
            Digest::of(seed.as_bytes())
        )
        .into_bytes();
        RawManifest {
            digest: Digest::of(&bytes),
            media_type: oci::OCI_MANIFEST.into(),
            bytes,
        }
    }

    fn quick() -> IndexOptions {
        IndexOptions {
            attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            min_settle: Duration::from_millis(1),
        }
    }

    /// Adds the amd64 app image to the index `r.test/app:1`, as every race below does.
    fn add_amd64(store: &Racing) -> Result<IndexOutcome> {
        let amd = Target::new("linux", "amd64", None);
        let app = app_manifest("a");
        add_to_index(
            store,
            "r.test/app:1",
            "r.test/app:amd",
            &app,
            &amd,
            &quick(),
        )
    }

    #[test]
    fn gives_up_naming_the_index_when_writers_keep_dropping_the_entry() {
        let arm = Target::new("linux", "arm64", None);
        // The other writer's index holds only arm64, whatever we write.
        let theirs = with_entry(None, &entry("arm", &arm), &arm);
        let store = Racing {
            current: std::sync::Mutex::new(None),
            then: Some(theirs),
        };
        let err = add_amd64(&store).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gave up adding linux/amd64 to index 'r.test/app:1' after 3 attempts: concurrent writers kept replacing the index"
        );
    }

    #[test]
    fn a_build_of_the_same_platform_written_after_ours_wins() {
        let amd = Target::new("linux", "amd64", None);
        let newer = entry("newer amd64 build", &amd);
        let store = Racing {
            current: std::sync::Mutex::new(None),
            then: Some(with_entry(None, &newer, &amd)),
        };
        let out = add_amd64(&store).unwrap();
        assert!(
            matches!(&out, IndexOutcome::Superseded { by, .. } if *by == newer.digest),
            "{out:?}"
        );
    }

    #[test]
    fn a_single_image_under_the_tag_is_not_an_index() {
        let store = Racing {
            current: std::sync::Mutex::new(Some(app_manifest("single"))),
            then: None,
        };
        let err = add_amd64(&store).unwrap_err();
        assert!(matches!(err, ImageError::NotAnIndex(_)), "{err}");
    }

    #[test]
    fn jitter_stays_below_its_bound() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
