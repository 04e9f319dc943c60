#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error by design.

use super::*;
use figment::Jail;

fn flags() -> Overrides {
    Overrides::default()
}

#[test]
fn defaults_are_the_embedded_default() {
    Jail::expect_with(|_| {
        let cfg = load(None, &flags()).unwrap();
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.api.listen.to_string(), "127.0.0.1:8080");
        assert!(cfg.modules.pos && !cfg.modules.omni);
        assert_eq!(cfg.mqtt.url, None);
        Ok(())
    });
}

#[test]
fn file_then_dropins_in_name_order_then_env_then_flags() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "edge.toml",
            "store_id = \"s-file\"\n[api]\nbody_limit_bytes = 1\n",
        )?;
        std::fs::create_dir("edge.toml.d").unwrap();
        jail.create_file("edge.toml.d/20-b.toml", "[api]\nbody_limit_bytes = 3\n")?;
        jail.create_file("edge.toml.d/10-a.toml", "[api]\nbody_limit_bytes = 2\n")?;
        jail.create_file("edge.toml.d/ignored.txt", "not toml")?;
        jail.set_env("EDGE_MODULES__OMNI", "true");
        jail.set_env("EDGE_LOG", "debug");
        let cfg = load(Some(Path::new("edge.toml")), &flags()).unwrap();
        assert_eq!(cfg.store_id.as_str(), "s-file");
        assert_eq!(cfg.api.body_limit_bytes, 3, "the last drop-in wins");
        assert!(cfg.modules.omni, "environment overrides files");
        jail.set_env("EDGE_STORE_ID", "s-env");
        let cfg = load(Some(Path::new("edge.toml")), &flags()).unwrap();
        assert_eq!(cfg.store_id.as_str(), "s-env");
        let over = Overrides {
            store_id: Some(StoreId::new("s-flag").unwrap()),
            ..flags()
        };
        let cfg = load(Some(Path::new("edge.toml")), &over).unwrap();
        assert_eq!(cfg.store_id.as_str(), "s-flag", "flags override everything");
        Ok(())
    });
}

#[test]
fn an_unknown_key_names_the_file_and_the_key() {
    Jail::expect_with(|jail| {
        jail.create_file("edge.toml", "[api]\nlisten_on = \"0.0.0.0:1\"\n")?;
        let err = load(Some(Path::new("edge.toml")), &flags())
            .unwrap_err()
            .to_string();
        assert!(err.contains("edge.toml"), "{err}");
        assert!(err.contains("listen_on"), "{err}");
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_file_and_the_key() {
    Jail::expect_with(|jail| {
        jail.create_file("edge.toml", "[pairing]\ncode_ttl_secs = \"ten\"\n")?;
        let err = load(Some(Path::new("edge.toml")), &flags())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("edge.toml") && err.contains("pairing.code_ttl_secs"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("EDGE_API__LISTEN", "not an address");
        let err = load(None, &flags()).unwrap_err().to_string();
        assert!(err.contains("api.listen") && err.contains("EDGE_"), "{err}");
        Ok(())
    });
}

#[test]
fn an_invalid_store_id_is_refused() {
    Jail::expect_with(|jail| {
        jail.create_file("edge.toml", "store_id = \"Store 1\"\n")?;
        let err = load(Some(Path::new("edge.toml")), &flags())
            .unwrap_err()
            .to_string();
        assert!(err.contains("store_id"), "{err}");
        Ok(())
    });
}

#[test]
fn a_missing_file_is_an_error_not_the_defaults() {
    Jail::expect_with(|_| {
        let err = load(Some(Path::new("nope.toml")), &flags())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml"), "{err}");
        Ok(())
    });
}

/// Every key of [`Config`] appears in the configuration reference with its default.
#[test]
fn configuration_reference_lists_every_key() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/CONFIGURATION.md"
    ))
    .unwrap();
    let value = toml::Value::try_from(Config::default()).unwrap();
    let mut keys = Vec::new();
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    walk(&key, v, out);
                } else {
                    out.push(key);
                }
            }
        }
    }
    walk("", &value, &mut keys);
    assert!(keys.len() > 15);
    for key in keys {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/CONFIGURATION.md lacks `{key}`"
        );
    }
    assert!(doc.contains("`mqtt.url`"));
}
