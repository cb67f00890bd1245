//! Which tools a server shows: the operator's selection (toolsets, tool names, read-only),
//! then, while serving, what the Make key's scopes allow ([`scopes`], [`check`]).
//!
//! A model picks better from fewer tools, and an operator may not want an assistant to be
//! able to delete anything at all. The selection is applied once, in this order, each step
//! only removing tools:
//!
//! 1. `--toolsets` (default: all): tools of the named toolsets. A tool's toolset is its name
//!    up to the first `_` (`keys_list` → `keys`).
//! 2. `--tools` (if given): of those, exactly the named tools.
//! 3. `--exclude-tools`: minus the named tools.
//! 4. `--read-only`: minus every tool not annotated read-only.
//! 5. While serving, the scope check: minus every tool whose Make scope the key lacks.
//!
//! A hidden tool is unknown to MCP clients (not listed; calling it is rmcp's "tool not
//! found", -32602). Unknown toolset or tool names, and a selection that leaves nothing,
//! are configuration errors: the server does not start.

pub(crate) mod check;
pub(crate) mod scopes;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::Tool;

/// A group of tools, named like the prefix of their tool names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Toolset {
    Connections,
    Keys,
    CredentialRequests,
}

impl Toolset {
    pub(crate) const ALL: [Toolset; 3] = [
        Toolset::Connections,
        Toolset::Keys,
        Toolset::CredentialRequests,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Toolset::Connections => "connections",
            Toolset::Keys => "keys",
            Toolset::CredentialRequests => "credential-requests",
        }
    }

    /// The toolset of `tool`: its name up to the first `_`. Membership follows the name, so
    /// a new tool needs no entry here.
    pub(crate) fn of_tool(tool: &str) -> Option<Toolset> {
        let (prefix, _) = tool.split_once('_')?;
        Toolset::ALL.into_iter().find(|t| t.name() == prefix)
    }

    fn valid_names() -> String {
        Toolset::ALL.map(Toolset::name).join(", ")
    }
}

impl fmt::Display for Toolset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Toolset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        Toolset::ALL
            .into_iter()
            .find(|t| t.name() == text)
            .ok_or_else(|| {
                format!(
                    "unknown toolset '{text}'; valid toolsets: {}",
                    Toolset::valid_names()
                )
            })
    }
}

/// The step of the selection that hid a tool, named as the operator set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HiddenBy {
    Toolsets,
    Tools,
    ExcludeTools,
    ReadOnly,
}

impl HiddenBy {
    /// In the order the steps apply.
    pub(crate) const ALL: [HiddenBy; 4] = [
        HiddenBy::Toolsets,
        HiddenBy::Tools,
        HiddenBy::ExcludeTools,
        HiddenBy::ReadOnly,
    ];
}

impl fmt::Display for HiddenBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HiddenBy::Toolsets => "--toolsets (MCP_TOOLSETS)",
            HiddenBy::Tools => "--tools (MCP_TOOLS)",
            HiddenBy::ExcludeTools => "--exclude-tools (MCP_EXCLUDE_TOOLS)",
            HiddenBy::ReadOnly => "--read-only (MCP_READ_ONLY)",
        })
    }
}

/// A selection the server cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectionError {
    #[error("unknown tool '{name}' in {setting}; valid tool names: {valid}")]
    UnknownTool {
        name: String,
        setting: HiddenBy,
        valid: String,
    },
    #[error("the tool selection leaves no tools ({why})")]
    Empty { why: String },
}

/// The operator's choice of tools (steps 1-4 of the module docs). The default shows all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// `None`: every toolset.
    pub(crate) toolsets: Option<Vec<Toolset>>,
    /// `None`: no narrowing to names.
    pub(crate) tools: Option<Vec<String>>,
    pub(crate) exclude_tools: Vec<String>,
    pub(crate) read_only: bool,
}

impl Selection {
    /// Which of `tools` this selection hides, and by which step (the first that removed it).
    pub(crate) fn hidden(
        &self,
        tools: &[Tool],
    ) -> Result<BTreeMap<String, HiddenBy>, SelectionError> {
        let known = |name: &str| tools.iter().any(|t| t.name == name);
        let named = self.tools.iter().flatten().map(|n| (n, HiddenBy::Tools));
        let excluded = self
            .exclude_tools
            .iter()
            .map(|n| (n, HiddenBy::ExcludeTools));
        if let Some((name, setting)) = named.chain(excluded).find(|(n, _)| !known(n)) {
            let mut valid: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            valid.sort_unstable();
            return Err(SelectionError::UnknownTool {
                name: name.clone(),
                setting,
                valid: valid.join(", "),
            });
        }
        let hidden: BTreeMap<String, HiddenBy> = tools
            .iter()
            .filter_map(|t| Some((t.name.to_string(), self.hidden_by(t)?)))
            .collect();
        if hidden.len() == tools.len() && !tools.is_empty() {
            let steps: Vec<String> = HiddenBy::ALL
                .into_iter()
                .filter(|step| hidden.values().any(|h| h == step))
                .map(|step| step.to_string())
                .collect();
            return Err(SelectionError::Empty {
                why: format!("every tool is hidden by {}", steps.join(" or ")),
            });
        }
        Ok(hidden)
    }

    /// Removes the hidden routes from `router` (built once; nothing is rebuilt) and
    /// returns them with the step that hid each.
    pub(crate) fn apply<S: Send + Sync + 'static>(
        &self,
        router: &mut ToolRouter<S>,
    ) -> Result<BTreeMap<String, HiddenBy>, SelectionError> {
        let hidden = self.hidden(&router.list_all())?;
        for name in hidden.keys() {
            router.remove_route(name);
        }
        Ok(hidden)
    }

    /// "connections, keys" or "all", for the startup log line.
    pub(crate) fn toolsets_label(&self) -> String {
        match &self.toolsets {
            None => "all".into(),
            Some(sets) => sets.iter().map(|s| s.name()).collect::<Vec<_>>().join(","),
        }
    }

    fn hidden_by(&self, tool: &Tool) -> Option<HiddenBy> {
        let name = tool.name.as_ref();
        let in_toolsets = match &self.toolsets {
            None => true,
            Some(sets) => Toolset::of_tool(name).is_some_and(|t| sets.contains(&t)),
        };
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        if !in_toolsets {
            Some(HiddenBy::Toolsets)
        } else if self
            .tools
            .as_ref()
            .is_some_and(|t| !t.iter().any(|n| n == name))
        {
            Some(HiddenBy::Tools)
        } else if self.exclude_tools.iter().any(|n| n == name) {
            Some(HiddenBy::ExcludeTools)
        } else if self.read_only && !read_only {
            Some(HiddenBy::ReadOnly)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
