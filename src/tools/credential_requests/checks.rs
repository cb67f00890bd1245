//! Checks of credential-request inputs that the types alone cannot express; each names
//! the failing field, so the model can fix it before anything is sent.

use super::paging::{MAX_LIMIT, MAX_OFFSET};
use super::types::{AppCredential, ConnectionCredential, KeyCredential, Prefill};
use super::types::{MAX_NAME_CHARS, MAX_STATUS_CHARS};
use crate::tools::ToolError;
use crate::tools::limits::{
    MAX_APP_CREDENTIALS, MAX_APP_MODULES, MAX_LIST_ITEMS, MAX_TYPED_CREDENTIALS, check_count,
    check_identifier, check_strings, check_text,
};

pub(super) fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

pub(super) fn dedup(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

pub(super) fn check_request_texts(
    name: &Option<String>,
    description: &Option<String>,
) -> Result<(), ToolError> {
    if let Some(name) = name.as_deref().filter(|n| !n.trim().is_empty()) {
        check_text("name", name, 128)?;
    }
    if let Some(description) = description.as_deref().filter(|d| !d.trim().is_empty()) {
        check_text("description", description, 240)?;
    }
    Ok(())
}

/// `offset` within the safe integer range, `limit` 1-10000 (clients need not check the schema).
pub(super) fn check_paging(offset: Option<u64>, limit: Option<u64>) -> Result<(), ToolError> {
    if offset.is_some_and(|o| o > MAX_OFFSET) {
        return Err(ToolError::invalid(
            "offset",
            format!("must be at most {MAX_OFFSET}"),
        ));
    }
    if limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
        return Err(ToolError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(())
}

/// The list filters end up in the URL: bounded like the texts they match.
pub(super) fn check_list_filters(
    status: &Option<String>,
    name: &Option<String>,
) -> Result<(), ToolError> {
    if let Some(status) = status {
        check_text("status", status, MAX_STATUS_CHARS)?;
    }
    if let Some(name) = name {
        check_text("name", name, MAX_NAME_CHARS)?;
    }
    Ok(())
}

pub(super) fn check_app_credentials(credentials: &[AppCredential]) -> Result<(), ToolError> {
    if credentials.is_empty() || credentials.len() > MAX_APP_CREDENTIALS {
        return Err(ToolError::invalid(
            "credentials",
            format!(
                "must list 1 to {MAX_APP_CREDENTIALS} credentials, got {}",
                credentials.len()
            ),
        ));
    }
    for (i, c) in credentials.iter().enumerate() {
        let field = |name: &str| format!("credentials[{i}].{name}");
        check_identifier(&field("appName"), &c.app_name)?;
        if c.app_modules.is_none() && c.app_endpoints.is_none() {
            return Err(ToolError::invalid(
                &field("appModules"),
                "or appEndpoints must be given (module ids, or [\"*\"] for all)",
            ));
        }
        if let Some(modules) = &c.app_modules {
            check_strings(&field("appModules"), modules, MAX_APP_MODULES)?;
        }
        if let Some(endpoints) = &c.app_endpoints {
            check_strings(&field("appEndpoints"), endpoints, MAX_APP_MODULES)?;
        }
    }
    Ok(())
}

pub(super) fn check_typed_credentials(
    connections: &[ConnectionCredential],
    keys: &[KeyCredential],
) -> Result<(), ToolError> {
    if connections.is_empty() && keys.is_empty() {
        return Err(ToolError::invalid(
            "connections",
            "or `keys` must list at least one credential to request",
        ));
    }
    for (field, len) in [("connections", connections.len()), ("keys", keys.len())] {
        check_count(field, len, MAX_TYPED_CREDENTIALS)?;
    }
    for (i, c) in connections.iter().enumerate() {
        check_identifier(&format!("connections[{i}].type"), &c.kind)?;
        if let Some(scope) = &c.scope {
            check_strings(&format!("connections[{i}].scope"), scope, MAX_LIST_ITEMS)?;
        }
        check_prefill(&format!("connections[{i}].prefill"), c.prefill.as_ref())?;
    }
    for (i, k) in keys.iter().enumerate() {
        check_identifier(&format!("keys[{i}].type"), &k.kind)?;
        check_prefill(&format!("keys[{i}].prefill"), k.prefill.as_ref())?;
    }
    Ok(())
}

/// Prefill values must be scalars: Make fills form fields with them.
pub(super) fn check_prefill(field: &str, prefill: Option<&Prefill>) -> Result<(), ToolError> {
    let Some(prefill) = prefill else {
        return Ok(());
    };
    for (part, map) in [("hard", &prefill.hard), ("soft", &prefill.soft)] {
        for (key, value) in map.iter().flat_map(|m| m.iter()) {
            if value.is_object() || value.is_array() || value.is_null() {
                return Err(ToolError::invalid(
                    &format!("{field}.{part}.{key}"),
                    "must be a string, number or boolean",
                ));
            }
        }
    }
    Ok(())
}
