//! Rebasing an app image that is an index (OCI index or Docker manifest list), our addition:
//! upstream's rebaser handles single images only. Every child goes through the single-image
//! rebase for its own platform; the new index is saved under every name only after every child is
//! stored (manifest last), so a refusal or a failure part way leaves the tags as they were.

use cnb_formats::report::{ChildReport, ImageReport, Report};
use cnb_image::oci::{Index, Manifest, Platform};
use cnb_image::{
    Blob, BlobData, BlobStore, Image, ImageBuilder, ImageError, RawManifest, Target, open_child,
    save_index,
};

use super::{Ctx, RebaseError, rebase_image};

/// The new index's entries: each child's manifest and platform.
type Listed = Vec<(RawManifest, Target)>;

/// One child of the new index.
enum Child {
    /// Rebased onto the new run image's child for its platform.
    Rebased(Box<ImageBuilder>),
    /// Kept on its old base (`-force` and no run image for its platform): copied as it is.
    Kept(Box<Image>),
}

/// Rebases every child of the app index `raw` (read from `ctx.app_name`) and saves the new index
/// under every name in `names`.
pub(super) fn rebase_index(
    ctx: &Ctx<'_>,
    names: Vec<String>,
    raw: RawManifest,
) -> Result<Report, RebaseError> {
    let index = read_index(ctx, &raw)?;
    // Every child is checked and rebased in memory before anything is written.
    let children = rebase_children(ctx, &index, &raw)?;
    let Some(first) = names.first().cloned() else {
        return Err(RebaseError::Save {
            name: String::new(),
            source: ImageError::Unsupported("no image name to save to".into()),
        });
    };
    let (listed, reports) = save_children(ctx, &first, &names, &children)?;
    let saved = save_index(ctx.store, &first, &listed).map_err(save_err(&first))?;
    for name in &names[1..] {
        save_index(ctx.store, name, &listed).map_err(save_err(&first))?;
    }
    log_saved(ctx, &names, &saved, &reports);
    Ok(Report {
        image: ImageReport {
            tags: names,
            image_id: String::new(),
            digest: saved.digest.to_string(),
            manifest_size: saved.bytes.len() as u64,
            children: reports,
            ..Default::default()
        },
        build: None,
    })
}

/// The app index in `raw`, which must list at least one image.
fn read_index(ctx: &Ctx<'_>, raw: &RawManifest) -> Result<Index, RebaseError> {
    let app_name = &ctx.app_name;
    let invalid = |reason: String| {
        RebaseError::AppImage(ImageError::Invalid {
            what: "index",
            reference: app_name.clone(),
            reason,
        })
    };
    let index: Index = serde_json::from_slice(&raw.bytes).map_err(|e| invalid(e.to_string()))?;
    if index.manifests.is_empty() {
        return Err(invalid("the index lists no images".into()));
    }
    if crate::target::from_flags(ctx.inputs).is_some() {
        // Picking one child would replace the index by a single image and drop the others.
        ctx.log.warn(format!(
            "'{app_name}' is an image index: every child is rebased for its own platform, -os/-arch/-arch-variant are not used"
        ));
    }
    Ok(index)
}

/// Every child of `index` rebased for its own platform, in memory; with `-force` a child with no
/// run image for its platform is kept on its old base, else every such child is named in one
/// refusal.
fn rebase_children(
    ctx: &Ctx<'_>,
    index: &Index,
    raw: &RawManifest,
) -> Result<Vec<(Target, Child)>, RebaseError> {
    let app_name = &ctx.app_name;
    let mut children: Vec<(Target, Child)> = Vec::new();
    let mut refused = Vec::new();
    for d in &index.manifests {
        let app = open_child(ctx.store, app_name, &d.digest, &raw.digest)
            .map_err(RebaseError::AppImage)?;
        // A puller selects by the index's platform; the config's is only a fallback.
        let target = d
            .platform
            .as_ref()
            .map(Platform::target)
            .unwrap_or_else(|| app.target());
        match rebase_image(ctx, &app, target.clone(), true) {
            Ok(image) => children.push((target, Child::Rebased(Box::new(image)))),
            Err(e @ RebaseError::NoRunImageFor { .. }) if ctx.force => {
                ctx.log.warn(format!(
                    "{e}: keeping the {target} child of '{app_name}' on its old base (-force)"
                ));
                children.push((target, Child::Kept(Box::new(app))));
            }
            Err(e @ RebaseError::NoRunImageFor { .. }) => {
                refused.push(format!("{target} child of app index '{app_name}': {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    if !refused.is_empty() {
        return Err(RebaseError::Refused(refused.join("; ")));
    }
    Ok(children)
}

/// Stores the children under the first name, then copies under every other name (each tag of a
/// layout is its own directory, each registry repository needs its own copy) whose blobs are
/// linked or mounted from the first. Returns the index entries and the children's reports.
fn save_children(
    ctx: &Ctx<'_>,
    first: &str,
    names: &[String],
    children: &[(Target, Child)],
) -> Result<(Listed, Vec<ChildReport>), RebaseError> {
    let save_err = save_err(first);
    let mut stored: Vec<(RawManifest, Manifest, String)> = Vec::new();
    let mut listed: Listed = Vec::new();
    let mut reports = Vec::new();
    for (target, child) in children {
        let (raw, manifest, from, rebased) = match child {
            Child::Rebased(image) => {
                let saved = image.save_untagged(ctx.store, first).map_err(&save_err)?;
                let manifest = parse_manifest(&saved.manifest, first).map_err(&save_err)?;
                (saved.manifest, manifest, first.to_string(), true)
            }
            Child::Kept(image) => {
                copy_child(ctx.store, &image.raw, &image.manifest, &image.name, first)
                    .map_err(&save_err)?;
                (
                    image.raw.clone(),
                    image.manifest.clone(),
                    image.name.clone(),
                    false,
                )
            }
        };
        reports.push(ChildReport {
            platform: target.to_string(),
            digest: raw.digest.to_string(),
            manifest_size: raw.bytes.len() as u64,
            rebased,
        });
        listed.push((raw.clone(), target.clone()));
        stored.push((raw, manifest, from));
    }
    for name in &names[1..] {
        for (raw, manifest, from) in &stored {
            copy_child(ctx.store, raw, manifest, from, name).map_err(&save_err)?;
        }
    }
    Ok((listed, reports))
}

/// A failure to save under `first`, the name every save error is reported for.
fn save_err(first: &str) -> impl Fn(ImageError) -> RebaseError + '_ {
    move |source| RebaseError::Save {
        name: first.to_string(),
        source,
    }
}

/// The names, the index's digest and each child's.
fn log_saved(ctx: &Ctx<'_>, names: &[String], saved: &RawManifest, reports: &[ChildReport]) {
    ctx.log.info("*** Images:");
    for n in names {
        ctx.log.info(format!("      {n}"));
    }
    ctx.log
        .info(format!("*** Digest: {} (index)", saved.digest));
    for c in reports {
        let kept = if c.rebased {
            ""
        } else {
            " (kept on its old base)"
        };
        ctx.log
            .info(format!("***   {}: {}{kept}", c.platform, c.digest));
    }
}

fn parse_manifest(raw: &RawManifest, name: &str) -> cnb_image::Result<Manifest> {
    serde_json::from_slice(&raw.bytes).map_err(|e| ImageError::Invalid {
        what: "manifest",
        reference: name.to_string(),
        reason: e.to_string(),
    })
}

/// Stores the manifest `raw` unchanged by digest under `name`'s repository (or layout): its
/// blobs are linked or mounted from `from`, where it is already stored, never re-sent.
fn copy_child(
    store: &dyn BlobStore,
    raw: &RawManifest,
    manifest: &Manifest,
    from: &str,
    name: &str,
) -> cnb_image::Result<()> {
    let base = name.split_once('@').map(|(n, _)| n).unwrap_or(name);
    let by_digest = format!("{base}@{}", raw.digest);
    let data = BlobData::Remote {
        from: from.to_string(),
    };
    let blobs: Vec<Blob> = std::iter::once(&manifest.config)
        .chain(&manifest.layers)
        .map(|d| Blob {
            digest: d.digest.clone(),
            size: d.size,
            data: data.clone(),
        })
        .collect();
    store.put_blobs(&by_digest, &blobs)?;
    store.put_manifest(&by_digest, raw)
}
