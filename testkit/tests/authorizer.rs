//! The authorizer over every scenario corpus (`policies/scenarios/`): tests of the library that need minted
//! corpora, and so live beside the corpus loader rather than in the library's own unit tests.
#![allow(clippy::unwrap_used, clippy::panic)]

use authz::Authorizer;

/// The lent verdict adapters render says exactly what the owned decision says, for every corpus request, with
/// and without the token already cached.
#[test]
fn the_verdict_and_the_decision_agree_on_every_corpus_request() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/scenarios"));
    for path in authz_testkit::scenario::json_files(dir).unwrap() {
        let scenario = authz_testkit::scenario::Scenario::load(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let authorizer = Authorizer::from_json(&scenario.config_bytes()).unwrap();
        for round in 0..2 {
            for case in &scenario.cases {
                let context = format!("{}: {} (round {round})", path.display(), case.name);
                let verdict = authorizer.decide(&case.request, scenario.now);
                let reason = verdict.reason().to_string();
                let mut record = String::new();
                verdict.write_record(&mut record);
                let upstream: Vec<(String, String)> =
                    verdict.upstream_headers().map(|(name, value)| (name.to_owned(), value.into_owned())).collect();
                let removed: Vec<String> = verdict.remove_headers().iter().map(|name| (*name).to_owned()).collect();
                let (status, rewrite, challenge) = (
                    verdict.status(),
                    verdict.rewrite_path().map(str::to_owned),
                    verdict.challenge().map(str::to_owned),
                );
                let decision = verdict.into_decision();
                assert_eq!(decision, authorizer.authorize(&case.request, scenario.now), "{context}");
                assert_eq!(reason, decision.reason.to_string(), "{context}");
                assert_eq!(record, decision.record().to_json(), "{context}");
                assert_eq!(decision.code().decision(), decision.outcome.as_str(), "{context}");
                assert_eq!(upstream, decision.upstream_headers, "{context}");
                assert_eq!(removed, decision.remove_headers, "{context}");
                assert_eq!(
                    (status, rewrite, challenge),
                    (decision.status(), decision.rewrite_path.clone(), decision.challenge.clone()),
                    "{context}"
                );
            }
        }
    }
}

/// Every code a request can get is reached by some corpus case, so every host checks it.
#[test]
fn the_corpora_reach_every_code() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/scenarios"));
    let mut reached = std::collections::BTreeSet::new();
    for path in authz_testkit::scenario::json_files(dir).unwrap() {
        let scenario = authz_testkit::scenario::Scenario::load(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let authorizer = Authorizer::from_json(&scenario.config_bytes()).unwrap();
        reached.extend(scenario.cases.iter().map(|case| authorizer.authorize(&case.request, scenario.now).code()));
    }
    use authz::decision::Code;
    // Not reachable from a corpus: `internal_error` is the host's own (a failed host call); the password codes need
    // an identity provider's answer, which only the hosts that call one get (the authorizer's unit tests, the
    // wasmtime host's fake IdP in host-tests/tests/password_auth.rs, and moto in e2e/tests/moto_cognito.rs).
    let unreachable = [Code::InternalError, Code::PasswordRefused, Code::PasswordExchangeFailed];
    let missing: Vec<_> =
        Code::ALL.into_iter().filter(|code| !reached.contains(code) && !unreachable.contains(code)).collect();
    assert!(missing.is_empty(), "no corpus case gets {missing:?}");
}
