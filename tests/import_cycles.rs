//! No import cycles between source files (issue 19; docs/ARCHITECTURE.md).
//!
//! Stages import downward only (cli → config → ingest → clean → diagnose → report). This test
//! reads every file under `src/`, collects the paths it names (`use crate::…`, `use super::…`,
//! `use self::…`, and inline `crate::a::b::f(…)` paths, with `{…}` groups expanded), resolves each
//! to the file of the longest module prefix that exists, and reports the strongly connected
//! components (Tarjan 1972) of that file graph with more than one file.
//!
//! What is not an edge:
//! - a file naming its own items (`self::`, or `super::` from an inline `mod tests`);
//! - an ancestor naming its descendants (`diagnose/mod.rs` calling `rebound::detect`): a module
//!   owns its submodules, so that direction is composition, not an upward import. The other
//!   direction (a submodule using its parent's types through `super::`) is an ordinary edge, so
//!   two siblings that need each other through the parent still form a cycle;
//! - code under `#[cfg(test)]` (unit tests may reach across stages to build fixtures).
//!
//! A path through a re-export (`pub use child::Item` in a parent) is followed to the file that
//! defines the item, so routing an import through a parent does not hide a cycle.
//!
//! Run with `--nocapture` to print the graph's size and every cycle found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["diagnose", "rebound"]`) for each file under `src/` (the library root `lib.rs`
/// is `[]`; `main.rs` is left out: it is the binary, not part of the library's graph).
fn module_files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src/");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let file = parts.pop().expect("a file name");
            let stem = file.trim_end_matches(".rs").to_string();
            match (parts.is_empty(), stem.as_str()) {
                (true, "main") => continue,
                (true, "lib") | (_, "mod") => {}
                _ => parts.push(stem),
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The source with comments, string and char literals blanked (same length), so that paths in
/// docs or messages are not read as imports.
fn strip_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r'
            && (next == Some(b'"') || next == Some(b'#'))
            && !ident_byte_before(b, i)
        {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let mut k = j + 1;
            loop {
                if k >= b.len() {
                    break;
                }
                if b[k] == b'"'
                    && b[k + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == b'#')
                        .count()
                        == hashes
                {
                    k += 1 + hashes;
                    break;
                }
                k += 1;
            }
            for &x in &b[i..k.min(b.len())] {
                blank(&mut out, x);
            }
            i = k;
        } else if c == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            out.push(b' ');
            i += 1;
        } else if c == b'\'' {
            // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): blank only literals.
            let end = if next == Some(b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|p| i + 2 + p)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 2)
            } else {
                // Multi-byte UTF-8 char literal.
                b[i + 1..]
                    .iter()
                    .take(5)
                    .position(|&x| x == b'\'')
                    .filter(|&p| p > 1 && b[i + 1] >= 0x80)
                    .map(|p| i + 1 + p)
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(b' ', e + 1 - i));
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ident_byte_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Blanks every `#[cfg(test)]` item (the attribute and the following `mod …{…}` or item up to
/// its closing brace or semicolon).
fn drop_cfg_test(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(pos) = out[from..].find("#[cfg(test)]").map(|p| p + from) {
        let bytes = out.as_bytes();
        let mut i = pos;
        let mut depth = 0;
        let mut end = bytes.len();
        while i < bytes.len() {
            match bytes[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let blanked: String = out[pos..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(pos..end, &blanked);
        from = end;
    }
    out
}

/// Every path the code names starting at `crate::`, `super::` or `self::`, as a module path
/// relative to the crate root (group braces expanded). Inline `mod name {` blocks are tracked,
/// so `super::` inside one resolves to the enclosing file.
fn named_paths(code: &str, file_module: &[String]) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    // Inline module nesting: (name, brace depth at which it closes).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            i += 1;
            continue;
        }
        if is_ident(c) && (i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':') {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "mod" {
                // `mod name {` opens an inline module; `mod name;` declares a file module.
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                let name: String = chars[s..j].iter().collect();
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars.get(j) == Some(&'{') {
                    inline.push((name, depth));
                }
                continue;
            }
            if matches!(word.as_str(), "crate" | "super" | "self")
                && chars.get(i) == Some(&':')
                && chars.get(i + 1) == Some(&':')
            {
                let mut here: Vec<String> = file_module.to_vec();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut base = match word.as_str() {
                    "crate" => Vec::new(),
                    "self" => here.clone(),
                    _ => {
                        let mut b = here.clone();
                        b.pop();
                        b
                    }
                };
                i += 2;
                // Further `super::` segments.
                while chars[i..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                    base.pop();
                    i += 7;
                }
                i = read_tree(&chars, i, base, &mut out);
                continue;
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Reads `a::b::{c, d::e}` from `i`, pushing each full path (prefixed by `prefix`) to `out`;
/// returns the index after it.
fn read_tree(
    chars: &[char],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if chars.get(i) == Some(&'{') {
            i += 1;
            loop {
                while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                    i += 1;
                }
                if i >= chars.len() || chars[i] == '}' {
                    return i + 1;
                }
                let before = i;
                i = read_tree(chars, i, prefix.clone(), out);
                // Skip `as name` and anything else up to the next `,` or `}`.
                while i < chars.len() && chars[i] != ',' && chars[i] != '}' {
                    i += 1;
                }
                if i == before {
                    i += 1;
                }
            }
        }
        let s = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        if s == i {
            // `*` or nothing: the prefix itself is named.
            out.push(prefix);
            return i;
        }
        prefix.push(chars[s..i].iter().collect());
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            continue;
        }
        out.push(prefix);
        return i;
    }
}

/// What each file re-exports (`pub use a::B;`, `pub(crate) use …`): file → name → full path.
type Reexports = BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>;

/// Reads the `pub use` statements of `code` (a file at `module`): a path starting with `crate`,
/// `self` or `super` as [`named_paths`] reads it, any other relative to the file (a child module;
/// an external crate's path resolves to no file and is dropped later).
fn reexports(code: &str, module: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut rest = code;
    while let Some(at) = rest.find("pub") {
        let after = &rest[at + 3..];
        let before_ok = at == 0 || !rest[..at].ends_with(|c: char| is_ident(c));
        let vis_end = if after.starts_with('(') {
            after.find(')').map_or(0, |p| p + 1)
        } else {
            0
        };
        let stmt = after[vis_end..].trim_start();
        rest = after;
        if !before_ok || !stmt.starts_with("use ") {
            continue;
        }
        let body = &stmt[4..stmt.find(';').unwrap_or(stmt.len())];
        let chars: Vec<char> = body.trim().chars().collect();
        let mut paths = Vec::new();
        if ["crate::", "self::", "super::"]
            .iter()
            .any(|p| body.trim().starts_with(p))
        {
            paths = named_paths(body, module);
        } else {
            read_tree(&chars, 0, module.to_vec(), &mut paths);
        }
        // `Item as Alias` is exported as `Alias`.
        let words: Vec<&str> = body
            .split(|c: char| !is_ident(c))
            .filter(|w| !w.is_empty())
            .collect();
        let aliases: Vec<(&str, &str)> = words
            .windows(3)
            .filter(|w| w[1] == "as")
            .map(|w| (w[0], w[2]))
            .collect();
        for path in paths {
            if let Some(name) = path.last() {
                for (item, alias) in &aliases {
                    if item == name {
                        out.insert((*alias).to_string(), path.clone());
                    }
                }
                out.insert(name.clone(), path);
            }
        }
    }
    out
}

/// The file a module path falls in: the longest prefix that is a file module, following that
/// file's re-exports when the next segment is one.
fn resolve<'a>(
    path: &[String],
    files: &'a BTreeMap<Vec<String>, PathBuf>,
    reexported: &Reexports,
) -> Option<&'a Vec<String>> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let file = (0..=path.len())
            .rev()
            .find_map(|n| files.get_key_value(&path[..n]).map(|(k, _)| k))?;
        let next = path.get(file.len());
        match next.and_then(|name| reexported.get(file)?.get(name)) {
            Some(target) if target.as_slice() != &path[..=file.len()] => {
                let mut longer = target.clone();
                longer.extend_from_slice(&path[file.len() + 1..]);
                path = longer;
            }
            _ => return Some(file),
        }
    }
    None
}

fn is_ancestor(a: &[String], b: &[String]) -> bool {
    a.len() < b.len() && b.starts_with(a)
}

/// Tarjan's strongly connected components, each sorted, in a stable order.
fn strongly_connected(
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Vec<Vec<Vec<String>>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on_stack: BTreeSet<&'g Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.graph[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

fn module_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = module_files(src);
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> =
        files.keys().map(|k| (k.clone(), BTreeSet::new())).collect();
    let code: BTreeMap<&Vec<String>, String> = files
        .iter()
        .map(|(module, path)| {
            let text = std::fs::read_to_string(path).expect("source is UTF-8");
            (module, drop_cfg_test(&strip_comments_and_strings(&text)))
        })
        .collect();
    let reexported: Reexports = code
        .iter()
        .map(|(module, code)| ((*module).clone(), reexports(code, module)))
        .collect();
    for (module, code) in &code {
        let module: &Vec<String> = module;
        for named in named_paths(code, module) {
            let Some(target) = resolve(&named, &files, &reexported) else {
                continue;
            };
            if target == module || is_ancestor(module, target) {
                continue;
            }
            graph
                .get_mut(module)
                .expect("every file is a node")
                .insert(target.clone());
        }
    }
    graph
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

/// The cycle's edges, for the message: `a → b` for each edge inside the component.
fn describe(
    component: &[Vec<String>],
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> String {
    let members: BTreeSet<&Vec<String>> = component.iter().collect();
    let mut lines = Vec::new();
    for a in component {
        for b in &graph[a] {
            if members.contains(b) {
                lines.push(format!("    {} → {}", show(a), show(b)));
            }
        }
    }
    lines.join("\n")
}

#[test]
fn source_files_import_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    println!(
        "import graph: {} files, {} edges between files",
        graph.len(),
        edges
    );
    let cycles: Vec<_> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    let mut report = String::new();
    for c in &cycles {
        let names: Vec<String> = c.iter().map(|m| show(m)).collect();
        report.push_str(&format!(
            "cycle: {}\n{}\n",
            names.join(" ↔ "),
            describe(c, &graph)
        ));
    }
    println!("{} cycle(s)\n{report}", cycles.len());
    assert!(cycles.is_empty(), "import cycles between files:\n{report}");
}

/// The checker itself finds what it should: a two-file cycle through `crate::`, a sibling cycle
/// through `super::`, and one hidden behind a parent's re-export; and no cycle for a parent calling its child which uses the parent's
/// types, nor for paths inside strings, comments or test modules.
#[test]
fn the_checker_finds_cycles_and_only_cycles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "lib.rs",
        "pub mod a; pub mod b; pub mod p; pub mod q; pub mod r; pub mod t;",
    );
    write(
        "r/mod.rs",
        "mod s;\npub use s::Item;\npub(crate) use self::s::{Other as O};\n",
    );
    write(
        "r/s.rs",
        "pub struct Item; pub struct Other; fn f() { crate::t::g(); }\n",
    );
    write("t.rs", "use crate::r::O;\npub fn g() {}\n");
    write("a.rs", "use crate::b::{Thing, other::{X as Y}};\n");
    write(
        "b.rs",
        "pub fn f() { let s = \"crate::q::Z\"; crate::a::g(); }\n",
    );
    write(
        "p/mod.rs",
        "mod x; mod y;\npub struct Shared;\npub fn run() { x::go(); y::go(); }\n",
    );
    write("p/x.rs", "use super::Shared;\nuse super::y::helper;\n");
    write(
        "p/y.rs",
        "use super::x::Other; // crate::q::Z\n#[cfg(test)]\nmod tests { use crate::q::Z; use super::*; }\n",
    );
    write(
        "q.rs",
        "/* crate::a::Nothing */ pub fn q() { let c = '\"'; crate::p::run(); }\n",
    );
    let graph = module_graph(src);
    let cycles: Vec<Vec<String>> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.iter().map(|m| show(m)).collect())
        .collect();
    assert_eq!(
        cycles,
        vec![
            vec!["a".to_string(), "b".into()],
            vec!["p::x".into(), "p::y".into()],
            vec!["r::s".into(), "t".into()],
        ],
        "graph: {graph:?}"
    );
    assert!(graph[&vec!["q".to_string()]].contains(&vec!["p".to_string()]));
    assert!(!graph[&vec!["b".to_string()]].contains(&vec!["q".to_string()]));
    assert!(
        graph[&vec!["p".to_string()]].is_empty(),
        "a parent's calls into its children are not edges"
    );
}
