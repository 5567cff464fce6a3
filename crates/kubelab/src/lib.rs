//! The library half of the kubelab binary: the pieces benchmarks and integration tests reach
//! directly (opening lab files, diagnostic rendering, output helpers). Commands stay in the binary.

pub mod lab_file;
pub mod output;
pub mod report;
