//! The open-file limit. Every HTTP connection is a file descriptor, and many systems still
//! start processes with a soft limit of 1024 (or less) while allowing far more. Running out
//! means `accept` fails for everyone, health probes included.

/// Descriptors kept for everything but client connections: stdio, the runtime, the
/// listener, connections to Make (and to the sandbox with `--sandbox`), files.
pub(crate) const RESERVED_FDS: u64 = 32;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit where allowed and returns the soft
/// limit now in force (`None` where it cannot be read). Never fails: a server that cannot
/// raise it still works, with fewer connections.
#[cfg(unix)]
pub(crate) fn raise() -> Option<u64> {
    let limit = match current() {
        Ok(limit) => limit,
        Err(error) => {
            tracing::debug!(%error, "cannot read the open-file limit");
            return None;
        }
    };
    let before = limit.rlim_cur;
    if limit.rlim_max <= before {
        tracing::debug!(
            open_files = before,
            "open-file limit already at its maximum"
        );
        return Some(wide(before));
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    match set(&raised) {
        Ok(()) => {
            tracing::info!(
                from = wide(before),
                to = wide(raised.rlim_cur),
                "raised the open-file limit"
            );
            Some(wide(raised.rlim_cur))
        }
        Err(error) => {
            // E.g. macOS refuses values above its per-process maximum even when the hard
            // limit is "unlimited".
            tracing::debug!(%error, open_files = wide(before), "could not raise the open-file limit; keeping it");
            Some(wide(before))
        }
    }
}

/// The process's `RLIMIT_NOFILE` (soft and hard).
#[cfg(unix)]
fn current() -> std::io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}

/// Sets the process's `RLIMIT_NOFILE`.
#[cfg(unix)]
fn set(limit: &libc::rlimit) -> std::io::Result<()> {
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `rlim_t` is `u64` on most targets but 32 bits wide on some 32-bit ones.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)]
fn wide(value: libc::rlim_t) -> u64 {
    value as u64
}

#[cfg(not(unix))]
pub(crate) fn raise() -> Option<u64> {
    None
}

/// The connection cap that fits in `open_files` descriptors: `requested`, or fewer when the
/// limit would be hit first (then the cap, not `accept`, is what turns clients away).
pub(crate) fn connection_cap(requested: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(limit) if (requested as u64).saturating_add(RESERVED_FDS) > limit => {
            limit.saturating_sub(RESERVED_FDS).max(1) as usize
        }
        _ => requested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_reserve() {
        assert_eq!(connection_cap(256, None), 256);
        assert_eq!(connection_cap(256, Some(1_048_576)), 256);
        assert_eq!(connection_cap(256, Some(256 + RESERVED_FDS)), 256);
        assert_eq!(connection_cap(256, Some(64)), 32);
        assert_eq!(connection_cap(256, Some(10)), 1);
    }

    #[cfg(unix)]
    #[test]
    fn raise_reports_the_limit_in_force_and_never_lowers_it() {
        let before = current().expect("readable on unix");
        let now = raise().expect("readable on unix");
        assert!(now >= wide(before.rlim_cur));
        assert_eq!(now, wide(current().unwrap().rlim_cur));
    }
}
