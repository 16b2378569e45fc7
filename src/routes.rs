//! API Gateway-style routes: method plus path template, first match wins.

use crate::request::{normalize_path_with, NormalizedPath, RequestError, RequestOptions};
use crate::token::TokenUses;

mod index;
pub use index::RouteTable;

/// One piece of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: exactly one non-empty segment.
    Param,
    /// `{name+}`: one or more segments, the rest of the path.
    Greedy,
}

/// What a matching route asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAuth {
    /// No token is needed (`"auth": "none"`).
    Public,
    /// A valid token; with scopes, an access token holding at least one of them; with `token_use`, only those
    /// kinds (API Gateway's Cognito authorizer takes ID tokens on methods without scopes, access tokens on the
    /// others).
    Token { scopes: Vec<String>, token_use: Option<TokenUses> },
    /// A method the API does not declare on this resource: 403 Missing Authentication Token, as API Gateway
    /// answers it, even where a later, more general route would take the request.
    Undeclared,
}

/// A compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    /// `None` for `*`/`ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
    /// The template as configured, for explanations.
    pub template: String,
    pub auth: RouteAuth,
}

/// Why a route template was refused; the caller adds the configuration path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("path `{0}` must start with `/`")]
    NoLeadingSlash(String),
    #[error("path `{0}`: a `{{...}}` variable must be a whole segment named with letters, digits, `_` or `-`")]
    BadVariable(String),
    #[error("path `{0}`: a greedy `{{name+}}` variable must be the last segment")]
    GreedyNotLast(String),
    #[error("path `{0}`: empty segment")]
    EmptySegment(String),
    #[error("method `{0}` is not one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, ANY, *")]
    Method(String),
    #[error(
        "path `{template}`: `*` is not a wildcard in a route template (write `{{proxy+}}` for the rest of a path)"
    )]
    Wildcard { template: String },
    #[error("path `{template}`: a route template has no query string (`?`)")]
    Query { template: String },
    #[error("path `{template}` is not in normal form: requests reach it as `{normal}`; write that")]
    NotNormal { template: String, normal: String },
    #[error("path `{template}` can never match: {why}")]
    NeverMatches { template: String, why: RequestError },
}

fn variable(segment: &str) -> Option<(&str, bool)> {
    let inner = segment.strip_prefix('{')?.strip_suffix('}')?;
    let (name, greedy) = match inner.strip_suffix('+') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    Some((name, greedy))
}

/// Checks that a literal segment is spelled as a normalised request path spells it (under the configured request
/// options), so that the route can match: `/%7Eroot` never would (requests arrive as `/~root`), nor `/a/../b`.
fn check_literal(template: &str, literal: &str, options: &RequestOptions) -> Result<(), RouteError> {
    if literal.contains('*') {
        return Err(RouteError::Wildcard { template: template.to_owned() });
    }
    if literal.contains('?') {
        return Err(RouteError::Query { template: template.to_owned() });
    }
    if literal == "." || literal == ".." {
        return Err(RouteError::NotNormal {
            template: template.to_owned(),
            normal: normal_template(template, options),
        });
    }
    let alone = format!("/{literal}");
    match normalize_path_with(&alone, options) {
        Err(why) => Err(RouteError::NeverMatches { template: template.to_owned(), why }),
        Ok(normal) if normal.path != alone || normal.query.is_some() => {
            let normal = normal_template(template, options);
            Err(RouteError::NotNormal { template: template.to_owned(), normal })
        }
        Ok(_) => Ok(()),
    }
}

/// The whole template as a request would be normalised, for the error message (the template itself when even
/// that cannot be read).
fn normal_template(template: &str, options: &RequestOptions) -> String {
    normalize_path_with(template, options).map_or_else(|_| template.to_owned(), |normal| normal.target())
}

impl Route {
    /// Compiles `method` and path `template` under the default (strict) request options.
    pub fn new(method: &str, template: &str, auth: RouteAuth) -> Result<Self, RouteError> {
        Self::with_options(method, template, auth, &RequestOptions::default())
    }

    /// Compiles `method` and path `template`; literal segments must be in the normal form requests are put in
    /// under `options`, or the route could never match.
    pub fn with_options(
        method: &str,
        template: &str,
        auth: RouteAuth,
        options: &RequestOptions,
    ) -> Result<Self, RouteError> {
        let method = match method {
            "*" | "ANY" => None,
            other => Some(
                crate::request::normalize_method(other)
                    .ok()
                    .filter(|known| *known == other)
                    .ok_or_else(|| RouteError::Method(other.to_owned()))?
                    .to_owned(),
            ),
        };
        let rest = template.strip_prefix('/').ok_or_else(|| RouteError::NoLeadingSlash(template.to_owned()))?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let parts: Vec<&str> = rest.split('/').collect();
            let last = parts.len().saturating_sub(1);
            for (index, part) in parts.into_iter().enumerate() {
                let segment = if part.contains(['{', '}']) {
                    let (name, greedy) = variable(part).ok_or_else(|| RouteError::BadVariable(template.to_owned()))?;
                    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                        return Err(RouteError::BadVariable(template.to_owned()));
                    }
                    if greedy && index != last {
                        return Err(RouteError::GreedyNotLast(template.to_owned()));
                    }
                    if greedy {
                        Segment::Greedy
                    } else {
                        Segment::Param
                    }
                } else if part.is_empty() && index != last {
                    return Err(RouteError::EmptySegment(template.to_owned()));
                } else {
                    if !part.is_empty() {
                        check_literal(template, part, options)?;
                    }
                    Segment::Literal(part.to_owned())
                };
                segments.push(segment);
            }
        }
        Ok(Self { method, segments, template: template.to_owned(), auth })
    }

    /// The method as written in errors: `ANY` for every method.
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("ANY")
    }

    /// Whether this route takes every request but the root: `ANY /{proxy+}`.
    pub fn is_catch_all(&self) -> bool {
        self.method.is_none()
            && matches!(self.segments.as_slice(), [Segment::Greedy])
            && self.auth != RouteAuth::Undeclared
    }

    /// Whether every request this route takes is taken by `self` as well, so that `other`, listed after `self`,
    /// could never match.
    pub fn shadows(&self, other: &Route) -> bool {
        let methods = match (&self.method, &other.method) {
            (None, _) => true,
            (Some(own), Some(theirs)) => own == theirs,
            (Some(_), None) => false,
        };
        methods && segments_cover(&self.segments, &other.segments)
    }

    /// The scopes this route asks for (empty: none, or a public route).
    pub fn scopes(&self) -> &[String] {
        match &self.auth {
            RouteAuth::Token { scopes, .. } => scopes,
            RouteAuth::Public | RouteAuth::Undeclared => &[],
        }
    }

    /// Whether this route takes a spelling of the request that a lenient upstream serves from the same handler,
    /// but not the request itself: another ASCII case of a literal segment, a trailing slash added or dropped,
    /// `HEAD` for a `GET` route (Express, Spring and Go's `net/http` do each of these), or a last literal segment
    /// with a format suffix (`/products.json`, `/products/.json`: Rails' `(.:format)`, Spring's suffix matching
    /// before 5.3) or with trailing dots and spaces (`/products.`, `/products%20`: IIS and ASP.NET trim them).
    /// A route's rules must hold for such spellings too, or a catch-all would take them without the rules.
    pub fn matches_variant(&self, method: &str, path: &NormalizedPath) -> bool {
        let methods = match self.method.as_deref() {
            None => true,
            Some(own) => own == method || (own == "GET" && method == "HEAD"),
        };
        methods && !self.matches(method, path) && self.matches_loosely(path)
    }

    fn matches_loosely(&self, path: &NormalizedPath) -> bool {
        // Both sides without a trailing empty segment.
        let own = match self.segments.split_last() {
            Some((Segment::Literal(last), rest)) if last.is_empty() => rest,
            _ => self.segments.as_slice(),
        };
        // A literal last segment also takes its suffixed spellings.
        let (own, last) = match own.split_last() {
            Some((Segment::Literal(last), rest)) => (rest, Some(last.as_str())),
            _ => (own, None),
        };
        let mut actual = path.segments();
        match walk(own, &mut actual, |literal, segment| segment.eq_ignore_ascii_case(literal)) {
            Walk::Greedy(taken) => taken,
            Walk::Mismatch => false,
            Walk::End => {
                let Some(last) = last else { return loose_end(&mut actual) };
                match actual.next() {
                    Some(segment) => loosely_last(last, segment) && loose_end(&mut actual),
                    None => false,
                }
            }
        }
    }

    /// Whether this route takes `method` (upper case) on `path`.
    pub fn matches(&self, method: &str, path: &NormalizedPath) -> bool {
        if self.method.as_deref().is_some_and(|own| own != method) {
            return false;
        }
        let mut actual = path.segments();
        match walk(&self.segments, &mut actual, |literal, segment| segment == literal) {
            Walk::Greedy(taken) => taken,
            Walk::Mismatch => false,
            Walk::End => actual.next().is_none(),
        }
    }
}

/// Whether what is left of a path after a route's segments is nothing a lenient upstream tells apart from the
/// route's own end: nothing, a trailing slash, or a format segment (`/products/.json`).
fn loose_end<'p>(rest: &mut impl Iterator<Item = &'p str>) -> bool {
    match rest.next() {
        None => true,
        Some(last) => (last.is_empty() || format_suffix(last).is_some_and(str::is_empty)) && rest.next().is_none(),
    }
}

/// Whether `segment` is a lenient spelling of the literal last segment `literal`: the same in any ASCII case,
/// then an optional format suffix (`.json`), then any run of dots and spaces (`.`, `%20`).
fn loosely_last(literal: &str, segment: &str) -> bool {
    let Some(rest) = segment
        .get(..literal.len())
        .filter(|head| head.eq_ignore_ascii_case(literal))
        .and_then(|_| segment.get(literal.len()..))
    else {
        return false;
    };
    let rest = format_suffix(rest).unwrap_or(rest);
    trimmed_end(rest).is_empty()
}

/// What follows a format suffix (`.` then 1 to 16 ASCII letters or digits) at the start of `rest`, if it has one.
fn format_suffix(rest: &str) -> Option<&str> {
    let name = rest.strip_prefix('.')?;
    let len = name.bytes().take_while(u8::is_ascii_alphanumeric).count();
    (1..=16).contains(&len).then(|| name.get(len..)).flatten()
}

/// The literal a lenient spelling `segment` of a last segment stands for when it carries a format suffix
/// (`products` for `products.json` and `products.json.`): the inverse of [`loosely_last`] for a suffix.
pub(crate) fn without_format(segment: &str) -> Option<&str> {
    let trimmed = trimmed_end(segment);
    let (stem, suffix) = trimmed.rsplit_once('.')?;
    let len = suffix.len();
    ((1..=16).contains(&len) && suffix.bytes().all(|byte| byte.is_ascii_alphanumeric())).then_some(stem)
}

/// `rest` without the dots and (encoded) spaces at its end, which IIS and ASP.NET drop from a segment.
pub(crate) fn trimmed_end(mut rest: &str) -> &str {
    loop {
        if let Some(shorter) = rest.strip_suffix('.').or_else(|| rest.strip_suffix("%20")) {
            rest = shorter;
        } else {
            return rest;
        }
    }
}

/// How a template's segments met a path's.
enum Walk {
    /// A greedy segment took the rest, if there was a non-empty segment for it.
    Greedy(bool),
    /// A segment did not match.
    Mismatch,
    /// Every segment matched; the caller decides about what is left of the path.
    End,
}

/// Matches `segments` against the front of `actual`, literals compared with `literal_eq`.
fn walk<'p>(
    segments: &[Segment],
    actual: &mut impl Iterator<Item = &'p str>,
    literal_eq: impl Fn(&str, &str) -> bool,
) -> Walk {
    for segment in segments {
        match segment {
            Segment::Greedy => return Walk::Greedy(actual.next().is_some_and(|first| !first.is_empty())),
            Segment::Param => {
                if actual.next().is_none_or(str::is_empty) {
                    return Walk::Mismatch;
                }
            }
            Segment::Literal(literal) => {
                if !actual.next().is_some_and(|segment| literal_eq(literal, segment)) {
                    return Walk::Mismatch;
                }
            }
        }
    }
    Walk::End
}

/// Whether every path that `theirs` matches is matched by `own`.
fn segments_cover(own: &[Segment], theirs: &[Segment]) -> bool {
    // A segment of `theirs` that every matching path fills with something non-empty.
    let non_empty = |segment: &Segment| !matches!(segment, Segment::Literal(literal) if literal.is_empty());
    match (own.split_first(), theirs.split_first()) {
        (None, None) => true,
        (Some((Segment::Greedy, _)), Some((first, _))) => non_empty(first),
        (Some((Segment::Param, own_rest)), Some((first @ (Segment::Literal(_) | Segment::Param), their_rest))) => {
            non_empty(first) && segments_cover(own_rest, their_rest)
        }
        (Some((Segment::Literal(a), own_rest)), Some((Segment::Literal(b), their_rest))) => {
            a == b && segments_cover(own_rest, their_rest)
        }
        _ => false,
    }
}

/// The first route that takes the request, if any: the plain scan, which [`RouteTable::find`] answers from its
/// index (and is tested against).
pub fn find<'a>(routes: &'a [Route], method: &str, path: &NormalizedPath) -> Option<&'a Route> {
    routes.iter().find(|route| route.matches(method, path))
}

/// The first route that takes the request or a spelling of it that lenient upstreams serve from the same handler
/// ([`Route::matches_variant`]): the plain scan, which [`RouteTable::first_lenient`] answers from its index.
pub fn first_lenient<'a>(routes: &'a [Route], method: &str, path: &NormalizedPath) -> Option<&'a Route> {
    routes.iter().find(|route| route.matches(method, path) || route.matches_variant(method, path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::request::normalize_path;

    fn route(method: &str, template: &str) -> Route {
        Route::new(method, template, RouteAuth::Public).unwrap()
    }

    fn hits(route: &Route, method: &str, target: &str) -> bool {
        route.matches(method, &normalize_path(target).unwrap())
    }

    #[test]
    fn literal_param_and_greedy_templates() {
        let products = route("DELETE", "/products/{id}");
        assert!(hits(&products, "DELETE", "/products/42"));
        assert!(!hits(&products, "GET", "/products/42"));
        assert!(!hits(&products, "DELETE", "/products"));
        assert!(!hits(&products, "DELETE", "/products/42/x"));
        assert!(!hits(&products, "DELETE", "/products/"));
        let proxy = route("ANY", "/files/{proxy+}");
        assert!(hits(&proxy, "PUT", "/files/a/b/c"));
        assert!(!hits(&proxy, "PUT", "/files"));
        assert!(!hits(&proxy, "PUT", "/files/"));
        let root = route("*", "/");
        assert!(hits(&root, "GET", "/"));
        assert!(!hits(&root, "GET", "/x"));
        assert!(hits(&route("GET", "/health"), "GET", "/health?full=1"));
        assert!(!hits(&route("GET", "/health"), "GET", "/Health"));
    }

    #[test]
    fn first_match_wins() {
        let routes = vec![route("GET", "/a/b"), route("ANY", "/a/{x}")];
        assert_eq!(find(&routes, "GET", &normalize_path("/a/b").unwrap()).unwrap().template, "/a/b");
        assert_eq!(find(&routes, "POST", &normalize_path("/a/b").unwrap()).unwrap().template, "/a/{x}");
    }

    #[test]
    fn variants_are_case_trailing_slash_head_format_and_trimmed_spellings_only() {
        let delete = route("DELETE", "/products/{id}");
        let variant =
            |route: &Route, method: &str, target: &str| route.matches_variant(method, &normalize_path(target).unwrap());
        for target in ["/products/1/", "/Products/1", "/PRODUCTS/1/"] {
            assert!(variant(&delete, "DELETE", target), "{target}");
        }
        assert!(!variant(&delete, "DELETE", "/products/1"), "the request itself is not a variant");
        assert!(!variant(&delete, "POST", "/products/1/"));
        assert!(!variant(&delete, "DELETE", "/products/1/x"));
        assert!(!variant(&delete, "DELETE", "/products/"));
        let list = route("GET", "/products");
        assert!(variant(&list, "HEAD", "/products"));
        assert!(variant(&list, "GET", "/products/"));
        assert!(!variant(&list, "HEAD", "/orders"));
        let slash = route("GET", "/a/");
        assert!(variant(&slash, "GET", "/a"));
        let any = route("ANY", "/files/{p+}");
        assert!(variant(&any, "PUT", "/FILES/x"));
        assert!(!variant(&any, "PUT", "/files/x"));
        // Format suffixes and trailing dots and spaces on the last literal segment (Rails, Spring, IIS).
        for target in [
            "/products.json",
            "/Products.XML",
            "/products/.json",
            "/products.",
            "/products%2e",
            "/products%20",
            "/products.json.",
            "/products.%20",
            "/products.json/",
        ] {
            assert!(variant(&list, "GET", target), "{target}");
        }
        for target in [
            "/products.json/x",
            "/productsx",
            "/products.a-b",
            "/products.json.xml",
            "/products/.json/x",
            "/products..json",
            "/products.12345678901234567",
        ] {
            assert!(!variant(&list, "GET", target), "{target}");
        }
        let member = route("GET", "/users/{id}/profile");
        assert!(variant(&member, "GET", "/users/7/profile.json"));
        assert!(!variant(&member, "GET", "/users.json/7/profile"), "only the last segment takes a suffix");
        // A variable last segment takes every spelling already: no variant.
        assert!(!variant(&delete, "DELETE", "/products/1.json"));
    }

    #[test]
    fn shadowing_is_every_request_of_the_later_route() {
        let shadows = |a: (&str, &str), b: (&str, &str)| route(a.0, a.1).shadows(&route(b.0, b.1));
        assert!(shadows(("ANY", "/{proxy+}"), ("GET", "/admin/{id}")));
        assert!(shadows(("ANY", "/{proxy+}"), ("DELETE", "/a/")));
        assert!(shadows(("GET", "/a/{x}"), ("GET", "/a/b")));
        assert!(shadows(("GET", "/a/{x}"), ("GET", "/a/{y}")));
        assert!(shadows(("*", "/a/{p+}"), ("GET", "/a/{x}/{q+}")));
        assert!(shadows(("GET", "/"), ("GET", "/")));
        assert!(!shadows(("ANY", "/{proxy+}"), ("GET", "/")));
        assert!(!shadows(("GET", "/a/{x}"), ("POST", "/a/b")));
        assert!(!shadows(("GET", "/a/{x}"), ("ANY", "/a/b")));
        assert!(!shadows(("GET", "/a/{x}"), ("GET", "/a/")));
        assert!(!shadows(("GET", "/a/{x}"), ("GET", "/a/{p+}")));
        assert!(!shadows(("GET", "/a/b"), ("GET", "/a/{x}")));
        assert!(!shadows(("GET", "/a/{x}"), ("GET", "/a/b/c")));
        assert!(!shadows(("GET", "/a"), ("GET", "/a/")));
    }

    #[test]
    fn templates_must_be_in_the_form_requests_are_normalised_to() {
        for (template, wanted) in [("/a/../admin", "/admin"), ("/%7Eroot", "/~root"), ("/a/./b", "/a/b")] {
            match Route::new("GET", template, RouteAuth::Public) {
                Err(RouteError::NotNormal { normal, .. }) => assert_eq!(normal, wanted, "{template}"),
                other => panic!("{template}: {other:?}"),
            }
        }
        assert!(matches!(Route::new("GET", "/x?y", RouteAuth::Public), Err(RouteError::Query { .. })));
        for template in ["/admin/*", "/a*b"] {
            assert!(
                matches!(Route::new("GET", template, RouteAuth::Public), Err(RouteError::Wildcard { .. })),
                "{template}"
            );
        }
        for template in ["/a%2Fb", "/a;b", "/a#b", "/a b", "/a%00", "/caf\u{e9}", "/caf%C3%A9"] {
            assert!(
                matches!(Route::new("GET", template, RouteAuth::Public), Err(RouteError::NeverMatches { .. })),
                "{template}"
            );
        }
        let utf8 = RequestOptions { allow_utf8_paths: true, ..RequestOptions::default() };
        assert!(Route::with_options("GET", "/caf%C3%A9", RouteAuth::Public, &utf8).is_ok());
        assert!(matches!(
            Route::with_options("GET", "/caf%c3%a9", RouteAuth::Public, &utf8),
            Err(RouteError::NotNormal { normal, .. }) if normal == "/caf%C3%A9"
        ));
        for template in ["/~root", "/a-b_c.d~e", "/50%25OFF", "/v1/{id}/x:y@z", "/a/"] {
            assert!(Route::new("GET", template, RouteAuth::Public).is_ok(), "{template}");
        }
    }

    #[test]
    fn refuses_bad_templates() {
        for (method, template) in [
            ("GET", "products"),
            ("GET", "/{proxy+}/x"),
            ("GET", "/a{b}"),
            ("GET", "/{}"),
            ("GET", "/a//b"),
            ("get", "/a"),
            ("FETCH", "/a"),
        ] {
            assert!(Route::new(method, template, RouteAuth::Public).is_err(), "{method} {template}");
        }
    }
}
