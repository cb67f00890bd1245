//! Zones, base URLs, and what errors may quote.

use super::*;

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
fn a_url_without_scheme_is_refused_with_the_way_out() {
    let e = parse_api_url("eu1.make.com").unwrap_err();
    assert!(
        e.0.contains("https://eu1.make.com") && e.0.contains("MAKE_ZONE"),
        "{e}"
    );
}

#[test]
fn quoted_urls_keep_their_address() {
    assert_eq!(
        shown("https://a:b@eu1.make.com/api/v2?x=1#f"),
        "\"https://***@eu1.make.com/api/v2?***\""
    );
    assert_eq!(shown("u:p@host"), "\"***@host\"");
    assert_eq!(
        shown(" https://eu1.make.com/api "),
        "\"https://eu1.make.com/api\""
    );
}
