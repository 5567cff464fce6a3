pub mod check;
pub mod completions;
pub mod init;
pub mod schema;
