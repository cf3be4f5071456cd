//! A bump allocator for the span of one waPC call.
//!
//! A request allocates many small short-lived values (decoded fields, label
//! maps, message text) and frees them all when its response is written.
//! Inside [`Arena::scope`] allocation is a pointer bump and freeing is free
//! (the latest allocation is rewound, so temporaries and growing strings
//! reuse memory); the whole arena is reclaimed when the next scope starts,
//! after the previous response has been handed to the host. Outside a scope,
//! and for memory that was allocated outside one, the backing allocator is
//! used, so state created before the first call (the waPC registry) lives on.
//!
//! Contract: nothing allocated inside a scope may be used after the next
//! scope starts. The waPC handlers hold it: their only survivor is the
//! response, which waPC copies out and drops before the call returns. The one
//! state kept between calls, decoded settings, is allocated through
//! [`lasting`], which bypasses the arena. Policies never initialise a lazy
//! static inside a scope (they print nothing, so std's stdout buffer is never
//! made); `harness replay` checks that a warm instance answers as fresh ones do.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest chunk taken from the backing allocator.
const MIN_CHUNK: usize = 64 * 1024;
/// A chunk larger than this is returned to the backing allocator at the
/// next scope instead of being kept for reuse; an allocation larger than
/// this is not served from a chunk at all.
const MAX_KEPT: usize = 8 * 1024 * 1024;
const CHUNK_ALIGN: usize = 16;

/// Header at the start of every chunk: chunks form a list, newest first.
#[repr(C)]
struct Chunk {
    prev: *mut Chunk,
    size: usize,
}

const HEADER: usize = std::mem::size_of::<Chunk>();

struct State {
    active: bool,
    newest: *mut Chunk,
    next: usize,
    end: usize,
    /// Start of the latest allocation, while it is still the latest.
    last: Option<usize>,
}

pub struct Arena<A: GlobalAlloc> {
    backing: A,
    state: UnsafeCell<State>,
}

// SAFETY: the arena is only used on single-threaded targets (wasm32) or, in
// tests, from one thread at a time.
unsafe impl<A: GlobalAlloc + Sync> Sync for Arena<A> {}

impl<A: GlobalAlloc> Arena<A> {
    pub const fn new(backing: A) -> Self {
        Self {
            backing,
            state: UnsafeCell::new(State {
                active: false,
                newest: ptr::null_mut(),
                next: 0,
                end: 0,
                last: None,
            }),
        }
    }

    /// Runs `f` with allocations served by the arena, after reclaiming
    /// everything the previous scope allocated.
    pub fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        // SAFETY: single-threaded; no reference into the state outlives these calls.
        unsafe {
            self.reset();
            (*self.state.get()).active = true;
        }
        let result = f();
        // SAFETY: as above.
        unsafe { (*self.state.get()).active = false };
        result
    }

    /// Runs `f` with allocations served by the backing allocator, even
    /// inside a scope, so that they may outlive it.
    pub fn outside<T>(&self, f: impl FnOnce() -> T) -> T {
        // SAFETY: single-threaded; no reference into the state outlives these calls.
        let was_active = unsafe { std::mem::replace(&mut (*self.state.get()).active, false) };
        let result = f();
        // SAFETY: as above.
        unsafe { (*self.state.get()).active = was_active };
        result
    }

    /// Runs `f`, then gives back every chunk it added and rewinds to where
    /// it started.
    ///
    /// # Safety
    /// As for [`reclaiming`]: nothing `f` allocates in the arena may outlive it.
    pub unsafe fn reclaiming<T>(&self, f: impl FnOnce() -> T) -> T {
        let state = self.state.get();
        if !(*state).active {
            return f();
        }
        let (newest, next, end) = ((*state).newest, (*state).next, (*state).end);
        let result = f();
        let state = &mut *state;
        while !state.newest.is_null() && state.newest != newest {
            let chunk = state.newest;
            state.newest = (*chunk).prev;
            self.free_chunk(chunk);
        }
        state.next = next;
        state.end = end;
        state.last = None;
        result
    }

    /// Bytes the arena holds from the backing allocator.
    pub fn held(&self) -> usize {
        let mut total = 0;
        // SAFETY: the chunk list only holds chunks this arena allocated.
        unsafe {
            let mut chunk = (*self.state.get()).newest;
            while !chunk.is_null() {
                total += (*chunk).size;
                chunk = (*chunk).prev;
            }
        }
        total
    }

    /// Frees every chunk but the newest (the largest), which is kept for
    /// reuse unless it is over [`MAX_KEPT`].
    unsafe fn reset(&self) {
        let state = &mut *self.state.get();
        let newest = state.newest;
        if newest.is_null() {
            return;
        }
        let mut older = (*newest).prev;
        while !older.is_null() {
            let prev = (*older).prev;
            self.free_chunk(older);
            older = prev;
        }
        (*newest).prev = ptr::null_mut();
        if (*newest).size > MAX_KEPT {
            self.free_chunk(newest);
            state.newest = ptr::null_mut();
            state.next = 0;
            state.end = 0;
        } else {
            state.next = newest as usize + HEADER;
            state.end = newest as usize + (*newest).size;
        }
        state.last = None;
    }

    unsafe fn free_chunk(&self, chunk: *mut Chunk) {
        let layout = Layout::from_size_align_unchecked((*chunk).size, CHUNK_ALIGN);
        self.backing.dealloc(chunk.cast(), layout);
    }

    /// True if `ptr` lies in one of the arena's chunks.
    unsafe fn owns(&self, ptr: *mut u8) -> bool {
        let address = ptr as usize;
        let mut chunk = (*self.state.get()).newest;
        while !chunk.is_null() {
            let start = chunk as usize;
            if address > start && address < start + (*chunk).size {
                return true;
            }
            chunk = (*chunk).prev;
        }
        false
    }

    /// The slow paths below are kept out of line, so that the pointer bump
    /// compiles to a small function without spills.
    #[inline(always)]
    unsafe fn bump(&self, layout: Layout) -> *mut u8 {
        let state = &mut *self.state.get();
        if let Some((start, stop)) = fit(state.next, state.end, layout) {
            state.last = Some(start);
            state.next = stop;
            return start as *mut u8;
        }
        self.bump_new_chunk(layout)
    }

    #[cold]
    #[inline(never)]
    unsafe fn bump_new_chunk(&self, layout: Layout) -> *mut u8 {
        // Served apart and freed when dropped: in a chunk it would be freed
        // only at the next scope, after waPC has put that call's payload
        // above it, and a larger answer could not reuse it. Chunks stop
        // doubling at this size, so no chunk has room for such a block.
        if layout.size() > MAX_KEPT {
            return self.backing.alloc(layout);
        }
        let state = &mut *self.state.get();
        let Some((size, smallest)) = chunk_size(state.newest, layout) else {
            return ptr::null_mut();
        };
        let mut chunk: *mut Chunk = self
            .backing
            .alloc(Layout::from_size_align_unchecked(size, CHUNK_ALIGN))
            .cast();
        // Near the memory cap, a doubled chunk may not fit where the
        // allocation itself does.
        let size = if chunk.is_null() && smallest < size {
            chunk = self
                .backing
                .alloc(Layout::from_size_align_unchecked(smallest, CHUNK_ALIGN))
                .cast();
            smallest
        } else {
            size
        };
        if chunk.is_null() {
            return ptr::null_mut();
        }
        chunk.write(Chunk {
            prev: state.newest,
            size,
        });
        state.newest = chunk;
        state.next = chunk as usize + HEADER;
        state.end = chunk as usize + size;
        match fit(state.next, state.end, layout) {
            Some((start, stop)) => {
                state.last = Some(start);
                state.next = stop;
                start as *mut u8
            }
            None => ptr::null_mut(),
        }
    }
}

/// Runs `f` so that what it allocates may be kept after the current waPC
/// call returns. Natively no arena is installed and this just runs `f`.
pub fn lasting<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
    {
        crate::wapc::ALLOCATOR.outside(f)
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
    {
        f()
    }
}

/// Runs `f` and frees everything it allocated in the arena at once, so that
/// passes over a large input one after another do not add up. Natively no
/// arena is installed and this just runs `f`.
///
/// # Safety
/// Nothing `f` allocates in the arena may outlive it: its result must own no
/// arena memory (build what it returns inside [`lasting`]), and it must not
/// grow or keep values that were made before it.
pub unsafe fn reclaiming<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
    {
        crate::wapc::ALLOCATOR.reclaiming(f)
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
    {
        f()
    }
}

/// Start and end of a block for `layout` between `next` and `end`, if it fits.
fn fit(next: usize, end: usize, layout: Layout) -> Option<(usize, usize)> {
    let start = next.checked_add(layout.align() - 1)? & !(layout.align() - 1);
    let stop = start.checked_add(layout.size())?;
    (next != 0 && stop <= end).then_some((start, stop))
}

/// Size of the chunk to add for `layout`: at least double the newest one
/// (up to [`MAX_KEPT`]); and the smallest that holds it, for when that fails.
unsafe fn chunk_size(newest: *mut Chunk, layout: Layout) -> Option<(usize, usize)> {
    let previous = if newest.is_null() { 0 } else { (*newest).size };
    let needed = layout
        .size()
        .checked_add(layout.align())?
        .checked_add(HEADER)?;
    let round = |size: usize| Some(size.checked_add(CHUNK_ALIGN - 1)? & !(CHUNK_ALIGN - 1));
    let doubled = previous.saturating_mul(2).min(MAX_KEPT);
    let size = round(needed.max(doubled).max(MIN_CHUNK))?;
    let smallest = round(needed.max(MIN_CHUNK))?;
    (size <= isize::MAX as usize).then_some((size, smallest))
}

/// Paths taken outside a scope or when memory moves, kept out of line.
impl<A: GlobalAlloc> Arena<A> {
    #[cold]
    #[inline(never)]
    unsafe fn backing_alloc(&self, layout: Layout) -> *mut u8 {
        self.backing.alloc(layout)
    }

    /// Frees `ptr` unless it lies in a chunk (then the scope's end frees it).
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_older(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            self.backing.dealloc(ptr, layout);
        }
    }

    #[cold]
    #[inline(never)]
    unsafe fn realloc_moving(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
        latest: bool,
    ) -> *mut u8 {
        if !latest && !self.owns(ptr) {
            return self.backing.realloc(ptr, layout, new_size);
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        let moved = self.alloc(new_layout);
        if !moved.is_null() {
            ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
        }
        moved
    }
}

// `alloc` is a pointer bump, worth inlining; freeing and moving are not (not
// inlined, modules are 4.7-7.8% smaller for it).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Arena<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if (*self.state.get()).active {
            self.bump(layout)
        } else {
            self.backing_alloc(layout)
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let state = &mut *self.state.get();
        let address = ptr as usize;
        // Only the arena sets `last`; memory in the newest chunk is freed with the
        // scope. Neither needs the ownership walk.
        if state.last == Some(address) {
            state.next = address;
            state.last = None;
        } else if address <= state.newest as usize || address >= state.end {
            self.dealloc_older(ptr, layout);
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let state = &mut *self.state.get();
        let address = ptr as usize;
        let latest = state.last == Some(address);
        if latest && state.active && new_size <= MAX_KEPT {
            if let Some(stop) = address.checked_add(new_size) {
                if stop <= state.end {
                    state.next = stop;
                    return ptr;
                }
            }
        }
        self.realloc_moving(ptr, layout, new_size, latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("valid layout")
    }

    #[test]
    fn outside_a_scope_the_backing_allocator_serves() {
        let arena = Arena::new(System);
        unsafe {
            let p = arena.alloc(layout(32, 8));
            assert!(!p.is_null());
            assert!(!arena.owns(p));
            arena.dealloc(p, layout(32, 8));
        }
        assert_eq!(arena.held(), 0);
    }

    #[test]
    fn allocations_are_aligned_distinct_and_reclaimed_by_the_next_scope() {
        let arena = Arena::new(System);
        let first = arena.scope(|| unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(24, 8));
            let c = arena.alloc(layout(64, 64));
            assert_eq!(b as usize % 8, 0);
            assert_eq!(c as usize % 64, 0);
            assert!(a < b && b as usize >= a as usize + 3);
            assert!(c as usize >= b as usize + 24);
            ptr::write_bytes(c, 7, 64);
            a as usize
        });
        assert_eq!(arena.held(), MIN_CHUNK);
        let again = arena.scope(|| unsafe { arena.alloc(layout(3, 1)) as usize });
        assert_eq!(
            again, first,
            "the next scope reuses the chunk from its start"
        );
    }

    #[test]
    fn freeing_the_latest_allocation_rewinds_and_growing_it_stays_in_place() {
        let arena = Arena::new(System);
        arena.scope(|| unsafe {
            let a = arena.alloc(layout(16, 8));
            arena.dealloc(a, layout(16, 8));
            let b = arena.alloc(layout(16, 8));
            assert_eq!(a, b);
            ptr::write_bytes(b, 1, 16);
            let grown = arena.realloc(b, layout(16, 8), 1000);
            assert_eq!(grown, b);
            let other = arena.alloc(layout(8, 8));
            let moved = arena.realloc(grown, layout(1000, 8), 2000);
            assert_ne!(moved, grown);
            assert_eq!(std::slice::from_raw_parts(moved, 16), &[1u8; 16]);
            assert!(other < moved);
        });
    }

    #[test]
    fn large_requests_are_served_apart_and_freed_when_dropped() {
        let arena = Arena::new(System);
        arena.scope(|| unsafe {
            let small = arena.alloc(layout(100, 8));
            let big = arena.alloc(layout(MAX_KEPT + 1, 8));
            assert!(!small.is_null() && !big.is_null());
            ptr::write_bytes(big, 0, MAX_KEPT + 1);
            assert!(arena.owns(small) && !arena.owns(big));
            let bigger = arena.realloc(big, layout(MAX_KEPT + 1, 8), 2 * MAX_KEPT);
            assert!(!bigger.is_null() && !arena.owns(bigger));
            arena.dealloc(bigger, layout(2 * MAX_KEPT, 8));
            // Growing a small one past the size moves it out too.
            let grown = arena.realloc(small, layout(100, 8), MAX_KEPT + 1);
            assert!(!grown.is_null() && !arena.owns(grown));
            arena.dealloc(grown, layout(MAX_KEPT + 1, 8));
        });
        assert_eq!(arena.held(), MIN_CHUNK);
    }

    #[test]
    fn chunks_stop_doubling_and_oversized_ones_are_released() {
        let arena = Arena::new(System);
        arena.scope(|| unsafe {
            for _ in 0..24 {
                assert!(!arena.alloc(layout(1024 * 1024, 8)).is_null());
            }
            // Even where a chunk has room for it, a large block is apart.
            let big = arena.alloc(layout(MAX_KEPT + 1, 8));
            assert!(!big.is_null() && !arena.owns(big));
            arena.dealloc(big, layout(MAX_KEPT + 1, 8));
        });
        assert!(arena.held() > MAX_KEPT);
        arena.scope(|| ());
        assert_eq!(
            arena.held(),
            MAX_KEPT,
            "chunks stop doubling at the kept size"
        );
        arena.scope(|| unsafe {
            // A chunk just over the size, for one block of it, is released.
            assert!(!arena.alloc(layout(MAX_KEPT, 8)).is_null());
        });
        assert!(arena.held() > 2 * MAX_KEPT);
        arena.scope(|| ());
        assert_eq!(arena.held(), 0);
    }

    /// A backing allocator that refuses blocks over a size.
    struct Capped(usize);

    unsafe impl GlobalAlloc for Capped {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() > self.0 {
                return ptr::null_mut();
            }
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout)
        }
    }

    #[test]
    fn near_the_cap_a_chunk_just_large_enough_is_taken_instead_of_a_doubled_one() {
        let arena = Arena::new(Capped(4 * MIN_CHUNK));
        arena.scope(|| unsafe {
            assert!(!arena.alloc(layout(3 * MIN_CHUNK, 8)).is_null());
            // Doubling would ask for 8 chunks' worth; 2 are enough.
            assert!(!arena.alloc(layout(MIN_CHUNK + 1, 8)).is_null());
            assert!(arena.alloc(layout(5 * MIN_CHUNK, 8)).is_null());
        });
    }

    #[test]
    fn reclaiming_gives_back_what_a_pass_allocated_and_keeps_what_was_there() {
        let arena = Arena::new(System);
        arena.scope(|| unsafe {
            let before = arena.alloc(layout(16, 8));
            ptr::write_bytes(before, 1, 16);
            let held = arena.held();
            let kept = arena.reclaiming(|| {
                let big = arena.alloc(layout(4 * MIN_CHUNK, 8));
                ptr::write_bytes(big, 2, 4 * MIN_CHUNK);
                arena.outside(|| vec![3u8; 8])
            });
            assert_eq!(arena.held(), held);
            assert_eq!(kept, vec![3u8; 8]);
            assert_eq!(*before.add(15), 1);
            let after = arena.alloc(layout(16, 8));
            assert_eq!(
                after as usize,
                before as usize + 16,
                "rewound to where it started"
            );
        });
    }

    #[test]
    fn memory_from_outside_a_scope_stays_with_the_backing_allocator() {
        let arena = Arena::new(System);
        let outside = unsafe { arena.alloc(layout(16, 8)) };
        let grown = arena.scope(|| unsafe {
            ptr::write_bytes(outside, 3, 16);
            let grown = arena.realloc(outside, layout(16, 8), 4096);
            assert!(!arena.owns(grown));
            grown
        });
        unsafe {
            assert_eq!(std::slice::from_raw_parts(grown, 16), &[3u8; 16]);
            arena.dealloc(grown, layout(4096, 8));
        }
    }

    #[test]
    fn what_is_allocated_outside_survives_the_next_scope() {
        let arena = Arena::new(System);
        let kept = arena.scope(|| unsafe {
            let temporary = arena.alloc(layout(16, 8));
            let kept = arena.outside(|| arena.alloc(layout(16, 8)));
            let after = arena.alloc(layout(16, 8));
            assert!(arena.owns(temporary) && arena.owns(after));
            assert!(!arena.owns(kept));
            ptr::write_bytes(kept, 5, 16);
            kept
        });
        arena.scope(|| unsafe {
            ptr::write_bytes(arena.alloc(layout(64, 8)), 0, 64);
            assert_eq!(std::slice::from_raw_parts(kept, 16), &[5u8; 16]);
            arena.dealloc(kept, layout(16, 8));
        });
    }

    #[test]
    fn collections_work_on_top_of_it() {
        let arena = Arena::new(System);
        let total = arena.scope(|| unsafe {
            let l = layout(4 * 1024, 8);
            let mut sum = 0usize;
            for round in 0..100 {
                let p = arena.alloc(l);
                assert!(!p.is_null());
                ptr::write_bytes(p, round as u8, l.size());
                sum += *p as usize;
            }
            sum
        });
        assert_eq!(total, (0..100).sum::<usize>());
        assert!(arena.held() >= 100 * 4 * 1024);
    }

    #[test]
    fn impossible_layouts_fail_without_panicking() {
        let arena = Arena::new(System);
        arena.scope(|| unsafe {
            assert!(arena.alloc(layout(isize::MAX as usize - 64, 1)).is_null());
        });
    }
}
