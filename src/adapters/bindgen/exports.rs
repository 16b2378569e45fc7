//! The `#[wasm_bindgen]` surface: reads JavaScript values into an [`EdgeRequest`], calls the core, returns an
//! [`EdgeAnswer`]. Every malformed input is a thrown `Error` with a message that names the field; nothing here
//! can trap (no panics; the core has none either).

use super::answer::EdgeAnswer;
use super::request::EdgeRequest;
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Header values by name (a list repeats the header), or `[name, value]` pairs in order; also any iterable of pairs, such as a `Headers`. */
export type AuthorizeHeaders = Record<string, string | string[]> | Array<[string, string]> | Iterable<[string, string]>;

/** One request to decide. */
export interface AuthorizeRequest {
  /** The request method as received. */
  method: string;
  /** The request target in origin form, query included: `/pets/1?x=y`. */
  path: string;
  /** Every request header, `host` included; names in any case. */
  headers?: AuthorizeHeaders | null;
  /** The client address (`aws:SourceIp`), without port. Absent: no source address. */
  sourceIp?: string | null;
  /** Whether the client used TLS (`aws:SecureTransport`). Absent: unknown, and the key is absent. */
  secureTransport?: boolean | null;
  /** Unix seconds to decide at (whole). Absent: the clock. */
  now?: number | null;
}

/** The decision, with the same meaning as `authz check`'s output. */
export interface AuthorizeAnswer {
  /** 200 to forward; 400, 401, 403 or 414 to answer with `body` and `headers`. */
  status: number;
  decision: "allow" | "unauthorized" | "deny" | "bad_request";
  /** Why, as a stable snake_case code (`token_expired`, `no_route`, `explicit_deny`, ...): see the README. */
  code: string;
  /** Why, for logs; never send it to the client. */
  reason: string;
  /** On allow: identity headers to set upstream. Otherwise: the reply's headers. */
  headers: Record<string, string>;
  /** On a denial: API Gateway's body for the status; `null` on allow. */
  body: string | null;
  /** On allow: the normalised target the upstream must receive, or `null` to keep the one sent. */
  rewritePath: string | null;
  /** On allow: request headers to remove before setting `headers` (client copies of identity headers). */
  removeHeaders: string[];
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "AuthorizeRequest")]
    pub type AuthorizeRequest;
    #[wasm_bindgen(typescript_type = "AuthorizeAnswer")]
    pub type AuthorizeAnswer;
    #[wasm_bindgen(typescript_type = "string[]")]
    pub type StringList;
    #[wasm_bindgen(typescript_type = "string")]
    pub type ConfigText;
}

/// The fields `authorize` reads; any other is refused, so that a misspelt `sourceIP` cannot go unnoticed.
const FIELDS: [&str; 6] = ["method", "path", "headers", "sourceIp", "secureTransport", "now"];

/// Largest whole number a JS number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// A JS type name for messages.
fn kind(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_owned()
    } else if Array::is_array(value) {
        "array".to_owned()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

fn absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

fn get(object: &JsValue, field: &str) -> Result<JsValue, JsValue> {
    Reflect::get(object, &JsValue::from_str(field))
}

fn string(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| error(&format!("{what} must be a string, not {}", kind(value))))
}

/// A `[name, value]` pair of strings.
fn pair(item: &JsValue, what: &str) -> Result<(String, String), JsValue> {
    let wrong = || error(&format!("{what} must be a [name, value] pair of strings"));
    if !Array::is_array(item) {
        return Err(wrong());
    }
    let item = Array::from(item);
    if item.length() != 2 {
        return Err(wrong());
    }
    match (item.get(0).as_string(), item.get(1).as_string()) {
        (Some(name), Some(value)) => Ok((name, value)),
        _ => Err(wrong()),
    }
}

/// Headers as an object of strings or string lists, a list of pairs, or any iterable of pairs (`Headers`, `Map`).
fn headers(value: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let mut headers = Vec::new();
    if absent(value) {
        return Ok(headers);
    }
    if !value.is_object() {
        return Err(error(&format!("headers must be an object or a list of [name, value] pairs, not {}", kind(value))));
    }
    if let Some(items) = js_sys::try_iter(value)? {
        for (index, item) in items.enumerate() {
            headers.push(pair(&item?, &format!("headers[{index}]"))?);
        }
        return Ok(headers);
    }
    for entry in Object::entries(&Object::from(value.clone())).iter() {
        let entry = Array::from(&entry);
        let name = string(&entry.get(0), "a header name")?;
        let values = entry.get(1);
        if let Some(text) = values.as_string() {
            headers.push((name, text));
        } else if Array::is_array(&values) {
            for item in Array::from(&values).iter() {
                let what = format!("headers[\"{}\"] items", name.escape_debug());
                headers.push((name.clone(), string(&item, &what)?));
            }
        } else {
            let name = name.escape_debug().to_string();
            return Err(error(&format!(
                "headers[\"{name}\"] must be a string or a list of strings, not {}",
                kind(&values)
            )));
        }
    }
    Ok(headers)
}

/// `now` in whole unix seconds, or the clock's.
fn now(value: &JsValue) -> Result<u64, JsValue> {
    if absent(value) {
        // Date.now() is milliseconds since the epoch; a clock before 1970 reads as 0, which expires every token.
        let seconds = (js_sys::Date::now() / 1000.0).floor();
        return Ok(if seconds.is_finite() && seconds > 0.0 { seconds as u64 } else { 0 });
    }
    match value.as_f64() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, non-negative and below 2^53
        Some(seconds)
            if seconds.is_finite() && seconds >= 0.0 && seconds.fract() == 0.0 && seconds <= MAX_SAFE_INTEGER =>
        {
            Ok(seconds as u64)
        }
        Some(seconds) => {
            Err(error(&format!("now must be whole unix seconds (Math.floor(Date.now() / 1000)), not {seconds}")))
        }
        None => Err(error(&format!("now must be a number of unix seconds, not {}", kind(value)))),
    }
}

fn optional_bool(value: &JsValue, what: &str) -> Result<Option<bool>, JsValue> {
    if absent(value) {
        return Ok(None);
    }
    value.as_bool().map(Some).ok_or_else(|| error(&format!("{what} must be a boolean, not {}", kind(value))))
}

/// Reads and checks one `authorize` argument.
fn read_request(request: &JsValue) -> Result<(EdgeRequest, u64), JsValue> {
    if !request.is_object() || Array::is_array(request) {
        return Err(error(&format!("the request must be an object, not {}", kind(request))));
    }
    for key in Object::keys(&Object::from(request.clone())).iter() {
        let key = key.as_string().unwrap_or_default();
        if !FIELDS.contains(&key.as_str()) {
            let key = key.escape_debug().to_string();
            return Err(error(&format!("unknown request field `{key}` (expected one of {})", FIELDS.join(", "))));
        }
    }
    let source_ip = get(request, "sourceIp")?;
    let edge = EdgeRequest {
        method: string(&get(request, "method")?, "method")?,
        path: string(&get(request, "path")?, "path")?,
        headers: headers(&get(request, "headers")?)?,
        source_ip: if absent(&source_ip) { None } else { Some(string(&source_ip, "sourceIp")?) },
        secure_transport: optional_bool(&get(request, "secureTransport")?, "secureTransport")?,
    };
    Ok((edge, now(&get(request, "now")?)?))
}

/// A compiled configuration: build it once (per isolate, per container) and call `authorize` for each request.
#[wasm_bindgen(js_name = Authorizer)]
pub struct EdgeAuthorizer {
    inner: crate::Authorizer,
}

#[wasm_bindgen(js_class = Authorizer)]
impl EdgeAuthorizer {
    /// Compiles a JSON configuration. Throws an `Error` whose message names the bad field's path (also in its
    /// `path` property); nothing is half-loaded.
    #[wasm_bindgen(constructor)]
    #[allow(non_snake_case)] // the parameter's name in the TypeScript declarations
    pub fn new(configJson: ConfigText) -> Result<EdgeAuthorizer, JsValue> {
        let Some(text) = configJson.as_string() else {
            return Err(error(&format!("the configuration must be JSON text, not {}", kind(&configJson))));
        };
        match crate::Authorizer::from_json(text.as_bytes()) {
            Ok(inner) => Ok(Self { inner }),
            Err(err) => {
                let thrown = error(&format!("invalid configuration: {err}"));
                Reflect::set(&thrown, &JsValue::from_str("path"), &JsValue::from_str(&err.path))?;
                Err(thrown)
            }
        }
    }

    /// Decides one request. Throws an `Error` naming the field when the request is malformed.
    pub fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizeAnswer, JsValue> {
        let (edge, now) = read_request(&request)?;
        let request = edge.into_http_request().map_err(|err| error(&err.to_string()))?;
        let decision = self.inner.authorize(&request, now);
        let text = EdgeAnswer::from_decision(&decision)
            .to_json()
            .map_err(|err| error(&format!("cannot render the answer: {err}")))?;
        Ok(JSON::parse(&text)?.unchecked_into())
    }

    /// The configuration's warnings (policy statements that can never match, and the like), to log once.
    pub fn warnings(&self) -> StringList {
        let list: Array =
            self.inner.config().warnings().iter().map(|warning| JsValue::from_str(&warning.to_string())).collect();
        list.unchecked_into()
    }
}
