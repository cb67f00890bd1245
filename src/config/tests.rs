//! Configuration: zones, base URLs, the CLI login, and what errors may quote.

use super::*;

fn raw() -> RawSettings {
    RawSettings::default()
}

#[test]
fn api_key_debug_is_redacted_and_uuid_detection_works() {
    let key = ApiKey::new(" 0f8e2c1a-1234-4abc-9def-0123456789ab\n").unwrap();
    assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    assert!(key.is_make_api_token());
    assert!(
        ApiKey::new("0F8E2C1A-1234-4ABC-BDEF-0123456789AB")
            .unwrap()
            .is_make_api_token()
    );
    assert!(
        !ApiKey::new("0f8e2c1a-1234-1abc-9def-0123456789ab")
            .unwrap()
            .is_make_api_token()
    );
    assert!(
        !ApiKey::new("ya29.oauth-access-token")
            .unwrap()
            .is_make_api_token()
    );
    assert!(ApiKey::new("   ").is_none());
}

#[test]
fn only_hyphenated_v4_uuids_are_make_api_tokens() {
    let token = |s: &str| ApiKey::new(s).unwrap().is_make_api_token();
    assert!(token("0f8e2c1a-1234-4abc-8def-0123456789ab"));
    assert!(token("0f8e2c1a-1234-4abc-Adef-0123456789ab"));
    assert!(token("0F8E2C1A-1234-4ABC-BDEF-0123456789AB"));
    for other in [
        "0f8e2c1a-1234-7abc-9def-0123456789ab",
        "0f8e2c1a-1234-4abc-cdef-0123456789ab",
        "0f8e2c1a-1234-4abc-7def-0123456789ab",
        "0f8e2c1a12344abc9def0123456789ab",
        "{0f8e2c1a-1234-4abc-9def-0123456789ab}",
        "urn:uuid:0f8e2c1a-1234-4abc-9def-0123456789ab",
        "0f8e2c1a1-234-4abc-9def-0123456789ab",
        "0f8e2c1a-1234-4abc-9def-0123456789ag",
        "0f8e2c1a-1234-4abc-9def-0123456789a",
    ] {
        assert!(!token(other), "{other}");
    }
}

#[test]
fn zone_is_normalised_like_the_make_cli() {
    for zone in [
        "eu1.make.com",
        "https://eu1.make.com/",
        "eu1.make.com/api/v2",
    ] {
        assert_eq!(
            zone_base_url(zone).unwrap().as_str(),
            "https://eu1.make.com/api/v2"
        );
    }
    assert!(zone_base_url("eu1.make.com/evil?x").is_err());
    assert!(zone_base_url("").is_err());
    assert_eq!(
        zone_base_url("make.example.org").unwrap().as_str(),
        "https://make.example.org/api/v2"
    );
}

#[test]
fn plain_http_is_only_for_loopback() {
    assert!(parse_api_url("http://127.0.0.1:8080/api/v2").is_ok());
    assert!(parse_api_url("http://localhost/api/v2").is_ok());
    assert!(parse_api_url("http://[::1]:9/api/v2").is_ok());
    assert!(parse_api_url("http://eu1.make.com/api/v2").is_err());
    assert!(parse_api_url("https://eu1.make.com/api/v2").is_ok());
    assert!(parse_api_url("ftp://eu1.make.com").is_err());
    assert!(parse_api_url("https://user:pw@eu1.make.com").is_err());
    assert!(parse_api_url("https://eu1.make.com/api/v2?token=x").is_err());
    assert!(parse_api_url("https://eu1.make.com/api/v2#x").is_err());
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
fn cli_login_file_is_read() {
    let dir = std::env::temp_dir().join(format!("mcm-login-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, r#"{"apiKey":"k","zone":"eu1.make.com","other":1}"#).unwrap();
    let login = CliLogin::load(&path).unwrap();
    assert_eq!(login.api_key.as_deref(), Some("k"));
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
fn a_url_without_scheme_is_refused_with_the_way_out() {
    let e = parse_api_url("eu1.make.com").unwrap_err();
    assert!(
        e.0.contains("https://eu1.make.com") && e.0.contains("MAKE_ZONE"),
        "{e}"
    );
}

#[test]
fn errors_never_quote_user_info_queries_or_fragments() {
    let secret = "s3cretPW";
    let cases: Vec<Result<Url, ConfigError>> = vec![
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

#[test]
fn quoted_urls_keep_their_address() {
    assert_eq!(
        base_url::shown("https://a:b@eu1.make.com/api/v2?x=1#f"),
        "\"https://***@eu1.make.com/api/v2?***\""
    );
    assert_eq!(base_url::shown("u:p@host"), "\"***@host\"");
    assert_eq!(
        base_url::shown(" https://eu1.make.com/api "),
        "\"https://eu1.make.com/api\""
    );
}
