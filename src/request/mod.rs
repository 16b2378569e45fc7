//! The host-neutral request, its normalised path and the execute-api method ARN built from it: the request and
//! its method (`model`), the `request` options of the configuration (`options`), path normalisation (`path`) and
//! the method ARN (`arn`), one file each.

mod arn;
mod model;
mod options;
mod path;

pub use arn::{ApiTarget, Partition, MAX_METHOD_ARN_BYTES};
pub use model::{check_method_overrides, normalize_method, HttpRequest, RequestError};
pub use options::{
    EscapedSlashes, RawRequestOptions, RequestOptionError, RequestOptions, DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_PATH_BYTES,
};
pub(crate) use path::already_normal;
pub use path::{normalize_path, normalize_path_with, NormalizedPath};
