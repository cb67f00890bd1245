//! A tool's structured result: rmcp's `Json<T>`, without its slow text copy.
//!
//! rmcp's `Json` builds the text copy of `structuredContent` with `Value`'s `Display`, which
//! writes through the formatter one fragment at a time; `serde_json::to_string` writes the
//! same bytes straight into one buffer. The result is identical, key order included (the
//! text is the `Value` the client also gets as `structuredContent`).

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::Serialize;

/// `structuredContent` plus the same JSON as text, for clients that read only `content`.
pub(crate) struct Json<T>(pub(crate) T);

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let failed = |e: serde_json::Error| {
            rmcp::ErrorData::internal_error(format!("cannot serialize the tool result: {e}"), None)
        };
        let value = serde_json::to_value(self.0).map_err(failed)?;
        let text = serde_json::to_string(&value).map_err(failed)?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize, JsonSchema)]
    struct Out {
        zeta: u32,
        alpha: &'static str,
    }

    #[test]
    fn text_and_structured_content_match_rmcps_json() {
        let ours = Json(Out {
            zeta: 1,
            alpha: "a \"quoted\" é",
        })
        .into_call_tool_result()
        .unwrap();
        let rmcps = rmcp::handler::server::wrapper::Json(Out {
            zeta: 1,
            alpha: "a \"quoted\" é",
        })
        .into_call_tool_result()
        .unwrap();
        let (CallToolResponse::Complete(result), CallToolResponse::Complete(theirs)) =
            (ours, rmcps)
        else {
            panic!("complete results")
        };
        assert_eq!(result, theirs);
        assert_eq!(
            result.structured_content,
            Some(json!({"alpha": "a \"quoted\" é", "zeta": 1}))
        );
    }
}
