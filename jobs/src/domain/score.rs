use std::fmt;

use serde::{Deserialize, Serialize};

/// A score from 0 to 100 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Score(u8);

/// A number outside 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a score between 0 and 100")]
pub struct InvalidScore(pub i64);

impl Score {
    /// The lowest score.
    pub const MIN: Score = Score(0);
    /// The highest score.
    pub const MAX: Score = Score(100);

    /// A score, if `value` is within 0–100.
    pub fn new(value: i64) -> Result<Self, InvalidScore> {
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= 100)
            .map(Score)
            .ok_or(InvalidScore(value))
    }

    /// Clamp any number into 0–100 (rounding a fraction).
    pub fn clamped(value: f64) -> Self {
        if value.is_nan() {
            return Score(0);
        }
        Score(value.round().clamp(0.0, 100.0) as u8)
    }

    /// The value.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Score {
    type Error = InvalidScore;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Score> for i64 {
    fn from(value: Score) -> Self {
        i64::from(value.0)
    }
}

impl From<Score> for i32 {
    fn from(value: Score) -> Self {
        i32::from(value.0)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(Score::new(0).unwrap().get(), 0);
        assert_eq!(Score::new(100).unwrap().get(), 100);
        assert_eq!(Score::new(101), Err(InvalidScore(101)));
        assert_eq!(Score::new(-1), Err(InvalidScore(-1)));
    }

    proptest! {
        #[test]
        fn clamped_is_always_in_range(value in proptest::num::f64::ANY) {
            let score = Score::clamped(value);
            prop_assert!(score.get() <= 100);
        }
    }
}
