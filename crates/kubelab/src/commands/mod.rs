pub mod check;
pub mod completions;
pub mod init;
pub mod lint;
pub mod plan;
pub mod render;
pub mod schema;
pub mod secrets;
