//! One Aho-Corasick pass over a haystack says which rules may match: each
//! rule has a set of literals one of which must occur in any match.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Literal prefilter over a group of rules.
pub(super) struct Prefilter {
    ac: AhoCorasick,
    /// Literal id → rule indices (local to the group).
    owners: Vec<Vec<usize>>,
    /// Rules without a usable literal: always run.
    pub(super) always: Vec<usize>,
}

impl Prefilter {
    /// `None` when no rule has a literal.
    pub(super) fn build(literals: &[Option<Vec<Vec<u8>>>]) -> Option<Self> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (rule, lits) in literals.iter().enumerate() {
            match lits {
                None => always.push(rule),
                Some(lits) => {
                    for lit in lits {
                        let id = *index.entry(lit.clone()).or_insert_with(|| {
                            patterns.push(lit.clone());
                            owners.push(Vec::new());
                            patterns.len() - 1
                        });
                        if !owners[id].contains(&rule) {
                            owners[id].push(rule);
                        }
                    }
                }
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(if patterns.len() > 2000 {
                AhoCorasickKind::ContiguousNFA
            } else {
                AhoCorasickKind::DFA
            }))
            .build(&patterns)
            .ok()?;
        Some(Self { ac, owners, always })
    }

    /// Mark the rules worth running on `haystacks` (lower-cased).
    pub(super) fn candidates(&self, haystacks: &[&str], out: &mut [bool]) {
        for &rule in &self.always {
            out[rule] = true;
        }
        let mut seen = vec![false; self.owners.len()];
        for hay in haystacks {
            for m in self.ac.find_overlapping_iter(hay.as_bytes()) {
                let id = m.pattern().as_usize();
                if !seen[id] {
                    seen[id] = true;
                    for &rule in &self.owners[id] {
                        out[rule] = true;
                    }
                }
            }
        }
    }
}
