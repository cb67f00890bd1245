//! The tool-selection flags (see [`crate::selection`] for the order they apply in).

use clap::builder::{BoolishValueParser, TypedValueParser};
use clap::{ArgAction, Args};

use crate::selection::{Selection, Toolset};

/// Which tools the server shows.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Tool selection (applied in this order)")]
pub struct ToolArgs {
    /// 1. Serve only these toolsets, a comma list of connections, keys, credential-requests
    ///    (a tool's toolset is its name before `_`). Default: all.
    #[arg(long, env = "MCP_TOOLSETS", value_name = "LIST", value_delimiter = ',',
        value_parser = parse_toolset, global = true)]
    pub(crate) toolsets: Vec<Option<Toolset>>,
    /// 2. Of those, serve exactly these tools (comma list of tool names).
    #[arg(
        long,
        env = "MCP_TOOLS",
        value_name = "NAMES",
        value_delimiter = ',',
        global = true
    )]
    pub(crate) tools: Vec<String>,
    /// 3. Then hide these tools (comma list of tool names).
    #[arg(
        long,
        env = "MCP_EXCLUDE_TOOLS",
        value_name = "NAMES",
        value_delimiter = ',',
        global = true
    )]
    pub(crate) exclude_tools: Vec<String>,
    /// 4. Then hide every tool that is not read-only (creates, updates, deletes, verify).
    #[arg(long, env = "MCP_READ_ONLY", global = true, action = ArgAction::SetTrue,
        value_parser = parse_switch)]
    pub(crate) read_only: bool,
    /// 5. While serving, tools whose Make scope the key lacks are hidden (asked from Make
    ///    at startup, GET /users/me/current-authorization); this turns that off.
    #[arg(long, env = "MCP_NO_SCOPE_CHECK", global = true, action = ArgAction::SetTrue,
        value_parser = parse_switch)]
    pub(crate) no_scope_check: bool,
}

/// clap's parser for a switch's environment value: 1/0, true/false, yes/no, on/off, and
/// empty for off (an empty variable is taken as unset, as for the lists).
fn parse_switch(text: &str) -> Result<bool, String> {
    if text.trim().is_empty() {
        return Ok(false);
    }
    BoolishValueParser::new()
        .parse_ref(&clap::Command::new("switch"), None, text.trim().as_ref())
        .map_err(|_| {
            format!("'{text}' is not a switch value; use 1 or 0 (true/false, yes/no, on/off)")
        })
}

/// clap's parser for one toolset; an empty item (`MCP_TOOLSETS=`) is skipped, an unknown
/// one is a usage error (exit 2) that lists the valid names.
fn parse_toolset(text: &str) -> Result<Option<Toolset>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse().map(Some)
}

/// Trimmed, non-empty names; `None` when there are none.
fn names(list: &[String]) -> Option<Vec<String>> {
    let names: Vec<String> = list
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    (!names.is_empty()).then_some(names)
}

impl ToolArgs {
    /// The selection these flags describe (tool names are checked against the registry
    /// when the server is built).
    pub(crate) fn selection(&self) -> Selection {
        let toolsets: Vec<Toolset> = self.toolsets.iter().flatten().copied().collect();
        Selection {
            toolsets: (!toolsets.is_empty()).then_some(toolsets),
            tools: names(&self.tools),
            exclude_tools: names(&self.exclude_tools).unwrap_or_default(),
            read_only: self.read_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::Cli;
    use super::*;

    fn selection(args: &[&str]) -> Selection {
        Cli::try_parse_from(args).unwrap().tools.selection()
    }

    #[test]
    fn flags_parse_before_and_after_the_subcommand() {
        assert_eq!(selection(&["m"]), Selection::default());
        let want = Selection {
            toolsets: Some(vec![Toolset::Keys, Toolset::CredentialRequests]),
            tools: Some(vec!["keys_list".into(), "keys_get".into()]),
            exclude_tools: vec!["keys_get".into()],
            read_only: true,
        };
        let flags = [
            "--toolsets",
            "keys,credential-requests",
            "--tools",
            "keys_list, keys_get",
            "--exclude-tools",
            "keys_get",
            "--read-only",
        ];
        let before: Vec<&str> = ["m"].into_iter().chain(flags).chain(["tools"]).collect();
        let after: Vec<&str> = ["m", "tools"].into_iter().chain(flags).collect();
        assert_eq!(selection(&before), want);
        assert_eq!(selection(&after), want);
        let cli = Cli::try_parse_from(["m", "http", "--no-scope-check"]).unwrap();
        assert!(cli.tools.no_scope_check);
    }

    #[test]
    fn empty_lists_mean_not_given() {
        let s = selection(&[
            "m",
            "--toolsets",
            "",
            "--tools",
            " ,",
            "--exclude-tools",
            "",
        ]);
        assert_eq!(s, Selection::default());
    }

    #[test]
    fn switches_take_the_usual_environment_values() {
        for on in ["1", "true", "yes", "on", " TRUE "] {
            assert_eq!(parse_switch(on), Ok(true), "{on}");
        }
        for off in ["0", "false", "no", "off", "", " "] {
            assert_eq!(parse_switch(off), Ok(false), "{off:?}");
        }
        assert_eq!(
            parse_switch("maybe").unwrap_err(),
            "'maybe' is not a switch value; use 1 or 0 (true/false, yes/no, on/off)"
        );
    }

    #[test]
    fn an_unknown_toolset_is_a_usage_error_listing_the_valid_ones() {
        let err = Cli::try_parse_from(["m", "--toolsets", "keys,secrets"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains(
                "unknown toolset 'secrets'; valid toolsets: connections, keys, credential-requests"
            ),
            "{text}"
        );
    }
}
