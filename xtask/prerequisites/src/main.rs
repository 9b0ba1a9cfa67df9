//! `cargo build-deps`: installs what building the server needs beside Rust (nasm and the
//! autotools, for ISA-L) as root with apt-get, or says in one line what to run. It is a crate of
//! its own, on the standard library alone, so that the README's run command compiles nothing
//! but this and the server.

fn main() {
    prerequisites::for_build();
}
