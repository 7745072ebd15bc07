//! The PAPI workspace.
//!
//! Without features this crate is the model shared by the browser app and the
//! sync server: the document schema, document ids and the reporting calendar.
//! It compiles for both targets and pulls in neither UI nor server code. The
//! `ui` feature adds the Leptos app that Trunk builds for the browser.

pub mod access;
pub mod api;
pub mod calendar;
pub mod ids;
pub mod punctuality;
pub mod report;
pub mod schema;
pub mod text;
pub mod wire;
pub mod workflow;

#[cfg(feature = "ui")]
pub mod ui;

// Interface texts, in `app/locales/app.yml`: Vietnamese first, English beside.
#[cfg(feature = "ui")]
rust_i18n::i18n!("locales", fallback = "vi");
