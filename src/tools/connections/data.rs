//! The guard in front of set-data, which REPLACES all of a connection's data: refuses
//! parameters the connection cannot store and any editable parameter left out.

use serde_json::{Map, Value};

use crate::make::MakeClient;
use crate::tools::ToolError;

/// Refuses set-data input that would clear editable parameters or that Make cannot take.
pub(super) async fn check_replacement_data(
    make: &MakeClient,
    id: u64,
    data: &Map<String, Value>,
) -> Result<(), ToolError> {
    if data.is_empty() {
        return Err(ToolError::invalid(
            "data",
            "is empty, which would clear all of the connection's data",
        ));
    }
    let editable = make.connection_editable_parameters(id).await?;
    let unknown: Vec<&str> = data
        .keys()
        .map(String::as_str)
        .filter(|k| !editable.iter().any(|e| e == k))
        .collect();
    if !unknown.is_empty() {
        return Err(ToolError::invalid(
            "data",
            format!(
                "has parameters this connection cannot store: {}. Its editable parameters are: {}",
                unknown.join(", "),
                list_or_none(&editable)
            ),
        ));
    }
    let missing: Vec<&str> = editable
        .iter()
        .map(String::as_str)
        .filter(|e| !data.contains_key(*e))
        .collect();
    if !missing.is_empty() {
        return Err(ToolError::invalid(
            "data",
            format!(
                "misses editable parameters that setting data would clear: {}. Include every one of them (ask the person for the values, or use a credential request)",
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}
