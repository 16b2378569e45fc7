//! The compiled index: which statements can possibly match a request, found without looking at the others.
//!
//! Every ARN pattern in a `Resource` has literal runs in its resource part (`/GET/pets/` in
//! `arn:aws:execute-api:*:*:*/*/GET/pets/*`); a request ARN can only match if its resource part contains each
//! of them. Each pattern is filed under one run (its anchor: the one fewest patterns share, of useful length), and
//! the distinct anchors of a whole store (every group, client and user of one `policies` section) go into one
//! Aho-Corasick automaton. A request makes one pass over its resource part (a few dozen bytes) whatever the
//! number of statements, documents or principals; then each of the caller's documents takes its candidates from
//! the anchors found, by binary search in lists sorted by document. Statements without such a run (`*`,
//! `NotResource`, `arn:aws:execute-api:*:*:*`) are always candidates. The full matcher then decides each
//! candidate, so the index can only narrow, never change, a decision.
//!
//! One automaton per store rather than per document: a caller in many groups costs one pass, not one per group,
//! and the automaton is kept in flat arrays (a few bytes per node), which also keeps thousands of documents small.

use super::document::{ResourcePattern, Statement};
use std::collections::{HashMap, VecDeque};

/// Runs shorter than this (`/`, `GET`) occur in most requests and are chosen only when nothing better exists.
const MIN_SELECTIVE_RUN: usize = 4;

const ROOT: u32 = 0;
/// No node, no anchor.
const NONE: u32 = u32::MAX;

fn at(list: &[u32], index: u32) -> u32 {
    list.get(index as usize).copied().unwrap_or(NONE)
}

/// A byte-wise Aho-Corasick automaton over the anchors, in flat arrays.
#[derive(Debug, Clone)]
struct Automaton {
    /// The root's transitions by byte (`ROOT`: none): most bytes of a request fall back to the root.
    root: Vec<u32>,
    /// Node `n`'s transitions are `bytes[edges[n]..edges[n + 1]]` (sorted) to `targets[…]`.
    edges: Vec<u32>,
    bytes: Vec<u8>,
    targets: Vec<u32>,
    /// The longest proper suffix of each node's string that is also in the trie.
    fail: Vec<u32>,
    /// The anchor ending at each node, if any.
    output: Vec<u32>,
    /// The nearest node on each node's fail chain that has an output.
    dict: Vec<u32>,
}

/// The trie as it is built, in flat arrays: each node's children are a list linked through `next_sibling`,
/// sorted by byte (a node has few children). No allocation per node: a store of 10,000 statements has a few
/// hundred thousand nodes, and one `Vec` of children each was a fifth of a configuration's load.
struct Trie {
    /// Per node: its byte (from its parent), first child, next sibling (`NONE`: none) and anchor (`NONE`: none).
    byte: Vec<u8>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    output: Vec<u32>,
}

impl Trie {
    fn new() -> Self {
        Self { byte: vec![0], first_child: vec![NONE], next_sibling: vec![NONE], output: vec![NONE] }
    }

    fn len(&self) -> usize {
        self.byte.len()
    }

    /// The child of `state` for `byte`, added in its place in the sorted sibling list if missing.
    fn child(&mut self, state: u32, byte: u8) -> u32 {
        let fresh = u32::try_from(self.len()).unwrap_or(NONE);
        let mut previous = NONE;
        let mut node = at(&self.first_child, state);
        while node != NONE {
            match at_byte(&self.byte, node).cmp(&byte) {
                std::cmp::Ordering::Less => {
                    previous = node;
                    node = at(&self.next_sibling, node);
                }
                std::cmp::Ordering::Equal => return node,
                std::cmp::Ordering::Greater => break,
            }
        }
        self.byte.push(byte);
        self.first_child.push(NONE);
        self.next_sibling.push(node);
        self.output.push(NONE);
        let link = if previous == NONE {
            self.first_child.get_mut(state as usize)
        } else {
            self.next_sibling.get_mut(previous as usize)
        };
        if let Some(link) = link {
            *link = fresh;
        }
        fresh
    }

    fn insert(&mut self, word: &[u8], anchor: u32) {
        let mut state = ROOT;
        for &byte in word {
            state = self.child(state, byte);
            if state == NONE {
                return;
            }
        }
        if let Some(output) = self.output.get_mut(state as usize) {
            *output = anchor;
        }
    }

    /// The children of `state`, in byte order, as `(byte, node)`.
    fn children(&self, state: u32) -> impl Iterator<Item = (u8, u32)> + '_ {
        let mut node = at(&self.first_child, state);
        std::iter::from_fn(move || {
            if node == NONE {
                return None;
            }
            let child = node;
            node = at(&self.next_sibling, node);
            Some((at_byte(&self.byte, child), child))
        })
    }
}

fn at_byte(list: &[u8], index: u32) -> u8 {
    list.get(index as usize).copied().unwrap_or(0)
}

impl Automaton {
    /// Flattens the trie and computes fail and dictionary links breadth-first (no recursion).
    fn build(trie: Trie) -> Self {
        let nodes = trie.len();
        let mut edges = Vec::with_capacity(nodes + 1);
        let mut bytes = Vec::with_capacity(nodes);
        let mut targets = Vec::with_capacity(nodes);
        for state in 0..u32::try_from(nodes).unwrap_or(NONE) {
            edges.push(u32::try_from(bytes.len()).unwrap_or(NONE));
            for (byte, target) in trie.children(state) {
                bytes.push(byte);
                targets.push(target);
            }
        }
        edges.push(u32::try_from(bytes.len()).unwrap_or(NONE));
        let mut root = vec![ROOT; 256];
        for (byte, target) in trie.children(ROOT) {
            if let Some(slot) = root.get_mut(usize::from(byte)) {
                *slot = target;
            }
        }
        let mut automaton =
            Self { root, edges, bytes, targets, fail: vec![ROOT; nodes], output: trie.output, dict: vec![NONE; nodes] };
        let mut queue: VecDeque<u32> = VecDeque::new();
        queue.push_back(ROOT);
        while let Some(state) = queue.pop_front() {
            let (start, end) = automaton.edge_range(state);
            for edge in start..end {
                let (Some(&byte), Some(&child)) = (automaton.bytes.get(edge), automaton.targets.get(edge)) else {
                    continue;
                };
                let fail = if state == ROOT { ROOT } else { automaton.next(at(&automaton.fail, state), byte) };
                let dict = if at(&automaton.output, fail) != NONE { fail } else { at(&automaton.dict, fail) };
                if let Some(slot) = automaton.fail.get_mut(child as usize) {
                    *slot = fail;
                }
                if let Some(slot) = automaton.dict.get_mut(child as usize) {
                    *slot = dict;
                }
                queue.push_back(child);
            }
        }
        automaton
    }

    fn edge_range(&self, state: u32) -> (usize, usize) {
        (at(&self.edges, state) as usize, at(&self.edges, state + 1) as usize)
    }

    fn goto(&self, state: u32, byte: u8) -> Option<u32> {
        if state == ROOT {
            return self.root.get(usize::from(byte)).copied().filter(|&next| next != ROOT);
        }
        let (start, end) = self.edge_range(state);
        let bytes = self.bytes.get(start..end)?;
        let found = bytes.binary_search(&byte).ok()?;
        self.targets.get(start + found).copied()
    }

    /// The state after reading `byte` in `state`, following fail links.
    fn next(&self, mut state: u32, byte: u8) -> u32 {
        loop {
            if let Some(next) = self.goto(state, byte) {
                return next;
            }
            if state == ROOT {
                return ROOT;
            }
            state = at(&self.fail, state);
        }
    }

    /// Appends every anchor that occurs in `text` (possibly repeated).
    fn find(&self, text: &[u8], out: &mut Vec<u32>) {
        let mut state = ROOT;
        for &byte in text {
            state = self.next(state, byte);
            let mut node = if at(&self.output, state) != NONE { state } else { at(&self.dict, state) };
            while node != NONE {
                out.push(at(&self.output, node));
                node = at(&self.dict, node);
            }
        }
    }
}

/// Candidate lookup for every statement of one store; statements are numbered per source (`(source, id)`, ids
/// being positions in the source's list).
#[derive(Debug, Clone)]
pub(crate) struct StatementIndex {
    automaton: Automaton,
    /// Anchor `a`'s statements are `postings[starts[a]..starts[a + 1]]`, sorted by source, then id.
    starts: Vec<u32>,
    postings: Vec<(u32, u32)>,
    /// Source `s`'s statements that must always be checked: `always[always_starts[s]..always_starts[s + 1]]`.
    always_starts: Vec<u32>,
    always: Vec<u32>,
}

/// The literal runs of each ARN pattern of `statement`, appended to `runs` with each pattern's end in `ends`;
/// `false` (and nothing appended) when some pattern has none (or the statement excludes resources): then only
/// checking it can tell.
fn pattern_runs<'s>(statement: &'s Statement, runs: &mut Vec<&'s str>, ends: &mut Vec<usize>) -> bool {
    let (runs_before, ends_before) = (runs.len(), ends.len());
    if !statement.resource.negated {
        for (pattern, _) in &statement.resource.patterns {
            let ResourcePattern::Arn(arn) = pattern else { break };
            let start = runs.len();
            runs.extend(arn.resource.literal_runs());
            if runs.len() == start {
                break;
            }
            ends.push(runs.len());
        }
        if ends.len() - ends_before == statement.resource.patterns.len() {
            return true;
        }
    }
    runs.truncate(runs_before);
    ends.truncate(ends_before);
    false
}

/// A fast hasher for the index's load-time maps: their keys are literal runs of the configuration's own patterns
/// (trusted operator input, nothing a request chooses), and SipHash was a twentieth of a load. Each 8-byte word
/// is multiplied in and the product's high half shifted onto its low half, so that a difference in any bit
/// reaches every bit: a plain multiply only carries differences upwards, and runs that differ in one digit then
/// shared buckets. 64-bit operations only: a 128-bit product is a library call in wasm32.
#[derive(Default, Clone, Copy)]
struct RunHasher(u64);

impl RunHasher {
    fn mix(&mut self, word: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let product = (self.0 ^ word).wrapping_mul(K);
        self.0 = product ^ (product >> 32);
    }
}

impl std::hash::Hasher for RunHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        if let Some(slot) = tail.get_mut(..rest.len()) {
            slot.copy_from_slice(rest);
        }
        self.mix(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 59));
    }

    fn write_u8(&mut self, byte: u8) {
        self.mix(u64::from(byte) ^ 0x100);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type RunMap<'s> = HashMap<&'s str, u32, std::hash::BuildHasherDefault<RunHasher>>;

impl StatementIndex {
    /// Indexes `sources`: each a list of statements, numbered by position; sources by position too.
    pub(crate) fn build(sources: &[Vec<&Statement>]) -> Self {
        // Every pattern's runs, read once: `runs[ends[p - 1]..ends[p]]` for pattern `p`, and for each statement
        // the end of its patterns in `ends` (`None`: always a candidate).
        let mut runs: Vec<&str> = Vec::new();
        let mut ends: Vec<usize> = Vec::new();
        let mut statement_ends: Vec<Option<usize>> = Vec::new();
        for statement in sources.iter().flatten() {
            statement_ends.push(pattern_runs(statement, &mut runs, &mut ends).then_some(ends.len()));
        }
        let pattern = |index: usize| {
            let start = index.checked_sub(1).and_then(|previous| ends.get(previous)).copied().unwrap_or(0);
            let end = ends.get(index).copied().unwrap_or(start);
            runs.get(start..end).unwrap_or_default()
        };
        // How many patterns share each run: a run shared by many (`a1b2c3d4e5/dev/GET/users/` in front of a
        // variable) makes a poor anchor, so each pattern is filed under its rarest run of useful length.
        let mut shared = RunMap::default();
        for index in 0..ends.len() {
            let runs = pattern(index);
            for (position, run) in runs.iter().enumerate() {
                // Once per pattern: a pattern has a few runs.
                if !runs.get(..position).unwrap_or_default().contains(run) {
                    *shared.entry(*run).or_default() += 1;
                }
            }
        }
        let mut anchors = RunMap::default();
        let mut trie = Trie::new();
        let mut postings: Vec<(u32, u32, u32)> = Vec::new();
        let mut always_starts = Vec::with_capacity(sources.len() + 1);
        let mut always = Vec::new();
        let mut statement_ends = statement_ends.into_iter();
        let mut next_pattern = 0;
        for (source, statements) in sources.iter().enumerate() {
            let source = u32::try_from(source).unwrap_or(NONE);
            always_starts.push(u32::try_from(always.len()).unwrap_or(NONE));
            for id in 0..statements.len() {
                let id = u32::try_from(id).unwrap_or(NONE);
                let Some(Some(patterns_end)) = statement_ends.next() else {
                    always.push(id);
                    continue;
                };
                for index in next_pattern..patterns_end {
                    let best = pattern(index).iter().min_by_key(|run| {
                        let short = run.len() < MIN_SELECTIVE_RUN;
                        (short, shared.get(*run).copied().unwrap_or(0), std::cmp::Reverse(run.len()))
                    });
                    let Some(&best) = best else { continue };
                    let next = u32::try_from(anchors.len()).unwrap_or(NONE);
                    let anchor = *anchors.entry(best).or_insert_with(|| {
                        trie.insert(best.as_bytes(), next);
                        next
                    });
                    postings.push((anchor, source, id));
                }
                next_pattern = patterns_end;
            }
        }
        always_starts.push(u32::try_from(always.len()).unwrap_or(NONE));
        postings.sort_unstable();
        postings.dedup();
        let mut starts = Vec::with_capacity(anchors.len() + 1);
        let mut at = 0usize;
        for anchor in 0..=u32::try_from(anchors.len()).unwrap_or(NONE) {
            starts.push(u32::try_from(at).unwrap_or(NONE));
            while postings.get(at).is_some_and(|(of, _, _)| *of == anchor) {
                at += 1;
            }
        }
        let postings = postings.into_iter().map(|(_, source, id)| (source, id)).collect();
        Self { automaton: Automaton::build(trie), starts, postings, always_starts, always }
    }

    /// The anchors found in a request whose ARN has this resource part, sorted and each once (`None`: the request
    /// is not an ARN, and only statements that match anything may apply). The same for every source.
    pub(crate) fn anchors_in(&self, resource: Option<&str>, out: &mut Vec<u32>) {
        out.clear();
        if let Some(resource) = resource {
            self.automaton.find(resource.as_bytes(), out);
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The ids, in order and without repeats, of the statements of `source` that may match a request in which
    /// `anchors` ([`Self::anchors_in`]) occur.
    pub(crate) fn candidates(&self, source: u32, anchors: &[u32], out: &mut Vec<usize>) {
        out.clear();
        for &anchor in anchors {
            let (start, end) = (at(&self.starts, anchor) as usize, at(&self.starts, anchor + 1) as usize);
            let Some(postings) = self.postings.get(start..end) else { continue };
            let first = postings.partition_point(|(of, _)| *of < source);
            let own = postings.get(first..).unwrap_or_default().iter().take_while(|(of, _)| *of == source);
            out.extend(own.map(|&(_, id)| id as usize));
        }
        let (start, end) = (at(&self.always_starts, source) as usize, at(&self.always_starts, source + 1) as usize);
        out.extend(self.always.get(start..end).unwrap_or_default().iter().map(|&id| id as usize));
        out.sort_unstable();
        out.dedup();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn automaton(words: &[&str]) -> Automaton {
        let mut trie = Trie::new();
        for (id, word) in words.iter().enumerate() {
            trie.insert(word.as_bytes(), u32::try_from(id).unwrap());
        }
        Automaton::build(trie)
    }

    #[test]
    fn finds_every_run_occurring_in_the_text() {
        let automaton = automaton(&["/GET/pets/1", "/GET/pets/12", "pets", "ets/1", "/POST/"]);
        let mut found = Vec::new();
        automaton.find(b"api/dev/GET/pets/123", &mut found);
        found.sort_unstable();
        found.dedup();
        assert_eq!(found, vec![0, 1, 2, 3]);
        found.clear();
        automaton.find(b"api/dev/POST/cats", &mut found);
        assert_eq!(found, vec![4]);
    }

    /// The automaton finds exactly the words that occur, on random words and texts over a small alphabet (where
    /// suffixes, prefixes and fail chains overlap most).
    #[test]
    fn finds_exactly_what_a_substring_search_finds() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        let word = |rng: &mut rand::rngs::StdRng, max: usize| -> String {
            (0..rng.gen_range(1..=max)).map(|_| ['a', 'b', '/', 'é'][rng.gen_range(0..4)]).collect()
        };
        for _ in 0..500 {
            let mut words: Vec<String> = (0..rng.gen_range(1..12)).map(|_| word(&mut rng, 5)).collect();
            words.sort();
            words.dedup();
            let automaton = automaton(&words.iter().map(String::as_str).collect::<Vec<_>>());
            let text = word(&mut rng, 30);
            let mut found = Vec::new();
            automaton.find(text.as_bytes(), &mut found);
            found.sort_unstable();
            found.dedup();
            let expected: Vec<u32> = (0..words.len())
                .filter(|&id| text.contains(words[id].as_str()))
                .map(|id| u32::try_from(id).unwrap())
                .collect();
            assert_eq!(found, expected, "{words:?} in {text}");
        }
    }
}
