//! Finding the buildpacks of an order in the buildpacks dir, and expanding composite (meta)
//! buildpacks into the flat groups they stand for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cnb_api::{BUILDPACK, DeprecationMode, Version};
use cnb_formats::FormatError;
use cnb_formats::descriptor::{BuildpackDescriptor, ExtensionDescriptor};
use cnb_formats::group::GroupElement;

/// A buildpack could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No `<dir>/<id>/<version>/buildpack.toml`.
    #[error("buildpack '{buildpack}' not found: no {}", .path.display())]
    NotFound {
        /// `id@version` as the order names it.
        buildpack: String,
        /// The descriptor looked for.
        path: PathBuf,
    },
    /// Its buildpack.toml could not be read.
    #[error("buildpack '{buildpack}': {source}")]
    Descriptor {
        /// `id@version`.
        buildpack: String,
        /// Why.
        #[source]
        source: FormatError,
    },
    /// No `<extensions>/<id>/<version>/extension.toml` (or no extensions dir at this Platform API).
    #[error("extension '{extension}' not found: no {}", .path.display())]
    ExtensionNotFound {
        /// `id@version` as the order names it.
        extension: String,
        /// The descriptor looked for.
        path: PathBuf,
    },
    /// Its Buildpack API is not one this lifecycle supports.
    #[error("buildpack '{buildpack}' ({}): buildpack api '{api}' is not supported by this lifecycle (supported: {})", .path.display(), BUILDPACK.supported_list())]
    Api {
        /// `id@version`.
        buildpack: String,
        /// The API it declares.
        api: String,
        /// Its buildpack.toml.
        path: PathBuf,
    },
}

/// A buildpack found in the buildpacks dir.
#[derive(Debug, Clone)]
pub struct Module {
    /// As group.toml will name it (version, api and homepage filled in), with `optional` as the
    /// order says.
    pub element: GroupElement,
    /// Its directory.
    pub dir: PathBuf,
    /// Its buildpack.toml.
    pub desc: BuildpackDescriptor,
    /// Its Buildpack API.
    pub api: Version,
}

impl Module {
    /// `id@version`, the key detect results are cached under.
    pub fn name(&self) -> String {
        self.element.name()
    }

    /// The key detect results are cached under: an extension and a buildpack may share an id.
    pub fn key(&self) -> String {
        match self.element.extension {
            true => format!("extension {}", self.name()),
            false => self.name(),
        }
    }
}

/// The buildpacks dir, with every descriptor read at most once.
pub struct Store {
    root: PathBuf,
    extensions: Option<PathBuf>,
    cache: HashMap<String, Module>,
    mode: DeprecationMode,
    /// Deprecated Buildpack APIs met, for the caller to log.
    pub warnings: Vec<String>,
}

impl Store {
    /// A store over `<root>/<id with / as _>/<version>/`.
    pub fn new(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
            extensions: None,
            cache: HashMap::new(),
            mode: DeprecationMode::default(),
            warnings: Vec::new(),
        }
    }

    /// What a deprecated Buildpack API does (`CNB_DEPRECATION_MODE`).
    pub fn with_deprecation_mode(mut self, mode: DeprecationMode) -> Self {
        self.mode = mode;
        self
    }

    /// The one Buildpack API check ([`cnb_api::verify_buildpack_api`]); a deprecation warning
    /// is kept for the caller.
    fn verify(&mut self, kind: &str, name: &str, raw: &str) -> Option<Version> {
        let accepted = cnb_api::verify_buildpack_api(kind, name, raw, self.mode).ok()?;
        self.warnings.extend(accepted.warning);
        Some(accepted.version)
    }

    /// Also looks up extensions, in `<dir>/<id with / as _>/<version>/extension.toml`.
    pub fn with_extensions(mut self, dir: Option<&Path>) -> Self {
        self.extensions = dir.map(Path::to_path_buf);
        self
    }

    /// Finds an order element and checks its Buildpack API. An element without a version takes the
    /// only version present.
    pub fn find(&mut self, e: &GroupElement) -> Result<Module, LookupError> {
        if e.extension {
            return self.find_extension(e);
        }
        let id_dir = self.root.join(e.dir_name());
        let version = if e.version.is_empty() {
            only_version(&id_dir).ok_or_else(|| LookupError::NotFound {
                buildpack: e.id.clone(),
                path: id_dir.join("<version>").join("buildpack.toml"),
            })?
        } else {
            e.version.clone()
        };
        let key = format!("{}@{version}", e.id);
        if let Some(m) = self.cache.get(&key) {
            let mut m = m.clone();
            m.element.optional = e.optional;
            return Ok(m);
        }
        let dir = id_dir.join(&version);
        let path = dir.join("buildpack.toml");
        if !path.is_file() {
            return Err(LookupError::NotFound {
                buildpack: key,
                path,
            });
        }
        let desc = BuildpackDescriptor::read(&path).map_err(|source| LookupError::Descriptor {
            buildpack: key.clone(),
            source,
        })?;
        let Some(api) = self.verify("Buildpack", &key, &desc.api) else {
            return Err(api_error(key, &desc.api, path));
        };
        let found = Module {
            element: found_element(e, version, &desc, e.optional, false),
            dir,
            desc,
            api,
        };
        Ok(self.remember(key, found))
    }

    /// Finds an extension of an `[[order-extensions]]` group; extensions are always optional and
    /// never composite. Its descriptor is held as a buildpack descriptor without an order, so
    /// detection treats both alike.
    fn find_extension(&mut self, e: &GroupElement) -> Result<Module, LookupError> {
        let not_found = |path: PathBuf| LookupError::ExtensionNotFound {
            extension: e.name(),
            path,
        };
        let Some(root) = &self.extensions else {
            return Err(not_found(PathBuf::from("extensions directory")));
        };
        let id_dir = root.join(e.dir_name());
        let version = match e.version.is_empty() {
            true => only_version(&id_dir)
                .ok_or_else(|| not_found(id_dir.join("<version>").join("extension.toml")))?,
            false => e.version.clone(),
        };
        let key = format!("extension {}@{version}", e.id);
        if let Some(m) = self.cache.get(&key) {
            return Ok(m.clone());
        }
        let dir = id_dir.join(&version);
        let path = dir.join("extension.toml");
        if !path.is_file() {
            return Err(not_found(path));
        }
        let name = format!("{}@{version}", e.id);
        let desc = ExtensionDescriptor::read(&path).map_err(|source| LookupError::Descriptor {
            buildpack: name.clone(),
            source,
        })?;
        // Extensions came with Buildpack API 0.9.
        let api = match self.verify("Extension", &name, &desc.api) {
            Some(v) if v >= Version::new(0, 9) => v,
            _ => return Err(api_error(name, &desc.api, path)),
        };
        let desc = BuildpackDescriptor {
            api: desc.api,
            buildpack: desc.extension,
            targets: desc.targets,
            ..Default::default()
        };
        let found = Module {
            element: found_element(e, version, &desc, true, true),
            dir,
            desc,
            api,
        };
        Ok(self.remember(key, found))
    }

    /// Keeps `found` for the next lookup of `key`.
    fn remember(&mut self, key: String, found: Module) -> Module {
        self.cache.insert(key, found.clone());
        found
    }

    /// Hands `try_group` each flat group that `elements` stands for, depth-first, until it returns
    /// `Some`. A composite is replaced by each of its groups in turn, followed by the rest of the
    /// outer group; an optional composite finally also stands for the rest without it. A buildpack
    /// whose id is already in the group is not added again. Buildpacks are looked up only when a
    /// group needs them.
    pub fn expand<T, E: From<LookupError>>(
        &mut self,
        elements: &[GroupElement],
        try_group: &mut dyn FnMut(Vec<Module>) -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        self.expand_from(Vec::new(), elements, try_group)
    }

    fn expand_from<T, E: From<LookupError>>(
        &mut self,
        mut flat: Vec<Module>,
        rest: &[GroupElement],
        try_group: &mut dyn FnMut(Vec<Module>) -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        for (i, e) in rest.iter().enumerate() {
            if flat
                .iter()
                .any(|m| m.element.id == e.id && m.element.extension == e.extension)
            {
                continue;
            }
            let m = self.find(e)?;
            if !m.desc.is_composite() {
                flat.push(m);
                continue;
            }
            let after = &rest[i + 1..];
            for sub in &m.desc.order {
                let mut elements = sub.group.clone();
                elements.extend(after.iter().cloned());
                if let Some(found) = self.expand_from(flat.clone(), &elements, try_group)? {
                    return Ok(Some(found));
                }
            }
            if e.optional {
                return self.expand_from(flat, after, try_group);
            }
            return Ok(None);
        }
        try_group(flat)
    }
}

/// The name of the only version directory under `id_dir`.
fn only_version(id_dir: &Path) -> Option<String> {
    let versions: Vec<String> = std::fs::read_dir(id_dir)
        .ok()?
        .filter_map(|d| d.ok())
        .filter(|d| d.path().is_dir())
        .filter_map(|d| d.file_name().to_str().map(str::to_string))
        .collect();
    match versions.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// The group element for order element `e` as found: version, api and homepage filled in.
fn found_element(
    e: &GroupElement,
    version: String,
    desc: &BuildpackDescriptor,
    optional: bool,
    extension: bool,
) -> GroupElement {
    GroupElement {
        id: e.id.clone(),
        version,
        api: desc.api.clone(),
        homepage: desc.buildpack.homepage.clone(),
        optional,
        extension,
    }
}

/// A module whose Buildpack API this lifecycle does not serve.
fn api_error(name: String, api: &str, path: PathBuf) -> LookupError {
    LookupError::Api {
        buildpack: name,
        api: api.to_string(),
        path,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Writes `<root>/<id>/1/buildpack.toml`; `order` is a list of groups of `(id, optional)`.
    fn buildpack(root: &Path, id: &str, api: &str, order: &[&[(&str, bool)]]) {
        let dir = root.join(id).join("1");
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = format!("api = \"{api}\"\n[buildpack]\nid = \"{id}\"\nversion = \"1\"\n");
        for group in order {
            text.push_str("[[order]]\n");
            for (id, optional) in *group {
                text.push_str(&format!(
                    "[[order.group]]\nid = \"{id}\"\nversion = \"1\"\noptional = {optional}\n"
                ));
            }
        }
        std::fs::write(dir.join("buildpack.toml"), text).unwrap();
    }

    /// An order element `id@1`.
    pub(in crate::detect) fn el(id: &str, optional: bool) -> GroupElement {
        GroupElement {
            id: id.into(),
            version: "1".into(),
            optional,
            ..Default::default()
        }
    }

    /// Every flat group, as "id id? ..." strings (`?` marks optional).
    fn all_groups(store: &mut Store, elements: &[GroupElement]) -> Vec<String> {
        let mut seen = Vec::new();
        let none: Option<()> = store
            .expand(elements, &mut |flat| -> Result<Option<()>, LookupError> {
                let names: Vec<String> = flat
                    .iter()
                    .map(|m| {
                        format!(
                            "{}{}",
                            m.element.id,
                            if m.element.optional { "?" } else { "" }
                        )
                    })
                    .collect();
                seen.push(names.join(" "));
                Ok(None)
            })
            .unwrap();
        assert!(none.is_none());
        seen
    }

    #[test]
    fn composites_expand_depth_first_with_the_rest_of_the_group() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["a", "b", "c", "d", "e"] {
            buildpack(dir.path(), id, "0.10", &[]);
        }
        buildpack(
            dir.path(),
            "inner",
            "0.10",
            &[&[("c", false)], &[("d", true)]],
        );
        buildpack(
            dir.path(),
            "meta",
            "0.10",
            &[&[("b", false), ("inner", false)], &[("e", false)]],
        );
        let mut store = Store::new(dir.path());
        let groups = all_groups(
            &mut store,
            &[el("a", false), el("meta", false), el("e", true)],
        );
        assert_eq!(groups, ["a b c e?", "a b d? e?", "a e"]);
    }

    #[test]
    fn an_optional_composite_also_stands_for_the_group_without_it() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["a", "b", "c"] {
            buildpack(dir.path(), id, "0.10", &[]);
        }
        // The members keep their own optional flag: the composite's does not spread to them.
        buildpack(dir.path(), "meta", "0.10", &[&[("b", false), ("c", true)]]);
        let mut store = Store::new(dir.path());
        let groups = all_groups(&mut store, &[el("meta", true), el("a", false)]);
        assert_eq!(groups, ["b c? a", "a"]);
        let groups = all_groups(&mut store, &[el("meta", false), el("a", false)]);
        assert_eq!(groups, ["b c? a"]);
    }

    #[test]
    fn a_buildpack_already_in_the_group_is_not_added_again() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["a", "b"] {
            buildpack(dir.path(), id, "0.10", &[]);
        }
        buildpack(dir.path(), "meta", "0.10", &[&[("a", false), ("b", false)]]);
        let mut store = Store::new(dir.path());
        let groups = all_groups(
            &mut store,
            &[el("a", false), el("meta", false), el("b", true)],
        );
        assert_eq!(groups, ["a b"]);
    }

    #[test]
    fn expansion_stops_at_the_first_group_that_passes_and_looks_up_lazily() {
        let dir = tempfile::tempdir().unwrap();
        buildpack(dir.path(), "a", "0.10", &[]);
        // The second group names a buildpack that does not exist: never looked up.
        buildpack(
            dir.path(),
            "meta",
            "0.10",
            &[&[("a", false)], &[("missing", false)]],
        );
        let mut store = Store::new(dir.path());
        let found = store
            .expand(
                &[el("meta", false)],
                &mut |flat| -> Result<_, LookupError> { Ok(Some(flat.len())) },
            )
            .unwrap();
        assert_eq!(found, Some(1));
        let err = store
            .expand(&[el("meta", false)], &mut |_| -> Result<
                Option<()>,
                LookupError,
            > { Ok(None) })
            .unwrap_err();
        assert!(
            matches!(err, LookupError::NotFound { ref buildpack, .. } if buildpack == "missing@1")
        );
    }

    #[test]
    fn extensions_are_looked_up_in_their_own_dir_from_buildpack_api_0_9() {
        let bps = tempfile::tempdir().unwrap();
        let exts = tempfile::tempdir().unwrap();
        buildpack(bps.path(), "same", "0.10", &[]);
        for (id, api) in [("same", "0.10"), ("old", "0.8")] {
            let dir = exts.path().join(id).join("1");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("extension.toml"),
                format!("api = \"{api}\"\n[extension]\nid = \"{id}\"\nversion = \"1\"\nhomepage = \"h\"\n"),
            )
            .unwrap();
        }
        let ext = |id: &str| GroupElement {
            extension: true,
            ..el(id, false)
        };
        let mut store = Store::new(bps.path());
        assert!(matches!(
            store.find(&ext("same")),
            Err(LookupError::ExtensionNotFound { .. })
        ));
        let mut store = Store::new(bps.path()).with_extensions(Some(exts.path()));
        let m = store.find(&ext("same")).unwrap();
        assert!(m.element.extension && m.element.optional);
        assert_eq!(m.element.homepage, "h");
        assert_eq!(m.dir, exts.path().join("same/1"));
        // A buildpack of the same id is a different module, cached apart.
        let b = store.find(&el("same", false)).unwrap();
        assert_ne!(b.key(), m.key());
        assert_eq!(b.dir, bps.path().join("same/1"));
        assert!(matches!(
            store.find(&ext("old")),
            Err(LookupError::Api { .. })
        ));
    }

    #[test]
    fn lookups_check_the_buildpack_api_and_fill_the_element() {
        let dir = tempfile::tempdir().unwrap();
        buildpack(dir.path(), "old", "0.2", &[]);
        buildpack(dir.path(), "ok", "0.12", &[]);
        let mut store = Store::new(dir.path());
        let err = store.find(&el("old", false)).unwrap_err();
        assert!(matches!(err, LookupError::Api { ref api, .. } if api == "0.2"));
        assert!(
            err.to_string()
                .contains("buildpack api '0.2' is not supported")
        );
        let m = store
            .find(&GroupElement {
                id: "ok".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            (m.element.version.as_str(), m.element.api.as_str()),
            ("1", "0.12")
        );
        assert!(matches!(
            store.find(&el("nope", false)),
            Err(LookupError::NotFound { .. })
        ));
    }
}
