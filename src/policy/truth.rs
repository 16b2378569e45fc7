//! Three-valued truth for resources and conditions.
//!
//! A request can hold values a test cannot decide on: a list where the operator needs one value, a policy
//! variable naming a list, a claim that no condition value represents faithfully. IAM requires set operators
//! for multi-valued keys and only single-valued keys as variables, but does not say what happens otherwise
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>).
//! Two more are this authorizer's own choice, where IAM is not silent but its answer would let a value of an
//! unexpected shape skip a Deny: a value the operator's family cannot read (`" 9"` for `Numeric*`), and a
//! variable in a `Resource` path whose value is no single segment's text (`bob/docs`).
//! Such a test is [`Truth::Undecided`], and the evaluator fails closed on it: a `Deny` statement that is not ruled
//! out applies, an `Allow` statement that is not certain does not. Several tests combine as Kleene logic, so a
//! test that is certainly false still rules a statement out, whatever the undecided ones would have been.

use std::ops::Not;

/// True, false, or not decidable for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    False,
    True,
    /// The request's values cannot decide the test: a Deny applies, an Allow does not.
    Undecided,
}

impl From<bool> for Truth {
    fn from(value: bool) -> Self {
        if value {
            Self::True
        } else {
            Self::False
        }
    }
}

impl Not for Truth {
    type Output = Self;

    fn not(self) -> Self {
        match self {
            Self::False => Self::True,
            Self::True => Self::False,
            Self::Undecided => Self::Undecided,
        }
    }
}

impl Truth {
    /// Every item holds: false as soon as one is false, else undecided if one is (stops at the first false).
    pub fn all(items: impl IntoIterator<Item = Self>) -> Self {
        let mut result = Self::True;
        for item in items {
            match item {
                Self::False => return Self::False,
                Self::Undecided => result = Self::Undecided,
                Self::True => {}
            }
        }
        result
    }

    /// Some item holds: true as soon as one is true, else undecided if one is (stops at the first true).
    pub fn any(items: impl IntoIterator<Item = Self>) -> Self {
        let mut result = Self::False;
        for item in items {
            match item {
                Self::True => return Self::True,
                Self::Undecided => result = Self::Undecided,
                Self::False => {}
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::Truth::{self, False, True, Undecided};

    #[test]
    fn kleene_and_or_not() {
        assert_eq!(Truth::all([]), True);
        assert_eq!(Truth::any([]), False);
        assert_eq!(Truth::all([True, Undecided]), Undecided);
        assert_eq!(Truth::all([Undecided, False, True]), False);
        assert_eq!(Truth::any([False, Undecided]), Undecided);
        assert_eq!(Truth::any([Undecided, True, False]), True);
        assert_eq!([!True, !False, !Undecided], [False, True, Undecided]);
        assert_eq!(Truth::from(true), True);
    }
}
