//! Configuration: flags and environment, the CLI login, and what errors may quote.

use super::*;
use url::Url;

use crate::make::{UrlError, parse_api_url, zone_base_url};

fn raw() -> RawSettings {
    RawSettings::default()
}

#[test]
fn cli_login_is_never_mixed_with_explicit_settings() {
    let login = CliLogin {
        api_key: Some("cli-key".into()),
        zone: Some("us1.make.com".into()),
    };
    let zone_only = RawSettings {
        zone: Some("eu2.make.com".into()),
        ..raw()
    };
    let c = Config::resolve(zone_only, Some(login.clone())).unwrap();
    assert!(
        c.client.api_key.is_none(),
        "the saved key is not sent to another zone"
    );
    let key_only = RawSettings {
        api_key: Some("env-key".into()),
        ..raw()
    };
    let c = Config::resolve(key_only, Some(login)).unwrap();
    assert!(
        c.client.base_url.is_none(),
        "an explicit key is not paired with the saved zone"
    );
}

#[test]
fn explicit_settings_win_and_cli_login_is_the_fallback() {
    let login = CliLogin {
        api_key: Some("cli-key".into()),
        zone: Some("us1.make.com".into()),
    };
    let c = Config::resolve(raw(), Some(login.clone())).unwrap();
    assert_eq!(c.client.api_key.unwrap().expose(), "cli-key");
    assert_eq!(
        c.client.base_url.unwrap().as_str(),
        "https://us1.make.com/api/v2"
    );

    let explicit = RawSettings {
        zone: Some("eu2.make.com".into()),
        api_key: Some("env-key".into()),
        team: Some("42".into()),
        ..raw()
    };
    let c = Config::resolve(explicit, Some(login)).unwrap();
    assert_eq!(c.client.api_key.unwrap().expose(), "env-key");
    assert_eq!(
        c.client.base_url.unwrap().as_str(),
        "https://eu2.make.com/api/v2"
    );
    assert_eq!(c.default_team, Some(42));
}

#[test]
fn nothing_configured_is_not_an_error() {
    let c = Config::resolve(raw(), None).unwrap();
    assert!(c.client.api_key.is_none() && c.client.base_url.is_none());
}

#[test]
fn bad_team_is_rejected_with_the_setting_named() {
    let e = Config::resolve(
        RawSettings {
            team: Some("abc".into()),
            ..raw()
        },
        None,
    )
    .unwrap_err();
    assert!(e.0.contains("MAKE_TEAM"), "{e}");
    assert!(
        Config::resolve(
            RawSettings {
                team: Some("0".into()),
                ..raw()
            },
            None
        )
        .is_err()
    );
}

#[test]
fn debug_never_shows_the_make_key() {
    let raw = RawSettings {
        api_key: Some("raw-secret-1".into()),
        ..raw()
    };
    let login = CliLogin {
        api_key: Some("login-secret-2".into()),
        zone: None,
    };
    let config = Config::resolve(raw.clone(), None).unwrap();
    for text in [
        format!("{raw:?}"),
        format!("{login:?}"),
        format!("{config:?}"),
    ] {
        assert!(!text.contains("secret"), "{text}");
    }
    assert!(format!("{raw:?}").contains("[redacted]"));
}

#[test]
fn cli_login_file_is_read() {
    let dir = std::env::temp_dir().join(format!("mcm-login-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, r#"{"apiKey":"k","zone":"eu1.make.com","other":1}"#).unwrap();
    let login = CliLogin::load(&path).unwrap();
    assert_eq!(login.api_key.as_ref().map(Secret::expose), Some("k"));
    assert!(CliLogin::load(&dir.join("missing.json")).is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bare_origin_means_its_api_v2_and_a_path_is_kept() {
    for origin in [
        "https://eu1.make.com",
        "https://eu1.make.com/",
        " https://eu1.make.com/ ",
    ] {
        assert_eq!(
            parse_api_url(origin).unwrap().as_str(),
            "https://eu1.make.com/api/v2",
            "{origin}"
        );
    }
    assert_eq!(
        parse_api_url("http://127.0.0.1:8080").unwrap().as_str(),
        "http://127.0.0.1:8080/api/v2"
    );
    for kept in [
        "https://eu1.make.com/api/v2",
        "https://proxy.example.org/make/api/v2",
        "http://127.0.0.1:8080/custom",
    ] {
        assert_eq!(parse_api_url(kept).unwrap().as_str(), kept);
    }
    let c = Config::resolve(
        RawSettings {
            api_url: Some("https://us2.make.com/".into()),
            ..raw()
        },
        None,
    )
    .unwrap();
    assert_eq!(
        c.client.base_url.unwrap().as_str(),
        "https://us2.make.com/api/v2"
    );
}

#[test]
fn errors_never_quote_user_info_queries_or_fragments() {
    let secret = "s3cretPW";
    let cases: Vec<Result<Url, UrlError>> = vec![
        parse_api_url(&format!("https://user:{secret}@eu1.make.com")),
        parse_api_url(&format!("https://{secret}@eu1.make.com/api/v2")),
        parse_api_url(&format!("http://user:{secret}@eu1.make.com/api/v2")),
        parse_api_url(&format!("https://user:{secret}@eu1.make.com:notaport/")),
        parse_api_url(&format!("https://user:pa/{secret}@eu1.make.com")),
        parse_api_url(&format!("https://eu1.make.com/api/v2?token={secret}")),
        parse_api_url(&format!("https://eu1.make.com/api/v2#{secret}")),
        parse_api_url(&format!("ftp://user:{secret}@eu1.make.com")),
        zone_base_url(&format!("https://user:{secret}@eu1.make.com")),
        zone_base_url(&format!("user:{secret}@eu1.make.com")),
        zone_base_url(&format!("eu1.make.com/api/v2?token={secret}")),
    ];
    for case in cases {
        let e = case.unwrap_err();
        assert!(!e.0.contains(secret), "{e}");
    }
    for setting in [
        RawSettings {
            api_url: Some(format!("https://user:{secret}@eu1.make.com")),
            ..raw()
        },
        RawSettings {
            zone: Some(format!("https://user:{secret}@eu1.make.com")),
            ..raw()
        },
    ] {
        let e = Config::resolve(setting, None).unwrap_err();
        assert!(!e.0.contains(secret), "{e}");
        assert!(e.0.contains("eu1.make.com"), "still names the host: {e}");
    }
    let login = CliLogin {
        api_key: Some("k".into()),
        zone: Some(format!("user:{secret}@eu1.make.com")),
    };
    let e = Config::resolve(raw(), Some(login)).unwrap_err();
    assert!(!e.0.contains(secret), "{e}");
}
