//! A parsed image name with what the store needs to address it: the oci-client reference and
//! whether its registry is insecure.

use oci_client::Reference;

use super::RegistryStore;
use crate::{Digest, ImageError, ImageRef};

/// A parsed name with its oci-client reference.
pub(super) struct Target {
    pub(super) image: ImageRef,
    /// The name as the caller wrote it, for messages.
    pub(super) display: String,
    pub(super) insecure: bool,
}

impl Target {
    pub(super) fn reference(&self) -> Reference {
        let (registry, repository) = (self.image.registry.clone(), self.image.repository.clone());
        match (&self.image.tag, &self.image.digest) {
            (Some(tag), Some(d)) => {
                Reference::with_tag_and_digest(registry, repository, tag.clone(), d.to_string())
            }
            (_, Some(d)) => Reference::with_digest(registry, repository, d.to_string()),
            (Some(tag), None) => Reference::with_tag(registry, repository, tag.clone()),
            (None, None) => Reference::with_tag(registry, repository, "latest".into()),
        }
    }

    pub(super) fn by_digest(&self, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.image.registry.clone(),
            self.image.repository.clone(),
            digest.to_string(),
        )
    }
}

impl RegistryStore {
    pub(super) fn target(&self, name: &str) -> Result<Target, ImageError> {
        let image = ImageRef::parse(name)?;
        let insecure =
            self.options.is_insecure(name) || self.options.is_insecure(&image.to_string());
        Ok(Target {
            display: name.to_string(),
            insecure,
            image,
        })
    }
}
