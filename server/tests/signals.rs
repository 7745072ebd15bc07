//! The server's stop signals, in a process of their own: a signal is
//! process-wide.

/// A SIGTERM that arrives after start-up, but before anything awaits the
/// shutdown future, stops the server cleanly instead of killing it. Before
/// the handlers were installed eagerly, this test process died of the
/// signal.
#[tokio::test]
async fn a_stop_signal_before_the_first_poll_is_not_lost() {
    let stopped = papi_server::shutdown_signal();
    // SAFETY: raising a signal in our own process; its handler is installed.
    assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
    tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
        .await
        .expect("the signal resolves the shutdown future");
}
