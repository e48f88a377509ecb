//! Manifests and indexes, pulled and pushed as exact bytes so the digests we report are the
//! digests the registry stores.

use bytes::Bytes;
use oci_client::Reference;
use oci_client::RegistryOperation::{Pull, Push};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;

use super::RegistryStore;
use super::error::RegistryError;
use super::retry::Class;
use super::stats::bump;
use super::target::Target;
use crate::backend::RawManifest;
use crate::{Digest, ImageError};

/// Manifest media types we ask registries for.
const ACCEPTED_MANIFESTS: [&str; 4] = [
    OCI_IMAGE_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

impl RegistryStore {
    /// The manifest `reference` names, `None` when the registry has none; checked against the
    /// digest the reference pins.
    pub(super) fn fetch_manifest(
        &self,
        target: &Target,
        reference: &Reference,
    ) -> Result<Option<RawManifest>, ImageError> {
        const OP: &str = "pull manifest";
        let conn = self.conn(target)?;
        let auth = RegistryAuth::Anonymous; // already stored per registry; not replaced by this
        let result = self.call(&conn, reference, Pull, || {
            conn.client
                .pull_manifest_raw(reference, &auth, &ACCEPTED_MANIFESTS)
        });
        let (bytes, _header_digest) = match result {
            Ok(v) => v,
            Err(f) if f.class == Class::NotFound => return Ok(None),
            Err(f) => return Err(RegistryError::from_failure(OP, &target.display, f).into()),
        };
        let digest = Digest::of(&bytes);
        if let Some(wanted) = reference.digest()
            && wanted != digest.as_str()
        {
            return Err(ImageError::DigestMismatch {
                reference: target.display.clone(),
                expected: wanted.to_string(),
                actual: digest.to_string(),
            });
        }
        let media_type = media_type_of(&bytes).ok_or_else(|| ImageError::Invalid {
            what: "manifest",
            reference: target.display.clone(),
            reason: "not a json object with a known media type".into(),
        })?;
        Ok(Some(RawManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest,
        }))
    }

    /// Pushes `manifest` under the tag of `name`, or under its own digest when `name` has none.
    pub(super) fn push_manifest(&self, name: &str, manifest: &RawManifest) -> crate::Result<()> {
        const OP: &str = "push manifest";
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = if target.image.tag.is_some() {
            target.reference()
        } else {
            target.by_digest(&manifest.digest)
        };
        let content_type: http::HeaderValue =
            manifest
                .media_type
                .parse()
                .map_err(|_| RegistryError::Failed {
                    op: OP,
                    reference: target.display.clone(),
                    reason: format!(
                        "media type '{}' is not a valid header value",
                        manifest.media_type
                    ),
                })?;
        let body = Bytes::copy_from_slice(&manifest.bytes);
        self.call(&conn, &reference, Push, || {
            conn.client
                .push_manifest_raw(&reference, body.clone(), content_type.clone())
        })
        .map_err(|f| RegistryError::from_failure(OP, target.display.clone(), f))?;
        bump(&self.counters.manifests_pushed, 1);
        Ok(())
    }
}

/// The media type a manifest declares, or the one its shape implies.
fn media_type_of(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object()?;
    if let Some(mt) = object.get("mediaType").and_then(|v| v.as_str()) {
        return Some(mt.to_string());
    }
    if object.contains_key("manifests") {
        Some(OCI_IMAGE_INDEX_MEDIA_TYPE.to_string())
    } else if object.contains_key("config") {
        Some(OCI_IMAGE_MEDIA_TYPE.to_string())
    } else {
        None
    }
}
