//! What `io.buildpacks.lifecycle.metadata` records about the run image: the name and mirrors from
//! stack.toml below Platform API 0.12, from the run.toml entry holding the chosen image from 0.12,
//! and never an empty `stack.runImage.image` (kpack parses it as an image reference).

use std::path::PathBuf;

use cnb_formats::labels::LayersMetadata;
use cnb_image::registry::RegistryStore;
use cnb_image::{ImageRef, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;

use crate::harness::{run_image, write, write_analyzed};

struct World {
    reg: Registry,
    store: RegistryStore,
    dir: tempfile::TempDir,
    /// `<registry>/cnb/run@sha256:…` of the index's linux/amd64 child.
    child_ref: String,
    /// The index's digest.
    index_digest: String,
}

fn world() -> World {
    let reg = Registry::start();
    let store = reg.store();
    let (index, children) =
        save_run_index(&store, &reg.image("cnb/run:multi"), &four_platforms(), "r");
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(
        &layers.join("config/metadata.toml"),
        "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(&dir.path().join("workspace/index.html"), "hi");
    write(&dir.path().join("launcher"), "launcher");
    let child_ref = format!("{}/cnb/run@{}", reg.host(), children[0].digest);
    World {
        reg,
        store,
        dir,
        child_ref,
        index_digest: index.digest.to_string(),
    }
}

impl World {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// analyzed.toml as the analyzer of that Platform API writes it: below 0.12 only the digest
    /// reference, from 0.12 also the name as given and the target.
    fn analyzed(&self, image: &str) {
        let amd64 = Target::new("linux", "amd64", None);
        write_analyzed(
            &self.path("layers"),
            "",
            run_image(
                &self.child_ref,
                image,
                (!image.is_empty()).then_some(&amd64),
            ),
            LayersMetadata::default(),
        );
    }

    fn export(&self, papi: &str, args: &[&str]) -> LayersMetadata {
        crate::harness::exporter(
            papi,
            &self.path("layers"),
            &self.path("workspace"),
            &self.path("launcher"),
        )
        .insecure_registry(self.reg.host())
        .args(args)
        .arg(self.reg.image("cnb/app:latest"))
        .run()
        .assert_ok();
        let req = TargetRequest::new(Target::new("linux", "amd64", None), TargetSource::Flags);
        let img = open(&self.store, &self.reg.image("cnb/app:latest"), &req)
            .unwrap()
            .required("app")
            .unwrap();
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap()
    }
}

/// What kpack's completion does with the label: both must parse as image references.
fn assert_kpack_can_parse(md: &LayersMetadata) {
    let stack = md.stack.as_ref().expect("stack key");
    assert!(
        ImageRef::parse(&stack.run_image.image).is_ok(),
        "stack.runImage.image '{}' is not an image reference",
        stack.run_image.image
    );
    assert!(
        ImageRef::parse(&md.run_image.reference).is_ok(),
        "runImage.reference '{}'",
        md.run_image.reference
    );
}

#[test]
fn below_0_12_the_run_image_name_and_mirrors_come_from_stack_toml() {
    let w = world();
    w.analyzed("");
    let stack = w.path("stack.toml");
    let name = w.reg.image("cnb/run:multi");
    write(
        &stack,
        format!("[run-image]\nimage = \"{name}\"\nmirrors = [\"mirror.test/cnb/run:multi\"]\n"),
    );
    for papi in ["0.7", "0.11"] {
        let md = w.export(papi, &["-stack", stack.to_str().unwrap()]);
        let recorded = &md.stack.as_ref().unwrap().run_image;
        assert_eq!(recorded.image, name, "at {papi}");
        assert_eq!(recorded.mirrors, ["mirror.test/cnb/run:multi"], "at {papi}");
        assert_eq!(md.run_image.reference, w.child_ref, "at {papi}");
        assert!(
            md.run_image.image.is_empty() && md.run_image.mirrors.is_empty(),
            "runImage.image is a 0.12 key: {:?}",
            md.run_image
        );
        assert_kpack_can_parse(&md);
    }
}

#[test]
fn without_a_name_in_stack_toml_the_digest_reference_is_recorded() {
    let w = world();
    w.analyzed("");
    // The default /cnb/stack.toml does not exist on the test machine; name a missing file anyway.
    let missing = w.path("no-stack.toml");
    let md = w.export("0.11", &["-stack", missing.to_str().unwrap()]);
    assert_eq!(md.stack.as_ref().unwrap().run_image.image, w.child_ref);
    assert_kpack_can_parse(&md);
    // Same from 0.12 when neither run.toml nor analyzed.toml names the run image.
    let md = w.export("0.12", &["-run", missing.to_str().unwrap()]);
    assert_eq!(md.run_image.image, w.child_ref);
    assert_eq!(md.stack.as_ref().unwrap().run_image.image, w.child_ref);
    assert_kpack_can_parse(&md);
}

#[test]
fn from_0_12_the_run_toml_entry_holding_the_chosen_image_is_recorded() {
    let w = world();
    let run_toml = w.path("run.toml");
    let mirror = w.reg.image("cnb/run:multi");
    let untagged = format!("{}/cnb/run", w.reg.host());
    write(
        &run_toml,
        format!(
            "[[images]]\nimage = \"first.test/run:1\"\nmirrors = [\"first-mirror.test/run:1\"]\n\n\
             [[images]]\nimage = \"second.test/run:multi\"\nmirrors = [\"{mirror}\"]\n\n\
             [[images]]\nimage = \"third.test/run\"\nmirrors = [\"{untagged}\"]\n"
        ),
    );
    let run_flag = ["-run", run_toml.to_str().unwrap()];

    // The analyzer chose the mirror on our registry: its entry is recorded, image and mirrors.
    w.analyzed(&mirror);
    let md = w.export("0.12", &run_flag);
    assert_eq!(md.run_image.image, "second.test/run:multi");
    assert_eq!(md.run_image.mirrors, [mirror.as_str()]);
    assert_eq!(
        md.stack.as_ref().unwrap().run_image,
        cnb_formats::labels::RunImageRef {
            image: "second.test/run:multi".into(),
            mirrors: vec![mirror.clone()],
        },
        "stack.runImage repeats runImage"
    );
    assert_eq!(md.run_image.reference, w.child_ref);
    assert_kpack_can_parse(&md);

    // A digest reference given as -run-image matches the entry of its repository (the digest is
    // ignored and no tag means latest, as upstream compares names).
    w.analyzed(&format!("{untagged}@{}", w.index_digest));
    let md = w.export("0.15", &run_flag);
    assert_eq!(md.run_image.image, "third.test/run");
    assert_eq!(md.run_image.mirrors, [untagged.as_str()]);

    // A name no entry holds is recorded as it is (ours; upstream records the first entry).
    let elsewhere = w.reg.image("cnb/run:other");
    w.analyzed(&elsewhere);
    let md = w.export("0.12", &run_flag);
    assert_eq!(md.run_image.image, elsewhere);
    assert!(md.run_image.mirrors.is_empty());

    // Nothing recorded: the first entry, as upstream.
    w.analyzed("");
    let md = w.export("0.12", &run_flag);
    assert_eq!(md.run_image.image, "first.test/run:1");
    assert_eq!(md.run_image.mirrors, ["first-mirror.test/run:1"]);
}
