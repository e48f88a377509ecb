//! Full disks (issue #17): the app's layout dir and the cache dir on small tmpfs mounts (root).
//! The export fails with one line naming the path and exit 62 (a full cache only warns, as
//! upstream); no partial file gets a final name and the previous content stays whole.

use cnb_test_support::chaos;
use cnb_test_support::tmpfs::{Tmpfs, misnamed_blobs};

use crate::chaos::{big_layer, export_cached};
use crate::layout::{ok, world};

#[test]
fn a_full_layout_dir_fails_naming_it_and_keeps_the_previous_image() {
    let w = world();
    let cache = w.dir.path().join("cache");
    let app_dir = w.root.join("registry.test/app");
    let fs = Tmpfs::mount(&app_dir, "4m");
    big_layer(&w, 1, 1);
    ok(&export_cached(&w, &cache));
    let layout = fs.path().join("latest");
    let before = chaos::check_layout_image(&layout, "latest");
    big_layer(&w, 2, 8);
    let out = export_cached(&w, &cache);
    out.assert_exit(62);
    let err = out.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("ERROR:"))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"));
    println!("{line}");
    assert!(
        line.contains(&layout.display().to_string()) && line.contains("No space left on device"),
        "{line}"
    );
    assert_eq!(chaos::check_layout_image(&layout, "latest"), before);
    assert_eq!(chaos::temp_files(&layout), Vec::<String>::new());
    assert_eq!(
        misnamed_blobs(&layout.join("blobs/sha256")),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn a_full_cache_dir_warns_naming_it_and_keeps_the_old_cache() {
    let w = world();
    let cache = w.dir.path().join("cache");
    let _fs = Tmpfs::mount(&cache, "4m");
    big_layer(&w, 1, 1);
    ok(&export_cached(&w, &cache));
    let before = chaos::snapshot(&cache, &|_| false);
    big_layer(&w, 2, 8);
    let out = export_cached(&w, &cache);
    out.assert_ok();
    let all = out.text();
    let line = all
        .lines()
        .find(|l| l.contains("failed to export the cache"))
        .unwrap_or_else(|| panic!("no warning in:\n{all}"));
    assert!(
        line.contains(&cache.display().to_string()) && line.contains("No space left on device"),
        "{line}"
    );
    assert_eq!(chaos::snapshot(&cache, &|_| false), before);
}
