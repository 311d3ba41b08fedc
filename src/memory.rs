//! Hands freed heap back to the kernel after a burst of work.
//!
//! Taking in 10,000 addresses allocates and frees a great deal (netlink dumps, plans, UPDATEs),
//! and glibc's allocator keeps the freed pages for reuse: the daemon then holds megabytes it no
//! longer uses for as long as it runs. `malloc_trim(3)` returns them. No crate wraps it (the
//! allocator crates replace malloc instead), so this file calls it through `libc`.
#![allow(unsafe_code)]

use std::time::Duration;

/// How long the daemon waits after the last burst before trimming: the sessions encode and send
/// their UPDATEs just after the loop hands them a new route set, and their buffers should be freed
/// first.
pub const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Returns the free memory at the top of the heap and in freed pages inside it to the kernel.
pub fn release_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes no pointer and only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
