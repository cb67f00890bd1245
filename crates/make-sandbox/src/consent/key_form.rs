//! The authorize form of a key (`keychain`) credential: one input per parameter of its key
//! type, so the person types the secret on this page and never into a chat with an agent.
//!
//! Inputs follow `GET /keys/types`: `password` parameters are password inputs, parameters
//! with options are selects, defaults are pre-filled. Hard prefill is shown read-only (the
//! server enforces it, see `credentials::authorize`); soft prefill is pre-filled and
//! editable. A password input never carries a value: not a stored secret, not a prefilled
//! one, not one the person just typed, since page source and caches would keep it. Leaving
//! such an input empty keeps the prefill.

use maud::{Markup, html};

use crate::catalog::{KeyParam, KeyType};
use crate::credentials::key_prefill;
use crate::keys::MAX_PARAMETER_LEN;
use crate::state::Credential;

/// The `<form>` that posts the key's parameters to `action`. `entered` is a refused post
/// being shown again; its non-secret values are kept so the person need not retype them.
pub(crate) fn render(
    action: &str,
    c: &Credential,
    kt: &KeyType,
    entered: Option<&[(String, String)]>,
) -> Markup {
    let hard = key_prefill(c.prefill.as_ref(), "hard", kt);
    let soft = key_prefill(c.prefill.as_ref(), "soft", kt);
    let field = |p: &'static KeyParam| Field {
        id: format!("{}-{}", c.id, p.name),
        param: p,
        hard: hard.get(p.name).map(String::as_str),
        soft: soft.get(p.name).map(String::as_str),
        typed: entered
            .and_then(|e| e.iter().find(|(k, v)| k == p.name && !v.is_empty()))
            .map(|(_, v)| v.as_str()),
    };
    html! {
        form method="post" action=(action) class="key-form" {
            div class="fields" {
                @for p in kt.params {
                    @let f = field(p);
                    label for=(f.id) { (p.label) @if p.required { " *" } }
                    div { (f.input()) }
                }
            }
            button class="primary" type="submit" { "Authorize" }
            span class="hint" { "Creates the key with these values. Fields marked * are required." }
        }
    }
}

/// One parameter's input and what it may show.
struct Field<'a> {
    id: String,
    param: &'static KeyParam,
    hard: Option<&'a str>,
    soft: Option<&'a str>,
    typed: Option<&'a str>,
}

impl Field<'_> {
    fn input(&self) -> Markup {
        let p = self.param;
        let (id, name) = (&self.id, p.name);
        let secret = p.kind == "password";
        match self.hard {
            Some(_) if secret => {
                return html! {
                    span id=(id) { "Set by the request (hidden)" }
                    span class="hint" { "Fixed by the request; it cannot be changed here." }
                };
            }
            Some(fixed) => {
                return html! {
                    input type="text" id=(id) name=(name) value=(fixed) readonly aria-readonly="true";
                    span class="hint" { "Fixed by the request." }
                };
            }
            None => {}
        }
        // `required` only where an empty field has nothing to fall back on.
        let required = p.required && self.soft.is_none() && p.default.is_none();
        if secret {
            let hint = match (self.soft, p.default) {
                (Some(_), _) => "Leave empty to keep the value the request suggested.",
                (None, Some(_)) => "Leave empty for the key type's default.",
                (None, None) => "Typed here only; it is never shown again.",
            };
            return html! {
                input type="password" id=(id) name=(name) maxlength=(MAX_PARAMETER_LEN) autocomplete="new-password" required[required];
                span class="hint" { (hint) }
            };
        }
        let current = self.typed.or(self.soft).or(p.default);
        if !p.options.is_empty() {
            return html! {
                select id=(id) name=(name) required[required] {
                    @if !p.required {
                        option value="" { "(not set)" }
                    }
                    @for o in p.options {
                        option value=(o) selected[current == Some(*o)] { (o) }
                    }
                }
            };
        }
        html! {
            input type="text" id=(id) name=(name) value=(current.unwrap_or("")) maxlength=(MAX_PARAMETER_LEN) required[required];
        }
    }
}
