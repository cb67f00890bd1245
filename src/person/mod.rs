//! The person in the loop: how a tool reaches the human behind the client.
//!
//! Three things need the person rather than the model: opening a credential request's
//! link (they authorize and type secrets on Make's page, never in the chat), waiting for
//! them to finish, and confirming a destructive step. How to ask depends on the client:
//!
//! - a 2025-11-25 client with a live connection (stdio, HTTP `--sessions`) that declared
//!   elicitation is asked directly (`elicitation/create`), see [`Channel::Live`];
//! - a 2026-07-28 client is asked through the multi round-trip flow: the tool returns an
//!   input-required result with a sealed `requestState` ([`sealed`]), and the client
//!   retries with the person's answer, see [`Channel::RoundTrip`];
//! - any other client cannot be asked ([`Channel::None`]); then links are only returned as
//!   text, and confirmation follows [`ConfirmMode`].

mod channel;
mod confirm;
pub(crate) mod ledger;
mod link;
pub(crate) mod sealed;
mod shown;
mod turn;

use std::sync::Arc;

use ledger::ConfirmationLedger;

pub(crate) use channel::{Channel, Mode};
pub use confirm::ConfirmError;
pub(crate) use confirm::{ConfirmOutcome, Decision, Question};
pub use ledger::LedgerError;
pub(crate) use link::{LINK_INPUT, LinkOutcome, PendingLinks, input_required, offer_live};
pub use sealed::StateError;
pub(crate) use sealed::{KeyError, Payload, Sealer, StateKey};
pub(crate) use shown::{identifier, quoted};
pub(crate) use turn::{CallDigest, Turn};

/// `--url-elicitation`: whether links are handed to the person through the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UrlElicitation {
    /// Hand the link over wherever the client supports URL elicitation.
    #[default]
    Auto,
    /// Only return the link in the tool result.
    Off,
}

/// `--confirm`: whether destructive tools ask the person first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ConfirmMode {
    /// Ask where the client can be asked; proceed where it cannot.
    #[default]
    Auto,
    /// Ask, and refuse with an error where the client cannot be asked.
    Always,
    /// Never ask.
    Never,
}

/// The operator's settings for the person in the loop.
#[derive(Debug, Clone)]
pub struct PersonSettings {
    pub url_elicitation: UrlElicitation,
    pub confirm: ConfirmMode,
    /// Key that seals input-required state; a random per-process key when absent.
    pub state_key: Option<StateKey>,
    /// How long a sealed state stays valid ([`sealed::STATE_TTL`]; shorter in tests).
    pub state_ttl: std::time::Duration,
    /// `--confirmations-dir`: the directory where replicas record spent confirmations
    /// ([`ledger::DirLedger`]); this process's memory when absent.
    pub confirmations_dir: Option<std::path::PathBuf>,
}

impl Default for PersonSettings {
    fn default() -> Self {
        Self {
            url_elicitation: UrlElicitation::default(),
            confirm: ConfirmMode::default(),
            state_key: None,
            state_ttl: sealed::STATE_TTL,
            confirmations_dir: None,
        }
    }
}

impl PersonSettings {
    /// The ledger of spent confirmations these settings ask for: the directory's, else
    /// this process's memory. Fails when the directory cannot be created.
    pub(crate) fn ledger(&self) -> Result<Arc<dyn ConfirmationLedger>, LedgerError> {
        Ok(match &self.confirmations_dir {
            Some(dir) => Arc::new(ledger::DirLedger::open(dir, self.state_ttl)?),
            None => Arc::new(ledger::MemoryLedger::new(self.state_ttl)),
        })
    }

    /// A state key without a shared confirmations directory: the key lets every replica
    /// open every state, but each replica remembers only its own spent confirmations.
    pub fn replicas_may_replay(&self) -> bool {
        self.state_key.is_some() && self.confirmations_dir.is_none()
    }
}

/// Shared by every session of one server: the settings, the sealer, the ledger of spent
/// confirmations and the links handed over by URL elicitation that still wait for their
/// completion notice.
#[derive(Clone)]
pub(crate) struct Person {
    pub(crate) settings: Arc<PersonSettings>,
    pub(crate) sealer: Arc<Sealer>,
    pub(crate) ledger: Arc<dyn ConfirmationLedger>,
    pub(crate) links: PendingLinks,
}

impl Person {
    /// The person for `settings`, recording spent confirmations in `ledger`.
    pub(crate) fn new(settings: PersonSettings, ledger: Arc<dyn ConfirmationLedger>) -> Self {
        let sealer = match &settings.state_key {
            Some(key) => Sealer::new(key, settings.state_ttl),
            None => Sealer::random(settings.state_ttl),
        };
        Self {
            settings: Arc::new(settings),
            sealer: Arc::new(sealer),
            ledger,
            links: PendingLinks::default(),
        }
    }
}
