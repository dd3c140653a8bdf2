//! Corpus generators shared by the benchmarks.
