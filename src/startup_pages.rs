//! Start-up's pages of the binary, given back once calls flow.
//!
//! The kernel maps a program's code and constants from its file in 64 KiB windows around
//! every page that is read, and leaves them mapped. So everything only start-up ran stays
//! resident for the life of the process: argument parsing, logging and runtime set-up,
//! loading the tool schemas, `initialize`, `tools/list`, building the HTTP client. Measured
//! with 16 calls in flight (scripts/bench.py's Make double), about half of the binary's
//! resident pages, 1.8 of 3.1 MiB, were not touched again once calls flowed.
//!
//! When a serving process (stdio or HTTP, see `startup::start`) has answered its first tool
//! call, [`release_once`] unmaps the binary's read-only segments (its code and constants):
//! clean pages of the executable file that nothing ever writes, so nothing is lost. What runs afterwards is mapped again on first use, with a minor fault
//! (about a hundred of them, once). The released pages stay in the page cache as unmapped
//! file data, which the kernel reclaims first and at no cost when memory is short.
//!
//! The writable segments (relocated pointers, statics, the heap) are never touched. On
//! other systems than Linux this does nothing.

/// Releases the binary's read-only pages, the first time only; later calls cost one
/// atomic load.
pub(crate) fn release_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let released = imp::release_read_only_segments();
        tracing::debug!(
            kib = released / 1024,
            "unmapped the binary's read-only pages after start-up"
        );
    });
}

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::{c_int, c_void};

    /// `madvise(MADV_DONTNEED)` on every read-only `PT_LOAD` segment of the main program,
    /// rounded inwards to whole pages. Returns the bytes released.
    pub(super) fn release_read_only_segments() -> usize {
        let mut released = 0usize;
        // SAFETY: the callback only reads the program headers dl_iterate_phdr hands it, and
        // writes `released` through the pointer passed here, which outlives the call.
        unsafe {
            libc::dl_iterate_phdr(Some(main_program), (&raw mut released).cast());
        }
        released
    }

    /// Called for each loaded object; the first is the main program, and only it is done.
    unsafe extern "C" fn main_program(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        released: *mut c_void,
    ) -> c_int {
        // SAFETY: dl_iterate_phdr passes a valid `info` whose `dlpi_phdr` points to
        // `dlpi_phnum` program headers, and our own `released` pointer.
        let (info, released) = unsafe { (&*info, &mut *released.cast::<usize>()) };
        let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let page = page_size();
        for header in headers {
            let read_only = header.p_type == libc::PT_LOAD && header.p_flags & libc::PF_W == 0;
            if !read_only {
                continue;
            }
            let start = (info.dlpi_addr as usize + header.p_vaddr as usize).next_multiple_of(page);
            let end =
                (info.dlpi_addr as usize + header.p_vaddr as usize + header.p_filesz as usize)
                    / page
                    * page;
            if end <= start {
                continue;
            }
            // SAFETY: the range lies inside a read-only mapping of the executable file that
            // nothing writes; MADV_DONTNEED on it only drops page-table entries, and the
            // same file contents come back on the next access.
            if unsafe { libc::madvise(start as *mut c_void, end - start, libc::MADV_DONTNEED) } == 0
            {
                *released += end - start;
            }
        }
        1 // stop: the main program is the first object
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096).max(4096)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn release_read_only_segments() -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    /// Code and constants still work after their pages were released (they come back from
    /// the file), and a second call is a no-op.
    #[test]
    fn the_program_runs_on_after_its_read_only_pages_are_released() {
        let before: serde_json::Value = serde_json::from_str(r#"{"a": [1, 2, 3]}"#).unwrap();
        super::release_once();
        super::release_once();
        let after: serde_json::Value = serde_json::from_str(r#"{"a": [1, 2, 3]}"#).unwrap();
        assert_eq!(before, after);
        assert_eq!(format!("{:?}", 1.5f64), "1.5");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn it_releases_the_code_segment() {
        let released = super::imp::release_read_only_segments();
        // The test binary's code alone is megabytes.
        assert!(released > 1024 * 1024, "{released}");
    }
}
