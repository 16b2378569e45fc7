//! The compiled index: which statements can possibly match a request, found without looking at the others.
//!
//! Every ARN pattern in a `Resource` has literal runs in its resource part (`/GET/pets/` in
//! `arn:aws:execute-api:*:*:*/*/GET/pets/*`); a request ARN can only match if its resource part contains each
//! of them. One run per pattern (its rarest run of useful length) goes into one Aho-Corasick automaton per
//! statement set, so one pass over the request's resource part (a few dozen bytes) yields the candidates,
//! whatever the number of statements. Statements without such a
//! run (`*`, `NotResource`, `arn:aws:execute-api:*:*:*`) are always candidates. The full matcher then decides
//! each candidate, so the index can only narrow, never change, a decision.

use super::document::{ResourcePattern, Statement};
use std::collections::{HashMap, VecDeque};

/// Runs shorter than this (`/`, `GET`) occur in most requests and are chosen only when nothing better exists.
const MIN_SELECTIVE_RUN: usize = 4;

const ROOT: usize = 0;

#[derive(Debug, Default, Clone)]
struct Node {
    /// Transitions, sorted by byte.
    next: Vec<(u8, usize)>,
    /// The longest proper suffix of this node's string that is also in the trie.
    fail: usize,
    /// The nearest node on the fail chain that has outputs.
    dict: Option<usize>,
    /// Statement ids whose run ends here.
    outputs: Vec<usize>,
}

/// A byte-wise Aho-Corasick automaton over statement runs.
#[derive(Debug, Clone)]
struct Automaton {
    nodes: Vec<Node>,
}

impl Automaton {
    fn new() -> Self {
        Self { nodes: vec![Node::default()] }
    }

    fn goto(&self, state: usize, byte: u8) -> Option<usize> {
        let node = self.nodes.get(state)?;
        let at = node.next.binary_search_by_key(&byte, |(b, _)| *b).ok()?;
        node.next.get(at).map(|(_, target)| *target)
    }

    fn insert(&mut self, word: &[u8], id: usize) {
        let mut state = ROOT;
        for &byte in word {
            state = match self.goto(state, byte) {
                Some(next) => next,
                None => {
                    let created = self.nodes.len();
                    self.nodes.push(Node::default());
                    if let Some(node) = self.nodes.get_mut(state) {
                        let at = node.next.partition_point(|(b, _)| *b < byte);
                        node.next.insert(at, (byte, created));
                    }
                    created
                }
            };
        }
        if let Some(node) = self.nodes.get_mut(state) {
            node.outputs.push(id);
        }
    }

    fn fail(&self, state: usize) -> usize {
        self.nodes.get(state).map_or(ROOT, |node| node.fail)
    }

    /// Computes fail and dictionary links breadth-first (no recursion).
    fn link(&mut self) {
        let mut queue: VecDeque<usize> = VecDeque::new();
        queue.push_back(ROOT);
        while let Some(state) = queue.pop_front() {
            let children = self.nodes.get(state).map(|node| node.next.clone()).unwrap_or_default();
            for (byte, child) in children {
                let fail = if state == ROOT {
                    ROOT
                } else {
                    let mut candidate = self.fail(state);
                    loop {
                        if let Some(target) = self.goto(candidate, byte) {
                            break target;
                        }
                        if candidate == ROOT {
                            break ROOT;
                        }
                        candidate = self.fail(candidate);
                    }
                };
                let dict = match self.nodes.get(fail) {
                    Some(node) if !node.outputs.is_empty() => Some(fail),
                    Some(node) => node.dict,
                    None => None,
                };
                if let Some(node) = self.nodes.get_mut(child) {
                    node.fail = fail;
                    node.dict = dict;
                }
                queue.push_back(child);
            }
        }
    }

    /// Appends the id of every run that occurs in `text` (possibly repeated).
    fn find(&self, text: &[u8], out: &mut Vec<usize>) {
        let mut state = ROOT;
        for &byte in text {
            loop {
                if let Some(next) = self.goto(state, byte) {
                    state = next;
                    break;
                }
                if state == ROOT {
                    break;
                }
                state = self.fail(state);
            }
            let mut at = Some(state);
            while let Some(node) = at.and_then(|index| self.nodes.get(index)) {
                out.extend_from_slice(&node.outputs);
                at = node.dict;
            }
        }
    }
}

/// Candidate lookup for one ordered list of statements.
#[derive(Debug, Clone)]
pub(crate) struct StatementIndex {
    automaton: Automaton,
    /// Statements that must always be checked.
    always: Vec<usize>,
}

impl StatementIndex {
    /// Indexes `statements`; ids are positions in the slice.
    pub(crate) fn build<'a>(statements: impl Iterator<Item = &'a Statement>) -> Self {
        // Per statement: the literal runs of each ARN pattern, or `None` when some pattern has none.
        let mut runs_of: Vec<Option<Vec<Vec<String>>>> = Vec::new();
        for statement in statements {
            let mut patterns = Some(Vec::new());
            if statement.resource.negated {
                patterns = None;
            }
            for (pattern, _) in &statement.resource.patterns {
                match (pattern, patterns.as_mut()) {
                    (ResourcePattern::Arn(arn), Some(found)) => {
                        let runs = arn.resource.literal_runs();
                        if runs.is_empty() {
                            patterns = None;
                        } else {
                            found.push(runs);
                        }
                    }
                    _ => patterns = None,
                }
            }
            runs_of.push(patterns);
        }
        // How many patterns share each run: a run shared by many (`a1b2c3d4e5/dev/GET/users/` in front of a
        // variable) makes a poor anchor, so each pattern is filed under its rarest run of useful length.
        let mut shared: HashMap<&str, usize> = HashMap::new();
        for runs in runs_of.iter().flatten().flatten() {
            let mut distinct: Vec<&String> = runs.iter().collect();
            distinct.sort_unstable();
            distinct.dedup();
            for run in distinct {
                *shared.entry(run.as_str()).or_default() += 1;
            }
        }
        let mut automaton = Automaton::new();
        let mut always = Vec::new();
        for (id, patterns) in runs_of.iter().enumerate() {
            let Some(patterns) = patterns else {
                always.push(id);
                continue;
            };
            for runs in patterns {
                let anchor = runs.iter().min_by_key(|run| {
                    let short = run.len() < MIN_SELECTIVE_RUN;
                    (short, shared.get(run.as_str()).copied().unwrap_or(0), std::cmp::Reverse(run.len()))
                });
                if let Some(anchor) = anchor {
                    automaton.insert(anchor.as_bytes(), id);
                }
            }
        }
        automaton.link();
        Self { automaton, always }
    }

    /// The ids, in order and without repeats, of the statements that may match a request whose ARN has this
    /// resource part (`None`: the request is not an ARN, and only statements that match anything may apply).
    pub(crate) fn candidates(&self, resource: Option<&str>, out: &mut Vec<usize>) {
        out.clear();
        if let Some(resource) = resource {
            self.automaton.find(resource.as_bytes(), out);
        }
        out.extend_from_slice(&self.always);
        out.sort_unstable();
        out.dedup();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finds_every_run_occurring_in_the_text() {
        let mut automaton = Automaton::new();
        for (id, word) in ["/GET/pets/1", "/GET/pets/12", "pets", "ets/1", "/POST/"].iter().enumerate() {
            automaton.insert(word.as_bytes(), id);
        }
        automaton.link();
        let mut found = Vec::new();
        automaton.find(b"api/dev/GET/pets/123", &mut found);
        found.sort_unstable();
        found.dedup();
        assert_eq!(found, vec![0, 1, 2, 3]);
        found.clear();
        automaton.find(b"api/dev/POST/cats", &mut found);
        assert_eq!(found, vec![4]);
    }
}
