//! Uncertainty: percentile bootstrap confidence intervals over items, paired bootstrap of a
//! difference between two runs on the same items, and McNemar's exact test for pass/fail
//! metrics. Resampling is seeded, so a report is reproducible.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2000;
/// The resampling seed (fixed: the same runs give the same intervals).
pub const SEED: u64 = 0x1e4d_e5c0;

/// A statistic with its 95 % confidence interval.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The statistic on all items.
    pub value: f64,
    /// 2.5th percentile of the bootstrap distribution.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Items the statistic is computed over.
    pub n: u32,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Linear interpolation between closest ranks.
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The statistic `stat` over `n` items with a 95 % percentile-bootstrap interval (items drawn
/// with replacement). `stat` gets a sample as item indices and returns `None` where it is
/// undefined (e.g. a precision with nothing predicted); such resamples are skipped.
/// `None` when the statistic is undefined on all items.
pub fn bootstrap(n: usize, stat: impl Fn(&mut dyn Iterator<Item = usize>) -> Option<f64>) -> Option<Estimate> {
    let value = stat(&mut (0..n))?;
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut draws = Vec::with_capacity(RESAMPLES);
    let mut sample = vec![0usize; n];
    for _ in 0..RESAMPLES {
        for s in &mut sample {
            *s = rng.random_range(0..n);
        }
        if let Some(v) = stat(&mut sample.iter().copied()) {
            draws.push(v);
        }
    }
    draws.sort_by(f64::total_cmp);
    Some(Estimate {
        value,
        low: percentile(&draws, 0.025),
        high: percentile(&draws, 0.975),
        n: u32::try_from(n).unwrap_or(u32::MAX),
    })
}

/// The mean of the defined values, as a bootstrap statistic.
pub fn mean_of(values: &[Option<f64>]) -> impl Fn(&mut dyn Iterator<Item = usize>) -> Option<f64> + '_ {
    move |sample| {
        let (mut sum, mut count) = (0.0, 0usize);
        for i in sample {
            if let Some(v) = values[i] {
                sum += v;
                count += 1;
            }
        }
        (count > 0).then(|| sum / count as f64)
    }
}

/// The difference of two runs on paired items (B − A), with a paired-bootstrap interval and
/// two-sided p-value.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedDelta {
    /// B − A on all paired items.
    pub delta: f64,
    /// 95 % interval of the difference.
    pub low: f64,
    /// 95 % interval of the difference.
    pub high: f64,
    /// Two-sided bootstrap p-value of "no difference" (twice the smaller tail at 0).
    pub p_value: f64,
    /// Pairs where both runs define the metric.
    pub n: u32,
}

/// Paired bootstrap of the mean difference of values defined in both runs.
#[must_use]
pub fn paired_delta(a: &[Option<f64>], b: &[Option<f64>]) -> Option<PairedDelta> {
    let pairs: Vec<f64> = a.iter().zip(b).filter_map(|(x, y)| Some(y.as_ref()? - x.as_ref()?)).collect();
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len();
    let delta = pairs.iter().sum::<f64>() / n as f64;
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut draws = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        let s: f64 = (0..n).map(|_| pairs[rng.random_range(0..n)]).sum();
        draws.push(s / n as f64);
    }
    draws.sort_by(f64::total_cmp);
    let at_or_below = draws.iter().filter(|d| **d <= 0.0).count() as f64 / RESAMPLES as f64;
    let at_or_above = draws.iter().filter(|d| **d >= 0.0).count() as f64 / RESAMPLES as f64;
    let p_value = if pairs.iter().all(|d| *d == 0.0) { 1.0 } else { (2.0 * at_or_below.min(at_or_above)).min(1.0) };
    Some(PairedDelta {
        delta,
        low: percentile(&draws, 0.025),
        high: percentile(&draws, 0.975),
        p_value,
        n: u32::try_from(n).unwrap_or(u32::MAX),
    })
}

/// McNemar's exact test of a pass/fail metric on paired items.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Passed in A, failed in B.
    pub worse: u32,
    /// Failed in A, passed in B.
    pub better: u32,
    /// Two-sided exact p-value (binomial, p = ½, on the discordant pairs).
    pub p_value: f64,
}

/// McNemar's exact test over pairs where both runs define the metric.
#[must_use]
pub fn mcnemar(a: &[Option<bool>], b: &[Option<bool>]) -> Option<McNemar> {
    let mut worse = 0u32;
    let mut better = 0u32;
    let mut any = false;
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x, y) {
            any = true;
            match (x, y) {
                (true, false) => worse += 1,
                (false, true) => better += 1,
                _ => {}
            }
        }
    }
    any.then(|| McNemar { worse, better, p_value: binomial_two_sided(worse.min(better), worse + better) })
}

/// P(X ≤ k) · 2 for X ~ Binomial(n, ½), capped at 1 (the exact two-sided test of a symmetric
/// distribution).
fn binomial_two_sided(k: u32, n: u32) -> f64 {
    if n == 0 {
        return 1.0;
    }
    // ln C(n, i) accumulated term by term; each term is C(n, i) / 2^n.
    let ln_half_n = f64::from(n) * std::f64::consts::LN_2;
    let mut ln_c = 0.0f64;
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_c += (f64::from(n - i + 1)).ln() - f64::from(i).ln();
        }
        tail += (ln_c - ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_intervals_contain_the_mean_and_narrow_with_more_items() {
        let small: Vec<Option<f64>> = (0..20).map(|i| Some(f64::from(u8::from(i % 4 != 0)))).collect();
        let e = bootstrap(small.len(), mean_of(&small)).unwrap();
        assert!((e.value - 0.75).abs() < 1e-12);
        assert!(e.low < 0.75 && e.high > 0.75 && e.low >= 0.5 && e.high <= 0.95, "{e:?}");
        let large: Vec<Option<f64>> = (0..2000).map(|i| Some(f64::from(u8::from(i % 4 != 0)))).collect();
        let l = bootstrap(large.len(), mean_of(&large)).unwrap();
        assert!(l.high - l.low < (e.high - e.low) / 5.0, "{l:?} vs {e:?}");
        assert_eq!(bootstrap(3, mean_of(&[None, None, None])), None);
        assert_eq!(bootstrap(20, mean_of(&small)), Some(e), "seeded: reproducible");
    }

    #[test]
    fn paired_deltas_and_mcnemar_see_a_real_change_and_not_a_null_one() {
        let a: Vec<Option<bool>> = (0..60).map(|i| Some(i % 2 == 0)).collect();
        let mut b = a.clone();
        for x in b.iter_mut().take(30) {
            *x = Some(true);
        }
        let m = mcnemar(&a, &b).unwrap();
        assert_eq!((m.worse, m.better), (0, 15));
        assert!((m.p_value - 2.0 * 0.5f64.powi(15)).abs() < 1e-12, "{m:?}");
        let f = |v: &[Option<bool>]| v.iter().map(|x| x.map(|b| f64::from(u8::from(b)))).collect::<Vec<_>>();
        let d = paired_delta(&f(&a), &f(&b)).unwrap();
        assert!((d.delta - 0.25).abs() < 1e-12 && d.low > 0.1 && d.p_value < 0.01, "{d:?}");
        let same = paired_delta(&f(&a), &f(&a)).unwrap();
        assert_eq!((same.delta, same.p_value), (0.0, 1.0));
        // Equal discordant counts: no evidence either way.
        let c: Vec<Option<bool>> = a.iter().map(|x| x.map(|v| !v)).collect();
        assert!((mcnemar(&a, &c).unwrap().p_value - 1.0).abs() < 1e-12);
        assert!((binomial_two_sided(1, 10) - 2.0 * 11.0 / 1024.0).abs() < 1e-12);
    }
}
