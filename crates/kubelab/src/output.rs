//! Colour decisions and small text helpers shared by commands.

use std::io::IsTerminal;

use clap::ValueEnum;

/// `--color`. Defined here rather than with the other arguments so the library half of the
/// crate (which the benchmarks use) does not need the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// `--color` wins; under `auto`, NO_COLOR (any non-empty value) or a non-terminal stdout
    /// turn colour off.
    pub fn detect(choice: ColorChoice) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        Self { color }
    }

    pub fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }

    pub fn green(&self, text: &str) -> String {
        self.paint(text, "32")
    }

    pub fn red(&self, text: &str) -> String {
        self.paint(text, "31")
    }

    pub fn yellow(&self, text: &str) -> String {
        self.paint(text, "33")
    }

    pub fn error_line(&self, message: &str) -> String {
        format!("{} {message}", self.red("error:"))
    }
}

/// Plural-aware count: `1 error`, `2 errors`.
pub fn count(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

/// `print!` that survives a closed pipe (`kubelab render | head`): when the reader has gone,
/// there is nobody left to tell, so the write error is dropped instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` that survives a closed pipe; see [`out!`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
