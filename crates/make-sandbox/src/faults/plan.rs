//! [`FaultPlan`]: per-request fault probabilities and an added latency, and its command-line
//! form `429=0.05,500=0.02,latency=200ms`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{DEFAULT_OVERSIZE_BYTES, DEFAULT_TIMEOUT_HOLD, Fault};

/// The names the command line accepts, in the order error messages list them.
const NAMES: &[&str] = &[
    "429",
    "429-retry-after",
    "500",
    "502",
    "503",
    "504",
    "timeout",
    "drop",
    "truncate",
    "nonjson",
    "oversize",
    "content-type",
    "redirect",
];

/// The probabilistic side of fault injection: every API request independently gets at most
/// one of the plan's faults, each with its probability, and every API request waits
/// `latency` first. The default plan does nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    latency: Option<Duration>,
    chances: Vec<(Fault, f64)>,
    seed: Option<u64>,
}

/// A fault list the sandbox cannot use; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FaultPlanError(String);

impl FaultPlan {
    /// Adds `fault` with `probability` (0 to 1). The probabilities of a plan add up to at
    /// most 1, since a request gets at most one fault.
    pub fn chance(mut self, fault: Fault, probability: f64) -> Result<Self, FaultPlanError> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(FaultPlanError(format!(
                "the probability of {} must be between 0 and 1, got {probability}",
                fault.name()
            )));
        }
        if self.chances.iter().any(|(f, _)| f.name() == fault.name()) {
            return Err(FaultPlanError(format!("{} is given twice", fault.name())));
        }
        let total = self.total() + probability;
        // A little slack for decimal fractions such as 0.7 + 0.2 + 0.1.
        if total > 1.0 + 1e-9 {
            return Err(FaultPlanError(format!(
                "the probabilities add up to {total}; a request gets at most one fault, so they must add up to at most 1"
            )));
        }
        self.chances.push((fault, probability));
        Ok(self)
    }

    /// Sets the delay added before every API request is handled.
    #[cfg(test)]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Fixes the random sequence, so a chaos run can be replayed request for request.
    #[cfg(test)]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Makes every [`Fault::Timeout`] of the plan hold this long (e.g. longer than the
    /// client's configured timeout).
    pub fn timeout_hold(mut self, hold: Duration) -> Self {
        for (fault, _) in &mut self.chances {
            if let Fault::Timeout { hold: h } = fault {
                *h = hold;
            }
        }
        self
    }

    /// True when the plan neither delays nor fails anything.
    pub fn is_empty(&self) -> bool {
        self.latency.is_none() && self.chances.iter().all(|(_, p)| *p == 0.0)
    }

    pub(super) fn latency_value(&self) -> Option<Duration> {
        self.latency
    }

    pub(super) fn seed_value(&self) -> Option<u64> {
        self.seed
    }

    /// The fault for a request whose random draw is `draw` (uniform in `[0, 1)`), if any.
    pub(super) fn pick(&self, draw: f64) -> Option<&Fault> {
        let mut cumulative = 0.0;
        for (fault, p) in &self.chances {
            cumulative += p;
            if draw < cumulative {
                return Some(fault);
            }
        }
        None
    }

    fn total(&self) -> f64 {
        self.chances.iter().map(|(_, p)| p).sum()
    }
}

/// The fault a command-line name stands for.
fn named(name: &str) -> Option<Fault> {
    Some(match name {
        "429" => Fault::RATE_LIMITED,
        "429-retry-after" => Fault::TooManyRequests {
            retry_after: Some(1),
        },
        "500" => Fault::InternalServerError,
        "502" => Fault::BadGateway,
        "503" => Fault::ServiceUnavailable,
        "504" => Fault::GatewayTimeout,
        "timeout" => Fault::Timeout {
            hold: DEFAULT_TIMEOUT_HOLD,
        },
        "drop" => Fault::Drop,
        "truncate" => Fault::Truncate,
        "nonjson" => Fault::NonJson,
        "oversize" => Fault::Oversize {
            bytes: DEFAULT_OVERSIZE_BYTES,
        },
        "content-type" => Fault::WrongContentType,
        "redirect" => Fault::Redirect,
        _ => return None,
    })
}

/// `200ms`, `2s` or `1m`: a whole number and a unit.
fn parse_duration(text: &str) -> Result<Duration, FaultPlanError> {
    let bad = || {
        FaultPlanError(format!(
            "latency '{text}' is not a duration; write a whole number with ms, s or m, e.g. latency=200ms"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(bad()),
    }
}

impl FromStr for FaultPlan {
    type Err = FaultPlanError;

    /// `name=probability` and `latency=<duration>`, comma-separated; an empty list is the
    /// empty plan.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut plan = FaultPlan::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((name, value)) = item.split_once('=') else {
                return Err(FaultPlanError(format!(
                    "'{item}' has no '='; write name=probability (e.g. 429=0.05) or latency=200ms"
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if name == "latency" {
                if plan.latency.is_some() {
                    return Err(FaultPlanError("latency is given twice".into()));
                }
                plan.latency = Some(parse_duration(value)?);
                continue;
            }
            let Some(fault) = named(name) else {
                return Err(FaultPlanError(format!(
                    "unknown fault '{name}'; valid names: {}, and latency=<duration>",
                    NAMES.join(", ")
                )));
            };
            let probability: f64 = value.parse().map_err(|_| {
                FaultPlanError(format!(
                    "the probability of {name} must be a number between 0 and 1 (e.g. {name}=0.05), got '{value}'"
                ))
            })?;
            plan = plan.chance(fault, probability)?;
        }
        Ok(plan)
    }
}

impl fmt::Display for FaultPlan {
    /// The command-line form, e.g. `429=0.05,latency=200ms` (`none` for the empty plan).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = self
            .chances
            .iter()
            .map(|(fault, p)| format!("{}={p}", fault.name()))
            .collect();
        if let Some(l) = self.latency {
            items.push(format!("latency={}ms", l.as_millis()));
        }
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FaultPlan, String> {
        text.parse::<FaultPlan>().map_err(|e| e.to_string())
    }

    #[test]
    fn parses_probabilities_and_latency() {
        let plan = parse("429=0.05, 500=0.02,latency=200ms").unwrap();
        assert_eq!(plan.latency, Some(Duration::from_millis(200)));
        assert_eq!(
            plan.chances,
            vec![
                (Fault::RATE_LIMITED, 0.05),
                (Fault::InternalServerError, 0.02)
            ]
        );
        assert_eq!(plan.to_string(), "429=0.05,500=0.02,latency=200ms");
        assert_eq!(parse("").unwrap(), FaultPlan::default());
        assert!(parse("").unwrap().is_empty() && parse("drop=0").unwrap().is_empty());
    }

    #[test]
    fn every_listed_name_parses_to_a_fault_of_that_name() {
        for name in NAMES {
            let plan = parse(&format!("{name}=1")).unwrap();
            assert_eq!(plan.chances[0].0.name(), *name);
        }
        let plan = parse("timeout=0.5,oversize=0.5").unwrap();
        assert_eq!(
            plan.chances[0].0,
            Fault::Timeout {
                hold: DEFAULT_TIMEOUT_HOLD
            }
        );
        assert_eq!(plan.chances[1].0, Fault::oversize());
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("0ms").unwrap(), Duration::ZERO);
        for bad in ["200", "ms", "1.5s", "2h", "-1s", ""] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains("e.g. latency=200ms"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_lists_are_refused_with_a_clear_message() {
        let unknown = parse("429=0.1,418=0.1").unwrap_err();
        assert!(
            unknown.starts_with("unknown fault '418'; valid names: 429, 429-retry-after, 500,")
                && unknown.contains("content-type, redirect, and latency=<duration>"),
            "{unknown}"
        );
        let cases = [
            ("429", "'429' has no '='"),
            ("500=often", "must be a number between 0 and 1"),
            ("500=1.5", "must be between 0 and 1, got 1.5"),
            ("500=-0.1", "must be between 0 and 1"),
            ("500=NaN", "must be between 0 and 1"),
            ("500=0.6,502=0.6", "add up to 1.2"),
            ("drop=0.1,drop=0.2", "drop is given twice"),
            ("latency=1s,latency=2s", "latency is given twice"),
            ("latency=fast", "latency 'fast' is not a duration"),
        ];
        for (text, message) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(message), "{text}: {e}");
        }
        assert!(parse("500=0.7,502=0.2,503=0.1").is_ok(), "sums are rounded");
    }

    #[test]
    fn pick_follows_the_cumulative_probabilities() {
        let plan = parse("500=0.25,502=0.5").unwrap();
        assert_eq!(plan.pick(0.0), Some(&Fault::InternalServerError));
        assert_eq!(plan.pick(0.3), Some(&Fault::BadGateway));
        assert_eq!(plan.pick(0.75), None);
        let always = parse("drop=1").unwrap();
        assert_eq!(always.pick(0.999_999), Some(&Fault::Drop));
        let never = parse("drop=0").unwrap();
        assert_eq!(never.pick(0.0), None);
    }

    #[test]
    fn timeout_hold_rewrites_every_timeout() {
        let plan = parse("timeout=0.1,500=0.1")
            .unwrap()
            .timeout_hold(Duration::from_secs(75));
        assert_eq!(
            plan.chances[0].0,
            Fault::Timeout {
                hold: Duration::from_secs(75)
            }
        );
        assert_eq!(plan.chances[1].0, Fault::InternalServerError);
    }
}
