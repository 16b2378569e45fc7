//! The declared routes with an index built at load, so that a request meets only the routes that could take it
//! (or a spelling of it), not every route: with 1,000 routes the plain scan was 67 µs natively per request.
//!
//! A route is a candidate for a request when its method could take the request's method (the same, `ANY`, or
//! `GET` for `HEAD`, the lenient spelling) and its first segment could match the path's first one: a literal
//! equal to it in ASCII case (the lenient spelling compares without case, the exact match with it; the full
//! match decides), or a variable, which matches any first segment. A route with no segment (`/`) is filed under
//! the empty key, as is a path with none: only such paths can match it, even loosely. Candidates come out in
//! declaration order and each is checked with the full rule ([`Route::matches`], [`Route::matches_variant`]), so
//! the first match is the plain scan's ([`super::find`], [`super::first_lenient`]: the tests' oracle).
//!
//! Request paths choose the keys looked up here, so the lookup is a binary search over sorted keys: no hashing of
//! attacker-chosen strings, no allocation.

use super::{Route, Segment};
use crate::request::NormalizedPath;
use std::cmp::Ordering;

/// The declared routes in order, and where each request method and first path segment finds its candidates.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// For each method a route names (and `HEAD` when one names `GET`): the routes a request with that method
    /// could take or be a spelling of.
    by_method: Vec<(Box<str>, Candidates)>,
    /// For every other method: the routes that take every method.
    other_methods: Candidates,
}

/// Route positions, by the first segment they could match.
#[derive(Debug, Clone, Default)]
struct Candidates {
    /// By first literal segment in ASCII lower case (the empty key for routes with no segment), sorted by key;
    /// each list in declaration order.
    by_segment: Vec<(Box<str>, Vec<usize>)>,
    /// Routes whose first segment is a variable (`{id}`, `{proxy+}`): candidates for any path. In order.
    variable: Vec<usize>,
}

/// Where a route is filed: `None` for a variable first segment, else the lower-cased literal (empty: no segment).
fn route_key(route: &Route) -> Option<String> {
    match route.segments.first() {
        None => Some(String::new()),
        Some(Segment::Literal(literal)) => Some(literal.to_ascii_lowercase()),
        Some(Segment::Param | Segment::Greedy) => None,
    }
}

/// Orders a stored (lower-case) key against a request's segment, compared in ASCII lower case.
fn compare(key: &str, segment: &str) -> Ordering {
    key.bytes().cmp(segment.bytes().map(|byte| byte.to_ascii_lowercase()))
}

impl Candidates {
    fn build<'a>(routes: impl Iterator<Item = (usize, &'a Route)>) -> Self {
        let mut keyed: Vec<(String, usize)> = Vec::new();
        let mut variable = Vec::new();
        for (position, route) in routes {
            match route_key(route) {
                Some(key) => keyed.push((key, position)),
                None => variable.push(position),
            }
        }
        // Stable: positions stay in declaration order within a key.
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut by_segment: Vec<(Box<str>, Vec<usize>)> = Vec::new();
        for (key, position) in keyed {
            match by_segment.last_mut() {
                Some((last, positions)) if **last == *key => positions.push(position),
                _ => by_segment.push((key.into_boxed_str(), vec![position])),
            }
        }
        Self { by_segment, variable }
    }

    /// The positions that could match a path whose first segment is `first` (empty: the path has none), in order:
    /// the routes filed under `first`, under the literals it is a lenient spelling of when it is also a route's
    /// last segment (`products` for `products.json`, `products.` or `products%20`: see [`super::loosely_last`]),
    /// and the routes whose first segment is a variable.
    fn for_segment(&self, first: &str) -> Merged<'_> {
        let keyed = |key: &str| {
            self.by_segment
                .binary_search_by(|(stored, _)| compare(stored, key))
                .ok()
                .and_then(|found| self.by_segment.get(found))
                .map_or(&[][..], |(_, positions)| positions.as_slice())
        };
        let trimmed = super::trimmed_end(first);
        let stem = super::without_format(first).filter(|stem| !stem.eq_ignore_ascii_case(trimmed));
        let trimmed = (!trimmed.eq_ignore_ascii_case(first)).then_some(trimmed);
        Merged { lists: [keyed(first), trimmed.map_or(&[][..], keyed), stem.map_or(&[][..], keyed), &self.variable] }
    }
}

/// Ascending position lists with no position in two of them, merged.
struct Merged<'a> {
    lists: [&'a [usize]; 4],
}

impl Iterator for Merged<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let list = self.lists.iter_mut().filter(|list| !list.is_empty()).min_by_key(|list| list.first().copied())?;
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first)
    }
}

impl RouteTable {
    /// Indexes `routes`, kept in their declaration order.
    pub fn new(routes: Vec<Route>) -> Self {
        let mut methods: Vec<&str> = Vec::new();
        for route in &routes {
            if let Some(method) = route.method.as_deref() {
                for method in [method].into_iter().chain((method == "GET").then_some("HEAD")) {
                    if !methods.contains(&method) {
                        methods.push(method);
                    }
                }
            }
        }
        let by_method = methods
            .iter()
            .map(|&method| {
                let could_take = |route: &&Route| match route.method.as_deref() {
                    None => true,
                    Some(own) => own == method || (own == "GET" && method == "HEAD"),
                };
                let candidates = Candidates::build(routes.iter().enumerate().filter(|(_, route)| could_take(route)));
                (Box::from(method), candidates)
            })
            .collect();
        let other_methods = Candidates::build(routes.iter().enumerate().filter(|(_, route)| route.method.is_none()));
        Self { routes, by_method, other_methods }
    }

    /// The routes, in declaration order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes that could take `method` on `path` or a lenient spelling of it, in declaration order.
    fn candidates(&self, method: &str, path: &NormalizedPath) -> impl Iterator<Item = &Route> + '_ {
        let table =
            self.by_method.iter().find(|(own, _)| **own == *method).map_or(&self.other_methods, |(_, table)| table);
        let first = path.segments().next().unwrap_or("");
        table.for_segment(first).filter_map(|position| self.routes.get(position))
    }

    /// The first route that takes the request, if any (as [`super::find`] over [`Self::routes`]).
    pub fn find(&self, method: &str, path: &NormalizedPath) -> Option<&Route> {
        self.candidates(method, path).find(|route| route.matches(method, path))
    }

    /// The first route that takes the request or a lenient spelling of it (as [`super::first_lenient`]).
    pub fn first_lenient(&self, method: &str, path: &NormalizedPath) -> Option<&Route> {
        self.candidates(method, path).find(|route| route.matches(method, path) || route.matches_variant(method, path))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::request::normalize_path;
    use crate::routes::RouteAuth;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "ANY", "*"];
    const WORDS: [&str; 10] = ["a", "A", "b", "pets", "Pets", "PETS", "v1", "x-y", "pets.json", "a.b"];
    /// What a request may add to a segment: lenient spellings of a last segment (format suffix, dots, spaces).
    const SUFFIXES: [&str; 7] = ["", "", "", ".json", ".", "%20", ".json."];

    fn word(rng: &mut StdRng) -> &'static str {
        WORDS[rng.gen_range(0..WORDS.len())]
    }

    /// A random template: literals from a few words in several cases, variables, a greedy tail, a trailing slash.
    fn template(rng: &mut StdRng) -> String {
        let length = rng.gen_range(0..4);
        let mut template = String::new();
        for index in 0..length {
            template.push('/');
            match rng.gen_range(0..6) {
                0 => template.push_str("{id}"),
                1 if index + 1 == length => template.push_str("{proxy+}"),
                _ => template.push_str(word(rng)),
            }
        }
        if template.is_empty() || rng.gen_bool(0.2) {
            template.push('/');
        }
        template
    }

    /// A random request target over the same words, with trailing slashes and other cases.
    fn target(rng: &mut StdRng) -> String {
        let mut target = String::new();
        for _ in 0..rng.gen_range(0..5) {
            target.push('/');
            target.push_str(if rng.gen_bool(0.1) { "q7" } else { word(rng) });
            target.push_str(SUFFIXES[rng.gen_range(0..SUFFIXES.len())]);
        }
        if rng.gen_bool(0.1) {
            target.push_str("/.json");
        }
        if target.is_empty() || rng.gen_bool(0.3) {
            target.push('/');
        }
        target
    }

    #[test]
    fn the_index_finds_what_the_plain_scan_finds() {
        let mut rng = StdRng::seed_from_u64(15);
        let mut compared = 0;
        for _ in 0..300 {
            let count = rng.gen_range(1..40);
            let routes: Vec<Route> = (0..count)
                .filter_map(|_| {
                    let method = METHODS[rng.gen_range(0..METHODS.len())];
                    Route::new(method, &template(&mut rng), RouteAuth::Public).ok()
                })
                .collect();
            let table = RouteTable::new(routes.clone());
            for _ in 0..60 {
                // Request methods include one no route can name and lower case, which the plain scan also meets.
                let method =
                    ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get"][rng.gen_range(0..9)];
                let target = target(&mut rng);
                let path = normalize_path(&target).unwrap();
                let plain = crate::routes::find(&routes, method, &path).map(|route| route as *const Route);
                let indexed = table.find(method, &path).map(|route| route as *const Route);
                let offset = |found: Option<*const Route>, base: &[Route]| {
                    found.map(|found| base.iter().position(|route| std::ptr::eq(route, found)).unwrap())
                };
                assert_eq!(
                    offset(indexed, table.routes()),
                    offset(plain, &routes),
                    "find {method} {target} in {routes:#?}"
                );
                let plain = crate::routes::first_lenient(&routes, method, &path).map(|route| route as *const Route);
                let indexed = table.first_lenient(method, &path).map(|route| route as *const Route);
                assert_eq!(
                    offset(indexed, table.routes()),
                    offset(plain, &routes),
                    "lenient {method} {target} in {routes:#?}"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 300 * 60);
    }

    #[test]
    fn lenient_spellings_find_routes_filed_under_other_cases_and_methods() {
        let routes =
            ["/Pets/{id}", "/{proxy+}"].map(|template| Route::new("ANY", template, RouteAuth::Public).unwrap());
        let mut routes = routes.to_vec();
        routes.insert(0, Route::new("GET", "/", RouteAuth::Public).unwrap());
        let table = RouteTable::new(routes);
        let path = normalize_path("/PETS/1/").unwrap();
        assert_eq!(table.find("PUT", &path).unwrap().template, "/{proxy+}");
        assert_eq!(table.first_lenient("PUT", &path).unwrap().template, "/Pets/{id}");
        assert_eq!(table.first_lenient("HEAD", &normalize_path("/").unwrap()).unwrap().template, "/");
        assert!(table.find("HEAD", &normalize_path("/").unwrap()).is_none());
    }

    #[test]
    fn suffixed_spellings_find_the_route_of_their_stem() {
        let routes = ["/products", "/products.json", "/{proxy+}"]
            .map(|template| Route::new("GET", template, RouteAuth::Public).unwrap());
        let table = RouteTable::new(routes.to_vec());
        for (target, first) in [
            ("/products.xml", "/products"),
            ("/Products%20", "/products"),
            ("/products.", "/products"),
            ("/products.json", "/products"),
            ("/products.json.", "/products"),
            ("/x.json", "/{proxy+}"),
        ] {
            // `/products.json` is a spelling of the earlier `/products` as well as its own route: the first one wins.
            let path = normalize_path(target).unwrap();
            assert_eq!(table.first_lenient("GET", &path).unwrap().template, first, "{target}");
        }
    }
}
