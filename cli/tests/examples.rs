//! The deployment manifests in `examples/` carry configurations that load: each inline configuration, taken out
//! of its manifest as the control plane hands it to the filter (JSON), passes `authz config validate`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{arg, authz, scratch, workspace};

/// The configuration inside a manifest: the value at `path` (mapping keys, or indexes into lists), as JSON.
fn inline_config(manifest: &str, path: &[&str]) -> serde_json::Value {
    let text = std::fs::read_to_string(workspace().join("examples").join(manifest)).unwrap();
    let document: serde_json::Value = yaml_serde::from_str(&text).unwrap_or_else(|err| panic!("{manifest}: {err}"));
    let mut value = &document;
    for key in path {
        let next = match key.parse::<usize>() {
            Ok(index) => value.get(index),
            Err(_) => value.get(key),
        };
        value = next.unwrap_or_else(|| panic!("{manifest}: no `{key}` along {path:?}"));
    }
    value.clone()
}

fn validates(name: &str, config: &serde_json::Value) {
    let dir = scratch(&format!("example-{name}"));
    let file = dir.join("config.json");
    std::fs::write(&file, config.to_string()).unwrap();
    let run = authz(&["config", "validate", arg(&file)], "").expect_code(0);
    assert!(run.stdout.ends_with(": valid\n"), "{name}: {}", run.stdout);
    assert!(!run.stdout.contains("warning:"), "{name}: {}", run.stdout);
}

#[test]
fn the_istio_wasmplugin_configuration_loads() {
    let config = inline_config("istio-wasmplugin.yaml", &["spec", "pluginConfig"]);
    assert_eq!(config["api"]["account_id"], "123456789012", "YAML must keep the account id a string");
    validates("istio", &config);
}

#[test]
fn the_envoy_gateway_configuration_loads() {
    let config = inline_config("envoy-gateway.yaml", &["spec", "wasm", "0", "config"]);
    validates("envoy-gateway", &config);
}

#[test]
fn the_three_examples_carry_the_same_configuration() {
    let istio = inline_config("istio-wasmplugin.yaml", &["spec", "pluginConfig"]);
    let gateway = inline_config("envoy-gateway.yaml", &["spec", "wasm", "0", "config"]);
    assert_eq!(istio, gateway);
    let envoy = std::fs::read_to_string(workspace().join("examples/envoy.yaml")).unwrap();
    let start = envoy.find("value: |").unwrap();
    let block: String = envoy[start..]
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("                    "))
        .collect::<Vec<_>>()
        .join("\n");
    let inline: serde_json::Value = serde_json::from_str(&block).unwrap();
    assert_eq!(inline, istio, "examples/envoy.yaml and the manifests drifted apart");
}
