//! Black-box tests of the HTTP API through a real socket: `spawn_app` starts the whole server
//! (port 0, a fresh database, local storage, the fake model server, an in-process campaign
//! worker) and the tests speak HTTP to it, as a client would.

mod auth;
mod cognito;
mod flow;
mod gateway;
mod helpers;
mod isolation;
mod limits;
mod schema;
