//! Build plan resolution (buildpack.md "Phase #1: Detection"): whether a group passes, which of
//! its buildpacks take part, and who provides what each requires. Pure: no processes, no files.
//!
//! The rules, as upstream applies them:
//! - every required element must pass; an optional one that fails or errors is left out; any
//!   error (an exit code other than 0 and 100, or a target mismatch) marks the group as errored;
//! - at least one element must pass;
//! - each passing element offers its top-level provides/requires, then each `[[or]]`; the
//!   combinations are tried depth-first, the last element varying fastest, and the first that
//!   resolves wins; an optional element stays optional only in its last alternative;
//! - within a trial, an element's provides count before its requires; a require takes every
//!   provide made since the previous require of that name; a require with no provider so far, or a
//!   provide that no later require takes, removes an optional element (and the trial is tried
//!   again) or fails the trial for a required one.

use cnb_formats::detect_plan::PlanSections;
use cnb_formats::plan::Require;

/// How one element's detection ended, as the resolver sees it.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Exit 0, with its plan alternatives (the top-level sections first, then each `[[or]]`).
    Pass(Vec<PlanSections>),
    /// Exit 100.
    Fail,
    /// Any other exit, a plan that could not be read, or a target mismatch.
    Error,
}

/// One element of the group being tried.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `id@version`, for the log.
    pub name: String,
    /// Whether the group passes without it.
    pub optional: bool,
    /// Whether it is an image extension: a group needs some buildpack, not only extensions, to
    /// pass.
    pub extension: bool,
    /// How its detection ended.
    pub verdict: Verdict,
}

/// One dependency of the resolved plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The dependency name.
    pub name: String,
    /// Who provides it, as positions in the group.
    pub providers: Vec<usize>,
    /// Every requirement of it, in group order.
    pub requires: Vec<Require>,
}

/// A group that passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Positions of the elements that take part, in group order.
    pub kept: Vec<usize>,
    /// One entry per dependency, in the order the names first appear.
    pub entries: Vec<Entry>,
}

/// Why a group did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// A required element failed, none passed, or no plan resolved.
    Failed,
    /// A required element did not pass and some element errored.
    Errored,
}

/// Decides a group. `trace` receives the debug lines (`pass: …`, `skip: … requires …`) that explain
/// the decision.
pub fn resolve_group(group: &[Candidate], trace: &mut Vec<String>) -> Result<Resolved, Rejected> {
    trace.push("======== Results ========".into());
    let mut detected = true;
    let mut errored = false;
    let mut passed = Vec::new();
    let mut buildpack_passed = false;
    for (pos, c) in group.iter().enumerate() {
        match &c.verdict {
            Verdict::Pass(alternatives) => {
                trace.push(format!("pass: {}", c.name));
                buildpack_passed |= !c.extension;
                passed.push((pos, c, alternatives));
            }
            Verdict::Fail => {
                let word = if c.optional { "skip" } else { "fail" };
                trace.push(format!("{word}: {}", c.name));
                detected &= c.optional;
            }
            Verdict::Error => {
                trace.push(format!("err:  {}", c.name));
                errored = true;
                detected &= c.optional;
            }
        }
    }
    if !detected {
        return Err(if errored {
            Rejected::Errored
        } else {
            Rejected::Failed
        });
    }
    if !buildpack_passed {
        trace.push("fail: no viable buildpacks in group".into());
        return Err(Rejected::Failed);
    }

    let mut choice = vec![0usize; passed.len()];
    let mut tries = 0;
    loop {
        tries += 1;
        trace.push(format!("resolving plan... (try #{tries})"));
        let trial: Vec<Choice> = passed
            .iter()
            .zip(&choice)
            .map(|((pos, c, alternatives), &i)| Choice {
                pos: *pos,
                name: &c.name,
                optional: c.optional && i + 1 == alternatives.len(),
                sections: &alternatives[i],
            })
            .collect();
        if let Some(resolved) = run_trial(trial, trace) {
            if resolved.kept.len() != group.len() {
                trace.push(format!(
                    "{} of {} buildpacks participating",
                    resolved.kept.len(),
                    group.len()
                ));
            }
            return Ok(resolved);
        }
        // The next combination: the last element's alternatives vary fastest.
        let mut i = passed.len();
        loop {
            if i == 0 {
                return Err(Rejected::Failed);
            }
            i -= 1;
            choice[i] += 1;
            if choice[i] < passed[i].2.len() {
                break;
            }
            choice[i] = 0;
        }
    }
}

/// One element with the alternative chosen for this trial.
struct Choice<'a> {
    pos: usize,
    name: &'a str,
    optional: bool,
    sections: &'a PlanSections,
}

/// A dependency while a trial is being built.
#[derive(Default)]
struct Dep {
    name: String,
    providers: Vec<usize>,
    requires: Vec<Require>,
    /// Provides not yet taken by a require (trial positions).
    pending: Vec<usize>,
    /// Requires made before any provide (trial positions).
    early: Vec<usize>,
}

fn run_trial(mut trial: Vec<Choice>, trace: &mut Vec<String>) -> Option<Resolved> {
    loop {
        let deps = dependencies(&trial);
        let mut drop = Vec::new();
        let problems = deps
            .iter()
            .flat_map(|d| d.early.iter().map(move |t| (*t, "requires", &d.name)))
            .chain(deps.iter().flat_map(|d| {
                d.pending
                    .iter()
                    .map(move |t| (*t, "provides unused", &d.name))
            }));
        for (t, what, name) in problems {
            let o = &trial[t];
            if !o.optional {
                trace.push(format!("fail: {} {what} {name}", o.name));
                return None;
            }
            trace.push(format!("skip: {} {what} {name}", o.name));
            drop.push(t);
        }
        if drop.is_empty() {
            if trial.is_empty() {
                trace.push("fail: no viable buildpacks in group".into());
                return None;
            }
            return Some(Resolved {
                kept: trial.iter().map(|o| o.pos).collect(),
                entries: deps
                    .into_iter()
                    .map(|d| Entry {
                        name: d.name,
                        providers: d.providers.iter().map(|t| trial[*t].pos).collect(),
                        requires: d.requires,
                    })
                    .collect(),
            });
        }
        let mut t = 0;
        trial.retain(|_| {
            t += 1;
            !drop.contains(&(t - 1))
        });
    }
}

fn dependencies(trial: &[Choice]) -> Vec<Dep> {
    let mut deps: Vec<Dep> = Vec::new();
    fn dep<'d>(deps: &'d mut Vec<Dep>, name: &str) -> &'d mut Dep {
        let at = match deps.iter().position(|d| d.name == name) {
            Some(at) => at,
            None => {
                deps.push(Dep {
                    name: name.to_string(),
                    ..Dep::default()
                });
                deps.len() - 1
            }
        };
        &mut deps[at]
    }
    for (t, o) in trial.iter().enumerate() {
        for p in &o.sections.provides {
            dep(&mut deps, &p.name).pending.push(t);
        }
        for r in &o.sections.requires {
            let d = dep(&mut deps, &r.name);
            let pending = std::mem::take(&mut d.pending);
            d.providers.extend(pending);
            if d.providers.is_empty() {
                d.early.push(t);
            } else {
                d.requires.push(r.clone());
            }
        }
    }
    deps
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

    fn pass(name: &str, optional: bool, alternatives: Vec<PlanSections>) -> Candidate {
        Candidate {
            name: name.into(),
            optional,
            extension: false,
            verdict: Verdict::Pass(alternatives),
        }
    }

    fn ended(name: &str, optional: bool, verdict: Verdict) -> Candidate {
        Candidate {
            name: name.into(),
            optional,
            extension: false,
            verdict,
        }
    }

    fn run(group: &[Candidate]) -> (Result<Resolved, Rejected>, Vec<String>) {
        let mut trace = Vec::new();
        let r = resolve_group(group, &mut trace);
        (r, trace)
    }

    /// (name, providers, number of requires) per entry.
    fn shape(r: &Resolved) -> Vec<(&str, Vec<usize>, usize)> {
        r.entries
            .iter()
            .map(|e| (e.name.as_str(), e.providers.clone(), e.requires.len()))
            .collect()
    }

    #[test]
    fn an_empty_group_has_no_viable_buildpacks() {
        let (r, trace) = run(&[]);
        assert_eq!(r, Err(Rejected::Failed));
        assert_eq!(trace.last().unwrap(), "fail: no viable buildpacks in group");
    }

    #[test]
    fn passing_extensions_alone_do_not_make_a_group_pass() {
        let ext = Candidate {
            extension: true,
            ..pass("ext@1", true, vec![PlanSections::default()])
        };
        let (r, trace) = run(&[ext.clone(), ended("a@1", true, Verdict::Fail)]);
        assert_eq!(r, Err(Rejected::Failed));
        assert_eq!(trace.last().unwrap(), "fail: no viable buildpacks in group");
        let (r, _) = run(&[ext, pass("a@1", false, vec![PlanSections::default()])]);
        assert_eq!(r.unwrap().kept, [0, 1]);
    }

    #[test]
    fn a_group_of_failing_optional_buildpacks_is_not_viable() {
        let (r, trace) = run(&[
            ended("a@1", true, Verdict::Fail),
            ended("b@1", true, Verdict::Fail),
        ]);
        assert_eq!(r, Err(Rejected::Failed));
        assert_eq!(
            trace[1..],
            [
                "skip: a@1",
                "skip: b@1",
                "fail: no viable buildpacks in group"
            ]
        );
        // An optional error alone is not viable either, and not counted as errored.
        let (r, _) = run(&[ended("a@1", true, Verdict::Error)]);
        assert_eq!(r, Err(Rejected::Failed));
    }

    #[test]
    fn a_required_error_rejects_the_group_as_errored() {
        let (r, trace) = run(&[
            pass("a@1", false, vec![sec(&[], &[])]),
            ended("b@1", false, Verdict::Error),
        ]);
        assert_eq!(r, Err(Rejected::Errored));
        assert_eq!(trace[1..], ["pass: a@1", "err:  b@1"]);
        // A required failure next to an optional error: still errored.
        let (r, _) = run(&[
            ended("a@1", true, Verdict::Error),
            ended("b@1", false, Verdict::Fail),
        ]);
        assert_eq!(r, Err(Rejected::Errored));
        // A required failure alone: failed.
        let (r, _) = run(&[
            pass("a@1", false, vec![sec(&[], &[])]),
            ended("b@1", false, Verdict::Fail),
        ]);
        assert_eq!(r, Err(Rejected::Failed));
    }

    #[test]
    fn an_optional_error_is_left_out_of_a_passing_group() {
        let (r, _) = run(&[
            ended("a@1", true, Verdict::Error),
            pass("b@1", false, vec![sec(&[], &[])]),
        ]);
        assert_eq!(r.unwrap().kept, [1]);
    }

    #[test]
    fn dependencies_collect_every_provider_and_requirement() {
        // a provides x and y and requires y; c provides x and y; d provides y and requires x and
        // y; b requires x and y.
        let (r, trace) = run(&[
            pass("a@1", false, vec![sec(&["x", "y"], &["y"])]),
            pass("c@2", false, vec![sec(&["x", "y"], &[])]),
            pass("d@2", false, vec![sec(&["y"], &["x", "y"])]),
            pass("b@1", false, vec![sec(&[], &["x", "y"])]),
        ]);
        let r = r.unwrap();
        assert_eq!(r.kept, [0, 1, 2, 3]);
        assert_eq!(shape(&r), [("x", vec![0, 1], 2), ("y", vec![0, 1, 2], 3)]);
        assert_eq!(trace.last().unwrap(), "resolving plan... (try #1)");
    }

    #[test]
    fn a_require_before_any_provide_fails_a_required_buildpack() {
        // b requires x before c provides it (a, which would have provided it, failed).
        let (r, trace) = run(&[
            ended("a@1", true, Verdict::Fail),
            pass("b@1", false, vec![sec(&[], &["x"])]),
            pass("c@1", false, vec![sec(&["x"], &["x"])]),
        ]);
        assert_eq!(r, Err(Rejected::Failed));
        assert_eq!(trace.last().unwrap(), "fail: b@1 requires x");
    }

    #[test]
    fn a_provide_no_later_buildpack_requires_fails_a_required_buildpack() {
        let (r, trace) = run(&[
            pass("a@1", false, vec![sec(&["x"], &["x"])]),
            pass("b@1", false, vec![sec(&["x"], &[])]),
            ended("c@1", true, Verdict::Fail),
        ]);
        assert_eq!(r, Err(Rejected::Failed));
        assert_eq!(trace.last().unwrap(), "fail: b@1 provides unused x");
        // A provide made after the only require is unused too.
        let (r, _) = run(&[
            pass("a@1", false, vec![sec(&["x"], &[])]),
            pass("b@1", false, vec![sec(&[], &["x"])]),
            pass("c@1", false, vec![sec(&["x"], &[])]),
        ]);
        assert_eq!(r, Err(Rejected::Failed));
        // The same buildpack may provide and require.
        let (r, _) = run(&[pass("a@1", false, vec![sec(&["x"], &["x"])])]);
        assert_eq!(shape(&r.unwrap()), [("x", vec![0], 1)]);
    }

    #[test]
    fn optional_buildpacks_with_unmet_provides_or_requires_are_left_out() {
        let (r, trace) = run(&[
            pass("a@1", true, vec![sec(&[], &["missing"])]),
            pass("b@1", false, vec![sec(&["present"], &["present"])]),
            pass("c@1", true, vec![sec(&["missing"], &[])]),
        ]);
        let r = r.unwrap();
        assert_eq!(r.kept, [1]);
        assert_eq!(shape(&r), [("present", vec![1], 1)]);
        assert_eq!(
            trace[trace.len() - 3..],
            [
                "skip: a@1 requires missing",
                "skip: c@1 provides unused missing",
                "1 of 3 buildpacks participating"
            ]
        );
    }

    #[test]
    fn leaving_out_one_optional_buildpack_can_leave_out_the_next() {
        // Without b, whose require is unmet, a's provide is unused.
        let (r, _) = run(&[
            pass("a@1", true, vec![sec(&["x"], &[])]),
            pass("b@1", true, vec![sec(&[], &["x", "nothing"])]),
            pass("c@1", false, vec![sec(&[], &[])]),
        ]);
        assert_eq!(r.unwrap().kept, [2]);
    }

    #[test]
    fn or_alternatives_are_tried_depth_first() {
        let (r, trace) = run(&[
            pass(
                "a@1",
                true,
                vec![sec(&["dep2-missing"], &[]), sec(&["dep1-present"], &[])],
            ),
            pass(
                "b@1",
                true,
                vec![sec(&[], &["dep3-missing"]), sec(&[], &["dep1-present"])],
            ),
            pass(
                "c@1",
                false,
                vec![
                    sec(&["dep5-missing"], &["dep4-missing"]),
                    sec(&["dep6-present"], &["dep6-present"]),
                ],
            ),
            pass(
                "d@1",
                true,
                vec![
                    sec(&["dep8-missing"], &["dep7-missing"]),
                    sec(&["dep10-missing"], &["dep9-missing"]),
                ],
            ),
        ]);
        let r = r.unwrap();
        assert_eq!(r.kept, [0, 1, 2]);
        assert_eq!(
            shape(&r),
            [("dep1-present", vec![0], 1), ("dep6-present", vec![2], 1)]
        );
        // Sixteen combinations; only the very last one resolves, without d.
        assert!(trace.contains(&"resolving plan... (try #16)".to_string()));
        assert!(!trace.contains(&"resolving plan... (try #17)".to_string()));
        assert_eq!(trace.last().unwrap(), "3 of 4 buildpacks participating");
    }

    #[test]
    fn an_optional_buildpack_is_not_dropped_while_it_has_alternatives_left() {
        // b's first alternative is unmet but b is only optional in its last one, which resolves.
        let (r, _) = run(&[
            pass("a@1", false, vec![sec(&["x"], &[])]),
            pass("b@1", true, vec![sec(&[], &["y"]), sec(&[], &["x"])]),
        ]);
        let r = r.unwrap();
        assert_eq!(r.kept, [0, 1]);
        assert_eq!(shape(&r), [("x", vec![0], 1)]);
    }

    #[test]
    fn no_combination_resolving_fails_the_group() {
        let (r, _) = run(&[
            pass("a@1", false, vec![sec(&[], &["x"]), sec(&[], &["y"])]),
            pass("b@1", false, vec![sec(&["z"], &["z"])]),
        ]);
        assert_eq!(r, Err(Rejected::Failed));
    }
}
