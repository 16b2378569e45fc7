//! What can go wrong with a policy document: load errors and load warnings, each named by its path.

/// A policy document that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// Where in the configuration, e.g. `policies.groups.admins.Statement[2].Effect`.
    pub path: String,
    pub message: String,
}

/// Something in a valid document that cannot do what its author meant (it never matches a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWarning {
    /// Where in the configuration.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

pub(crate) fn error(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError { path: path.to_owned(), message: message.into() }
}

pub(crate) fn warning(path: &str, message: impl Into<String>) -> PolicyWarning {
    PolicyWarning { path: path.to_owned(), message: message.into() }
}

/// A path in the configuration, written out only when an error or warning names it: a load of thousands of
/// statements formatted half a dozen paths per statement that nothing read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// A path as text (`policies.groups.admins`).
    Root(&'a str),
    /// `{parent}.{key}`.
    Key(&'a Path<'a>, &'a str),
    /// `{parent}[{index}]`.
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Root(text) => f.write_str(text),
            Self::Key(parent, key) => write!(f, "{parent}.{key}"),
            Self::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// [`error`] at a lazily written path.
pub(crate) fn error_at(path: &Path<'_>, message: impl Into<String>) -> PolicyError {
    PolicyError { path: path.to_string(), message: message.into() }
}
