//! The authorize form of a key (`keychain`) credential: one input per parameter of its key
//! type, so the person types the secret on this page and never into a chat with an agent.
//!
//! Inputs follow `GET /keys/types`: `password` parameters are password inputs, parameters
//! with options are selects, defaults are pre-filled. Hard prefill is shown read-only (the
//! server enforces it, see `credentials::authorize`); soft prefill is pre-filled and
//! editable. A password input never carries a value: not a stored secret, not a prefilled
//! one, not one the person just typed, since page source and caches would keep it. Leaving
//! such an input empty keeps the prefill.

use std::fmt::Write;

use super::page::escape;
use crate::sandbox::catalog::{KeyParam, KeyType};
use crate::sandbox::credentials::key_prefill;
use crate::sandbox::keys::MAX_PARAMETER_LEN;
use crate::sandbox::state::Credential;

/// Writes the `<form>` that posts the key's parameters to `action`. `entered` is a refused
/// post being shown again; its non-secret values are kept so the person need not retype them.
pub fn render(
    out: &mut String,
    action: &str,
    c: &Credential,
    kt: &KeyType,
    entered: Option<&[(String, String)]>,
) {
    let hard = key_prefill(c.prefill.as_ref(), "hard", kt);
    let soft = key_prefill(c.prefill.as_ref(), "soft", kt);
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{action}\" class=\"key-form\"><div class=\"fields\">"
    );
    for p in kt.params {
        let id = escape(&format!("{}-{}", c.id, p.name));
        let _ = write!(
            out,
            "<label for=\"{id}\">{}{}</label><div>",
            escape(p.label),
            if p.required { " *" } else { "" }
        );
        let typed = entered
            .and_then(|e| e.iter().find(|(k, v)| k == p.name && !v.is_empty()))
            .map(|(_, v)| v.as_str());
        let field = Field {
            id: &id,
            param: p,
            hard: hard.get(p.name).map(String::as_str),
            soft: soft.get(p.name).map(String::as_str),
            typed,
        };
        field.write(out);
        out.push_str("</div>");
    }
    out.push_str(
        "</div><button class=\"primary\" type=\"submit\">Authorize</button>\
         <span class=\"hint\">Creates the key with these values. Fields marked * are required.</span></form>",
    );
}

/// One parameter's input and what it may show.
struct Field<'a> {
    id: &'a str,
    param: &'a KeyParam,
    hard: Option<&'a str>,
    soft: Option<&'a str>,
    typed: Option<&'a str>,
}

impl Field<'_> {
    fn write(&self, out: &mut String) {
        let p = self.param;
        let (id, name) = (self.id, escape(p.name));
        let secret = p.kind == "password";
        match self.hard {
            Some(_) if secret => {
                let _ = write!(
                    out,
                    "<span id=\"{id}\">Set by the request (hidden)</span>\
                     <span class=\"hint\">Fixed by the request; it cannot be changed here.</span>"
                );
                return;
            }
            Some(fixed) => {
                let _ = write!(
                    out,
                    "<input type=\"text\" id=\"{id}\" name=\"{name}\" value=\"{}\" readonly aria-readonly=\"true\">\
                     <span class=\"hint\">Fixed by the request.</span>",
                    escape(fixed)
                );
                return;
            }
            None => {}
        }
        // `required` only where an empty field has nothing to fall back on.
        let required = if p.required && self.soft.is_none() && p.default.is_none() {
            " required"
        } else {
            ""
        };
        if secret {
            let hint = match (self.soft, p.default) {
                (Some(_), _) => "Leave empty to keep the value the request suggested.",
                (None, Some(_)) => "Leave empty for the key type's default.",
                (None, None) => "Typed here only; it is never shown again.",
            };
            let _ = write!(
                out,
                "<input type=\"password\" id=\"{id}\" name=\"{name}\" maxlength=\"{MAX_PARAMETER_LEN}\" autocomplete=\"new-password\"{required}>\
                 <span class=\"hint\">{hint}</span>"
            );
            return;
        }
        let current = self.typed.or(self.soft).or(p.default);
        if !p.options.is_empty() {
            let _ = write!(out, "<select id=\"{id}\" name=\"{name}\"{required}>");
            if !p.required {
                out.push_str("<option value=\"\">(not set)</option>");
            }
            for o in p.options {
                let selected = if current == Some(*o) { " selected" } else { "" };
                let o = escape(o);
                let _ = write!(out, "<option value=\"{o}\"{selected}>{o}</option>");
            }
            out.push_str("</select>");
            return;
        }
        let _ = write!(
            out,
            "<input type=\"text\" id=\"{id}\" name=\"{name}\" value=\"{}\" maxlength=\"{MAX_PARAMETER_LEN}\"{required}>",
            escape(current.unwrap_or(""))
        );
    }
}
