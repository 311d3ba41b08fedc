//! The layering of `src/`, checked on every `cargo test`: no import cycle between modules at the
//! top level (`bgp`, `config`, …) nor one level down (`bgp::wire`, `bgp::session`, …), and `bgp`
//! imports nothing above it. Modules are discovered from the file tree (see `graph.rs`).
//!
//! The graph is not clean yet. The lists below name every edge that breaks a rule today; they
//! must shrink to empty, one edge at a time, and then go away. A test fails when an edge breaks a
//! rule and is not listed (a new cycle), and when a listed edge no longer breaks it (delete it
//! from the list), so the lists cannot go stale. `cargo test --test layering -- --nocapture`
//! prints every cycle with the file and line of each edge.

mod graph;

use std::collections::BTreeSet;
use std::path::PathBuf;

use graph::{Graph, module_graph};

/// Edges `from → to` between top-level modules that lie on an import cycle today.
/// This list must shrink to empty.
const KNOWN_CYCLE_EDGES: &[(&str, &str)] = &[
    ("announce", "config"),
    ("announce", "status"),
    ("bgp", "announce"),
    ("config", "bgp"),
    ("status", "announce"),
    ("status", "bgp"),
    ("status", "config"),
];

/// Edges between modules at depth 2 (`bgp::session`, `api`, …) that lie on an import cycle today.
/// This list must shrink to empty.
const KNOWN_CYCLE_EDGES_DEPTH_2: &[(&str, &str)] = &[
    ("announce", "status"),
    ("bgp::session", "announce"),
    ("bgp::session", "bgp::wire"),
    ("bgp::wire", "announce"),
    ("status", "announce"),
    ("status", "bgp::session"),
];

/// Modules outside `bgp` that `bgp` imports today although they import other modules themselves.
/// This list must shrink to empty.
const KNOWN_BGP_UPWARD_IMPORTS: &[&str] = &["announce"];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_new_import_cycle_between_top_level_modules() {
    check_cycles(&module_graph(&src(), 1), 1, KNOWN_CYCLE_EDGES);
}

#[test]
fn no_new_import_cycle_one_level_down() {
    check_cycles(&module_graph(&src(), 2), 2, KNOWN_CYCLE_EDGES_DEPTH_2);
}

/// `bgp` (the codec, the session state machine and its driver) sits at the bottom: beside itself
/// it may import only modules that import no other module of the crate (the shared vocabulary,
/// the clock), never the policy, the settings or the API above it.
#[test]
fn bgp_imports_nothing_above_it() {
    let graph = module_graph(&src(), 1);
    let upward: BTreeSet<String> = graph
        .targets("bgp")
        .filter(|to| graph.targets(to).next().is_some())
        .map(str::to_string)
        .collect();
    for to in &upward {
        println!("bgp -> {to} ({})", where_seen(&graph, "bgp", to));
    }
    let known: BTreeSet<String> = KNOWN_BGP_UPWARD_IMPORTS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let new: Vec<String> = upward
        .difference(&known)
        .map(|to| format!("bgp -> {to} ({})", where_seen(&graph, "bgp", to)))
        .collect();
    let gone: Vec<&String> = known.difference(&upward).collect();
    assert!(
        new.is_empty(),
        "bgp imports modules above it that are not in KNOWN_BGP_UPWARD_IMPORTS: {new:?}"
    );
    assert!(
        gone.is_empty(),
        "listed in KNOWN_BGP_UPWARD_IMPORTS but no longer imported by bgp (delete them): {gone:?}"
    );
}

/// Prints every cycle; fails on a cycle edge not in `known`, and on a listed edge that is no
/// longer on a cycle.
fn check_cycles(graph: &Graph, depth: usize, known: &[(&str, &str)]) {
    let cycles = graph.cycles();
    if cycles.is_empty() {
        println!(
            "depth {depth}: no cycle among {} modules",
            graph.nodes().len()
        );
    }
    for component in &cycles {
        println!(
            "depth {depth}: cycle of {}: {}",
            component.len(),
            component.join(" ")
        );
    }
    let found = graph.cycle_edges();
    for (from, to) in &found {
        println!("  {from} -> {to} ({})", where_seen(graph, from, to));
    }
    let known: BTreeSet<(String, String)> = known
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<String> = found
        .difference(&known)
        .map(|(from, to)| {
            let back = graph.path(to, from).unwrap_or_default();
            format!(
                "  {from} -> {to} ({}), closing {from} -> {}",
                where_seen(graph, from, to),
                back.join(" -> ")
            )
        })
        .collect();
    let gone: Vec<String> = known
        .difference(&found)
        .map(|(from, to)| format!("  (\"{from}\", \"{to}\"),"))
        .collect();
    let mut problems = String::new();
    if !new.is_empty() {
        problems += &format!(
            "depth {depth}: import cycle edges that are not in the known list (a new cycle: \
             break it):\n{}\n",
            new.join("\n")
        );
    }
    if !gone.is_empty() {
        problems += &format!(
            "depth {depth}: listed edges no longer on a cycle (delete them from the list):\n{}\n",
            gone.join("\n")
        );
    }
    assert!(problems.is_empty(), "{problems}");
}

fn where_seen(graph: &Graph, from: &str, to: &str) -> String {
    graph
        .evidence(from, to)
        .map(|e| format!("src/{}:{}", e.file, e.line))
        .unwrap_or_default()
}
