//! Username/password clients (`password_auth`): the setting, `Authorization: Basic` read strictly, Cognito's
//! `InitiateAuth` (`USER_PASSWORD_AUTH`) request and the reading of its answer. Pure: the adapter makes the call
//! and keeps the time; the cache of exchanges is `password_cache`.
//!
//! The IdP's answer is never trusted by itself: the access token it returns goes through the same verifier as any
//! bearer token (configured issuer, keys, client, `token_use`), so a misdirected cluster cannot mint identities.
//! Passwords live in [`Zeroizing`] buffers, overwritten when dropped, and are never formatted: [`Login`]'s `Debug`
//! shows the username only.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// How long an exchange is cached when `cache_seconds` is absent (never past the token's `exp`).
const DEFAULT_CACHE_SECONDS: u64 = 300;
const MAX_CACHE_SECONDS: u64 = 3600;
const DEFAULT_TIMEOUT_MS: u32 = 2000;
const MAX_TIMEOUT_MS: u32 = 60_000;
/// After a failed exchange, requests for that username are answered without a call for this long.
pub const PENALTY_SECONDS: u64 = 10;
/// Cognito usernames are at most 128 characters, passwords at most 256 (the `AdminCreateUser` and password policy
/// limits): the Base64 of both, with the colon, in UTF-8 of up to 4 bytes a character, fits in this.
pub const MAX_BASIC_BYTES: usize = 2048;
const MAX_USERNAME_CHARS: usize = 128;
const MAX_PASSWORD_CHARS: usize = 256;
/// Largest `InitiateAuth` answer read: three tokens of a few KB each.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// `x-amz-target` of the call.
const INITIATE_AUTH_TARGET: &str = "AWSCognitoIdentityProviderService.InitiateAuth";
const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// `password_auth` as written. Its `Debug` never shows the secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPasswordAuth {
    /// The Envoy cluster that reaches `cognito-idp.{region}.amazonaws.com`.
    pub cluster: String,
    /// `:authority` of the call.
    pub authority: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub cache_seconds: Option<u64>,
    pub timeout_ms: Option<u32>,
}

impl fmt::Debug for RawPasswordAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawPasswordAuth")
            .field("cluster", &self.cluster)
            .field("authority", &self.authority)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Where and how passwords are exchanged, validated. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordAuth {
    pub cluster: String,
    pub authority: String,
    pub client_id: String,
    client_secret: Option<Zeroizing<String>>,
    pub cache_seconds: u64,
    pub timeout_ms: u32,
}

impl fmt::Debug for PasswordAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordAuth")
            .field("cluster", &self.cluster)
            .field("authority", &self.authority)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("cache_seconds", &self.cache_seconds)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Why `password_auth` was refused; the loader adds the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordAuthError {
    #[error("`{0}` is not a cluster name (printable ASCII, no spaces)")]
    Cluster(String),
    #[error("`{0}` is not a host name with an optional port")]
    Authority(String),
    #[error("`{0}` is not an app client id (letters and digits, at most 128)")]
    ClientId(String),
    #[error("must be printable ASCII, not empty (the app client's secret)")]
    ClientSecret,
    #[error("must be between 1 and {MAX_CACHE_SECONDS}")]
    CacheSeconds,
    #[error("must be between 1 and {MAX_TIMEOUT_MS}")]
    Timeout,
}

impl PasswordAuthError {
    /// The member of `password_auth` at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Cluster(_) => "cluster",
            Self::Authority(_) => "authority",
            Self::ClientId(_) => "client_id",
            Self::ClientSecret => "client_secret",
            Self::CacheSeconds => "cache_seconds",
            Self::Timeout => "timeout_ms",
        }
    }
}

fn plain(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

impl TryFrom<&RawPasswordAuth> for PasswordAuth {
    type Error = PasswordAuthError;

    fn try_from(raw: &RawPasswordAuth) -> Result<Self, PasswordAuthError> {
        if !plain(&raw.cluster) {
            return Err(PasswordAuthError::Cluster(raw.cluster.clone()));
        }
        let host_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']');
        if raw.authority.is_empty() || !raw.authority.bytes().all(host_byte) {
            return Err(PasswordAuthError::Authority(raw.authority.clone()));
        }
        // Cognito: `[\w+]+`, 1 to 128 characters.
        let id_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+');
        if raw.client_id.is_empty() || raw.client_id.len() > 128 || !raw.client_id.bytes().all(id_byte) {
            return Err(PasswordAuthError::ClientId(raw.client_id.clone()));
        }
        if raw.client_secret.as_deref().is_some_and(|secret| !plain(secret)) {
            return Err(PasswordAuthError::ClientSecret);
        }
        let cache_seconds = raw.cache_seconds.unwrap_or(DEFAULT_CACHE_SECONDS);
        if !(1..=MAX_CACHE_SECONDS).contains(&cache_seconds) {
            return Err(PasswordAuthError::CacheSeconds);
        }
        let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
            return Err(PasswordAuthError::Timeout);
        }
        Ok(Self {
            cluster: raw.cluster.clone(),
            authority: raw.authority.clone(),
            client_id: raw.client_id.clone(),
            client_secret: raw.client_secret.clone().map(Zeroizing::new),
            cache_seconds,
            timeout_ms,
        })
    }
}

/// A username and password from `Authorization: Basic`. The password is overwritten when this is dropped and is
/// never formatted.
pub struct Login {
    username: String,
    password: Zeroizing<String>,
}

impl Login {
    /// The username, as sent.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for the exchange and the cache key only.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Why `Authorization: Basic` credentials were refused before any exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    #[error("Basic credentials are over {MAX_BASIC_BYTES} bytes")]
    TooLarge,
    #[error("Basic credentials are not Base64")]
    Base64,
    #[error("Basic credentials are not UTF-8")]
    NotUtf8,
    #[error("Basic credentials have no `:` between username and password")]
    NoColon,
    #[error("Basic credentials have an empty username")]
    EmptyUsername,
    #[error("Basic credentials have an empty password")]
    EmptyPassword,
    #[error("Basic credentials have a username over {MAX_USERNAME_CHARS} characters or with control characters")]
    BadUsername,
    #[error("Basic credentials have a password over {MAX_PASSWORD_CHARS} characters")]
    LongPassword,
}

/// The credentials of an `Authorization` value whose scheme is `Basic` (any letter case, RFC 9110 §11.1); `None`
/// for any other value. RFC 7617: Base64 (with padding) of `user-id ":" password`, the user-id holding no colon.
pub fn parse_basic(value: &str) -> Option<Result<Login, BasicError>> {
    let value = value.trim_matches([' ', '\t']);
    let scheme = value.get(..5)?;
    let rest = value.get(5..)?;
    if !scheme.eq_ignore_ascii_case("basic") || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some(parse_credentials(rest.trim_start_matches([' ', '\t'])))
}

fn parse_credentials(encoded: &str) -> Result<Login, BasicError> {
    if encoded.len() > MAX_BASIC_BYTES {
        return Err(BasicError::TooLarge);
    }
    let mut decoded = Zeroizing::new(Vec::with_capacity(encoded.len()));
    base64::engine::general_purpose::STANDARD.decode_vec(encoded, &mut decoded).map_err(|_| BasicError::Base64)?;
    let text = std::str::from_utf8(&decoded).map_err(|_| BasicError::NotUtf8)?;
    let (username, password) = text.split_once(':').ok_or(BasicError::NoColon)?;
    if username.is_empty() {
        return Err(BasicError::EmptyUsername);
    }
    if password.is_empty() {
        return Err(BasicError::EmptyPassword);
    }
    if username.chars().count() > MAX_USERNAME_CHARS || username.chars().any(char::is_control) {
        return Err(BasicError::BadUsername);
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(BasicError::LongPassword);
    }
    Ok(Login { username: username.to_owned(), password: Zeroizing::new(password.to_owned()) })
}

/// Cognito's `SECRET_HASH`: Base64 of HMAC-SHA256 keyed with the client secret over username then client id.
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(client_secret.as_bytes()) else { return String::new() };
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateAuth<'a> {
    auth_flow: &'static str,
    client_id: &'a str,
    auth_parameters: AuthParameters<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct AuthParameters<'a> {
    username: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_hash: Option<&'a str>,
}

impl PasswordAuth {
    /// The call's headers: `POST /` to the configured authority, as the AWS JSON 1.1 protocol wants.
    pub fn call_headers(&self) -> [(&str, &str); 5] {
        [
            (":method", "POST"),
            (":path", "/"),
            (":authority", self.authority.as_str()),
            ("content-type", AMZ_JSON),
            ("x-amz-target", INITIATE_AUTH_TARGET),
        ]
    }

    /// The `InitiateAuth` body for `login`; it holds the password, so it is overwritten when dropped.
    pub fn initiate_auth_body(&self, login: &Login) -> Zeroizing<Vec<u8>> {
        let hash = self.client_secret.as_ref().map(|secret| secret_hash(secret, login.username(), &self.client_id));
        let request = InitiateAuth {
            auth_flow: "USER_PASSWORD_AUTH",
            client_id: &self.client_id,
            auth_parameters: AuthParameters {
                username: login.username(),
                password: login.password(),
                secret_hash: hash.as_deref(),
            },
        };
        // Room for every character escaped (`\u00XX`), so the buffer never grows and leaves a copy behind.
        let room = 256 + 6 * (login.username().len() + login.password().len()) + self.client_id.len() + 64;
        let mut body = Zeroizing::new(Vec::with_capacity(room));
        // Writing plain strings into a Vec cannot fail; an empty body would be refused by the IdP.
        let _ = serde_json::to_writer(&mut *body, &request);
        body
    }
}

/// Why an exchange brought no usable token. Each says whether the user's credentials were refused (401) or the
/// exchange could not be made (503).
#[derive(Debug, Clone, PartialEq)]
pub enum ExchangeFailure {
    /// `NotAuthorizedException` or `UserNotFoundException`: wrong username or password (Cognito does not say
    /// which unless user existence errors are revealed).
    WrongCredentials,
    /// The user must act first (`PasswordResetRequiredException`, `UserNotConfirmedException`).
    UserState(String),
    /// Cognito asks for another step (`NEW_PASSWORD_REQUIRED`, `SOFTWARE_TOKEN_MFA`, ...) that a Basic client cannot
    /// take.
    Challenge(String),
    /// No answer: the cluster is unreachable, the connection reset, or the call timed out.
    Unreachable,
    /// An error status other than wrong credentials, with Cognito's error type when it gave one.
    Status { status: u32, kind: Option<String> },
    /// A 200 answer that cannot be read, or carries no access token.
    Unparseable(String),
    /// The token the IdP returned failed verification (another issuer, client, key or kind than configured).
    Token(super::TokenError),
    /// This host cannot call the identity provider (no HTTP calls, or no cache key).
    Unsupported,
}

impl ExchangeFailure {
    /// Whether the credentials themselves were refused (401) rather than the exchange failing (503).
    pub fn refuses_credentials(&self) -> bool {
        matches!(self, Self::WrongCredentials | Self::UserState(_) | Self::Challenge(_) | Self::Token(_))
    }

    /// The short name of its kind, as counters name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WrongCredentials | Self::UserState(_) => "refused",
            Self::Challenge(_) => "challenge",
            Self::Unreachable => "unreachable",
            Self::Status { .. } | Self::Unparseable(_) | Self::Unsupported => "error",
            Self::Token(_) => "token_refused",
        }
    }
}

impl fmt::Display for ExchangeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongCredentials => f.write_str("the identity provider refused the username or password"),
            Self::UserState(kind) => write!(f, "the identity provider refused the user: `{kind}`"),
            Self::Challenge(name) => {
                write!(f, "the identity provider asked for challenge `{name}`, which a Basic client cannot answer")
            }
            Self::Unreachable => f.write_str("no answer from the identity provider (unreachable, reset or timed out)"),
            Self::Status { status, kind: Some(kind) } => {
                write!(f, "the identity provider answered status {status} `{kind}`")
            }
            Self::Status { status, kind: None } => write!(f, "the identity provider answered status {status}"),
            Self::Unparseable(why) => write!(f, "the identity provider's answer cannot be read: {why}"),
            Self::Token(err) => write!(f, "the identity provider's token was refused: {err}"),
            Self::Unsupported => f.write_str("this host cannot exchange passwords with the identity provider"),
        }
    }
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(rename = "AuthenticationResult")]
    result: Option<RawResult>,
    #[serde(rename = "ChallengeName")]
    challenge: Option<String>,
    #[serde(rename = "__type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(rename = "AccessToken")]
    access_token: Option<String>,
}

/// A name from the IdP, fit for a log line: the last `#`-separated part (`...#NotAuthorizedException`), only
/// letters, digits and `_`, at most 64 bytes; `unknown` otherwise.
fn aws_name(raw: &str) -> String {
    let name = raw.rsplit('#').next().unwrap_or_default();
    let fits = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fits {
        name.to_owned()
    } else {
        "unknown".to_owned()
    }
}

/// Reads an `InitiateAuth` answer: its status (`None` when the call got none) and body. The access token, or why
/// there is none. The caller drops the body (it holds the refresh token) when this returns.
pub fn parse_initiate_auth(status: Option<u32>, body: &[u8]) -> Result<String, ExchangeFailure> {
    let Some(status) = status else { return Err(ExchangeFailure::Unreachable) };
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(if status == 200 {
            ExchangeFailure::Unparseable(format!("over {MAX_RESPONSE_BYTES} bytes"))
        } else {
            ExchangeFailure::Status { status, kind: None }
        });
    }
    let answer: Option<RawAnswer> = serde_json::from_slice(body).ok();
    if status != 200 {
        let kind = answer.and_then(|answer| answer.kind).map(|kind| aws_name(&kind));
        return Err(match (status, kind) {
            (400, Some(kind)) if kind == "NotAuthorizedException" || kind == "UserNotFoundException" => {
                ExchangeFailure::WrongCredentials
            }
            (400, Some(kind)) if kind == "PasswordResetRequiredException" || kind == "UserNotConfirmedException" => {
                ExchangeFailure::UserState(kind)
            }
            (status, kind) => ExchangeFailure::Status { status, kind },
        });
    }
    let Some(answer) = answer else {
        return Err(ExchangeFailure::Unparseable("not a JSON object of the expected shape".to_owned()));
    };
    if let Some(challenge) = answer.challenge.filter(|name| !name.is_empty()) {
        return Err(ExchangeFailure::Challenge(aws_name(&challenge)));
    }
    match answer.result.and_then(|result| result.access_token) {
        Some(token) if !token.is_empty() => Ok(token),
        _ => Err(ExchangeFailure::Unparseable("no `AuthenticationResult.AccessToken`".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    fn raw() -> RawPasswordAuth {
        RawPasswordAuth {
            cluster: "cognito_idp".into(),
            authority: "cognito-idp.us-east-1.amazonaws.com".into(),
            client_id: "app1client".into(),
            client_secret: Some("s3cret".into()),
            cache_seconds: None,
            timeout_ms: None,
        }
    }

    #[test]
    fn secret_hash_matches_pythons_hmac() {
        // Computed when this test was written with Python's standard library:
        // base64.b64encode(hmac.new(b'client-secret-1', b'alice' + b'app-client-1', hashlib.sha256).digest())
        assert_eq!(
            secret_hash("client-secret-1", "alice", "app-client-1"),
            "AV8p93/6IBtPIJjyF52ZKdstlo4nbp+hw0DDX5OSeVI="
        );
        // The widely published HMAC-SHA256 example (key `key`, the quick brown fox): hex f7bc83f4...2d1a3cd8. The
        // message is split as username + client id to show the two are joined with nothing between.
        assert_eq!(
            secret_hash("key", "The quick brown fox ", "jumps over the lazy dog"),
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
        // Order matters: client id then username is another hash.
        assert_ne!(
            secret_hash("client-secret-1", "app-client-1", "alice"),
            secret_hash("client-secret-1", "alice", "app-client-1")
        );
    }

    #[test]
    fn basic_credentials_are_read_strictly() {
        let login = parse_basic("Basic YWxpY2U6cGE6c3MgdzByZA==").unwrap().unwrap();
        // Only the first colon splits (RFC 7617: the user-id has none, the password may).
        assert_eq!((login.username(), login.password()), ("alice", "pa:ss w0rd"));
        assert_eq!(parse_basic("  bAsIc \t YWxpY2U6cGE6c3MgdzByZA== ").unwrap().unwrap().username(), "alice");
        for other in ["Bearer a.b.c", "Basicx YQ==", "a.b.c", "", "Bas"] {
            assert!(parse_basic(other).is_none(), "{other}");
        }
        let refused = |value: &str| parse_basic(value).unwrap().unwrap_err();
        assert_eq!(refused("Basic"), BasicError::NoColon);
        assert_eq!(refused("Basic !!!!"), BasicError::Base64);
        assert_eq!(refused("Basic YWxpY2U6cGE6c3MgdzByZA"), BasicError::Base64, "padding is required");
        assert_eq!(refused("Basic //46eA=="), BasicError::NotUtf8);
        assert_eq!(refused("Basic bm9jb2xvbg=="), BasicError::NoColon);
        assert_eq!(refused("Basic OnB3"), BasicError::EmptyUsername);
        assert_eq!(refused("Basic Ym9iOg=="), BasicError::EmptyPassword);
        let b64 = |text: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text));
        assert_eq!(refused(&b64("a\nb:pw")), BasicError::BadUsername);
        assert_eq!(refused(&b64(&format!("{}:pw", "u".repeat(129)))), BasicError::BadUsername);
        assert!(parse_basic(&b64(&format!("{}:pw", "é".repeat(128)))).unwrap().is_ok());
        assert_eq!(refused(&b64(&format!("u:{}", "p".repeat(257)))), BasicError::LongPassword);
        assert_eq!(refused(&format!("Basic {}", "A".repeat(MAX_BASIC_BYTES + 4))), BasicError::TooLarge);
        // A password never shows in Debug.
        let login = parse_basic(&b64("alice:hunter2")).unwrap().unwrap();
        assert!(!format!("{login:?}").contains("hunter2"));
    }

    #[test]
    fn the_setting_is_checked_field_by_field() {
        let auth = PasswordAuth::try_from(&raw()).unwrap();
        assert_eq!((auth.cache_seconds, auth.timeout_ms), (300, 2000));
        assert!(!format!("{auth:?}").contains("s3cret") && !format!("{:?}", raw()).contains("s3cret"));
        let field = |change: fn(&mut RawPasswordAuth)| {
            let mut r = raw();
            change(&mut r);
            PasswordAuth::try_from(&r).map(|_| ()).map_err(|err| err.field())
        };
        assert_eq!(field(|r| r.cluster = "a b".into()), Err("cluster"));
        assert_eq!(field(|r| r.authority = "h/p".into()), Err("authority"));
        assert_eq!(field(|r| r.authority = "user@h".into()), Err("authority"));
        assert_eq!(field(|r| r.authority = "127.0.0.1:5000".into()), Ok(()));
        assert_eq!(field(|r| r.client_id = String::new()), Err("client_id"));
        assert_eq!(field(|r| r.client_id = "a-b".into()), Err("client_id"));
        assert_eq!(field(|r| r.client_secret = Some(String::new())), Err("client_secret"));
        assert_eq!(field(|r| r.client_secret = None), Ok(()));
        assert_eq!(field(|r| r.cache_seconds = Some(0)), Err("cache_seconds"));
        assert_eq!(field(|r| r.cache_seconds = Some(3600)), Ok(()));
        assert_eq!(field(|r| r.cache_seconds = Some(3601)), Err("cache_seconds"));
        assert_eq!(field(|r| r.timeout_ms = Some(0)), Err("timeout_ms"));
        assert_eq!(field(|r| r.timeout_ms = Some(60_001)), Err("timeout_ms"));
    }

    #[test]
    fn the_call_is_initiate_auth_with_the_secret_hash() {
        let auth = PasswordAuth::try_from(&raw()).unwrap();
        let login = parse_basic("Basic YWxpY2U6cGE6c3MgdzByZA==").unwrap().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&auth.initiate_auth_body(&login)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "app1client", "AuthParameters": {
                "USERNAME": "alice", "PASSWORD": "pa:ss w0rd", "SECRET_HASH": secret_hash("s3cret", "alice", "app1client")}})
        );
        let headers = auth.call_headers();
        assert!(headers.contains(&("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")));
        assert!(headers.contains(&("content-type", "application/x-amz-json-1.1")) && headers.contains(&(":path", "/")));
        let mut no_secret = raw();
        no_secret.client_secret = None;
        let body: serde_json::Value =
            serde_json::from_slice(&PasswordAuth::try_from(&no_secret).unwrap().initiate_auth_body(&login)).unwrap();
        assert!(body["AuthParameters"].get("SECRET_HASH").is_none());
    }

    #[test]
    fn answers_are_told_apart() {
        let ok = br#"{"AuthenticationResult":{"AccessToken":"a.b.c","ExpiresIn":3600,"IdToken":"d.e.f","TokenType":"Bearer"},"ChallengeParameters":{}}"#;
        assert_eq!(parse_initiate_auth(Some(200), ok), Ok("a.b.c".to_owned()));
        let wrong = br#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#;
        assert_eq!(parse_initiate_auth(Some(400), wrong), Err(ExchangeFailure::WrongCredentials));
        let unknown = br#"{"__type":"com.amazonaws#UserNotFoundException","message":"User does not exist."}"#;
        assert_eq!(parse_initiate_auth(Some(400), unknown), Err(ExchangeFailure::WrongCredentials));
        let challenge = br#"{"ChallengeName":"NEW_PASSWORD_REQUIRED","ChallengeParameters":{},"Session":"s"}"#;
        assert_eq!(
            parse_initiate_auth(Some(200), challenge),
            Err(ExchangeFailure::Challenge("NEW_PASSWORD_REQUIRED".into()))
        );
        let odd = br#"{"ChallengeName":"x\ny"}"#;
        assert_eq!(parse_initiate_auth(Some(200), odd), Err(ExchangeFailure::Challenge("unknown".into())));
        let flow = br#"{"__type":"InvalidParameterException","message":"USER_PASSWORD_AUTH flow not enabled for this client"}"#;
        let failed = parse_initiate_auth(Some(400), flow).unwrap_err();
        assert_eq!(failed, ExchangeFailure::Status { status: 400, kind: Some("InvalidParameterException".into()) });
        assert!(!failed.refuses_credentials());
        assert_eq!(parse_initiate_auth(Some(503), b"<html>"), Err(ExchangeFailure::Status { status: 503, kind: None }));
        assert_eq!(parse_initiate_auth(None, b""), Err(ExchangeFailure::Unreachable));
        assert!(matches!(parse_initiate_auth(Some(200), b"{}"), Err(ExchangeFailure::Unparseable(_))));
        assert!(matches!(parse_initiate_auth(Some(200), b"nope"), Err(ExchangeFailure::Unparseable(_))));
        assert!(matches!(
            parse_initiate_auth(Some(200), br#"{"AuthenticationResult":{"AccessToken":""}}"#),
            Err(ExchangeFailure::Unparseable(_))
        ));
        assert!(matches!(
            parse_initiate_auth(Some(200), &vec![b' '; MAX_RESPONSE_BYTES + 1]),
            Err(ExchangeFailure::Unparseable(_))
        ));
        assert!(
            ExchangeFailure::WrongCredentials.refuses_credentials()
                && ExchangeFailure::Challenge("X".into()).refuses_credentials()
        );
        assert!(!ExchangeFailure::Unreachable.refuses_credentials());
    }
}
