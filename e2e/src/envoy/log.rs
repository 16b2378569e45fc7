//! Envoy's log as it arrives, and the harness's access log lines in it.

use super::*;

/// One request's line in the harness's access log (see [`crate::bootstrap::ACCESS_LOG_MARKER`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogged {
    /// The request's method, as Envoy logged it.
    pub method: String,
    /// The filter's decision record (`wasm.authz.decision`), `None` when the filter decided nothing.
    pub record: Option<DecisionRecord>,
}

impl AccessLogged {
    /// Reads one log line, if it is an access log line of the harness.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix(crate::bootstrap::ACCESS_LOG_MARKER)?;
        let (method, record) = rest.split_once(' ')?;
        let record = match record.trim() {
            "-" => None,
            json => Some(DecisionRecord::parse(json)?),
        };
        Some(Self { method: method.to_owned(), record })
    }
}

/// Envoy's log lines as they arrive on its stderr.
#[derive(Debug, Default)]
pub(super) struct Log {
    lines: Mutex<Vec<String>>,
}

impl Log {
    pub(super) fn push(&self, line: String) {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).push(line);
    }

    pub(super) fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub(super) fn since(&self, mark: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.get(mark..).unwrap_or_default().to_vec()
    }

    pub(super) fn tail(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines.get(from..).unwrap_or_default().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_access_log_lines_of_the_harness() {
        let line = r#"authz-e2e-access GET {"status":401,"decision":"unauthorized","code":"token_expired","reason":"token has expired","statements":[]}"#;
        let logged = AccessLogged::parse(line).unwrap();
        assert_eq!(logged.method, "GET");
        assert_eq!(logged.record.unwrap().code, "token_expired");
        assert_eq!(
            AccessLogged::parse("authz-e2e-access GET -"),
            Some(AccessLogged { method: "GET".into(), record: None })
        );
        assert_eq!(
            AccessLogged::parse("[x][debug][wasm] wasm log authz: authz: 401 GET token_expired: token has expired"),
            None
        );
        assert_eq!(AccessLogged::parse("authz-e2e-access GET {not json"), None);
    }
}
