//! The crate's module graph, read from the source text: which module names which other module
//! through a `crate::…`, `super::…` or `self::…` path (also inside `use crate::{…}` groups).
//! Test code is left out: files named `tests.rs` or `*_tests.rs`, and every item marked
//! `#[cfg(test)]`. Comments, string and character literals are skipped, so doc links such as
//! [`crate::bgp`] are not edges. Paths relative to a child module (`mod gate; use gate::Gate;`)
//! are not edges either: a parent may use its children.
//!
//! Modules are found from the file tree (`src/a.rs`, `src/a/mod.rs`, `src/a/b.rs`), so the graph
//! follows renames without a list. A path resolves to the longest module it names
//! (`crate::bgp::wire::encode` is `bgp::wire`); at depth N a module counts as its first N segments
//! (at depth 1, `bgp::session` and `bgp::wire` are both `bgp`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path: `["bgp", "wire"]`; the crate root is empty.
pub type ModulePath = Vec<String>;

/// Where an edge was seen first: file (relative to `src`) and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub file: String,
    pub line: usize,
}

/// Modules at the chosen depth, named `a` or `a::b` (`crate` for the root), and who imports whom.
#[derive(Debug, Default)]
pub struct Graph {
    pub edges: BTreeMap<String, BTreeMap<String, Evidence>>,
}

impl Graph {
    /// Every module that appears, as importer or imported.
    pub fn nodes(&self) -> BTreeSet<&str> {
        let mut nodes = BTreeSet::new();
        for (from, to) in &self.edges {
            nodes.insert(from.as_str());
            nodes.extend(to.keys().map(String::as_str));
        }
        nodes
    }

    pub fn targets(&self, from: &str) -> impl Iterator<Item = &str> {
        self.edges
            .get(from)
            .into_iter()
            .flat_map(|to| to.keys().map(String::as_str))
    }

    pub fn evidence(&self, from: &str, to: &str) -> Option<&Evidence> {
        self.edges.get(from)?.get(to)
    }

    /// The strongly connected components with more than one module (Tarjan), each sorted; every
    /// edge between two modules of one component lies on an import cycle.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let nodes: Vec<&str> = self.nodes().into_iter().collect();
        let mut tarjan = Tarjan::default();
        for node in &nodes {
            if !tarjan.index.contains_key(node) {
                tarjan.visit(self, node);
            }
        }
        let mut found = tarjan.components;
        found.retain(|c| c.len() > 1);
        for c in &mut found {
            c.sort();
        }
        found.sort();
        found
    }

    /// The edges that lie on an import cycle: both ends in one component.
    pub fn cycle_edges(&self) -> BTreeSet<(String, String)> {
        let mut edges = BTreeSet::new();
        for component in self.cycles() {
            for from in &component {
                for to in self.targets(from) {
                    if component.iter().any(|c| c == to) {
                        edges.insert((from.clone(), to.to_string()));
                    }
                }
            }
        }
        edges
    }

    /// A shortest path `from → … → to` (breadth first), for showing one cycle an edge closes.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            if node == to {
                let mut path = vec![to.to_string()];
                let mut at = to;
                while at != from {
                    at = previous[at];
                    path.push(at.to_string());
                }
                path.reverse();
                return Some(path);
            }
            for next in self.targets(node) {
                if next != from && !previous.contains_key(next) {
                    previous.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

#[derive(Default)]
struct Tarjan<'g> {
    index: BTreeMap<&'g str, usize>,
    low: BTreeMap<&'g str, usize>,
    stack: Vec<&'g str>,
    on_stack: BTreeSet<&'g str>,
    components: Vec<Vec<String>>,
}

impl<'g> Tarjan<'g> {
    fn visit(&mut self, graph: &'g Graph, node: &'g str) {
        let n = self.index.len();
        self.index.insert(node, n);
        self.low.insert(node, n);
        self.stack.push(node);
        self.on_stack.insert(node);
        for next in graph.targets(node) {
            if !self.index.contains_key(next) {
                self.visit(graph, next);
                let low = self.low[node].min(self.low[next]);
                self.low.insert(node, low);
            } else if self.on_stack.contains(next) {
                let low = self.low[node].min(self.index[next]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == self.index[node] {
            let mut component = Vec::new();
            while let Some(member) = self.stack.pop() {
                self.on_stack.remove(member);
                component.push(member.to_string());
                if member == node {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

/// The graph of the crate under `src`, modules cut to `depth` segments.
pub fn module_graph(src: &Path, depth: usize) -> Graph {
    let files = source_files(src);
    let modules: BTreeSet<ModulePath> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(src).expect("under src")))
        .collect();
    let mut graph = Graph::default();
    for file in &files {
        let relative = file.strip_prefix(src).expect("under src");
        if is_test_file(relative) {
            continue;
        }
        let me = module_of(relative);
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for reference in references(&text, &me) {
            let Some(target) = resolve(&reference.path, &modules) else {
                continue;
            };
            if target.is_empty() {
                continue; // the crate root is not a layer
            }
            let (from, to) = (node_name(&me, depth), node_name(&target, depth));
            if from != to {
                graph
                    .edges
                    .entry(from)
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| Evidence {
                        file: relative.display().to_string(),
                        line: reference.line,
                    });
            }
        }
    }
    graph
}

fn source_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(source_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn is_test_file(relative: &Path) -> bool {
    let name = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// `bgp/wire/mod.rs` → `bgp::wire`; `bgp/peer.rs` → `bgp::peer`; `lib.rs`, `main.rs` → the root.
pub fn module_of(relative: &Path) -> ModulePath {
    let mut segments: ModulePath = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segments
        .last()
        .is_some_and(|s| s == "mod" || s == "lib" || s == "main")
    {
        segments.pop();
    }
    segments
}

/// The longest known module that `path` starts with; `None` when not even its first segment is
/// one (an outside name).
fn resolve(path: &[String], modules: &BTreeSet<ModulePath>) -> Option<ModulePath> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| !prefix.is_empty() && modules.contains(prefix))
        .or_else(|| path.is_empty().then(Vec::new))
}

fn node_name(module: &[String], depth: usize) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module[..depth.min(module.len())].join("::")
    }
}

/// One absolute path named in the source, and its line.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference {
    pub path: Vec<String>,
    pub line: usize,
}

/// The absolute paths a file of module `me` names through `crate::`, `super::` and `self::`,
/// outside test code; `use` groups are expanded (`crate::{a, b::c}` → `a`, `b::c`).
pub fn references(text: &str, me: &[String]) -> Vec<Reference> {
    let tokens = without_test_items(&tokenize(text));
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let after_path_separator = i > 0 && tokens[i - 1].text == "::";
        let base: Option<(ModulePath, usize)> = match tokens[i].text.as_str() {
            _ if after_path_separator => None,
            "crate" if next_is(&tokens, i, "::") => Some((Vec::new(), i + 2)),
            "self" if next_is(&tokens, i, "::") => Some((me.to_vec(), i + 2)),
            "super" if next_is(&tokens, i, "::") => {
                let mut j = i;
                let mut ups = 0;
                while tokens.get(j).is_some_and(|t| t.text == "super") && next_is(&tokens, j, "::")
                {
                    ups += 1;
                    j += 2;
                }
                me.len()
                    .checked_sub(ups)
                    .map(|keep| (me[..keep].to_vec(), j))
            }
            _ => None,
        };
        match base {
            Some((prefix, start)) => {
                let line = tokens[i].line;
                let mut paths = Vec::new();
                i = use_tree(&tokens, start, prefix, &mut paths);
                found.extend(paths.into_iter().map(|path| Reference { path, line }));
            }
            None => i += 1,
        }
    }
    found
}

fn next_is(tokens: &[Token], i: usize, text: &str) -> bool {
    tokens.get(i + 1).is_some_and(|t| t.text == text)
}

/// Reads `a::b`, `a::{b, c::d}`, `a::*`, `{self, b}` from `i` on, appending each full path to
/// `out`; returns the index after it.
fn use_tree(
    tokens: &[Token],
    mut i: usize,
    mut prefix: ModulePath,
    out: &mut Vec<ModulePath>,
) -> usize {
    loop {
        let Some(token) = tokens.get(i) else {
            out.push(prefix);
            return i;
        };
        match token.text.as_str() {
            "{" => {
                i += 1;
                while let Some(t) = tokens.get(i) {
                    match t.text.as_str() {
                        "}" => return i + 1,
                        "," => i += 1,
                        _ => {
                            i = use_tree(tokens, i, prefix.clone(), out);
                            // `as alias` and anything else up to the next item of the group.
                            while tokens
                                .get(i)
                                .is_some_and(|t| t.text != "," && t.text != "}")
                            {
                                i += 1;
                            }
                        }
                    }
                }
                return i;
            }
            "self" => {
                out.push(prefix);
                return i + 1;
            }
            "*" => {
                out.push(prefix);
                return i + 1;
            }
            text if token.is_identifier() => {
                prefix.push(text.to_string());
                if next_is(tokens, i, "::") {
                    i += 2;
                } else {
                    out.push(prefix);
                    return i + 1;
                }
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
}

impl Token {
    fn is_identifier(&self) -> bool {
        self.text
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    }
}

/// Identifiers, `::` and single punctuation characters; comments, string, character and number
/// literals and lifetimes are dropped.
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Advances over chars[from..to], counting lines.
    let skip = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to.min(chars.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count();
        to
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let end = block_comment_end(&chars, i);
            i = skip(i, end, &mut line);
        } else if c == '"' {
            let end = string_end(&chars, i + 1);
            i = skip(i, end, &mut line);
        } else if c == '\'' {
            i = quote_end(&chars, i);
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let prefix_of_literal = matches!(word.as_str(), "r" | "b" | "br" | "c" | "cr");
            match chars.get(i) {
                Some('"') if prefix_of_literal => {
                    let end = if word.contains('r') {
                        raw_string_end(&chars, i, 0)
                    } else {
                        string_end(&chars, i + 1)
                    };
                    i = skip(i, end, &mut line);
                }
                Some('#') if word.contains('r') && prefix_of_literal => {
                    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                    if chars.get(i + hashes) == Some(&'"') {
                        let end = raw_string_end(&chars, i + hashes, hashes);
                        i = skip(i, end, &mut line);
                    } else {
                        i += 1; // a raw identifier `r#name`: the name follows as a token
                    }
                }
                Some('\'') if word == "b" => i = quote_end(&chars, i),
                _ => tokens.push(Token { text: word, line }),
            }
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// `i` is just after the opening `"`; returns the index after the closing one.
fn string_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// `i` is at the opening `"` of a raw string with `hashes` `#`s.
fn raw_string_end(chars: &[char], mut i: usize, hashes: usize) -> usize {
    i += 1;
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// `i` is at a `'`: skips a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime's
/// quote (`'a` in `&'a str`; its name then follows as a token, which is harmless).
fn quote_end(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => {
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        (Some(_), Some('\'')) => i + 3,
        _ => i + 1,
    }
}

/// The tokens without the items marked `#[cfg(test)]` (a `mod tests;` declaration or an item up
/// to its closing brace), with their other attributes.
pub fn without_test_items(tokens: &[Token]) -> Vec<Token> {
    const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut kept = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_cfg_test = tokens.len() - i >= CFG_TEST.len()
            && CFG_TEST
                .iter()
                .zip(&tokens[i..])
                .all(|(want, t)| t.text == *want);
        if !is_cfg_test {
            kept.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += CFG_TEST.len();
        // Further attributes on the same item.
        while tokens.get(i).is_some_and(|t| t.text == "#") && next_is(tokens, i, "[") {
            i = matching_close(tokens, i + 1);
        }
        // The item: up to `;` outside brackets, or through its `{ … }`.
        let mut depth = 0i32;
        while let Some(t) = tokens.get(i) {
            match t.text.as_str() {
                "(" | "[" => depth += 1,
                ")" | "]" => depth -= 1,
                ";" if depth == 0 => {
                    i += 1;
                    break;
                }
                "{" if depth == 0 => {
                    i = matching_close(tokens, i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    kept
}

/// `i` is at an opening bracket; returns the index after its match.
fn matching_close(tokens: &[Token], i: usize) -> usize {
    let mut depth = 0i32;
    let mut j = i;
    while let Some(t) = tokens.get(j) {
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str, me: &[&str]) -> Vec<String> {
        let me: ModulePath = me.iter().map(|s| s.to_string()).collect();
        references(text, &me)
            .into_iter()
            .map(|r| r.path.join("::"))
            .collect()
    }

    #[test]
    fn comments_literals_and_lifetimes_are_not_paths() {
        let text = r####"
            //! [`crate::doc`]
            let a = "crate::string \" crate::escaped";
            // crate::line_comment
            /* crate::block /* crate::nested */ crate::still_block */
            let b = r#"crate::raw " crate::raw_quote"#;
            let c = b"crate::bytes";
            let d = ['x', '\'', '"', b'"'];
            fn f<'a>(s: &'a str) -> &'a str { crate::real::path(s) }
            pub(crate) fn g() {}
        "####;
        assert_eq!(paths(text, &[]), ["real::path"]);
    }

    #[test]
    fn use_groups_are_expanded() {
        let text = "use crate::{a::{b, c::D}, e as f, self, g::*};";
        assert_eq!(paths(text, &[]), ["a::b", "a::c::D", "e", "", "g"]);
    }

    #[test]
    fn super_and_self_are_relative_to_the_file_module() {
        let text = "use super::z::W; use super::super::q; use super::{m, n}; use super::*; \
                    self::child::f(); $crate::m::X";
        assert_eq!(
            paths(text, &["x", "y"]),
            [
                "x::z::W",
                "q",
                "x::m",
                "x::n",
                "x",
                "x::y::child::f",
                "m::X"
            ]
        );
        // Above the crate root there is nothing to name.
        assert!(paths("use super::super::super::q;", &["x"]).is_empty());
    }

    #[test]
    fn test_items_are_left_out() {
        let text = "
            #[cfg(test)]
            mod tests;
            #[cfg(test)]
            #[allow(dead_code)]
            fn helper() { if true { crate::in_test::f(); } }
            #[cfg(test)]
            const X: [u8; 2] = [crate::in_const::A, 0];
            use crate::kept::K;
            #[cfg(test)]
            mod inline { use crate::in_inline::M; }
            fn after() { crate::after::g(); }
        ";
        assert_eq!(paths(text, &[]), ["kept::K", "after::g"]);
    }

    #[test]
    fn references_carry_their_line() {
        let text = "// one\n/* two\nthree */\nuse crate::a;\nfn f() {\n    crate::b::c();\n}";
        let lines: Vec<usize> = references(text, &[]).iter().map(|r| r.line).collect();
        assert_eq!(lines, [4, 6]);
    }

    #[test]
    fn files_name_their_modules() {
        assert_eq!(module_of(Path::new("lib.rs")), Vec::<String>::new());
        assert_eq!(module_of(Path::new("main.rs")), Vec::<String>::new());
        assert_eq!(module_of(Path::new("cli.rs")), ["cli"]);
        assert_eq!(module_of(Path::new("bgp/mod.rs")), ["bgp"]);
        assert_eq!(module_of(Path::new("bgp/wire/mod.rs")), ["bgp", "wire"]);
        assert_eq!(
            module_of(Path::new("bgp/wire/open.rs")),
            ["bgp", "wire", "open"]
        );
    }

    fn graph_of(edges: &[(&str, &str)]) -> Graph {
        let mut graph = Graph::default();
        for (from, to) in edges {
            graph.edges.entry(from.to_string()).or_default().insert(
                to.to_string(),
                Evidence {
                    file: String::new(),
                    line: 0,
                },
            );
        }
        graph
    }

    #[test]
    fn cycles_are_the_strongly_connected_components() {
        // a → b → c → a is a cycle, d ⇄ e another; c → d and e → f are not on one.
        let graph = graph_of(&[
            ("a", "b"),
            ("b", "c"),
            ("c", "a"),
            ("c", "d"),
            ("d", "e"),
            ("e", "d"),
            ("e", "f"),
        ]);
        assert_eq!(graph.cycles(), [vec!["a", "b", "c"], vec!["d", "e"]]);
        let edges: Vec<(String, String)> = graph.cycle_edges().into_iter().collect();
        let expected: Vec<(String, String)> =
            [("a", "b"), ("b", "c"), ("c", "a"), ("d", "e"), ("e", "d")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(edges, expected);
        assert_eq!(graph.path("b", "a").unwrap(), ["b", "c", "a"]);
        assert_eq!(graph.path("f", "a"), None);
        assert!(graph_of(&[("a", "b"), ("b", "c")]).cycles().is_empty());
    }

    #[test]
    fn the_graph_comes_from_the_file_tree() {
        let src = std::env::temp_dir().join(format!("layering-{}", std::process::id()));
        let _ = fs::remove_dir_all(&src);
        let write = |path: &str, text: &str| {
            let path = src.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("lib.rs", "pub mod a; pub mod b; pub const ROOT: u8 = 1;");
        write("a.rs", "use crate::b::c::thing; use crate::ROOT;");
        write(
            "b/mod.rs",
            "pub mod c; pub mod d; use c::relative_is_no_edge;",
        );
        write("b/c.rs", "use super::d::D; use crate::a::f;");
        write("b/d.rs", "use crate::{a};");
        write("b/tests.rs", "use crate::test_file::Ignored;");
        write("a/x_tests.rs", "use crate::b::Ignored;");

        let top = module_graph(&src, 1);
        let edges = |g: &Graph| -> Vec<String> {
            g.edges
                .iter()
                .flat_map(|(from, to)| to.keys().map(move |to| format!("{from}->{to}")))
                .collect()
        };
        assert_eq!(edges(&top), ["a->b", "b->a"]);
        assert_eq!(top.cycles(), [vec!["a", "b"]]);
        assert_eq!(
            top.evidence("b", "a"),
            Some(&Evidence {
                file: "b/c.rs".into(),
                line: 1
            })
        );

        let two = module_graph(&src, 2);
        assert_eq!(edges(&two), ["a->b::c", "b::c->a", "b::c->b::d", "b::d->a"]);
        assert_eq!(two.cycles(), [vec!["a", "b::c", "b::d"]]);
        fs::remove_dir_all(&src).unwrap();
    }
}
