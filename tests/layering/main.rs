//! The layering of `src/`, checked on every `cargo test`: no import cycle between modules at the
//! top level (`bgp`, `config`, …) nor one level down (`bgp::wire`, `bgp::session`, …), and `bgp`
//! imports nothing above it. Modules are discovered from the file tree (see `graph.rs`).
//!
//! A failure names each offending edge with the file and line that makes it, and for a cycle the
//! way back that closes it. `cargo test --test layering -- --nocapture` prints the graph's state.

mod graph;

use std::collections::BTreeSet;
use std::path::PathBuf;

use graph::{Graph, module_graph};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    check_cycles(&module_graph(&src(), 1), 1);
}

#[test]
fn no_import_cycle_one_level_down() {
    check_cycles(&module_graph(&src(), 2), 2);
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
    let found: Vec<String> = upward
        .iter()
        .map(|to| format!("bgp -> {to} ({})", where_seen(&graph, "bgp", to)))
        .collect();
    assert!(
        found.is_empty(),
        "bgp imports modules above it (move what it needs down, into model): {found:?}"
    );
}

/// Prints every cycle and fails on any, naming each edge on one and the way back that closes it.
fn check_cycles(graph: &Graph, depth: usize) {
    let found = graph.cycle_edges();
    if found.is_empty() {
        println!(
            "depth {depth}: no cycle among {} modules",
            graph.nodes().len()
        );
        return;
    }
    let edges: Vec<String> = found
        .iter()
        .map(|(from, to)| {
            let back = graph.path(to, from).unwrap_or_default();
            format!(
                "  {from} -> {to} ({}), closing {from} -> {}",
                where_seen(graph, from, to),
                back.join(" -> ")
            )
        })
        .collect();
    panic!(
        "depth {depth}: import cycles (move the shared words down, or invert the edge):\n{}",
        edges.join("\n")
    );
}

fn where_seen(graph: &Graph, from: &str, to: &str) -> String {
    graph
        .evidence(from, to)
        .map(|e| format!("src/{}:{}", e.file, e.line))
        .unwrap_or_default()
}
