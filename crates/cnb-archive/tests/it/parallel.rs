//! Several layers at once: the same diffIDs, in input order, whatever the thread count.

use cnb_archive::{LayerBuilder, Owner, Tree, hash_trees, map_ordered};

#[test]
fn hash_trees_gives_each_tree_its_own_diff_id_in_order_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut trees = Vec::new();
    for i in 0..7 {
        let src = dir.path().join(format!("layers/bp/l{i}"));
        crate::sample_tree(&src);
        // Trees of very different sizes, so threads finish out of order.
        std::fs::write(src.join("size.bin"), vec![i as u8; (7 - i) * 300_000]).unwrap();
        trees.push(Tree {
            dest: src.to_string_lossy().into_owned(),
            src,
            owner: Owner {
                uid: 1000,
                gid: 1000,
            },
        });
    }
    let one: Vec<String> = hash_trees(&trees, 1)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for threads in [2, 3, 8] {
        let many: Vec<String> = hash_trees(&trees, threads)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(one, many, "{threads} threads");
    }
    for (t, d) in trees.iter().zip(&one) {
        let mut b = LayerBuilder::hash_only();
        b.add_tree(&t.src, &t.dest, t.owner).unwrap();
        assert_eq!(&b.finish().unwrap().1.diff_id, d);
    }
    let mut unique = one.clone();
    unique.dedup();
    assert_eq!(unique.len(), trees.len());
}

#[test]
fn a_tree_that_cannot_be_read_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    crate::sample_tree(&good);
    let trees = [dir.path().join("missing"), good].map(|src| Tree {
        dest: "/layers/x".into(),
        src,
        owner: Owner::ROOT,
    });
    let out = hash_trees(&trees, 2);
    assert!(out[0].is_err());
    assert!(out[1].is_ok());
}

#[test]
fn map_ordered_keeps_the_input_order() {
    let items: Vec<u64> = (0..100).collect();
    let out = map_ordered(&items, 4, |n| {
        std::thread::sleep(std::time::Duration::from_micros((100 - n) * 10));
        n * 2
    });
    assert_eq!(out, items.iter().map(|n| n * 2).collect::<Vec<_>>());
}
