//! The fleet's fair share: an owner holds at most a few builds at once,
//! whichever runners run them, so one owner's long builds never take every
//! slot. Each build holds a place under its deployment's id until a lease
//! runs out; the runner renews it while it works and gives it up when the
//! build ends, and a place whose runner died frees itself when its lease
//! does.

use std::collections::BTreeMap;

/// Who holds a place, and until when (Unix milliseconds, as leases are).
pub type Holders = BTreeMap<String, u64>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The build may run; these are the holders to write. `fresh` when it
    /// did not hold a place already (a duplicate delivery of a job another
    /// runner works on finds its own deployment there).
    Hold { holders: Holders, fresh: bool },
    /// The owner's places are all taken by these many builds.
    Full { running: usize },
}

/// Whether `key` may build now under `cap`, its place held until `until`;
/// places whose lease ended before `now` are dropped.
pub fn admit(holders: &Holders, key: &str, cap: usize, now: u64, until: u64) -> Verdict {
    let mut live: Holders = holders
        .iter()
        .filter(|(_, lease)| **lease >= now)
        .map(|(k, lease)| (k.clone(), *lease))
        .collect();
    let fresh = !live.contains_key(key);
    if fresh && live.len() >= cap {
        return Verdict::Full {
            running: live.len(),
        };
    }
    live.insert(key.to_owned(), until);
    Verdict::Hold {
        holders: live,
        fresh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holders(entries: &[(&str, u64)]) -> Holders {
        entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_build_takes_a_free_place_up_to_the_cap_and_no_further() {
        assert_eq!(
            admit(&holders(&[("a", 200)]), "b", 2, 100, 300),
            Verdict::Hold {
                holders: holders(&[("a", 200), ("b", 300)]),
                fresh: true
            }
        );
        assert_eq!(
            admit(&holders(&[("a", 200), ("b", 200)]), "c", 2, 100, 300),
            Verdict::Full { running: 2 }
        );
        assert_eq!(
            admit(&Holders::new(), "a", 0, 100, 300),
            Verdict::Full { running: 0 }
        );
    }

    #[test]
    fn a_build_holding_its_place_keeps_it_with_a_new_lease_even_when_full() {
        assert_eq!(
            admit(&holders(&[("a", 200), ("b", 200)]), "b", 2, 100, 300),
            Verdict::Hold {
                holders: holders(&[("a", 200), ("b", 300)]),
                fresh: false
            }
        );
    }

    #[test]
    fn a_place_whose_lease_ended_is_free_and_dropped() {
        // A lease ending this very second still holds.
        assert_eq!(
            admit(&holders(&[("a", 99), ("b", 100)]), "c", 2, 100, 300),
            Verdict::Hold {
                holders: holders(&[("b", 100), ("c", 300)]),
                fresh: true
            }
        );
        assert_eq!(
            admit(&holders(&[("a", 99), ("b", 100)]), "a", 1, 100, 300),
            Verdict::Full { running: 1 }
        );
    }
}
