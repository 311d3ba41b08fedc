//! The API, metrics and control-socket listeners, the same in BGP and VRRP mode: bound first, so
//! a taken port fails start-up before anything is bound or announced, and served once the status
//! channels they read exist.

use std::path::PathBuf;

use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::info;

use super::DaemonError;
use crate::api::{self, elastic::ControlRequest};
use crate::control;
use crate::metrics;
use crate::settings::Settings;
use crate::status::StatusSource;

/// Bound, not yet serving. Dropping it (a start-up that fails later) removes the socket file.
pub(super) struct Listeners {
    api: Option<api::Bound>,
    metrics: Option<metrics::Bound>,
    control: Option<(UnixListener, SocketFile)>,
}

/// Serving until the daemon ends; holds the socket file so it is removed however that happens.
pub(super) struct Serving {
    _api: Option<JoinHandle<()>>,
    _metrics: Option<JoinHandle<()>>,
    _control: Option<(JoinHandle<()>, SocketFile)>,
}

impl Listeners {
    pub(super) fn bind<M>(settings: &Settings<M>) -> Result<Listeners, DaemonError> {
        let api = settings.api.map(api::bind).transpose()?;
        let metrics = settings.metrics.map(metrics::bind).transpose()?;
        let control = match &settings.control_socket {
            Some(path) => Some((
                control::bind(path, settings.control_socket_group.as_deref())?,
                SocketFile(path.clone()),
            )),
            None => None,
        };
        Ok(Listeners {
            api,
            metrics,
            control,
        })
    }

    /// Serves the API and the metrics from `source`, and the control socket, whose requests
    /// come out of the returned receiver (it stays empty without a control socket).
    pub(super) fn serve(self, source: StatusSource) -> (Serving, mpsc::Receiver<ControlRequest>) {
        let (control_tx, control_rx) = api::elastic::channel();
        let serving = Serving {
            _api: self.api.map(|bound| api::serve(bound, source.clone())),
            _metrics: self
                .metrics
                .map(|bound| metrics::serve(bound, source.clone())),
            _control: self.control.map(|(listener, file)| {
                info!(socket = ?file.0, "control socket listening (SetMaintenance, Drain)");
                (api::serve_control(listener, source, control_tx), file)
            }),
        };
        (serving, control_rx)
    }
}

/// Removes the control socket's file when the daemon ends, however it ends.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        control::remove(&self.0);
    }
}
