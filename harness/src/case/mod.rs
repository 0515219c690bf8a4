//! Case files: model, loader, expressions, grids.
//!
//! Data flows one way: text -> `yaml` (a located YAML tree, the raw layer) -> grid expansion
//! and preludes ([`load`]) -> `validate` -> the [`model`] the runner consumes.
//! The language is documented in `cases/README.md`.

pub mod diag;
pub mod expr;
mod grid;
pub mod lang;
pub mod load;
pub mod model;
pub mod needs;
pub mod requirements;
pub mod schema;
mod validate;
mod yaml;

pub use diag::Diagnostic;
pub use load::{load_paths, load_str};
pub use model::*;
pub use schema::json_schema;
pub use validate::is_requirement_id;
