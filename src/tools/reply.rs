//! What a tool that may ask the person returns: its normal structured result, or (in a
//! 2026-07-28 call) an input-required result the client answers and retries.

use crate::tools::Json;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, InputRequiredResult};
use schemars::JsonSchema;
use serde::Serialize;

/// The result of a tool that may need the person's input first.
///
/// `#[tool]` cannot see an output type through this wrapper, so such tools name it with
/// `output_schema = rmcp::handler::server::tool::schema_for_output::<T>()`.
pub(crate) enum Reply<T> {
    /// The normal result, as `Json<T>` would give it.
    Done(T),
    /// Ask the client for input, then expect a retry.
    Ask(InputRequiredResult),
}

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Reply<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        match self {
            Self::Done(value) => Json(value).into_call_tool_result(),
            Self::Ask(input) => Ok(input.into()),
        }
    }
}
