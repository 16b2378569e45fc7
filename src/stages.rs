//! One request's cost split into the stages of its pipeline, for `make bench`: the same code is timed natively and
//! inside the wasmtime host, where it runs as a wasm module of its own (`dist/bench/stages.wasm`, built with the
//! `stages` feature; `host-tests/benches/request.rs` drives both). Not part of the filter. It stays in the library
//! rather than in testkit/ because it is a build of the library for measurement, not test tooling: it times the
//! library's own private stages, and the feature is off in every deployment build.

use crate::adapters::header_map::{decode_request, encode_header_map};
use crate::policy::{Principal, RequestContext, INVOKE};
use crate::request::{normalize_method, normalize_path_with};
use crate::token::{bearer_token, TokenError, VerifiedToken};
use crate::{Authorizer, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::hint::black_box;

/// The stages, in the order a request meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The header map as the host hands it over, decoded into the reused request.
    Decode,
    /// Method, path normalisation, method ARN and route.
    Route,
    /// A repeated token found among the verified ones (hash of its tail, whole-text comparison, time claims).
    CacheHit,
    /// Policy evaluation for the verified token.
    Policy,
    /// The whole decision for a cached token (`Authorizer::decide`), nothing written yet.
    Decide,
    /// The decision and its record, the reason written as JSON.
    DecideAndRecord,
    /// A new token: parse, signature and claims, no cache.
    Verify,
    /// The signature check alone.
    Signature,
    /// A new token naming a `kid` its issuer lacks: parse, issuer and key lookup, refused before any signature work.
    UnknownKid,
}

impl Stage {
    /// Every stage, numbered by position.
    pub const ALL: [Stage; 9] = [
        Stage::Decode,
        Stage::Route,
        Stage::CacheHit,
        Stage::Policy,
        Stage::Decide,
        Stage::DecideAndRecord,
        Stage::Verify,
        Stage::Signature,
        Stage::UnknownKid,
    ];

    /// What the stage does, for tables.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "header map decoding",
            Stage::Route => "method, path, ARN, route",
            Stage::CacheHit => "token cache hit (tail hash, comparison)",
            Stage::Policy => "policy evaluation",
            Stage::Decide => "whole decision, cached token",
            Stage::DecideAndRecord => "decision + record (reason as JSON)",
            Stage::Verify => "new token: parse, signature, claims",
            Stage::Signature => "RS256 signature alone",
            Stage::UnknownKid => "new token, unknown kid (issuer + key lookup)",
        }
    }
}

/// What every stage works on: one configuration and one request carrying a token.
pub struct Stages {
    authorizer: Authorizer,
    header_map: Vec<u8>,
    request: HttpRequest,
    token: String,
    /// The same token with a `kid` no key of its issuer has.
    unknown_kid: String,
    verified: VerifiedToken,
    arn: String,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    kid: String,
    record: String,
    now: u64,
}

/// The header map serialisation of `headers`, as a host hands it to the filter.
pub fn encode(headers: &[(String, String)]) -> Vec<u8> {
    encode_header_map(headers)
}

impl Stages {
    /// Loads `config` and prepares the request in `header_map` (which must carry a token the configuration
    /// accepts and allows); the token is verified once, so that it is cached.
    pub fn new(config: &[u8], header_map: Vec<u8>, now: u64) -> Result<Self, String> {
        let authorizer = Authorizer::from_json(config).map_err(|err| err.to_string())?;
        let mut request = HttpRequest::default();
        decode_request(&header_map, &mut request).ok_or("malformed header map")?;
        let token = bearer_token(request.header_values("authorization")).map_err(|err| err.to_string())?.to_owned();
        let verified = authorizer.config().verifier().verify(&token, now).map_err(|err| err.to_string())?;
        if !authorizer.decide(&request, now).is_allowed() {
            return Err("the request is not allowed".to_owned());
        }
        let method = normalize_method(&request.method).map_err(|err| err.to_string())?;
        let path = normalize_path_with(&request.path, authorizer.config().request()).map_err(|err| err.to_string())?;
        let arn = authorizer.config().api().method_arn(method, &path).map_err(|err| err.to_string())?;
        let (signing_input, signature) = token.rsplit_once('.').ok_or("no signature")?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|err| err.to_string())?;
        let header =
            token.split('.').next().and_then(|header| URL_SAFE_NO_PAD.decode(header).ok()).ok_or("bad header")?;
        let header: serde_json::Value = serde_json::from_slice(&header).map_err(|err| err.to_string())?;
        let kid = header.get("kid").and_then(serde_json::Value::as_str).ok_or("no kid")?.to_owned();
        let mut renamed = header.clone();
        if let Some(map) = renamed.as_object_mut() {
            map.insert("kid".to_owned(), serde_json::Value::from("no-such-kid"));
        }
        let rest = token.split_once('.').map_or("", |(_, rest)| rest);
        let unknown_kid = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(renamed.to_string()));
        let signing_input = signing_input.as_bytes().to_vec();
        let stages = Self {
            authorizer,
            header_map,
            request,
            token,
            unknown_kid,
            verified,
            arn,
            signing_input,
            signature,
            kid,
            record: String::new(),
            now,
        };
        if !matches!(
            stages.authorizer.config().verifier().verify(&stages.unknown_kid, now),
            Err(TokenError::UnknownKid { .. })
        ) {
            return Err("a token with an unknown kid was not refused for it".to_owned());
        }
        if stages.signature_ok() != 1 {
            return Err("the signature does not verify".to_owned());
        }
        Ok(stages)
    }

    fn signature_ok(&self) -> u32 {
        let key = self.authorizer.config().verifier().issuers().iter().find_map(|issuer| issuer.keys().get(&self.kid));
        u32::from(key.is_some_and(|key| key.verify(&self.signing_input, &self.signature)))
    }

    /// Runs `stage` `iterations` times; the result only keeps the work from being optimised away.
    pub fn run(&mut self, stage: Stage, iterations: u32) -> u32 {
        let mut sum = 0u32;
        for _ in 0..iterations {
            let one = match stage {
                Stage::Decode => u32::from(decode_request(black_box(&self.header_map), &mut self.request).is_some()),
                Stage::Route => self.route(),
                Stage::CacheHit => {
                    let verifier = self.authorizer.config().verifier();
                    let hit = self.authorizer.tokens().get(black_box(&self.token), self.now, verifier.skew());
                    u32::from(matches!(hit, Some(Ok(_))))
                }
                Stage::Policy => self.policy(),
                Stage::Decide => u32::from(self.authorizer.decide(black_box(&self.request), self.now).is_allowed()),
                Stage::DecideAndRecord => {
                    let verdict = self.authorizer.decide(black_box(&self.request), self.now);
                    verdict.write_record(&mut self.record);
                    u32::try_from(self.record.len()).unwrap_or(0)
                }
                Stage::Verify => {
                    u32::from(self.authorizer.config().verifier().verify(black_box(&self.token), self.now).is_ok())
                }
                Stage::Signature => self.signature_ok(),
                Stage::UnknownKid => {
                    let refused = self.authorizer.config().verifier().verify(black_box(&self.unknown_kid), self.now);
                    u32::from(matches!(refused, Err(TokenError::UnknownKid { .. })))
                }
            };
            sum = sum.wrapping_add(one);
        }
        sum
    }

    fn route(&self) -> u32 {
        let config = self.authorizer.config();
        let Ok(method) = normalize_method(black_box(&self.request.method)) else { return 0 };
        let Ok(path) = normalize_path_with(black_box(&self.request.path), config.request()) else { return 0 };
        let Ok(arn) = config.api().method_arn(method, &path) else { return 0 };
        let route = config.route_table().and_then(|routes| routes.find(method, &path));
        u32::try_from(arn.len()).unwrap_or(0) + u32::from(route.is_some())
    }

    fn policy(&self) -> u32 {
        let config = self.authorizer.config();
        let Some(store) = config.policies() else { return 0 };
        let token = &self.verified;
        let principal =
            Principal { groups: token.groups(), client_id: Some(token.client_id()), username: token.username() };
        let context = RequestContext::new(&self.request, token, self.now, config.source_ip());
        let evaluation = store.evaluate(token.issuer(), &principal, INVOKE, black_box(&self.arn), &context);
        u32::try_from(evaluation.statements.len()).unwrap_or(0)
    }
}

/// The module's interface to a wasm host: allocate, set up, run a stage.
#[cfg(target_arch = "wasm32")]
mod exports {
    #![allow(unsafe_code)]
    use super::{Stage, Stages};
    use std::cell::RefCell;

    thread_local! {
        static STAGES: RefCell<Option<Stages>> = const { RefCell::new(None) };
    }

    /// A buffer of `len` bytes the host fills; it is never freed (the benchmark writes its inputs once).
    #[no_mangle]
    pub extern "C" fn stages_alloc(len: usize) -> *mut u8 {
        let mut buffer = Vec::<u8>::with_capacity(len);
        let pointer = buffer.as_mut_ptr();
        std::mem::forget(buffer);
        pointer
    }

    /// Sets the stages up from a configuration and a header map the host wrote; 0 on success.
    #[no_mangle]
    pub extern "C" fn stages_setup(
        config: *const u8,
        config_len: usize,
        map: *const u8,
        map_len: usize,
        now: u64,
    ) -> u32 {
        // SAFETY: the host wrote `config_len` and `map_len` bytes into buffers from `stages_alloc`.
        let (config, map) =
            unsafe { (std::slice::from_raw_parts(config, config_len), std::slice::from_raw_parts(map, map_len)) };
        match Stages::new(config, map.to_vec(), now) {
            Ok(stages) => STAGES.with(|cell| cell.replace(Some(stages))).map_or(0, |_| 0),
            Err(_) => 1,
        }
    }

    /// Runs stage number `stage` (`Stage::ALL`) `iterations` times.
    #[no_mangle]
    pub extern "C" fn stages_run(stage: u32, iterations: u32) -> u32 {
        let Some(&stage) = usize::try_from(stage).ok().and_then(|index| Stage::ALL.get(index)) else { return 0 };
        STAGES
            .with(|cell| {
                cell.try_borrow_mut()
                    .ok()
                    .and_then(|mut stages| stages.as_mut().map(|stages| stages.run(stage, iterations)))
            })
            .unwrap_or(0)
    }
}
