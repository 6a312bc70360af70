//! The deadline wrapper: every AWS call of a run goes through
//! [`Bounded::call`], named by the [`Need`] it serves. A call still
//! unanswered at the run's deadline becomes a `Timeout` fact naming the
//! call, so the report always comes out; each call's time is recorded by
//! its `Need` (the slowest, when a need is called more than once).
//!
//! Retries live here too, not in the SDK (whose retries know nothing of the
//! deadline): a call that AWS throttled, that failed on AWS's side (5xx) or
//! that could not reach the API is tried again after a backoff with jitter,
//! at most [`MAX_ATTEMPTS`] times, and never past the deadline: when the
//! next attempt could not finish in time, the last error is the fact, so
//! the report says "throttled", not "no answer".

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;

use tidbpe_checks::{Fact, FactError, FactErrorKind, Need};
use tokio::time::Instant;

/// Attempts of one call, the first included.
pub const MAX_ATTEMPTS: u32 = 4;

/// The backoff before the second attempt; it doubles for each next one,
/// with jitter (half to all of it), so attempts that collided spread out.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A retry is started only if this much time is left after its backoff.
const ROOM_FOR_AN_ATTEMPT: Duration = Duration::from_millis(300);

/// Is the error worth another attempt?
fn transient(err: &FactError) -> bool {
    matches!(
        err.kind,
        FactErrorKind::Throttled | FactErrorKind::ServerError | FactErrorKind::Network
    )
}

/// The backoff before attempt `n + 1` (n ≥ 1): FIRST_BACKOFF · 2^(n-1),
/// times a random factor in [0.5, 1].
fn backoff(n: u32) -> Duration {
    let full = FIRST_BACKOFF * 2u32.saturating_pow(n.saturating_sub(1));
    let per_mille = 500 + RandomState::new().hash_one(n) % 501;
    full * u32::try_from(per_mille).unwrap_or(1000) / 1000
}

pub struct Bounded {
    deadline: Instant,
    timings: Mutex<BTreeMap<Need, u64>>,
}

impl Bounded {
    pub fn new(deadline: Instant) -> Self {
        Bounded {
            deadline,
            timings: Mutex::default(),
        }
    }

    /// The run's deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Run the call behind `need` (`attempt` makes one try), retried while
    /// it fails transiently and time allows, bounded by the deadline, and
    /// time it.
    pub async fn call<T, F, Fut>(&self, need: Need, mut attempt: F) -> Fact<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Fact<T>>,
    {
        let start = Instant::now();
        let mut tries = 1;
        let result = loop {
            let result = match tokio::time::timeout_at(self.deadline, attempt()).await {
                Ok(result) => result,
                Err(_) => Err(FactError::of_call(
                    need,
                    FactErrorKind::Timeout,
                    "no answer before the deadline (--timeout)",
                )),
            };
            match result {
                Err(e) if transient(&e) && tries < MAX_ATTEMPTS => {
                    let wait = backoff(tries);
                    if Instant::now() + wait + ROOM_FOR_AN_ATTEMPT > self.deadline {
                        break Err(e);
                    }
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                other => break other,
            }
        };
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(mut t) = self.timings.lock() {
            let slot = t.entry(need).or_insert(0);
            *slot = (*slot).max(ms);
        }
        result
    }

    /// The call behind `need` if `wanted` (the selected checks need it),
    /// else `None`: a fact not asked for.
    pub async fn call_if<T, F, Fut>(&self, wanted: bool, need: Need, attempt: F) -> Option<Fact<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Fact<T>>,
    {
        if wanted {
            Some(self.call(need, attempt).await)
        } else {
            None
        }
    }

    /// How long each call took, by need.
    pub fn timings(&self) -> BTreeMap<Need, u64> {
        self.timings.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_call_past_the_deadline_is_a_timeout_naming_its_need() {
        runtime().block_on(async {
            let b = Bounded::new(Instant::now() + Duration::from_millis(100));
            let slow = || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(1)
            };
            let err = b.call(Need::NetworkAcls, slow).await.unwrap_err();
            assert_eq!(err.kind, FactErrorKind::Timeout);
            assert_eq!(err.action, "ec2:DescribeNetworkAcls");
            assert_eq!(err.need(), Some(Need::NetworkAcls));
            let ms = b.timings()[&Need::NetworkAcls];
            assert!((90..2000).contains(&ms), "{ms} ms");
        });
    }

    #[test]
    fn timings_keep_the_slowest_call_of_a_need() {
        runtime().block_on(async {
            let b = Bounded::new(Instant::now() + Duration::from_secs(10));
            let wait = |ms| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            };
            b.call(Need::VpcAttributes, || wait(30)).await.unwrap();
            b.call(Need::VpcAttributes, || wait(70)).await.unwrap();
            b.call(Need::Vpc, || wait(5)).await.unwrap();
            let t = b.timings();
            assert!(t[&Need::VpcAttributes] >= 70, "{t:?}");
            assert!(t[&Need::Vpc] < t[&Need::VpcAttributes], "{t:?}");
            assert_eq!(t.len(), 2, "{t:?}");
        });
    }

    fn throttled() -> FactError {
        let mut e = FactError::of_call(Need::Endpoints, FactErrorKind::Throttled, "Rate exceeded");
        e.code = Some("RequestLimitExceeded".into());
        e
    }

    /// A fault that passes is retried; one that persists is retried
    /// MAX_ATTEMPTS times and kept as it is (not turned into a timeout).
    #[test]
    fn transient_faults_are_retried_with_backoff_and_kept() {
        runtime().block_on(async {
            let b = Bounded::new(Instant::now() + Duration::from_secs(10));
            let tries = std::cell::Cell::new(0);
            let once = || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move {
                    if n == 1 {
                        Err(throttled())
                    } else {
                        Ok(n)
                    }
                }
            };
            assert_eq!(b.call(Need::Endpoints, once).await.unwrap(), 2);
            tries.set(0);
            let start = Instant::now();
            let always = || {
                tries.set(tries.get() + 1);
                async { Err::<(), _>(throttled()) }
            };
            let err = b.call(Need::Endpoints, always).await.unwrap_err();
            assert_eq!(err.kind, FactErrorKind::Throttled);
            assert_eq!(tries.get(), MAX_ATTEMPTS);
            // 100–200, 200–400, 400–800 ms of backoff.
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(700), "{took:?}");
            // Denied is not retried.
            tries.set(0);
            let denied = || {
                tries.set(tries.get() + 1);
                let mut e = throttled();
                e.kind = FactErrorKind::AccessDenied;
                async move { Err::<(), _>(e) }
            };
            b.call(Need::Endpoints, denied).await.unwrap_err();
            assert_eq!(tries.get(), 1);
        });
    }

    /// No retry starts that could not end before the deadline: the last
    /// error comes back in time.
    #[test]
    fn retries_stop_before_the_deadline() {
        runtime().block_on(async {
            let b = Bounded::new(Instant::now() + Duration::from_millis(600));
            let start = Instant::now();
            let err = b
                .call(Need::Endpoints, || async { Err::<(), _>(throttled()) })
                .await
                .unwrap_err();
            assert_eq!(err.kind, FactErrorKind::Throttled);
            assert!(
                start.elapsed() < Duration::from_millis(600),
                "{:?}",
                start.elapsed()
            );
        });
    }
}
