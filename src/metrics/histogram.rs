//! A histogram whose `observe` is a few atomic operations and never takes a lock.
//!
//! prometheus-client's own `Histogram` keeps its state behind a mutex that every
//! observation takes; a histogram every tool call (or every Make request) observes would
//! make all calls contend for it. This one keeps one atomic count per bucket and the sum as
//! atomic `f64` bits, and is encoded through prometheus-client's encoder like any metric.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds (seconds) for durations: from a loopback answer (milliseconds) to a wait
/// for authorization (minutes).
pub(crate) const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// A lock-free histogram of durations in seconds. Cloning shares the counts.
#[derive(Debug, Clone)]
pub(crate) struct AtomicHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Upper bounds, ascending; the `+Inf` bucket is implicit.
    bounds: &'static [f64],
    /// One count per bound plus the `+Inf` bucket, each for its own bucket only.
    counts: Box<[AtomicU64]>,
    /// The sum of the observations, as `f64` bits.
    sum: AtomicU64,
}

impl AtomicHistogram {
    /// A histogram with `bounds` (ascending) as bucket upper bounds.
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Self {
            inner: Arc::new(Inner {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum: AtomicU64::new(0f64.to_bits()),
            }),
        }
    }

    /// A histogram with [`DURATION_BUCKETS`].
    pub(crate) fn durations() -> Self {
        Self::new(DURATION_BUCKETS)
    }

    /// Records one duration.
    pub(crate) fn observe(&self, elapsed: Duration) {
        let value = elapsed.as_secs_f64();
        let bucket = self.inner.bounds.partition_point(|bound| *bound < value);
        self.inner.counts[bucket].fetch_add(1, Ordering::Relaxed);
        // A compare-and-swap loop: lock-free, retried only when another observation of
        // this same histogram landed in between.
        let _ = self
            .inner
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let inner = &self.inner;
        let counts: Vec<u64> = inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        // The count is the buckets' total, so a scrape during an observation stays
        // consistent (the sum may lag by that one observation).
        let count = counts.iter().sum();
        let buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(counts)
            .collect();
        let sum = f64::from_bits(inner.sum.load(Ordering::Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_the_sum() {
        let h = AtomicHistogram::new(&[0.1, 1.0]);
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(100));
        h.observe(Duration::from_millis(500));
        h.observe(Duration::from_secs(3));
        let counts: Vec<u64> = h
            .inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        // `le` is inclusive: 0.1 s falls in the 0.1 bucket.
        assert_eq!(counts, [2, 1, 1]);
        let sum = f64::from_bits(h.inner.sum.load(Ordering::Relaxed));
        assert!((sum - 3.65).abs() < 1e-9, "{sum}");
    }
}
