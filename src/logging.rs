//! Logging on stderr, safe against forged lines.
//!
//! Clients choose tool names, JSON-RPC ids, paths and headers; Make chooses error texts.
//! Written raw into a log line, a newline in such a text starts a line the client wrote
//! (a fake "tool call" or "SIGTERM received"), and escape bytes recolour or rewrite the
//! operator's terminal. Two defences:
//!
//! - [`quote`] for every field we fill from outside: quoted, control characters escaped,
//!   length capped, so one field cannot pose as another field or as a new line.
//! - [`OneLine`], a writer under the formatter, for what we do not format ourselves (rmcp's
//!   messages, error texts deep inside other crates): it escapes every control character of
//!   an event except the newline that ends it. One event is always one line.

use std::fmt;
use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// The longest outside text a log field shows, in characters; the rest is counted, not shown.
pub(crate) const MAX_LOGGED_CHARS: usize = 200;

/// An outside text as a log field: `"…"` with Rust string escapes (`\n`, `\u{1b}`, `\"`),
/// cut after [`MAX_LOGGED_CHARS`] characters. Use it as `field = %quote(&text)`.
pub(crate) fn quote(text: impl fmt::Display) -> Quoted {
    Quoted(text.to_string())
}

/// See [`quote`].
pub(crate) struct Quoted(String);

impl fmt::Display for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_LOGGED_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}…(+{} bytes)", &self.0[..cut], self.0.len() - cut),
        }
    }
}

impl fmt::Debug for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A [`MakeWriter`] that keeps every event on one line (see the module docs).
pub(crate) struct OneLine<M>(pub(crate) M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        OneLineWriter(self.0.make_writer_for(meta))
    }
}

/// The writer [`OneLine`] hands out for one event.
pub(crate) struct OneLineWriter<W>(W);

impl<W: Write> Write for OneLineWriter<W> {
    /// tracing's formatter writes each event with a single `write_all` of the whole line, so
    /// `buf` is one event and only its last byte may be a newline. Taking all of `buf` at
    /// once keeps it that way.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&one_line(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `event` with every control character (C0, DEL, C1, line and paragraph separators)
/// escaped, except one trailing newline.
pub(crate) fn one_line(event: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let (body, end) = match event.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (event, &b""[..]),
    };
    let text = String::from_utf8_lossy(body);
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(unsafe_char) && matches!(text, std::borrow::Cow::Borrowed(_)) {
        return std::borrow::Cow::Borrowed(event);
    }
    let mut out = String::with_capacity(event.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    let mut out = out.into_bytes();
    out.extend_from_slice(end);
    std::borrow::Cow::Owned(out)
}

/// How much is logged when `RUST_LOG` is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Serving MCP: our own info lines (startup, tool calls, the scope check) and warnings.
    Serving,
    /// `tools` and `call`: warnings only, so a shell user sees just the JSON.
    Quiet,
}

impl Verbosity {
    /// The `RUST_LOG`-style filter used when `RUST_LOG` is not set.
    pub(crate) fn default_filter(self) -> &'static str {
        match self {
            Verbosity::Serving => "make_credentials_mcp=info,warn",
            Verbosity::Quiet => "warn",
        }
    }
}

/// Logs go to stderr only: in stdio mode stdout is the protocol. `RUST_LOG` wins over
/// `verbosity`. rmcp's debug logs print whole messages, tool arguments included (connection
/// data, key parameters), so every `rmcp` target is capped at info whatever `RUST_LOG` says.
///
/// One global filter rather than a filter per layer: with per-layer filters, tracing asks
/// the filters again for every span and event and builds every span that any of them lets
/// through (rmcp opens one per request), even when nothing is logged. A global filter also
/// tells the `tracing` macros the most verbose level in use, so a disabled level costs one
/// comparison.
pub fn init(verbosity: Verbosity) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let parsed = from_env.as_deref().map(str::parse::<Targets>);
    let requested = match &parsed {
        Some(Ok(targets)) => targets.clone(),
        _ => default_targets(verbosity),
    };
    tracing_subscriber::registry()
        .with(without_rmcp_debug(requested))
        .with(lines(std::io::stderr))
        .init();
    if let Some(Err(e)) = parsed {
        tracing::warn!(error = %e, "RUST_LOG is not a list of `target=level` directives; using the default");
    }
}

/// The log line format, written to `writer` one line per event ([`OneLine`]), without
/// colours. Each line names the spans it was written in with their fields, so the lines of
/// a signed-in person's tool call carry `call{make_user="…"}`. [`init`] writes it to
/// stderr; tests that read log lines write it to a buffer.
pub fn lines<S, W>(writer: W) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_writer(OneLine(writer))
        .with_ansi(false)
}

/// rmcp's session manager logs each new session's id at info ("create new session") and
/// puts it on its session span. A session id lets whoever holds it act in the session, like
/// a bearer token, so this target is capped at warn; the server's own request line names a
/// session by a digest of its id instead.
const RMCP_SESSIONS: &str = "rmcp::transport::streamable_http_server::session";

/// `targets` with `rmcp` and every target under it at most at info, and rmcp's session
/// manager ([`RMCP_SESSIONS`]) at most at warn.
fn without_rmcp_debug(
    targets: tracing_subscriber::filter::Targets,
) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::LevelFilter;
    let capped = cap(targets, "rmcp", LevelFilter::INFO);
    cap(capped, RMCP_SESSIONS, LevelFilter::WARN)
}

/// `targets` with `prefix` and every target under it at most at `max`.
fn cap(
    targets: tracing_subscriber::filter::Targets,
    prefix: &str,
    max: tracing_subscriber::filter::LevelFilter,
) -> tracing_subscriber::filter::Targets {
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;
    let most_verbose = [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ]
    .into_iter()
    .find(|level| targets.would_enable(prefix, level))
    .map_or(LevelFilter::OFF, LevelFilter::from_level);
    let mut capped = targets.clone().with_target(prefix, most_verbose.min(max));
    for (target, level) in targets.iter() {
        if target.starts_with(prefix) {
            capped = capped.with_target(target, level.min(max));
        }
    }
    capped
}

fn default_targets(verbosity: Verbosity) -> tracing_subscriber::filter::Targets {
    verbosity
        .default_filter()
        .parse()
        .expect("the default filters are valid directives")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn default_filters_and_rust_log_directives_parse() {
        use tracing_subscriber::filter::Targets;
        for verbosity in [Verbosity::Serving, Verbosity::Quiet] {
            default_targets(verbosity);
        }
        for directive in ["debug", "make_credentials_mcp=debug,rmcp=info,warn", "off"] {
            assert!(directive.parse::<Targets>().is_ok(), "{directive}");
        }
    }

    #[test]
    fn rmcp_is_never_logged_below_info() {
        use tracing::Level;
        let filter = |directives: &str| without_rmcp_debug(directives.parse().unwrap());
        for directives in [
            "trace",
            "debug",
            "rmcp=trace",
            "rmcp::service=trace,warn",
            "rm=trace",
            "make_credentials_mcp=debug,rmcp::transport=debug",
        ] {
            let f = filter(directives);
            for target in [
                "rmcp",
                "rmcp::service",
                "rmcp::transport::streamable_http_server",
            ] {
                assert!(
                    !f.would_enable(target, &Level::DEBUG),
                    "{directives}: {target}"
                );
            }
        }
        // Below the cap, nothing changes: info stays info, warn stays warn, off stays off.
        assert!(filter("debug").would_enable("rmcp::service", &Level::INFO));
        assert!(filter("rmcp::service=trace").would_enable("rmcp::service", &Level::INFO));
        assert!(!filter("info,rmcp=warn").would_enable("rmcp::service", &Level::INFO));
        assert!(filter("info,rmcp=warn").would_enable("rmcp::service", &Level::WARN));
        assert!(!filter("off").would_enable("rmcp", &Level::ERROR));
        // Other targets keep what was asked for.
        let f = filter("make_credentials_mcp=debug,hyper=trace,warn");
        assert!(f.would_enable("make_credentials_mcp::make", &Level::DEBUG));
        assert!(f.would_enable("hyper::proto", &Level::TRACE));
        assert!(!f.would_enable("reqwest", &Level::INFO));
    }

    #[test]
    fn rmcp_session_ids_are_never_logged_below_warn() {
        use tracing::Level;
        let filter = |directives: &str| without_rmcp_debug(directives.parse().unwrap());
        let local = "rmcp::transport::streamable_http_server::session::local";
        for directives in [
            "trace",
            "info",
            "rmcp=info",
            "rmcp::transport::streamable_http_server::session::local=trace",
        ] {
            let f = filter(directives);
            assert!(!f.would_enable(local, &Level::INFO), "{directives}");
            assert!(f.would_enable(local, &Level::WARN), "{directives}");
        }
        // The rest of rmcp keeps its info lines.
        assert!(filter("info").would_enable(
            "rmcp::transport::streamable_http_server::tower",
            &Level::INFO
        ));
        assert!(!filter("warn,rmcp=error").would_enable(local, &Level::WARN));
    }

    #[test]
    fn quote_escapes_controls_and_quotes() {
        let forged = "x\n2099-01-01T00:00:00Z  INFO forged\u{1b}[31m \"tool\"=y";
        let shown = quote(forged).to_string();
        assert_eq!(
            shown,
            r#""x\n2099-01-01T00:00:00Z  INFO forged\u{1b}[31m \"tool\"=y""#
        );
        assert!(!shown.contains('\n') && !shown.contains('\u{1b}'));
        assert_eq!(quote("keys_list").to_string(), r#""keys_list""#);
    }

    #[test]
    fn quote_caps_long_texts() {
        let long = "é".repeat(MAX_LOGGED_CHARS + 10);
        let shown = quote(&long).to_string();
        assert!(shown.starts_with(&format!("\"{}\"", "é".repeat(MAX_LOGGED_CHARS))));
        assert!(shown.ends_with("…(+20 bytes)"), "{shown}");
    }

    #[test]
    fn one_line_escapes_everything_but_the_final_newline() {
        assert_eq!(one_line(b"plain line\n").as_ref(), b"plain line\n");
        assert_eq!(
            one_line(b"a\nFAKE\x1b[31m\r\x7f\xc2\x9b\xe2\x80\xa8z\n").as_ref(),
            br"a\nFAKE\u{1b}[31m\r\u{7f}\u{9b}\u{2028}z"
                .iter()
                .chain(b"\n")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice()
        );
        assert_eq!(one_line(b"no newline\x1b").as_ref(), br"no newline\u{1b}");
    }

    /// The whole path: an event whose message carries a newline and ESC comes out as one line.
    #[test]
    fn the_formatter_writes_one_line_per_event() {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = {
            let sink = sink.clone();
            move || sink.clone()
        };
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(lines(writer));
        tracing::subscriber::with_default(subscriber, || {
            let id = "1\n2099-01-01T00:00:00Z  INFO forged\u{1b}[2J";
            tracing::warn!("request {id} failed");
            tracing::info_span!("call", make_user = %quote("1001\nx")).in_scope(|| {
                tracing::info!(tool = %quote(id), "tool call");
            });
        });
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        // A span's fields show on the lines written in it, quoted like any outside text.
        let call = out.lines().find(|l| l.contains("tool call")).unwrap();
        assert!(call.contains(r#"call{make_user="1001\nx"}"#), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.lines().all(|l| !l.starts_with("2099")), "{out}");
    }
}
