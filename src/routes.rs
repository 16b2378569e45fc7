//! API Gateway-style routes: method plus path template, first match wins.

use crate::request::NormalizedPath;

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
    /// A valid token; with scopes, an access token holding at least one of them.
    Token { scopes: Vec<String> },
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
}

fn variable(segment: &str) -> Option<(&str, bool)> {
    let inner = segment.strip_prefix('{')?.strip_suffix('}')?;
    let (name, greedy) = match inner.strip_suffix('+') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    Some((name, greedy))
}

impl Route {
    /// Compiles `method` and path `template`.
    pub fn new(method: &str, template: &str, auth: RouteAuth) -> Result<Self, RouteError> {
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
                    Segment::Literal(part.to_owned())
                };
                segments.push(segment);
            }
        }
        Ok(Self { method, segments, template: template.to_owned(), auth })
    }

    /// Whether this route takes `method` (upper case) on `path`.
    pub fn matches(&self, method: &str, path: &NormalizedPath) -> bool {
        if self.method.as_deref().is_some_and(|own| own != method) {
            return false;
        }
        let mut actual = path.segments();
        for segment in &self.segments {
            match segment {
                Segment::Greedy => return actual.next().is_some_and(|first| !first.is_empty()),
                Segment::Param => {
                    if actual.next().is_none_or(str::is_empty) {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if actual.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        actual.next().is_none()
    }
}

/// The first route that takes the request, if any.
pub fn find<'a>(routes: &'a [Route], method: &str, path: &NormalizedPath) -> Option<&'a Route> {
    routes.iter().find(|route| route.matches(method, path))
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
        let routes = vec![route("GET", "/a/{x}"), route("GET", "/a/b")];
        let found = find(&routes, "GET", &normalize_path("/a/b").unwrap()).unwrap();
        assert_eq!(found.template, "/a/{x}");
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
