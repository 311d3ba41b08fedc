//! The test cases, grouped by what they exercise.

mod announce;
