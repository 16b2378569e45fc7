//! The proxy-wasm header map codec the filter decodes every request with: any bytes a host hands over decode or
//! are refused, never panic; what decodes encodes back to a map that decodes the same, and decoding into reused
//! strings gives what a fresh decode gives.
#![no_main]

use authz::header_map::{decode_header_map, decode_header_map_into, decode_request, encode_header_map};
use authz::HttpRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = decode_header_map(data);
    let mut reused = vec![("stale key".to_owned(), "stale value".to_owned()); 3];
    assert_eq!(decode_header_map_into(data, &mut reused).is_some(), decoded.is_some());
    let mut request = HttpRequest::default();
    assert_eq!(decode_request(data, &mut request).is_some(), decoded.is_some());
    let Some(pairs) = decoded else { return };
    assert_eq!(reused, pairs);
    assert_eq!(request.headers, pairs);
    let first = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    assert_eq!(request.method, first(":method").unwrap_or_default());
    assert_eq!(request.path, first(":path").unwrap_or_default());
    let again = decode_header_map(&encode_header_map(&pairs)).expect("an encoded map decodes");
    assert_eq!(again, pairs);
});
