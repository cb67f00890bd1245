//! Checks of tool inputs that their types cannot express, and the limits on list inputs.
//!
//! Lists are limited twice: in the input schemas (`maxItems`, via schemars attributes that
//! name these constants) and here, before any request, since clients need not validate:
//! an unbounded list would become a URL of megabytes. Messages quote the caller's input
//! only clipped.

use schemars::{Schema, SchemaGenerator, json_schema};

use super::ToolError;
use crate::make::clip;

/// Most values in a filter or scope list (connections_list `type`, every `scope`/`scopes`).
pub(crate) const MAX_LIST_ITEMS: usize = 100;
/// Most connection types whose scopes connections_list checks in one call.
pub(crate) const MAX_SCOPE_TYPES: usize = 32;
/// Longest item of a scope or module list (real scope URLs are far shorter).
pub(crate) const MAX_ITEM_CHARS: usize = 512;
/// Make's limit on the credentials of one credential-requests_create.
pub(crate) const MAX_APP_CREDENTIALS: usize = 64;
/// Make's limit on the connections, and on the keys, of one create-by-credentials.
pub(crate) const MAX_TYPED_CREDENTIALS: usize = 32;
/// Most module or endpoint ids for one app credential (an app's whole module list fits).
pub(crate) const MAX_APP_MODULES: usize = 500;
/// Longest input value echoed back in an error message.
pub(super) const MAX_ECHO_CHARS: usize = 64;

/// Checks that a text argument is not blank and not longer than `max` characters.
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ToolError> {
    if value.trim().is_empty() {
        return Err(ToolError::invalid(field, "must not be empty"));
    }
    let len = value.chars().count();
    if len > max {
        return Err(ToolError::invalid(
            field,
            format!("must be at most {max} characters, got {len}"),
        ));
    }
    Ok(())
}

/// Checks a name Make uses as an identifier (app name, connection type): 1-128 letters,
/// digits, `#`, `_`, `-` or `.`, and not `.`/`..`, which a URL path would swallow.
pub(crate) fn check_identifier(field: &str, value: &str) -> Result<(), ToolError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '#' | '_' | '-' | '.');
    let dots_only = value.chars().all(|c| c == '.');
    if value.is_empty() || value.len() > 128 || dots_only || !value.chars().all(allowed) {
        return Err(ToolError::invalid(
            field,
            format!(
                "must be a name such as \"google\" or \"app#my-app\" (letters, digits, '#', '_', '-', '.'), got {:?}",
                clip(value, MAX_ECHO_CHARS)
            ),
        ));
    }
    Ok(())
}

/// Checks that a list has at most `max` items (the count is all that is echoed).
pub(crate) fn check_count(field: &str, len: usize, max: usize) -> Result<(), ToolError> {
    if len > max {
        return Err(ToolError::invalid(
            field,
            format!("must list at most {max} items, got {len}"),
        ));
    }
    Ok(())
}

/// Checks that a list is not empty, has at most `max` items, and that each item is neither
/// blank nor longer than [`MAX_ITEM_CHARS`].
pub(crate) fn check_strings(field: &str, values: &[String], max: usize) -> Result<(), ToolError> {
    if values.is_empty() {
        return Err(ToolError::invalid(field, "must list at least one item"));
    }
    check_count(field, values.len(), max)?;
    if let Some(i) = values.iter().position(|v| v.trim().is_empty()) {
        return Err(ToolError::invalid(
            &format!("{field}[{i}]"),
            "must not be empty",
        ));
    }
    if let Some(i) = values
        .iter()
        .position(|v| v.chars().count() > MAX_ITEM_CHARS)
    {
        return Err(ToolError::invalid(
            &format!("{field}[{i}]"),
            format!("must be at most {MAX_ITEM_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Schema of connections_list `scopes`: per connection type, a list of scopes, with the
/// limits [`check_strings`] and the tool enforce (attributes cannot reach inside a map).
pub(crate) fn scopes_by_type_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_SCOPE_TYPES,
        "additionalProperties": {
            "type": "array",
            "items": { "type": "string", "minLength": 1, "maxLength": MAX_ITEM_CHARS },
            "minItems": 1,
            "maxItems": MAX_LIST_ITEMS
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_not_echoed_whole() {
        let huge = "x/".repeat(100_000);
        let e = check_identifier("type[0]", &huge).unwrap_err().to_string();
        assert!(e.len() < 1000, "{}", e.len());
    }

    #[test]
    fn list_items_are_counted_and_measured() {
        let many = vec!["a".to_string(); MAX_LIST_ITEMS + 1];
        let e = check_strings("scope", &many, MAX_LIST_ITEMS).unwrap_err();
        assert!(e.to_string().contains("at most 100 items, got 101"), "{e}");
        let long = vec!["s".repeat(MAX_ITEM_CHARS + 1)];
        let e = check_strings("scope", &long, MAX_LIST_ITEMS).unwrap_err();
        assert!(e.to_string().contains("`scope[0]`"), "{e}");
        assert!(check_strings("scope", &["a".into()], MAX_LIST_ITEMS).is_ok());
    }
}
