//! A blocking HTTP/1.1 server that answers `per_connection` requests on each connection and says
//! `Connection: close` on the last, as nginx does at its keepalive_requests limit.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use super::Counter;

pub(super) struct CloseServer {
    pub addr: SocketAddr,
    served: Arc<Counter>,
}

impl CloseServer {
    /// Runs until the test process ends (its threads block in accept).
    pub fn start(per_connection: usize) -> CloseServer {
        CloseServer::start_with(per_connection, true)
    }

    /// Closes after `per_connection` responses without saying so, as a server whose idle
    /// timeout fires does: the client finds out when it sends the next request.
    pub fn start_silent(per_connection: usize) -> CloseServer {
        CloseServer::start_with(per_connection, false)
    }

    fn start_with(per_connection: usize, announce: bool) -> CloseServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(Counter::default());
        let counter = served.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                thread::spawn(move || serve(stream, per_connection, announce, &counter));
            }
        });
        CloseServer { addr, served }
    }

    pub fn count(&self) -> u64 {
        self.served.get()
    }
}

fn serve(stream: TcpStream, per_connection: usize, announce: bool, counter: &Counter) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    for i in 1..=per_connection {
        // Request line and headers up to the empty line; GETs have no body.
        let mut line = String::new();
        let mut got_any = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => got_any = true,
            }
        }
        if !got_any {
            return;
        }
        counter.hit();
        let connection = if announce && i == per_connection {
            "close"
        } else {
            "keep-alive"
        };
        let response =
            format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: {connection}\r\n\r\nok");
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
