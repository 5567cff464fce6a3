//! A fast path for the YAML that Kubernetes manifests are made of, straight to JSON values.
//!
//! Why this exists: the linter's target is 200,000 objects a second on one core, and every
//! maintained Rust YAML parser (saphyr-parser, libyaml through serde_yaml_ng) reads manifests
//! at about 30 MB/s, which is already below that target before a single rule runs. Manifests
//! use a small part of YAML: block mappings and sequences, single-line flow collections or
//! multi-line JSON, plain and quoted scalars on one line, literal block scalars. This module
//! reads exactly that part and answers `None` for anything else (anchors, tags, folded or
//! multi-line scalars, directives, tabs, unusual escapes, odd indentation, duplicate keys,
//! errors), so the caller falls back to the full parser in [`crate::yaml`], which also owns
//! every error message. It never decides that input is invalid; it only declines.
//!
//! The contract — whenever this returns a value, [`crate::yaml::parse`] + [`crate::yaml::to_value`]
//! return the same value and the same line — is guarded by differential tests over every
//! YAML file in the repository and thousands of mutations (tests/fast_yaml_differential.rs).

use serde_json::{Map, Value as J};

use crate::yaml::{plain_key_name, plain_value_json};

/// Deeper documents go to the full parser, which enforces its own depth budget.
const MAX_DEPTH: usize = 48;
/// Larger documents go to the full parser, which enforces its own size budget.
const MAX_NODES: usize = 500_000;
/// YAML limits implicit keys to 1,024 characters.
const MAX_KEY_BYTES: usize = 1024;

/// One document of a stream, between `---` markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub text: &'a str,
    /// 1-based line of the chunk's first line in the whole stream.
    pub first_line: usize,
}

/// Splits a stream at `---` lines. `None` when the stream uses markers this splitter does not
/// handle (directives, `...`, content after `---`); the caller then parses the stream whole.
pub fn chunks(text: &str) -> Option<Vec<Chunk<'_>>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut line_no = 1;
    let mut pos = 0;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line = &text[pos..end];
        let next = (end + 1).min(text.len());
        if line.starts_with('%') || is_marker(line, "...") {
            return None;
        }
        if is_marker(line, "---") {
            let rest = line[3..].trim_start_matches(' ');
            if !(rest.is_empty() || (rest.starts_with('#') && line.as_bytes()[3] == b' ')) {
                return None;
            }
            out.push(Chunk {
                text: &text[start..pos],
                first_line,
            });
            start = next;
            first_line = line_no + 1;
        }
        pos = if end == text.len() { end } else { end + 1 };
        line_no += 1;
    }
    out.push(Chunk {
        text: &text[start..],
        first_line,
    });
    Some(out)
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.starts_with(marker) && matches!(line.as_bytes().get(3), None | Some(b' ') | Some(b'#'))
}

/// Reads one document. `Some(None)`: the document is empty. `Some(Some((line, value)))`: the
/// 1-based line (within the chunk) where its root value starts, and the value. `None`: this
/// document needs the full parser.
pub fn document(text: &str) -> Option<Option<(usize, J)>> {
    if !plain_characters(text.as_bytes()) {
        return None;
    }
    let mut p = Reader {
        s: text.as_bytes(),
        text,
        pos: 0,
        nodes: 0,
    };
    let Some(indent) = p.next_line() else {
        return Some(None);
    };
    let line = 1 + text.as_bytes()[..p.pos]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    let value = p.block_node(indent, -1, 0)?;
    if p.next_line().is_some() {
        return None;
    }
    match value {
        J::Object(_) | J::Array(_) => Some(Some((line, value))),
        // A document that is a lone scalar is not an object anyone lints; the full parser
        // decides what it is.
        _ => None,
    }
}

/// Only printable characters, spaces for indentation and `\n` line ends: tabs, carriage
/// returns, control characters, byte-order marks, NEL and Unicode line separators are
/// legal in places, and the full parser knows where.
fn plain_characters(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x20 && b != b'\n' || b == 0x7f {
            return false;
        }
        if b >= 0x80 {
            let next = s.get(i + 1).copied().unwrap_or(0);
            let third = s.get(i + 2).copied().unwrap_or(0);
            let suspicious = (b == 0xC2 && (0x80..=0x9F).contains(&next))
                || (b == 0xE2 && next == 0x80 && matches!(third, 0xA8 | 0xA9))
                || (b == 0xEF && next == 0xBB && third == 0xBF)
                || (b == 0xEF && next == 0xBF && matches!(third, 0xBE | 0xBF));
            if suspicious {
                return false;
            }
        }
        i += 1;
    }
    true
}

struct Reader<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    nodes: usize,
}

impl Reader<'_> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn line_end(&self, from: usize) -> usize {
        self.s[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.s.len(), |i| from + i)
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    /// From the start of a line, skips blank and comment lines. Leaves `pos` at the start of
    /// the next line with content and returns its indentation.
    fn next_line(&mut self) -> Option<usize> {
        loop {
            if self.pos >= self.s.len() {
                return None;
            }
            let mut i = self.pos;
            while self.byte(i) == Some(b' ') {
                i += 1;
            }
            match self.byte(i) {
                None => {
                    self.pos = self.s.len();
                    return None;
                }
                Some(b'\n') => self.pos = i + 1,
                Some(b'#') => self.pos = (self.line_end(i) + 1).min(self.s.len()),
                Some(_) => return Some(i - self.pos),
            }
        }
    }

    /// After a value: spaces, an optional comment, the line end. Moves to the next line.
    fn end_line(&mut self) -> Option<()> {
        let start = self.pos;
        while self.byte(self.pos) == Some(b' ') {
            self.pos += 1;
        }
        match self.byte(self.pos) {
            None => Some(()),
            Some(b'\n') => {
                self.pos += 1;
                Some(())
            }
            Some(b'#') if self.pos > start => {
                self.pos = (self.line_end(self.pos) + 1).min(self.s.len());
                Some(())
            }
            _ => None,
        }
    }

    fn at_line_end_or_comment(&self) -> bool {
        match self.byte(self.pos) {
            None | Some(b'\n') => true,
            Some(b'#') => self.pos > 0 && self.s[self.pos - 1] == b' ',
            _ => false,
        }
    }

    fn is_seq_indicator(&self, at: usize) -> bool {
        self.byte(at) == Some(b'-') && matches!(self.byte(at + 1), None | Some(b' ' | b'\n'))
    }

    /// A space followed by `-`, `?` or `:` standing alone inside a plain scalar: parsers
    /// disagree on whether that starts a new token, so the full parser decides.
    fn lone_indicator_after_space(&self, space: usize) -> bool {
        matches!(self.byte(space + 1), Some(b'-' | b'?' | b':'))
            && matches!(
                self.byte(space + 2),
                None | Some(b' ' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
            )
    }

    /// A block node whose line starts at `pos` with `indent` spaces.
    fn block_node(&mut self, indent: usize, parent: isize, depth: usize) -> Option<J> {
        if depth > MAX_DEPTH {
            return None;
        }
        let at = self.pos + indent;
        if self.is_seq_indicator(at) {
            self.pos = at;
            return self.block_seq(indent, depth);
        }
        if self.key_at(at)?.is_some() {
            self.pos = at;
            return self.block_map(indent, depth);
        }
        // A value alone on its line: only flow collections (JSON included) take this path.
        self.pos = at;
        match self.byte(at) {
            Some(b'{' | b'[') => {
                let v = self.flow(parent, depth)?;
                self.end_line()?;
                Some(v)
            }
            _ => None,
        }
    }

    /// A block sequence; `pos` is at its first `-`, which is at `indent` on its line.
    fn block_seq(&mut self, indent: usize, depth: usize) -> Option<J> {
        let mut items = Vec::new();
        loop {
            let line_start = self.pos - indent;
            self.pos += 1;
            while self.byte(self.pos) == Some(b' ') {
                self.pos += 1;
            }
            self.count()?;
            let item = if self.at_line_end_or_comment() {
                self.end_line()?;
                match self.next_line() {
                    Some(n) if n > indent => self.block_node(n, indent as isize, depth + 1)?,
                    _ => J::Null,
                }
            } else if self.is_seq_indicator(self.pos) {
                return None;
            } else if self.key_at(self.pos)?.is_some() {
                self.block_map(self.pos - line_start, depth + 1)?
            } else {
                self.inline_value(indent as isize, depth + 1)?
            };
            items.push(item);
            match self.next_line() {
                Some(n) if n == indent && self.is_seq_indicator(self.pos + n) => self.pos += n,
                Some(n) if n > indent => return None,
                _ => break,
            }
        }
        Some(J::Array(items))
    }

    /// A block mapping at `indent`; `pos` is at its first key (mid-line for `- key: value`).
    fn block_map(&mut self, indent: usize, depth: usize) -> Option<J> {
        let mut map = Map::new();
        loop {
            let (key, after) = self.key_at(self.pos)??;
            self.pos = after;
            self.count()?;
            while self.byte(self.pos) == Some(b' ') {
                self.pos += 1;
            }
            let value = if self.at_line_end_or_comment() {
                self.end_line()?;
                match self.next_line() {
                    Some(n) if n > indent => self.block_node(n, indent as isize, depth + 1)?,
                    Some(n) if n == indent && self.is_seq_indicator(self.pos + n) => {
                        self.pos += n;
                        self.block_seq(n, depth + 1)?
                    }
                    _ => J::Null,
                }
            } else {
                self.inline_value(indent as isize, depth + 1)?
            };
            // A duplicate key is an input error the full parser reports with both places.
            if map.insert(key, value).is_some() {
                return None;
            }
            match self.next_line() {
                Some(n) if n == indent => {
                    self.pos += n;
                    if self.is_seq_indicator(self.pos) {
                        return None;
                    }
                }
                Some(n) if n > indent => return None,
                _ => break,
            }
        }
        Some(J::Object(map))
    }

    /// If a mapping key starts at `at`: its name and the position after its `:`.
    /// `Some(None)`: not a key. `None`: a key this reader does not handle.
    fn key_at(&self, at: usize) -> Option<Option<(String, usize)>> {
        match self.byte(at)? {
            quote @ (b'"' | b'\'') => {
                let (text, mut end) = self.quoted(at, quote)?;
                while self.byte(end) == Some(b' ') {
                    end += 1;
                }
                if self.byte(end) == Some(b':')
                    && matches!(self.byte(end + 1), None | Some(b' ' | b'\n'))
                {
                    if end - at > MAX_KEY_BYTES {
                        return None;
                    }
                    Some(Some((text, end + 1)))
                } else {
                    Some(None)
                }
            }
            b => {
                if !plain_start(b, self.byte(at + 1)) {
                    return Some(None);
                }
                let end = self.line_end(at);
                let mut i = at;
                while i < end {
                    match self.s[i] {
                        b':' if matches!(self.byte(i + 1), None | Some(b' ' | b'\n')) => {
                            if i - at > MAX_KEY_BYTES {
                                return None;
                            }
                            let raw = self.text[at..i].trim_end_matches(' ');
                            let name = plain_key_name(raw)?;
                            return Some(Some((name, i + 1)));
                        }
                        b'#' if self.s[i - 1] == b' ' => return Some(None),
                        _ => i += 1,
                    }
                }
                Some(None)
            }
        }
    }

    /// A value after `key: ` or `- `, through the end of its line (or its block scalar).
    fn inline_value(&mut self, parent: isize, depth: usize) -> Option<J> {
        self.count()?;
        let b = self.byte(self.pos)?;
        let value = match b {
            b'"' | b'\'' => {
                let (text, end) = self.quoted(self.pos, b)?;
                self.pos = end;
                J::String(text)
            }
            b'{' | b'[' => self.flow(parent, depth)?,
            b'|' => return self.literal(parent),
            _ => {
                if !plain_start(b, self.byte(self.pos + 1)) {
                    return None;
                }
                let end = self.line_end(self.pos);
                let mut i = self.pos;
                while i < end {
                    match self.s[i] {
                        // `a: b: c` is an error; the full parser says so.
                        b':' if matches!(self.byte(i + 1), None | Some(b' ' | b'\n')) => {
                            return None
                        }
                        b'#' if self.s[i - 1] == b' ' => break,
                        b' ' if self.lone_indicator_after_space(i) => return None,
                        _ => i += 1,
                    }
                }
                let raw = self.text[self.pos..i].trim_end_matches(' ');
                self.pos = i;
                plain_value_json(raw)?
            }
        };
        self.end_line()?;
        Some(value)
    }

    /// A quoted scalar on one line starting at `at`: its text and the position after it.
    fn quoted(&self, at: usize, quote: u8) -> Option<(String, usize)> {
        let mut out = String::new();
        let mut run = at + 1;
        let mut i = at + 1;
        loop {
            match self.byte(i)? {
                b'\n' => return None,
                b if b == quote => {
                    if quote == b'\'' && self.byte(i + 1) == Some(b'\'') {
                        out.push_str(&self.text[run..=i]);
                        i += 2;
                        run = i;
                        continue;
                    }
                    out.push_str(&self.text[run..i]);
                    return Some((out, i + 1));
                }
                b'\\' if quote == b'"' => {
                    out.push_str(&self.text[run..i]);
                    let (c, len) = match self.byte(i + 1)? {
                        b'"' => ('"', 2),
                        b'\\' => ('\\', 2),
                        b'/' => ('/', 2),
                        b'n' => ('\n', 2),
                        b't' => ('\t', 2),
                        b'r' => ('\r', 2),
                        b'u' => {
                            let hex = self.text.get(i + 2..i + 6)?;
                            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                                return None;
                            }
                            (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 6)
                        }
                        _ => return None,
                    };
                    out.push(c);
                    i += len;
                    run = i;
                }
                _ => i += 1,
            }
        }
    }

    /// A literal block scalar (`|`, `|-`, `|+`); `pos` is at the `|`.
    fn literal(&mut self, parent: isize) -> Option<J> {
        self.pos += 1;
        #[derive(PartialEq)]
        enum Chomp {
            Clip,
            Strip,
            Keep,
        }
        let chomp = match self.byte(self.pos) {
            Some(b'-') => Chomp::Strip,
            Some(b'+') => Chomp::Keep,
            _ => Chomp::Clip,
        };
        if chomp != Chomp::Clip {
            self.pos += 1;
        }
        if !matches!(self.byte(self.pos), None | Some(b' ' | b'\n')) {
            return None;
        }
        self.end_line()?;
        let mut out = String::new();
        let mut content_indent: Option<usize> = None;
        let mut blank_run = 0;
        while self.pos < self.s.len() {
            let start = self.pos;
            let mut i = start;
            while self.byte(i) == Some(b' ') {
                i += 1;
            }
            let end = self.line_end(i);
            if end == self.s.len() {
                // Chomping of a last line without a line break is an edge the full parser owns.
                return None;
            }
            let spaces = i - start;
            if i == end {
                // Blank lines before the first content line, or with more spaces than the
                // content's indentation, have rules of their own.
                if content_indent.is_none_or(|ci| spaces > ci) {
                    return None;
                }
                blank_run += 1;
                self.pos = end + 1;
                continue;
            }
            let ci = match content_indent {
                None if spaces as isize <= parent => return None,
                None => *content_indent.insert(spaces),
                Some(ci) if spaces < ci => break,
                Some(ci) => ci,
            };
            for _ in 0..blank_run {
                out.push('\n');
            }
            blank_run = 0;
            out.push_str(&self.text[start + ci..end]);
            out.push('\n');
            self.pos = end + 1;
        }
        content_indent?;
        match chomp {
            Chomp::Clip => {}
            Chomp::Strip => {
                out.pop();
            }
            Chomp::Keep => out.extend(std::iter::repeat_n('\n', blank_run)),
        }
        Some(J::String(out))
    }

    /// A flow collection starting at `pos`; its lines must be indented past `parent`.
    fn flow(&mut self, parent: isize, depth: usize) -> Option<J> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.count()?;
        let open = self.byte(self.pos)?;
        self.pos += 1;
        let close = if open == b'{' { b'}' } else { b']' };
        let mut map = Map::new();
        let mut items = Vec::new();
        loop {
            self.flow_space(parent)?;
            if self.byte(self.pos)? == close {
                self.pos += 1;
                break;
            }
            if open == b'{' {
                let (key, json_like) = match self.byte(self.pos)? {
                    q @ (b'"' | b'\'') => {
                        let (text, end) = self.quoted(self.pos, q)?;
                        self.pos = end;
                        (text, true)
                    }
                    _ => (plain_key_name(self.flow_plain()?)?, false),
                };
                self.flow_space(parent)?;
                if self.byte(self.pos)? != b':' {
                    return None;
                }
                self.pos += 1;
                // Only a quoted (JSON-like) key may have its value right after the `:`.
                if !json_like && !matches!(self.byte(self.pos)?, b' ' | b'\n' | b',' | b'}') {
                    return None;
                }
                self.flow_space(parent)?;
                let value = match self.byte(self.pos)? {
                    b',' | b'}' => J::Null,
                    _ => self.flow_value(parent, depth)?,
                };
                if map.insert(key, value).is_some() {
                    return None;
                }
            } else {
                let value = self.flow_value(parent, depth)?;
                items.push(value);
            }
            self.flow_space(parent)?;
            match self.byte(self.pos)? {
                b',' => self.pos += 1,
                b if b == close => {}
                _ => return None,
            }
        }
        Some(if open == b'{' {
            J::Object(map)
        } else {
            J::Array(items)
        })
    }

    fn flow_value(&mut self, parent: isize, depth: usize) -> Option<J> {
        self.count()?;
        match self.byte(self.pos)? {
            q @ (b'"' | b'\'') => {
                let (text, end) = self.quoted(self.pos, q)?;
                self.pos = end;
                Some(J::String(text))
            }
            b'{' | b'[' => self.flow(parent, depth + 1),
            _ => plain_value_json(self.flow_plain()?),
        }
    }

    /// A plain scalar inside a flow collection, on one line.
    fn flow_plain(&mut self) -> Option<&str> {
        let start = self.pos;
        if !plain_start(self.byte(start)?, self.byte(start + 1)) {
            return None;
        }
        let mut i = start;
        while let Some(b) = self.byte(i) {
            match b {
                b',' | b'[' | b']' | b'{' | b'}' | b'\n' => break,
                b':' if matches!(
                    self.byte(i + 1),
                    None | Some(b' ' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
                ) =>
                {
                    break
                }
                b'#' if self.s[i - 1] == b' ' => break,
                b' ' if self.lone_indicator_after_space(i) => return None,
                _ => i += 1,
            }
        }
        self.pos = i;
        let text = self.text[start..i].trim_end_matches(' ');
        (!text.is_empty()).then_some(text)
    }

    /// Spaces, line breaks and comments inside a flow collection.
    fn flow_space(&mut self, parent: isize) -> Option<()> {
        loop {
            match self.byte(self.pos)? {
                b' ' => self.pos += 1,
                b'#' if self.pos == 0 || matches!(self.s[self.pos - 1], b' ' | b'\n') => {
                    self.pos = self.line_end(self.pos);
                }
                b'\n' => {
                    self.pos += 1;
                    let mut i = self.pos;
                    while self.byte(i) == Some(b' ') {
                        i += 1;
                    }
                    let blank = matches!(self.byte(i), None | Some(b'\n' | b'#'));
                    if !blank && (i - self.pos) as isize <= parent {
                        return None;
                    }
                    self.pos = i;
                }
                _ => return Some(()),
            }
        }
    }
}

/// Whether a plain scalar may start with `b` (followed by `next`): not with an indicator,
/// except `-`, `?` and `:` directly followed by a non-space.
fn plain_start(b: u8, next: Option<u8>) -> bool {
    match b {
        b'-' | b'?' | b':' => !matches!(
            next,
            None | Some(b' ' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
        ),
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' | b' ' | b'\n' => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Option<(usize, J)> {
        document(text).flatten()
    }

    #[test]
    fn reads_a_manifest() {
        let text = "# c\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {x: \"1\"}}\ndata:\n  script: |\n    echo hi\n\n    exit 0\n  n: 12\n  count: 7\nlist:\n- a\n- b: 1\n  c: [1, 2.5, true, null]\n";
        let (line, value) = one(text).unwrap();
        assert_eq!(line, 2);
        assert_eq!(
            value,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "labels": {"x": "1"}},
                // YAML 1.1 reads the key `n` as false, and Kubernetes writes that key "false".
                "data": {"script": "echo hi\n\nexit 0\n", "false": 12, "count": 7},
                "list": ["a", {"b": 1, "c": [1, 2.5, true, null]}]})
        );
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "privileged: false\nprivileged: true\n",
            "a: {x: 1, x: 2}\n",
            "a: >\n  folded\n",
            "a: multi\n  line\n",
            "a: \"open\n  quote\"\n",
            "a:\tb\n",
            "a: 1\n b: 2\n",
            "a: b: c\n",
            "? complex\n: key\n",
            "just a scalar\n",
            "spec: {a:[x]}\n",
            "spec: {memory: 64Mi -}\n",
        ] {
            assert_eq!(document(text), None, "{text:?}");
        }
    }

    #[test]
    fn splits_at_document_markers_and_declines_directives() {
        let parts = chunks("a: 1\n---\nb: 2\n--- # two\nc: 3").unwrap();
        let lines: Vec<_> = parts.iter().map(|c| (c.text, c.first_line)).collect();
        assert_eq!(lines, [("a: 1\n", 1), ("b: 2\n", 3), ("c: 3", 5)]);
        assert_eq!(chunks("%YAML 1.2\n---\na: 1\n"), None);
        assert_eq!(chunks("--- {a: 1}\n"), None);
        assert_eq!(chunks("a: 1\n...\n"), None);
    }
}
