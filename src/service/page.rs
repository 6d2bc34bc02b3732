//! Forward keyset pagination: `first` items after an opaque cursor.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ServiceError;
use crate::domain::RuleViolation;

pub const MAX_PAGE_SIZE: i32 = 100;
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// What a client asked for: how many items, after which cursor.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// `None` asks for the default size.
    pub first: Option<i32>,
    pub after: Option<String>,
}

/// A validated request, with the storage key the cursor stands for.
pub(super) struct Window<K> {
    pub after: Option<K>,
    /// One more than asked, to learn whether there is a next page.
    pub fetch: i64,
    first: usize,
}

impl PageRequest {
    pub(super) fn window<K: DeserializeOwned>(&self) -> Result<Window<K>, ServiceError> {
        let first = self.first.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&first) {
            return Err(RuleViolation::invalid_input(
                "first",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            )
            .into());
        }
        let after = self.after.as_deref().map(decode_cursor).transpose()?;
        Ok(Window {
            after,
            fetch: i64::from(first) + 1,
            first: first as usize,
        })
    }
}

/// One page of items, each with the cursor that continues after it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// The same page of other items, each with its cursor.
    pub fn map<U>(self, mut item: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self
                .items
                .into_iter()
                .map(|(cursor, it)| (cursor, item(it)))
                .collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

impl<K> Window<K> {
    /// Cuts what storage returned (up to `fetch` items) to the page.
    pub(super) fn page<T, KS: Serialize>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T) -> KS,
    ) -> Page<T> {
        let has_next_page = items.len() > self.first;
        items.truncate(self.first);
        Page {
            items: items
                .into_iter()
                .map(|item| (encode_cursor(&key(&item)), item))
                .collect(),
            has_next_page,
            has_previous_page: self.after.is_some(),
        }
    }
}

fn encode_cursor<K: Serialize>(key: &K) -> String {
    // Serializing plain keys (strings and numbers) cannot fail.
    let json = serde_json::to_vec(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(not_a_cursor)
}

/// The refusal of a cursor that is malformed or names no item of the list.
pub(super) fn not_a_cursor() -> ServiceError {
    RuleViolation::invalid_input("after", "is not a cursor of this list").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(first: i32, after: Option<&str>) -> PageRequest {
        PageRequest {
            first: Some(first),
            after: after.map(str::to_owned),
        }
    }

    #[test]
    fn page_sizes_outside_1_to_100_are_refused() {
        for first in [-1, 0, 101] {
            assert!(request(first, None).window::<i32>().is_err());
        }
        for first in [1, 100] {
            assert_eq!(
                request(first, None).window::<i32>().unwrap().fetch,
                i64::from(first) + 1
            );
        }
        let default = PageRequest::default().window::<i32>().unwrap();
        assert_eq!(default.fetch, i64::from(DEFAULT_PAGE_SIZE) + 1);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = encode_cursor(&(7, "x"));
        let window = request(5, Some(&cursor)).window::<(i32, String)>().unwrap();
        assert_eq!(window.after, Some((7, "x".to_owned())));
        assert!(request(5, Some("not a cursor!")).window::<i32>().is_err());
        assert!(
            request(5, Some(&encode_cursor(&"text")))
                .window::<i32>()
                .is_err()
        );
    }

    #[test]
    fn the_extra_item_only_signals_a_next_page() {
        let window = request(2, None).window::<i32>().unwrap();
        let page = window.page(vec![1, 2, 3], |n| *n);
        assert!(page.has_next_page);
        assert!(!page.has_previous_page);
        assert_eq!(
            page.items.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [1, 2]
        );
        let last = window.page(vec![1, 2], |n| *n);
        assert!(!last.has_next_page);
    }
}
