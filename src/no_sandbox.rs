//! Stand-ins for the sandbox's types in a build without the `sandbox` feature. The sandbox's
//! flags and subcommand stay on the command line, hidden, so that using one says why it
//! cannot work instead of "unexpected argument".

use std::str::FromStr;

/// What every sandbox entry point answers in this build.
pub(crate) const NO_SANDBOX: &str =
    "this build has no sandbox (built without the `sandbox` feature)";

/// Has no values: `--sandbox-faults` refuses every list with [`NO_SANDBOX`].
#[derive(Debug, Clone)]
pub enum FaultPlan {}

/// Has no values: `--sandbox-scopes` refuses every list with [`NO_SANDBOX`].
#[derive(Debug, Clone)]
pub enum KeyScopes {}

/// Has no values: `--sandbox` is refused with [`NO_SANDBOX`] before one could start.
#[derive(Debug)]
pub enum Sandbox {}

impl FromStr for FaultPlan {
    type Err = &'static str;

    fn from_str(_: &str) -> Result<Self, Self::Err> {
        Err(NO_SANDBOX)
    }
}

impl FromStr for KeyScopes {
    type Err = &'static str;

    fn from_str(_: &str) -> Result<Self, Self::Err> {
        Err(NO_SANDBOX)
    }
}
