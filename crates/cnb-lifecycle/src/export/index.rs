//! `-index <ref>` (ours, experimental): after the app image is saved, its manifest joins the
//! multi-arch index `<ref>` in the same store (a registry, or the layout with `-layout`), in
//! place of any entry of the same platform. The index editing itself is cnb-image's.

use cnb_image::{
    BlobStore, Digest, ImageRef, IndexOptions, IndexOutcome, Saved, Target, add_to_index,
};
use cnb_platform::{Inputs, Logger};

use super::ExportError;

/// Checks `-index` before anything runs (so a wrong combination costs no build): not with
/// `-daemon`, only in experimental mode, a tag that is not one of the image's own names.
pub fn check(inputs: &Inputs, log: &Logger) -> Result<Option<String>, ExportError> {
    let Some(index) = inputs.index().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if inputs.daemon() {
        return Err(ExportError::IndexWithDaemon);
    }
    let parsed = ImageRef::parse(index).map_err(|e| ExportError::BadIndex {
        index: index.to_string(),
        reason: e.to_string(),
    })?;
    if parsed.digest.is_some() {
        return Err(ExportError::BadIndex {
            index: index.to_string(),
            reason: "an index is written by tag, not by digest".into(),
        });
    }
    let same = |n: &String| ImageRef::parse(n).is_ok_and(|r| same_tag(&r, &parsed));
    if inputs.output_names().iter().any(same) {
        return Err(ExportError::BadIndex {
            index: index.to_string(),
            reason: "it is also a name of the image: give the image its own tag".into(),
        });
    }
    match inputs.experimental_mode.as_str() {
        "warn" => log.warn("using experimental feature: image index (-index)"),
        "quiet" | "silent" => {}
        _ => return Err(ExportError::ExperimentalIndex),
    }
    Ok(Some(index.to_string()))
}

fn same_tag(a: &ImageRef, b: &ImageRef) -> bool {
    let tag = |r: &ImageRef| r.tag.clone().unwrap_or_else(|| "latest".into());
    a.name() == b.name() && a.digest.is_none() && tag(a) == tag(b)
}

/// Adds the saved image (first name `image`, platform `target`) to `index`; returns the index
/// digest for report.toml.
pub fn add(
    store: &dyn BlobStore,
    index: &str,
    image: &str,
    saved: &Saved,
    target: &Target,
    log: &Logger,
) -> Result<Digest, ExportError> {
    log.info(format!("Adding {target} to index {index}..."));
    let outcome = add_to_index(
        store,
        index,
        image,
        &saved.manifest,
        target,
        &IndexOptions::default(),
    )
    .map_err(|source| ExportError::Index {
        index: index.to_string(),
        source,
    })?;
    match outcome {
        IndexOutcome::Added {
            digest,
            children,
            attempts,
        } => {
            if attempts > 1 {
                log.debug(format!(
                    "index {index}: added after {attempts} attempts (concurrent writers)"
                ));
            }
            log.info(format!("*** Index: {index} ({children} images) {digest}"));
            Ok(digest)
        }
        IndexOutcome::Superseded { digest, by } => {
            log.warn(format!(
                "index {index}: another build for {target} ({by}) replaced this one; it stays as the newer entry"
            ));
            Ok(digest)
        }
    }
}
