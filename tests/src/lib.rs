//! Helpers for the end-to-end tests: start the real `edge-daemon` binary on a temporary data
//! directory, talk to it over HTTP, and kill it.
