fn main() {
    // Wired up in daemon.rs once the modules land.
}
