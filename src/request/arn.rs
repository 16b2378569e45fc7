//! The execute-api method ARN: the API a request is addressed to, in its AWS partition.

use super::model::RequestError;
use super::path::NormalizedPath;

/// API Gateway refuses method ARNs longer than this with 414.
pub const MAX_METHOD_ARN_BYTES: usize = 1600;

/// The AWS partition an API lives in: the second field of every ARN in it.
///
/// Only the partitions the public ARN documentation names are known
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>: `aws`, `aws-cn`, `aws-us-gov`).
/// Regions of other partitions (the ISO partitions `us-iso-east-1`, `us-isob-east-1`, `eu-isoe-west-1`,
/// `us-isof-south-1`; the European Sovereign Cloud `eusc-de-east-1`) have no partition here, so a configuration
/// naming one is refused instead of building method ARNs on a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// `aws`: the commercial regions.
    Aws,
    /// `aws-cn`: China (Beijing) `cn-north-1` and (Ningxia) `cn-northwest-1`.
    AwsCn,
    /// `aws-us-gov`: AWS GovCloud (US) `us-gov-west-1` and `us-gov-east-1`.
    AwsUsGov,
}

/// `{letters}-{letters}-{digits}`: the shape of a commercial or China region name (`us-east-1`, `cn-north-1`).
fn region_shape(region: &str) -> bool {
    let mut parts = region.split('-');
    let letters =
        |part: Option<&str>| part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()));
    let digits =
        |part: Option<&str>| part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    letters(parts.next()) && letters(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

impl Partition {
    /// The partition of `region`, by the shapes region names have in the AWS SDKs' partition table:
    /// `us-gov-{name}-{n}` is `aws-us-gov`, `cn-{name}-{n}` is `aws-cn`, any other `{geo}-{name}-{n}` is `aws`
    /// (the table lists the commercial geographies; any is accepted here, so a new one keeps working). `None` for
    /// every other shape: the ISO and sovereign partitions use four-part names such as `us-iso-east-1`.
    pub fn of_region(region: &str) -> Option<Self> {
        if let Some(rest) = region.strip_prefix("us-gov-") {
            return region_shape(&format!("us-{rest}")).then_some(Self::AwsUsGov);
        }
        if !region_shape(region) {
            return None;
        }
        Some(if region.starts_with("cn-") { Self::AwsCn } else { Self::Aws })
    }

    /// The partition written `name` in an ARN (`aws`, `aws-cn`, `aws-us-gov`), exactly.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Aws, Self::AwsCn, Self::AwsUsGov].into_iter().find(|partition| partition.as_str() == name)
    }

    /// The name ARNs carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
        }
    }
}

/// The API a request is addressed to: the fixed part of its method ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    /// The region's partition ([`Partition::of_region`]), decided once when the configuration loads.
    pub partition: Partition,
    pub region: String,
    pub account_id: String,
    pub api_id: String,
    pub stage: String,
}

impl ApiTarget {
    /// The start of every ARN of this API, with `execute-api:/` shorthand expanding to it:
    /// `arn:{partition}:execute-api:{region}:{account}:{api}`.
    pub fn arn_prefix(&self) -> String {
        format!("arn:{}:execute-api:{}:{}:{}", self.partition.as_str(), self.region, self.account_id, self.api_id)
    }

    /// `arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path without leading slash}`.
    pub fn method_arn(&self, method: &str, path: &NormalizedPath) -> Result<String, RequestError> {
        let resource = path.path.strip_prefix('/').unwrap_or(&path.path);
        // Pushed piece by piece: every request builds one, and `format!` costs a formatting pass.
        let parts = [
            "arn:",
            self.partition.as_str(),
            ":execute-api:",
            &self.region,
            ":",
            &self.account_id,
            ":",
            &self.api_id,
            "/",
            &self.stage,
            "/",
            method,
            "/",
            resource,
        ];
        let mut arn = String::with_capacity(parts.iter().map(|part| part.len()).sum());
        for part in parts {
            arn.push_str(part);
        }
        if arn.len() > MAX_METHOD_ARN_BYTES {
            return Err(RequestError::ArnTooLong(arn.len()));
        }
        Ok(arn)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::request::normalize_path;

    #[test]
    fn builds_the_method_arn_without_query_or_leading_slash() {
        let api = ApiTarget {
            partition: Partition::Aws,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            api_id: "a1b2c3d4e5".into(),
            stage: "dev".into(),
        };
        let arn = api.method_arn("GET", &normalize_path("/pets/a1b2?x=1").unwrap()).unwrap();
        assert_eq!(arn, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets/a1b2");
        let root = api.method_arn("GET", &normalize_path("/").unwrap()).unwrap();
        assert_eq!(root, "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/");
        let long = format!("/{}", "a".repeat(1600));
        assert!(matches!(api.method_arn("GET", &normalize_path(&long).unwrap()), Err(RequestError::ArnTooLong(_))));
    }

    #[test]
    fn the_partition_follows_the_region() {
        for (region, partition) in [
            ("us-east-1", Some(Partition::Aws)),
            ("eu-central-2", Some(Partition::Aws)),
            ("mx-central-1", Some(Partition::Aws)),
            ("cn-north-1", Some(Partition::AwsCn)),
            ("cn-northwest-1", Some(Partition::AwsCn)),
            ("us-gov-west-1", Some(Partition::AwsUsGov)),
            ("us-gov-east-1", Some(Partition::AwsUsGov)),
            // ISO and sovereign partitions, and anything else that is no region name: refused, never guessed.
            ("us-iso-east-1", None),
            ("us-isob-east-1", None),
            ("eu-isoe-west-1", None),
            ("us-isof-south-1", None),
            ("eusc-de-east-1", None),
            ("us-gov-1", None),
            ("cn-north", None),
            ("local", None),
            ("us-east-1-", None),
            ("US-east-1", None),
            ("", None),
        ] {
            assert_eq!(Partition::of_region(region), partition, "{region}");
        }
        assert_eq!(Partition::parse("aws-cn"), Some(Partition::AwsCn));
        assert_eq!(Partition::parse("AWS"), None);
        assert_eq!(Partition::parse("aws-iso"), None);
        let api = |partition, region: &str| ApiTarget {
            partition,
            region: region.into(),
            account_id: "123456789012".into(),
            api_id: "a1b2c3d4e5".into(),
            stage: "dev".into(),
        };
        let path = normalize_path("/pets/1").unwrap();
        assert_eq!(
            api(Partition::AwsCn, "cn-north-1").method_arn("GET", &path).unwrap(),
            "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3d4e5/dev/GET/pets/1"
        );
        assert_eq!(
            api(Partition::AwsUsGov, "us-gov-west-1").method_arn("DELETE", &path).unwrap(),
            "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:a1b2c3d4e5/dev/DELETE/pets/1"
        );
    }
}
