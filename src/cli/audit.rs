//! The audit trail on the command line: the HTTP server's audit flags, and the `audit`
//! subcommand that reads the trail (as an aligned table, or one JSON object per line).

use clap::Args;

use crate::server::DEFAULT_TOKEN_LABEL;
use crate::store::{AuditEntry, AuditFilter};

/// Days audit rows are kept when `--audit-retention-days` is not given.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// How the HTTP server keeps its audit trail.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// With `--auth token`: the database to audit to (`--database`); none, no audit.
    pub database: Option<String>,
    /// With `--auth token`: who the static token's calls are recorded as.
    pub token_label: String,
    /// Rows older than this many days are pruned.
    pub retention_days: u32,
}

impl AuditSettings {
    /// The retention in seconds.
    pub fn retention_secs(&self) -> i64 {
        i64::from(self.retention_days) * 86_400
    }
}

/// The HTTP server's audit flags.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Audit trail")]
pub(crate) struct AuditServeArgs {
    /// With --auth token and --database: who the static token's calls are recorded as in
    /// the audit trail (team mode records each person's Make user id).
    #[arg(long, env = "MCP_AUTH_TOKEN_LABEL", value_name = "LABEL", default_value = DEFAULT_TOKEN_LABEL)]
    pub(crate) auth_token_label: String,
    /// Days audit rows are kept; older ones are pruned every few minutes.
    #[arg(long, env = "MCP_AUDIT_RETENTION_DAYS", value_name = "DAYS",
        default_value_t = DEFAULT_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) audit_retention_days: u32,
}

/// Flags of the `audit` subcommand.
#[derive(Debug, Clone, Args)]
pub struct AuditQueryArgs {
    /// The database: sqlite://PATH or postgres://... Default: team mode's SQLite file in
    /// the user's data directory.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database: Option<String>,
    /// Only entries at or after this: a date (2026-12-01, UTC) or a time ago (90s, 30m,
    /// 24h, 7d).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<Since>,
    /// Only this person's entries (Make user id, or the static token's label).
    #[arg(long, value_name = "PERSON")]
    pub person: Option<String>,
    /// Only this tool's entries, e.g. keys_delete.
    #[arg(long, value_name = "TOOL")]
    pub tool: Option<String>,
    /// Only entries about this object id (a connection, key, request or credential id).
    #[arg(long, value_name = "ID")]
    pub object: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A `--since` value: a moment, or a span before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Unix seconds.
    At(i64),
    /// Seconds before now.
    Ago(i64),
}

impl Since {
    /// Unix seconds, given now.
    pub fn resolve(self, now: i64) -> i64 {
        match self {
            Since::At(at) => at,
            Since::Ago(secs) => now.saturating_sub(secs),
        }
    }
}

impl AuditQueryArgs {
    /// The store filter these flags mean, at `now` (unix seconds).
    pub fn filter(&self, now: i64) -> AuditFilter {
        AuditFilter {
            since: self.since.map(|s| s.resolve(now)),
            person: self.person.clone(),
            tool: self.tool.clone(),
            object_id: self.object.clone(),
            limit: Some(self.limit),
        }
    }
}

/// Parses `--since`: `YYYY-MM-DD` (midnight UTC) or a number with `s`, `m`, `h` or `d`.
pub fn parse_since(text: &str) -> Result<Since, String> {
    const HELP: &str = "give a date such as 2026-12-01 or a time ago such as 90s, 30m, 24h, 7d";
    if let Some(at) = parse_date(text) {
        return Ok(Since::At(at));
    }
    let unit = text.chars().last().ok_or(HELP)?;
    let per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{text:?} is not a time: {HELP}")),
    };
    let count: i64 = text[..text.len() - 1]
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("{text:?} is not a time: {HELP}"))?;
    count
        .checked_mul(per)
        .map(Since::Ago)
        .ok_or_else(|| format!("{text:?} is too long ago"))
}

/// `YYYY-MM-DD` as unix seconds at midnight UTC.
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `entries` as an aligned table with a header line (UTC times).
pub fn table(entries: &[AuditEntry]) -> String {
    let header = [
        "TIME (UTC)",
        "PERSON",
        "CLIENT",
        "TOOL",
        "OBJECT",
        "OUTCOME",
        "MAKE CODE",
        "DETAIL",
    ];
    let dash = || "-".to_string();
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|e| {
            let object = match (&e.object_type, &e.object_id) {
                (Some(kind), Some(id)) => format!("{kind} {id}"),
                (Some(kind), None) => kind.clone(),
                (None, Some(id)) => id.clone(),
                (None, None) => dash(),
            };
            [
                format_time(e.at),
                e.person.clone(),
                e.client_id.clone().unwrap_or_else(dash),
                e.tool.clone(),
                object,
                e.outcome.to_string(),
                e.make_code.clone().unwrap_or_else(dash),
                e.detail.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_and_spans() {
        assert_eq!(parse_since("1970-01-02"), Ok(Since::At(86_400)));
        assert_eq!(parse_since("2026-12-01"), Ok(Since::At(1_796_083_200)));
        assert_eq!(parse_since("24h"), Ok(Since::Ago(86_400)));
        assert_eq!(parse_since("30m"), Ok(Since::Ago(1800)));
        assert_eq!(parse_since("7d"), Ok(Since::Ago(604_800)));
        assert_eq!(parse_since("90s"), Ok(Since::Ago(90)));
        for bad in [
            "",
            "h",
            "24",
            "-1h",
            "2026-13-01",
            "2026-02-30",
            "yesterday",
            "1.5h",
        ] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_print_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_796_083_200 + 3661), "2026-12-01 01:01:01");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn the_table_aligns_its_columns() {
        let entry = AuditEntry {
            at: 0,
            person: "1001".into(),
            client_id: None,
            tool: "keys_delete".into(),
            object_type: Some("key".into()),
            object_id: Some("7".into()),
            outcome: crate::store::AuditOutcome::Declined,
            make_code: None,
            detail: Some("answer: decline".into()),
        };
        let text = table(&[entry]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("TOOL"), lines[1].find("keys_delete"));
        assert_eq!(lines[0].find("OUTCOME"), lines[1].find("declined"));
        assert!(lines[1].ends_with("answer: decline"));
    }
}
