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

/// A library error and its causes on one line, each printed once: `cannot read x: No such
/// file or directory`. Library errors keep their causes as sources instead of copying them
/// into their own message, so this is where they are joined.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        // Some causes (tonic's transport errors) already end with their own cause: each once.
        let text = c.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// A current-thread runtime for one command's network calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
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
