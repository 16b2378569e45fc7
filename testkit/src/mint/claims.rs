//! Cognito-shaped claims for access and ID tokens.

use serde_json::{Map, Value};

/// The claims of a Cognito access or ID token; fields map one to one onto the real tokens.
#[derive(Debug, Clone)]
pub struct CognitoClaims {
    pub issuer: String,
    pub token_use: &'static str,
    pub client_id: String,
    pub sub: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    pub issued_at: u64,
    pub expires_at: u64,
}

impl CognitoClaims {
    /// An access token for user `username` of `client_id`, valid for an hour from `now`.
    pub fn access(issuer: &str, client_id: &str, username: &str, now: u64) -> Self {
        Self {
            issuer: issuer.to_owned(),
            token_use: "access",
            client_id: client_id.to_owned(),
            sub: format!("sub-{username}"),
            username: Some(username.to_owned()),
            groups: Vec::new(),
            scopes: vec!["aws.cognito.signin.user.admin".to_owned()],
            issued_at: now,
            expires_at: now + 3600,
        }
    }

    /// An ID token for user `username` of `client_id`, valid for an hour from `now`.
    pub fn id(issuer: &str, client_id: &str, username: &str, now: u64) -> Self {
        Self { token_use: "id", scopes: Vec::new(), ..Self::access(issuer, client_id, username, now) }
    }

    /// A client-credentials access token: no user, no groups, `sub` is the client id.
    pub fn client_credentials(issuer: &str, client_id: &str, scopes: &[&str], now: u64) -> Self {
        Self {
            sub: client_id.to_owned(),
            username: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::access(issuer, client_id, "", now)
        }
    }

    /// Replaces the groups.
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// Replaces the scopes.
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Sets the validity window.
    pub fn valid(mut self, issued_at: u64, expires_at: u64) -> Self {
        self.issued_at = issued_at;
        self.expires_at = expires_at;
        self
    }

    /// The JSON payload, shaped exactly like Cognito's.
    pub fn to_json(&self) -> Value {
        let mut claims = Map::new();
        claims.insert("sub".into(), self.sub.clone().into());
        if !self.groups.is_empty() {
            claims.insert("cognito:groups".into(), self.groups.clone().into());
        }
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("token_use".into(), self.token_use.into());
        claims.insert("auth_time".into(), self.issued_at.into());
        claims.insert("exp".into(), self.expires_at.into());
        claims.insert("iat".into(), self.issued_at.into());
        claims.insert("jti".into(), format!("jti-{}-{}", self.sub, self.issued_at).into());
        claims.insert("origin_jti".into(), format!("ojti-{}-{}", self.sub, self.issued_at).into());
        if self.token_use == "id" {
            claims.insert("aud".into(), self.client_id.clone().into());
            if let Some(username) = &self.username {
                claims.insert("cognito:username".into(), username.clone().into());
            }
            claims.insert("email_verified".into(), true.into());
        } else {
            claims.insert("client_id".into(), self.client_id.clone().into());
            claims.insert("scope".into(), self.scopes.join(" ").into());
            claims.insert("version".into(), 2.into());
            if let Some(username) = &self.username {
                claims.insert("username".into(), username.clone().into());
            }
        }
        Value::Object(claims)
    }
}
