//! The probe tasks: started and stopped as [`super::gate::Gate::reconfigure`] decides.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::info;

use super::gate::{ProbeChange, StartReason};
use crate::probe::{self, ProbeReport};

/// The running probe tasks, by the gate's probe id; their reports go to `reports`.
pub(super) struct ProbeTasks {
    tasks: Vec<(usize, JoinHandle<()>)>,
    reports: mpsc::Sender<ProbeReport>,
}

impl ProbeTasks {
    pub(super) fn new(reports: mpsc::Sender<ProbeReport>) -> ProbeTasks {
        ProbeTasks {
            tasks: Vec::new(),
            reports,
        }
    }

    pub(super) fn apply(&mut self, changes: Vec<ProbeChange>) {
        for change in changes {
            match change {
                ProbeChange::Start { id, config, why } => {
                    match why {
                        StartReason::Initial => {}
                        StartReason::Added => info!(probe = config.name, "probe added"),
                        StartReason::Changed => {
                            info!(probe = config.name, "probe changed: starting over");
                        }
                    }
                    let task = probe::spawn(id, *config, self.reports.clone());
                    self.tasks.push((id, task));
                }
                ProbeChange::Stop { id, name, removed } => {
                    if let Some(index) = self.tasks.iter().position(|(task_id, _)| *task_id == id) {
                        self.tasks.swap_remove(index).1.abort();
                    }
                    if removed {
                        info!(probe = name, "probe removed");
                    }
                }
            }
        }
    }

    pub(super) fn stop_all(&mut self) {
        for (_, task) in self.tasks.drain(..) {
            task.abort();
        }
    }
}
