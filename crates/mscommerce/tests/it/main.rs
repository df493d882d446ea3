//! Integration tests: the real server on a free port with SQLite in a temp folder, driven through
//! real HTTP and the real `mscommerce` binary. One test binary, as builds are slow on two cores.

mod admin;
mod audit;
mod bad_input;
mod catalog;
mod cli;
mod durability;
mod external;
mod isolation;
mod migrate;
mod nodes;
mod purchases;
mod roles;
mod seed;
mod signin;
mod support;
mod tenant_default;
