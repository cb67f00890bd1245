//! The key's redaction and its kind.

use super::*;

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
