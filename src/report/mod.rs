//! Renderers: bytes from the analysed run, one module per output format. They describe data the
//! analysis produced and never compute a diagnosis themselves.

pub mod export;
pub mod json;
pub mod output;
pub mod text;
