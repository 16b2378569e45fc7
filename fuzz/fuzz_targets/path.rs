//! Path normalisation: whatever is accepted comes out in a normal form that reads back unchanged, under every
//! combination of the `request` options (chosen by the first byte).
#![no_main]

use authz::request::{normalize_method, normalize_path, normalize_path_with, EscapedSlashes, RequestOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let target = String::from_utf8_lossy(rest);
    let options = RequestOptions {
        normalize_path: flags & 1 == 0,
        merge_slashes: flags & 2 == 0,
        escaped_slashes: if flags & 4 == 0 { EscapedSlashes::Reject } else { EscapedSlashes::UnescapeAndForward },
        ..RequestOptions::default()
    };
    let _ = normalize_method(&target);
    let Ok(normalized) = normalize_path_with(&target, &options) else { return };
    let path = normalized.path.as_str();
    assert!(path.starts_with('/'), "{target:?} → {path:?}");
    assert!(!path.contains("//"), "{target:?} → {path:?}");
    assert!(!path.contains(['\\', ';', '#', '?']), "{target:?} → {path:?}");
    assert!(path.bytes().all(|b| (0x21..0x7f).contains(&b)), "{target:?} → {path:?}");
    assert!(normalized.segments().all(|s| s != "." && s != ".."), "{target:?} → {path:?}");
    let bytes = path.as_bytes();
    for (index, _) in path.match_indices('%') {
        let escape = bytes.get(index + 1..index + 3).expect("a complete escape");
        assert!(escape.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)), "{target:?} → {path:?}");
        let value = u8::from_str_radix(std::str::from_utf8(escape).expect("hex"), 16).expect("hex");
        assert!(!(value.is_ascii_alphanumeric() || b"-._~/\\".contains(&value) || value < 0x20 || value == 0x7f));
    }
    assert_eq!(normalized.changed, path != target.split('?').next().unwrap_or_default());
    // The normal form is a fixed point, under the strict defaults too.
    let again = normalize_path(&normalized.target()).expect("a normal form reads back");
    assert_eq!(again.path, normalized.path);
    assert!(!again.changed);
});
