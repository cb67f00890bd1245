//! MCP over stdin/stdout. stdout carries only protocol messages; logs go to stderr.

use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;

use rmcp::ServiceExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

use crate::server::MakeServer;

/// Serves until the client closes stdin.
pub async fn serve(server: MakeServer) -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() {
        // A person ran it by hand: say what it is waiting for (on stderr; stdout is protocol).
        eprintln!(
            "make-credentials-mcp is serving MCP on stdin/stdout and waits for an MCP client.\n\
             Register this command in a client (see README), or try it by hand with\n\
             `make-credentials-mcp --sandbox call connections_list`. Ctrl-D or Ctrl-C quits."
        );
    }
    let running = server.serve((reader(), writer())).await?;
    running.waiting().await?;
    Ok(())
}

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// stdin as the client spawned us with it. A pipe (most clients) or a socket (Node's
/// `child_process`) is read on the runtime's own event loop; tokio's `stdin()` would hand
/// every read to a blocking thread, two context switches per message, which measured as
/// most of a tool call's CPU. A terminal or a file falls back to `stdin()`.
fn reader() -> Reader {
    match evented(std::io::stdin().as_fd()) {
        Some(Evented::Pipe(fd)) => match pipe::Receiver::from_owned_fd(fd) {
            Ok(pipe) => Box::new(pipe),
            Err(_) => Box::new(tokio::io::stdin()),
        },
        Some(Evented::Socket(socket)) => Box::new(socket),
        None => Box::new(tokio::io::stdin()),
    }
}

/// stdout, the same way as [`reader`].
fn writer() -> Writer {
    match evented(std::io::stdout().as_fd()) {
        Some(Evented::Pipe(fd)) => match pipe::Sender::from_owned_fd(fd) {
            Ok(pipe) => Box::new(pipe),
            Err(_) => Box::new(tokio::io::stdout()),
        },
        Some(Evented::Socket(socket)) => Box::new(socket),
        None => Box::new(tokio::io::stdout()),
    }
}

/// A standard stream the event loop can wait on. Its open file description is set
/// non-blocking; an MCP client gives the server pipes of its own, shared with no one else.
enum Evented {
    Pipe(OwnedFd),
    Socket(UnixStream),
}

/// A duplicate of `fd` when it is a pipe or a Unix socket; `None` for anything else.
fn evented(fd: BorrowedFd<'_>) -> Option<Evented> {
    let owned = fd.try_clone_to_owned().ok()?;
    let kind = File::from(owned.try_clone().ok()?)
        .metadata()
        .ok()?
        .file_type();
    if kind.is_fifo() {
        return Some(Evented::Pipe(owned));
    }
    if !kind.is_socket() {
        return None;
    }
    let socket = std::os::unix::net::UnixStream::from(owned);
    socket.set_nonblocking(true).ok()?;
    UnixStream::from_std(socket).ok().map(Evented::Socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pipes_and_sockets_go_on_the_event_loop_anything_else_does_not() {
        let (read_end, _write_end) = std::io::pipe().unwrap();
        assert!(matches!(evented(read_end.as_fd()), Some(Evented::Pipe(_))));
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(matches!(evented(ours.as_fd()), Some(Evented::Socket(_))));
        let file = File::open(env!("CARGO_MANIFEST_PATH")).unwrap();
        assert!(evented(file.as_fd()).is_none());
    }
}
