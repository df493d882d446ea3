//! Benchmarks of mscommerce; see `bench/README.md`. The library is empty: the parts are the
//! `decision` criterion bench and the `baseline` server binary.
