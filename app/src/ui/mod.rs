//! The browser app.

mod admin;
mod comments;
mod controls;
mod dashboard;
mod device;
mod early;
mod format;
mod history;
mod http;
mod i18n;
mod imports;
mod insecure;
pub mod link;
mod official;
mod outbox;
mod plan_page;
mod plan_view;
mod presence;
mod proposals;
pub mod repo;
mod reports;
mod safety;
mod scroll;
pub mod session;
mod settings;
mod shell;
mod sign_in;
mod sign_out;
mod status;
pub mod store;
mod text_field;
mod typing_pause;
mod update;

pub use plan_view::PlanView;
pub use shell::App;
