//! details: `GET /details/{id}` answers the book's publication details, from a fixed book (v1)
//! or the Google Books API (v2). See docs/behaviour.md#details.

mod book;
mod book_service;
mod config;
mod routes;

pub use book::{Book, ProductId};
pub use config::{BookSource, Config, DetailsArgs};
pub use routes::app;
