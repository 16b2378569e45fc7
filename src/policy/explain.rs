//! Explanations: which statements decided, and on an implicit deny, why nothing allowed.

use super::document::Effect;
use std::fmt;

/// Whose documents a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Group,
    Client,
    User,
    /// A document evaluated on its own (the CLI, the corpus).
    Policy,
}

impl SourceKind {
    /// The configuration key the documents sit under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "groups",
            Self::Client => "clients",
            Self::User => "users",
            Self::Policy => "policy",
        }
    }
}

/// Names one statement for explanations: `groups.admins[0].Statement[2]` plus its Sid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The issuer whose `policies` hold the statement (`issuers[i].policies`); `None` for the shared section.
    pub issuer: Option<usize>,
    pub source: SourceKind,
    /// The group, client or user name (empty for [`SourceKind::Policy`]).
    pub name: String,
    pub document: usize,
    pub statement: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

impl StatementRef {
    /// Where the statement is, without its Sid: `groups.admins[0].Statement[2]`, `policy[1].Statement[0]`.
    pub fn location(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{}", Location(self)));
        text
    }
}

/// [`StatementRef::location`] written straight into a formatter: decision records name a statement on every
/// allowed request, so this builds no intermediate string.
struct Location<'a>(&'a StatementRef);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Piece by piece rather than through `write!`, which costs a formatting pass per call.
        let at = self.0;
        match at.source {
            SourceKind::Policy => f.write_str("policy[")?,
            source => {
                if let Some(issuer) = at.issuer {
                    f.write_str("issuers[")?;
                    fmt::Display::fmt(&issuer, f)?;
                    f.write_str("].policies.")?;
                }
                f.write_str(source.as_str())?;
                f.write_str(".")?;
                f.write_str(&at.name)?;
                f.write_str("[")?;
            }
        }
        fmt::Display::fmt(&at.document, f)?;
        f.write_str("].Statement[")?;
        fmt::Display::fmt(&at.statement, f)?;
        f.write_str("]")
    }
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Location(self).fmt(f)?;
        if let Some(sid) = &self.sid {
            f.write_str(" (")?;
            f.write_str(sid)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// An Allow statement whose action and resource matched, but that did not apply: one of its conditions did not
/// hold, or a part of it could not be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmetCondition {
    pub statement: StatementRef,
    pub unmet: Unmet,
}

/// Why an Allow statement whose action matched did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// The condition (operator and key as written) does not hold.
    Condition { operator: String, key: String, key_present: bool },
    /// The condition cannot be decided: its key holds a list where one value is needed, its values name such a
    /// key, the key is a claim no condition value represents, or its value cannot be read for the operator
    /// (`" 9"` for `Numeric*`).
    UndecidedCondition { operator: String, key: String },
    /// `Resource` or `NotResource` reads a policy variable whose key holds no single value, or a value that is
    /// no single path segment's text (`bob/docs`, `%41`, `..`).
    UndecidedResource { element: &'static str },
}

impl fmt::Display for UnmetCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statement = &self.statement;
        match &self.unmet {
            Unmet::Condition { operator, key, key_present } => {
                let absent = if *key_present { "" } else { ", key absent" };
                write!(f, "{statement}: Condition.{operator}.{key} does not hold{absent}")
            }
            Unmet::UndecidedCondition { operator, key } => write!(
                f,
                "{statement}: Condition.{operator}.{key} cannot be decided (a list where one value is needed, an unreadable claim, or a value the operator cannot read)"
            ),
            Unmet::UndecidedResource { element } => write!(
                f,
                "{statement}: {element} cannot be decided (a policy variable names a list or an unreadable claim, or its value is no single path segment)"
            ),
        }
    }
}

/// The three outcomes of IAM evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl PolicyDecision {
    /// `allow`, `explicit_deny` or `implicit_deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::ExplicitDeny => "explicit_deny",
            Self::ImplicitDeny => "implicit_deny",
        }
    }
}

/// Why a request was not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyWhy {
    /// No group, client or user of the caller has a document.
    NoDocuments,
    /// Documents apply, but no Allow statement matches the action and resource.
    NoAllow,
    /// Allow statements match the action and resource, but their conditions do not hold.
    ConditionsNotMet(Vec<UnmetCondition>),
    /// These Deny statements apply.
    Denied(Vec<StatementRef>),
}

impl fmt::Display for DenyWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |items: Vec<String>| items.join("; ");
        match self {
            Self::NoDocuments => f.write_str("no policy document applies to the caller"),
            Self::NoAllow => f.write_str("no Allow statement matches the action and resource"),
            Self::ConditionsNotMet(unmet) => {
                write!(f, "conditions not met: {}", join(unmet.iter().map(ToString::to_string).collect()))
            }
            Self::Denied(statements) => {
                write!(f, "denied by {}", join(statements.iter().map(ToString::to_string).collect()))
            }
        }
    }
}

/// A decision, the statements that made it (the matching Denies, or else the matching Allows), and what an
/// implicit deny needs to be explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: PolicyDecision,
    pub statements: Vec<StatementRef>,
    /// Allow statements that matched the action and resource but not their conditions (kept on implicit deny).
    pub unmet: Vec<UnmetCondition>,
    /// How many documents applied to the caller.
    pub documents: usize,
}

impl Evaluation {
    /// One evaluation over the documents of both: any Deny wins, then any Allow, else the implicit deny (with
    /// both explanations).
    pub fn merge(self, other: Evaluation) -> Evaluation {
        use PolicyDecision::{Allow, ExplicitDeny, ImplicitDeny};
        let documents = self.documents + other.documents;
        let (decision, statements, unmet) = match (self.decision, other.decision) {
            (ExplicitDeny, ExplicitDeny) => (ExplicitDeny, [self.statements, other.statements].concat(), Vec::new()),
            (ExplicitDeny, _) => (ExplicitDeny, self.statements, Vec::new()),
            (_, ExplicitDeny) => (ExplicitDeny, other.statements, Vec::new()),
            (Allow, Allow) => (Allow, [self.statements, other.statements].concat(), Vec::new()),
            (Allow, ImplicitDeny) => (Allow, self.statements, Vec::new()),
            (ImplicitDeny, Allow) => (Allow, other.statements, Vec::new()),
            (ImplicitDeny, ImplicitDeny) => (ImplicitDeny, Vec::new(), [self.unmet, other.unmet].concat()),
        };
        Evaluation { decision, statements, unmet, documents }
    }

    /// Why the request was denied; `None` when it was allowed.
    pub fn why(&self) -> Option<DenyWhy> {
        match self.decision {
            PolicyDecision::Allow => None,
            PolicyDecision::ExplicitDeny => Some(DenyWhy::Denied(self.statements.clone())),
            PolicyDecision::ImplicitDeny if self.documents == 0 => Some(DenyWhy::NoDocuments),
            PolicyDecision::ImplicitDeny if self.unmet.is_empty() => Some(DenyWhy::NoAllow),
            PolicyDecision::ImplicitDeny => Some(DenyWhy::ConditionsNotMet(self.unmet.clone())),
        }
    }
}
