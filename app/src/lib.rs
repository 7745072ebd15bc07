//! The PAPI workspace.
//!
//! Without features this crate is the model shared by the browser app and the
//! sync server: the document schema, document ids and the reporting calendar.
//! It compiles for both targets and pulls in neither UI nor server code. The
//! `ui` feature adds the Leptos app that Trunk builds for the browser.

/// An enum whose values travel and are stored as fixed keys: each variant
/// names its key, and the enum gets `key()`, `parse()`, `ALL` (in the order
/// written) and serde under the same keys.
macro_rules! keyed {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $key:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $key)] $variant,)+
        }

        impl $name {
            pub const ALL: [$name; [$($key),+].len()] = [$($name::$variant),+];

            pub fn key(self) -> &'static str {
                match self {
                    $($name::$variant => $key,)+
                }
            }

            pub fn parse(key: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.key() == key)
            }
        }
    };
}

pub mod access;
pub mod api;
pub mod calendar;
/// Document ids: the sync engine's (`papi_sync::DocId`).
pub mod ids {
    pub use papi_sync::{DocId, IdError};
}
#[cfg(feature = "plan-file")]
pub mod plan_file;
pub mod presence;
pub mod punctuality;
pub mod report;
pub mod route;
pub mod schema;
pub mod text;
// The interface texts; only the browser app shows them.
#[cfg(any(feature = "ui", test))]
pub mod texts;
pub use papi_sync::wire;
pub mod workflow;

#[cfg(test)]
mod fixtures;

#[cfg(feature = "ui")]
pub mod ui;
