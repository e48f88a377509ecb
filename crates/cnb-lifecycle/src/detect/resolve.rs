//! Build plan resolution (buildpack.md "Phase #1: Detection"): which of the passing buildpacks
//! form the group, and who provides what each requires. Pure: no processes, no files.

use cnb_formats::detect_plan::PlanSections;
use cnb_formats::plan::{PlanEntry, Require};

/// A buildpack that passed detection, with its plan alternatives (the top-level sections, then
/// each `[[or]]`).
#[derive(Debug, Clone)]
pub struct Passed {
    /// Index into the group being tried.
    pub index: usize,
    /// Whether the group passes without it.
    pub optional: bool,
    /// Its alternatives, tried in order.
    pub alternatives: Vec<PlanSections>,
}

/// A resolved group: the indices of the elements kept, and the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Elements kept, in group order.
    pub kept: Vec<usize>,
    /// One entry per dependency: who provides it (as indices) and its requirements.
    pub entries: Vec<(String, Vec<usize>, Vec<Require>)>,
}

/// Tries every combination of alternatives, depth-first from the first element, and returns the
/// first that resolves. Only the last alternative of an element keeps the element optional (an
/// element that could resolve with an earlier alternative is not dropped to make a later one fit).
pub fn resolve(passed: &[Passed]) -> Option<Resolved> {
    let mut choice = vec![0usize; passed.len()];
    loop {
        let trial: Vec<(usize, bool, &PlanSections)> = passed
            .iter()
            .zip(&choice)
            .map(|(p, &c)| {
                (
                    p.index,
                    p.optional && c + 1 == p.alternatives.len(),
                    &p.alternatives[c],
                )
            })
            .collect();
        if let Some(r) = run_trial(trial) {
            return Some(r);
        }
        // Next combination, the last element's alternatives varying fastest.
        let mut i = passed.len();
        loop {
            if i == 0 {
                return None;
            }
            i -= 1;
            choice[i] += 1;
            if choice[i] < passed[i].alternatives.len() {
                break;
            }
            choice[i] = 0;
        }
    }
}

fn run_trial(mut trial: Vec<(usize, bool, &PlanSections)>) -> Option<Resolved> {
    loop {
        if trial.is_empty() {
            return None;
        }
        match check(&trial) {
            Ok(r) => return Some(r),
            // An optional element that breaks the plan is dropped and the trial tried again.
            Err(Some(pos)) => {
                trial.remove(pos);
            }
            Err(None) => return None,
        }
    }
}

/// `Err(Some(position))`: an optional element to drop; `Err(None)`: a required one broke it.
fn check(trial: &[(usize, bool, &PlanSections)]) -> Result<Resolved, Option<usize>> {
    let mut open: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    let mut entries: Vec<(String, Vec<usize>, Vec<Require>)> = Vec::new();
    let fail = |pos: usize| {
        if trial[pos].1 {
            Err(Some(pos))
        } else {
            Err(None)
        }
    };
    for (pos, (index, _, sections)) in trial.iter().enumerate() {
        for p in &sections.provides {
            // A dependency that is already required takes further providers as they come.
            if let Some((_, provs, _)) = entries.iter_mut().find(|(n, _, _)| *n == p.name) {
                provs.push(*index);
                continue;
            }
            match open.iter_mut().find(|(n, _)| *n == p.name) {
                Some((_, providers)) => providers.push((pos, *index)),
                None => open.push((p.name.clone(), vec![(pos, *index)])),
            }
        }
        for r in &sections.requires {
            let Some(at) = open.iter().position(|(n, _)| *n == r.name) else {
                // Required before anything provides it: unmet.
                let consumed = entries.iter_mut().find(|(n, _, _)| *n == r.name);
                match consumed {
                    Some((_, _, reqs)) => reqs.push(r.clone()),
                    None => return fail(pos),
                }
                continue;
            };
            let (name, providers) = open.remove(at);
            match entries.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, provs, reqs)) => {
                    provs.extend(providers.iter().map(|(_, i)| *i));
                    reqs.push(r.clone());
                }
                None => entries.push((
                    name,
                    providers.iter().map(|(_, i)| *i).collect(),
                    vec![r.clone()],
                )),
            }
        }
    }
    // Provided but never required afterwards.
    if let Some((_, providers)) = open.first() {
        let pos = providers.first().map(|(p, _)| *p).unwrap_or(0);
        return fail(pos);
    }
    Ok(Resolved {
        kept: trial.iter().map(|(i, _, _)| *i).collect(),
        entries,
    })
}

/// The plan.toml entries for a resolved group, naming providers by their group elements.
pub fn plan_entries(
    resolved: &Resolved,
    elements: &[cnb_formats::group::GroupElement],
) -> Vec<PlanEntry> {
    resolved
        .entries
        .iter()
        .map(|(_, providers, requires)| PlanEntry {
            providers: providers
                .iter()
                .map(|i| cnb_formats::group::GroupElement {
                    optional: false,
                    ..elements[*i].clone()
                })
                .collect(),
            requires: requires.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnb_formats::detect_plan::Provide;

    fn sec(provides: &[&str], requires: &[&str]) -> PlanSections {
        PlanSections {
            provides: provides
                .iter()
                .map(|n| Provide {
                    name: n.to_string(),
                })
                .collect(),
            requires: requires
                .iter()
                .map(|n| Require {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn p(index: usize, optional: bool, alts: Vec<PlanSections>) -> Passed {
        Passed {
            index,
            optional,
            alternatives: alts,
        }
    }

    #[test]
    fn an_empty_plan_resolves() {
        let r = resolve(&[p(0, false, vec![sec(&[], &[])])]).unwrap();
        assert_eq!(r.kept, [0]);
        assert!(r.entries.is_empty());
        assert!(resolve(&[]).is_none(), "no buildpack passed");
    }

    #[test]
    fn provides_must_come_before_requires() {
        let r = resolve(&[
            p(0, false, vec![sec(&["a"], &[])]),
            p(1, false, vec![sec(&[], &["a"])]),
        ])
        .unwrap();
        assert_eq!(
            r.entries,
            [(
                "a".to_string(),
                vec![0],
                vec![Require {
                    name: "a".into(),
                    ..Default::default()
                }]
            )]
        );
        // Required before provided.
        assert!(
            resolve(&[
                p(0, false, vec![sec(&[], &["a"])]),
                p(1, false, vec![sec(&["a"], &[])])
            ])
            .is_none()
        );
        // The same buildpack may provide and require.
        assert!(resolve(&[p(0, false, vec![sec(&["a"], &["a"])])]).is_some());
    }

    #[test]
    fn unused_provides_fail_required_and_drop_optional_elements() {
        assert!(resolve(&[p(0, false, vec![sec(&["a"], &[])])]).is_none());
        let r = resolve(&[
            p(0, false, vec![sec(&[], &[])]),
            p(1, true, vec![sec(&["unused"], &[])]),
        ])
        .unwrap();
        assert_eq!(r.kept, [0], "the optional provider is dropped");
        let r = resolve(&[
            p(0, true, vec![sec(&[], &["x"])]),
            p(1, false, vec![sec(&[], &[])]),
        ])
        .unwrap();
        assert_eq!(r.kept, [1]);
    }

    #[test]
    fn or_alternatives_are_tried_in_order() {
        // Element 1 first offers "b" (nobody requires it), then nothing: the second alternative wins.
        let r = resolve(&[
            p(0, false, vec![sec(&["a"], &["a"])]),
            p(1, false, vec![sec(&["b"], &[]), sec(&[], &[])]),
        ])
        .unwrap();
        assert_eq!(r.kept, [0, 1]);
        assert_eq!(r.entries.len(), 1);
        // An earlier element's alternative can satisfy a later requirement.
        let r = resolve(&[
            p(0, false, vec![sec(&["x"], &[]), sec(&["y"], &[])]),
            p(1, false, vec![sec(&[], &["y"])]),
        ])
        .unwrap();
        assert_eq!(r.entries[0].0, "y");
    }

    #[test]
    fn several_providers_and_requirers_share_an_entry() {
        let r = resolve(&[
            p(0, false, vec![sec(&["a"], &[])]),
            p(1, false, vec![sec(&["a"], &["a"])]),
            p(2, false, vec![sec(&[], &["a"])]),
        ])
        .unwrap();
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.entries[0].1, [0, 1]);
        assert_eq!(r.entries[0].2.len(), 2);
    }
}
