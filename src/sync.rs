//! Locks that stay usable after a holder panicked.
//!
//! Every `Mutex` and `RwLock` in this crate guards a short critical section
//! that changes its data in one step (an insert, a remove, an assignment), so
//! a panic inside one cannot leave the data half-changed. Recovering the
//! guard is therefore sound, and it keeps one failed request from failing
//! every later one that needs the same lock.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panicking_holder_still_serves() {
        let mutex = Mutex::new(1);
        let rw = RwLock::new(1);
        std::thread::scope(|scope| {
            let _ = scope
                .spawn(|| {
                    let _held = (mutex.lock(), rw.write());
                    panic!("a holder panics");
                })
                .join();
        });
        assert!(mutex.is_poisoned() && rw.is_poisoned());
        *lock(&mutex) += 1;
        *write(&rw) += 1;
        assert_eq!((*lock(&mutex), *read(&rw)), (2, 2));
    }
}
