//! The deadline wrapper: every AWS call of a run goes through
//! [`Bounded::call`], named by the [`Need`] it serves. A call still
//! unanswered at the run's deadline becomes a `Timeout` fact naming the
//! call, so the report always comes out; each call's time is recorded by
//! its `Need` (the slowest, when a need is called more than once).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use tidbpe_checks::{Fact, FactError, FactErrorKind, Need};
use tokio::time::Instant;

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

    /// Run the call behind `need`, bounded by the deadline, and time it.
    pub async fn call<T>(&self, need: Need, fut: impl Future<Output = Fact<T>>) -> Fact<T> {
        let start = Instant::now();
        let result = match tokio::time::timeout_at(self.deadline, fut).await {
            Ok(result) => result,
            Err(_) => Err(FactError::of_call(
                need,
                FactErrorKind::Timeout,
                "no answer before the deadline (--timeout)",
            )),
        };
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(mut t) = self.timings.lock() {
            let slot = t.entry(need).or_insert(0);
            *slot = (*slot).max(ms);
        }
        result
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
            let slow = async {
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
            b.call(Need::VpcAttributes, wait(30)).await.unwrap();
            b.call(Need::VpcAttributes, wait(70)).await.unwrap();
            b.call(Need::Vpc, wait(5)).await.unwrap();
            let t = b.timings();
            assert!(t[&Need::VpcAttributes] >= 70, "{t:?}");
            assert!(t[&Need::Vpc] < t[&Need::VpcAttributes], "{t:?}");
            assert_eq!(t.len(), 2, "{t:?}");
        });
    }
}
