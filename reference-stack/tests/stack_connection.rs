//! Two `Stack`s wired back to back in memory on a virtual clock: handshake, transfer, close,
//! accept backlog, abort, many connections at once.

use reference_stack::stack::{Event, SocketHandle, Stack, StackError};
use reference_stack::tcb::{ConnError, ConnEvent};
use reference_stack::{Config, Duration, FastOpen, Instant, Rule, State};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

const SERVER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// Client and server stacks, a virtual clock, and a wire between them.
struct Net {
    client: Stack,
    server: Stack,
    now: Instant,
    packets: u64,
    /// Every rule the server's segments went through, in order.
    server_rules: Vec<Rule>,
}

impl Net {
    fn new(client: Config, server: Config) -> Net {
        Net {
            client: Stack::new(client),
            server: Stack::new(server),
            now: Instant::ZERO,
            packets: 0,
            server_rules: Vec::new(),
        }
    }

    /// Deliver everything both sides have to send; true if anything moved.
    fn exchange(&mut self) -> bool {
        let mut moved = false;
        while let Some(p) = self.client.poll_transmit(self.now) {
            let h = self
                .server
                .handle_packet(self.now, &p)
                .expect("client sends valid packets");
            self.server_rules.extend(h.rules);
            moved = true;
            self.packets += 1;
        }
        while let Some(p) = self.server.poll_transmit(self.now) {
            self.client
                .handle_packet(self.now, &p)
                .expect("server sends valid packets");
            moved = true;
            self.packets += 1;
        }
        moved
    }

    /// Run until `done` holds, moving packets and, when the wire is quiet, the clock to the
    /// next timer. Panics after `limit` of virtual time.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Net) -> bool) {
        let deadline = self.now + limit;
        loop {
            if done(self) {
                return;
            }
            if self.exchange() {
                continue;
            }
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("nothing to do and no timer: stuck");
            assert!(next <= deadline, "not done by {deadline}");
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
    }
}

fn config() -> Config {
    Config {
        isn_secret: Some([9; 16]),
        ..Config::default()
    }
}

fn events(stack: &mut Stack) -> Vec<(SocketHandle, Event)> {
    std::iter::from_fn(|| stack.poll_event()).collect()
}

/// A byte pattern that makes misordered or lost data visible.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// Queue `data[*sent..]` on `h` as far as the send buffer takes it.
fn pump(stack: &mut Stack, now: Instant, h: SocketHandle, data: &[u8], sent: &mut usize) {
    while *sent < data.len() {
        match stack.send(now, h, &data[*sent..]) {
            Ok(0) | Err(StackError::Conn(ConnError::WouldBlock)) => break,
            Ok(n) => *sent += n,
            Err(e) => panic!("send: {e}"),
        }
    }
}

/// Read what `h` has into `got`; true at end of stream.
fn drain(stack: &mut Stack, h: SocketHandle, got: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stack.recv(h, &mut buf) {
            Ok(0) => return true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(StackError::Conn(ConnError::WouldBlock)) => return false,
            Err(e) => panic!("recv: {e}"),
        }
    }
}

fn connect_and_accept(
    net: &mut Net,
    server: SocketAddr,
    client: SocketAddr,
) -> (SocketHandle, SocketHandle, SocketHandle) {
    let listener = net.server.listen(server).expect("listen");
    let c = net
        .client
        .connect(net.now, client, server)
        .expect("connect");
    assert_eq!(net.client.state(c), State::SynSent);
    let mut accepted = None;
    net.run_until(Duration::from_secs(5), |n| {
        accepted = accepted.or(n.server.accept(listener).expect("accept"));
        accepted.is_some() && n.client.state(c) == State::Established
    });
    let s = accepted.expect("accepted");
    assert_eq!(net.server.state(s), State::Established);
    let ev = events(&mut net.server);
    assert!(ev.contains(&(s, Event::Incoming { listener })), "{ev:?}");
    assert!(events(&mut net.client).contains(&(c, Event::Conn(ConnEvent::Connected))));
    (listener, c, s)
}

fn transfer_and_close(server: SocketAddr, client: SocketAddr) {
    let mut net = Net::new(config(), config());
    let (_, c, s) = connect_and_accept(&mut net, server, client);
    let tuple = net.client.tuple(c).expect("tuple");
    assert_eq!(
        net.server.tuple(s).map(|t| (t.remote, t.local)),
        Some((tuple.local, tuple.remote))
    );

    let up = pattern(1, 1 << 20);
    let down = pattern(2, 700_001);
    let (mut up_sent, mut down_sent) = (0, 0);
    let (mut up_got, mut down_got) = (Vec::new(), Vec::new());
    let (mut c_shut, mut s_shut) = (false, false);
    let (mut c_eof, mut s_eof) = (false, false);
    net.run_until(Duration::from_secs(60), |n| {
        pump(&mut n.client, n.now, c, &up, &mut up_sent);
        pump(&mut n.server, n.now, s, &down, &mut down_sent);
        if up_sent == up.len() && !c_shut {
            n.client.shutdown_write(n.now, c).expect("shutdown");
            c_shut = true;
        }
        if down_sent == down.len() && !s_shut {
            n.server.shutdown_write(n.now, s).expect("shutdown");
            s_shut = true;
        }
        c_eof = c_eof || drain(&mut n.client, c, &mut down_got);
        s_eof = s_eof || drain(&mut n.server, s, &mut up_got);
        c_eof && s_eof
    });
    assert!(
        up_got == up,
        "upload corrupted ({} of {} octets)",
        up_got.len(),
        up.len()
    );
    assert!(
        down_got == down,
        "download corrupted ({} of {} octets)",
        down_got.len(),
        down.len()
    );

    // Both sent FIN and both got one: whoever sent its FIN first waits in TIME-WAIT (both, if
    // the FINs crossed), the other is CLOSED once its FIN is acknowledged.
    net.client.close(net.now, c).expect("close");
    net.server.close(net.now, s).expect("close");
    let server_tuple = net.server.tuple(s).expect("tuple");
    let done = |st: State| matches!(st, State::TimeWait | State::Closed);
    net.run_until(Duration::from_secs(5), |n| {
        done(n.client.state_of(tuple)) && done(n.server.state_of(server_tuple))
    });
    assert!(
        net.client.state_of(tuple) == State::TimeWait
            || net.server.state_of(server_tuple) == State::TimeWait
    );
    // 2 MSL later everything is forgotten.
    net.run_until(Duration::from_secs(300), |n| {
        n.client.info_of(tuple).is_none() && n.server.info_of(server_tuple).is_none()
    });
    assert_eq!(net.client.poll_timeout(), None);
    assert_eq!(net.server.poll_timeout(), None);
    assert_eq!(
        net.client.recv(c, &mut [0; 1]),
        Err(StackError::NoSuchSocket)
    );
    assert_eq!(net.server.info(s), None);
    assert!(events(&mut net.server).contains(&(s, Event::Conn(ConnEvent::PeerClosed))));
}

#[test]
fn transfer_and_close_v4() {
    transfer_and_close(
        SocketAddr::new(SERVER4.into(), 80),
        SocketAddr::new(CLIENT4.into(), 0),
    );
}

#[test]
fn transfer_and_close_v6_wildcard_listener() {
    let mut net = Net::new(config(), config());
    let any = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 443);
    let listener = net.server.listen(any).expect("listen");
    let c = net
        .client
        .connect(
            net.now,
            SocketAddr::new(CLIENT6.into(), 5555),
            SocketAddr::new(SERVER6.into(), 443),
        )
        .expect("connect");
    let mut accepted = None;
    net.run_until(Duration::from_secs(5), |n| {
        accepted = accepted.or(n.server.accept(listener).expect("accept"));
        accepted.is_some()
    });
    let s = accepted.expect("accepted");
    let tuple = net.server.tuple(s).expect("tuple");
    assert_eq!(tuple.local, SocketAddr::new(SERVER6.into(), 443));
    assert_eq!(tuple.remote, SocketAddr::new(CLIENT6.into(), 5555));
    net.client.send(net.now, c, b"hello over v6").expect("send");
    let mut got = Vec::new();
    net.run_until(Duration::from_secs(5), |n| {
        drain(&mut n.server, s, &mut got);
        got.len() == 13
    });
    assert_eq!(got, b"hello over v6");
    transfer_and_close(
        SocketAddr::new(SERVER6.into(), 80),
        SocketAddr::new(CLIENT6.into(), 0),
    );
}

#[test]
fn full_accept_queue_drops_syns_until_accept() {
    let mut net = Net::new(
        config(),
        Config {
            accept_backlog: 1,
            ..config()
        },
    );
    let server = SocketAddr::new(SERVER4.into(), 80);
    let listener = net.server.listen(server).expect("listen");
    let local = SocketAddr::new(CLIENT4.into(), 0);
    let c1 = net.client.connect(net.now, local, server).expect("connect");
    net.run_until(Duration::from_secs(2), |n| {
        n.client.state(c1) == State::Established
    });
    // Deliver the client's last ACK of the handshake: c1 is now in the accept queue.
    net.exchange();
    let c2 = net.client.connect(net.now, local, server).expect("connect");
    net.exchange();
    // The queue holds c1: c2's SYN is dropped silently and c2 stays in SYN-SENT.
    assert_eq!(net.server.stats().syn_dropped, 1);
    assert_eq!(net.client.state(c2), State::SynSent);
    let s1 = net
        .server
        .accept(listener)
        .expect("accept")
        .expect("c1 waits");
    assert_eq!(net.server.accept(listener), Ok(None));
    // The client's SYN retransmission (RFC 6298 initial RTO, 1 s) now gets in.
    net.run_until(Duration::from_secs(5), |n| {
        n.client.state(c2) == State::Established
    });
    assert!(net.now >= Instant::from_millis(1000));
    net.exchange();
    let s2 = net
        .server
        .accept(listener)
        .expect("accept")
        .expect("c2 waits");
    assert_ne!(s1, s2);
    assert_eq!(net.server.stats().syn_dropped, 1);
}

#[test]
fn abort_resets_the_peer() {
    let mut net = Net::new(config(), config());
    let (_, c, s) = connect_and_accept(
        &mut net,
        SocketAddr::new(SERVER4.into(), 80),
        SocketAddr::new(CLIENT4.into(), 0),
    );
    net.client.abort(net.now, c).expect("abort");
    assert_eq!(net.client.state(c), State::Closed);
    net.exchange();
    assert_eq!(net.server.state(s), State::Closed);
    assert!(events(&mut net.server).contains(&(s, Event::Conn(ConnEvent::Reset))));
    assert_eq!(
        net.server.recv(s, &mut [0; 8]),
        Err(StackError::Conn(ConnError::Reset))
    );
    // The handle stays until the application lets it go.
    net.server.close(net.now, s).expect("close after reset");
    assert_eq!(
        net.server.recv(s, &mut [0; 8]),
        Err(StackError::NoSuchSocket)
    );
}

/// RFC 9293 3.6.1 SHLD-3 (RFC 2525 2.17): released with data unread, the connection ends with
/// an RST at SND.NXT, not a FIN; the peer learns the data was lost.
#[test]
fn release_with_unread_data_resets_the_peer() {
    let mut net = Net::new(config(), config());
    let (_, c, s) = connect_and_accept(
        &mut net,
        SocketAddr::new(SERVER4.into(), 80),
        SocketAddr::new(CLIENT4.into(), 0),
    );
    assert_eq!(net.client.send(net.now, c, b"never read"), Ok(10));
    net.exchange();
    let snd_nxt = net.server.info(s).expect("server TCB").snd_nxt;
    net.server.release(net.now, s).expect("release");
    assert_eq!(net.server.state(s), State::Closed);
    let rst = net.server.poll_transmit(net.now).expect("an RST");
    let seg = reference_stack::wire::Segment::parse(&rst).expect("parses");
    assert!(
        seg.tcp.flags.rst() && !seg.tcp.flags.fin(),
        "{:?}",
        seg.tcp.flags
    );
    assert_eq!(seg.tcp.seq, snd_nxt);
    assert_eq!(net.server.poll_transmit(net.now), None);
    net.client
        .handle_packet(net.now, &rst)
        .expect("client takes it");
    assert_eq!(net.client.state(c), State::Closed);
    assert!(events(&mut net.client).contains(&(c, Event::Conn(ConnEvent::Reset))));
    // The handle is gone with the TCB.
    assert_eq!(
        net.server.recv(s, &mut [0; 8]),
        Err(StackError::NoSuchSocket)
    );
}

/// With everything read, release is a CLOSE (FIN); data the peer sends afterwards has no
/// reader any more and draws an RST (RFC 9293 3.6.1 SHLD-3, RFC 1122 4.2.2.13), where after
/// `close` it would be acknowledged.
#[test]
fn release_without_unread_data_sends_fin_and_resets_later_data() {
    for release in [true, false] {
        let mut net = Net::new(config(), config());
        let (_, c, s) = connect_and_accept(
            &mut net,
            SocketAddr::new(SERVER4.into(), 80),
            SocketAddr::new(CLIENT4.into(), 0),
        );
        if release {
            net.server.release(net.now, s).expect("release");
        } else {
            net.server.close(net.now, s).expect("close");
        }
        net.run_until(Duration::from_secs(5), |n| {
            n.server.state(s) == State::FinWait2
        });
        assert_eq!(net.client.state(c), State::CloseWait);
        assert_eq!(net.client.send(net.now, c, b"late"), Ok(4));
        net.exchange();
        let client_events = events(&mut net.client);
        let reset = client_events.contains(&(c, Event::Conn(ConnEvent::Reset)));
        assert_eq!(reset, release, "release {release}: {client_events:?}");
        if release {
            assert_eq!(net.client.state(c), State::Closed);
            assert_eq!(net.server.state(s), State::Closed);
        } else {
            assert_eq!(net.client.state(c), State::CloseWait);
            assert_eq!(net.server.state(s), State::FinWait2);
        }
    }
}

#[test]
fn connect_to_closed_port_is_refused() {
    let mut net = Net::new(config(), config());
    let c = net
        .client
        .connect(
            net.now,
            SocketAddr::new(CLIENT4.into(), 0),
            SocketAddr::new(SERVER4.into(), 9),
        )
        .expect("connect");
    net.exchange();
    assert_eq!(net.client.state(c), State::Closed);
    assert!(events(&mut net.client).contains(&(c, Event::Conn(ConnEvent::Refused))));
}

#[test]
fn many_connections_in_parallel() {
    let mut net = Net::new(config(), config());
    let server = SocketAddr::new(SERVER4.into(), 80);
    let listener = net.server.listen(server).expect("listen");
    let n = 50;
    let clients: Vec<SocketHandle> = (0..n)
        .map(|_| {
            net.client
                .connect(net.now, SocketAddr::new(CLIENT4.into(), 0), server)
                .expect("connect")
        })
        .collect();
    let mut servers = Vec::new();
    net.run_until(Duration::from_secs(5), |net| {
        while let Some(h) = net.server.accept(listener).expect("accept") {
            servers.push(h);
        }
        servers.len() == n
    });
    // Each client sends its own pattern; each server side must get exactly its client's.
    let datas: Vec<Vec<u8>> = (0..n).map(|i| pattern(i as u8, 10_000 + i * 37)).collect();
    let mut sent = vec![0; n];
    for (i, c) in clients.iter().enumerate() {
        pump(&mut net.client, net.now, *c, &datas[i], &mut sent[i]);
    }
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); n];
    net.run_until(Duration::from_secs(30), |net| {
        for (i, c) in clients.iter().enumerate() {
            pump(&mut net.client, net.now, *c, &datas[i], &mut sent[i]);
        }
        for (i, s) in servers.iter().enumerate() {
            drain(&mut net.server, *s, &mut got[i]);
        }
        got.iter().zip(&datas).all(|(g, d)| g.len() >= d.len())
    });
    for (i, s) in servers.iter().enumerate() {
        let remote = net.server.tuple(*s).expect("tuple").remote;
        let j = clients
            .iter()
            .position(|c| net.client.tuple(*c).map(|t| t.local) == Some(remote))
            .expect("a client for every server side");
        assert!(got[i] == datas[j], "connection {i} got the wrong bytes");
    }
    let ports: std::collections::HashSet<_> = clients
        .iter()
        .filter_map(|c| net.client.tuple(*c))
        .map(|t| t.local.port())
        .collect();
    assert_eq!(ports.len(), n, "ephemeral ports are distinct");
    assert!(ports.iter().all(|p| *p >= 49152));
}

#[test]
fn syn_in_time_wait_opens_a_new_incarnation() {
    // MAY-2 / RFC 6191 (SQ-5): the server closes first and sits in TIME-WAIT; the client comes
    // back from the same port with a higher ISN and timestamp, and gets a new connection.
    let mut net = Net::new(config(), config());
    let server = SocketAddr::new(SERVER4.into(), 80);
    let client = SocketAddr::new(CLIENT4.into(), 5555);
    let (listener, c, s) = connect_and_accept(&mut net, server, client);
    net.server.close(net.now, s).expect("close");
    net.run_until(Duration::from_secs(5), |n| {
        n.client.state(c) == State::CloseWait
    });
    net.client.close(net.now, c).expect("close");
    let tuple = net.server.tuple(s).expect("tuple");
    net.run_until(Duration::from_secs(5), |n| {
        n.client.state(c) == State::Closed
    });
    assert_eq!(net.server.state_of(tuple), State::TimeWait);

    net.now += Duration::from_secs(1);
    net.server_rules.clear();
    let c2 = net
        .client
        .connect(net.now, client, server)
        .expect("same tuple again");
    let mut s2 = None;
    net.run_until(Duration::from_secs(5), |n| {
        s2 = s2.or(n.server.accept(listener).expect("accept"));
        s2.is_some() && n.client.state(c2) == State::Established
    });
    assert_eq!(
        net.server_rules.first(),
        Some(&Rule::Sq5),
        "{:?}",
        net.server_rules
    );
    assert_eq!(
        net.server_rules.get(1),
        Some(&Rule::Li4),
        "{:?}",
        net.server_rules
    );
    let s2 = s2.expect("accepted");
    assert_ne!(s2, s);
    assert_eq!(net.server.state_of(tuple), State::Established);
}

#[test]
fn closing_a_listener_resets_connections_nobody_accepted() {
    let mut net = Net::new(config(), config());
    let server = SocketAddr::new(SERVER4.into(), 80);
    let listener = net.server.listen(server).expect("listen");
    let c = net
        .client
        .connect(net.now, SocketAddr::new(CLIENT4.into(), 0), server)
        .expect("connect");
    net.run_until(Duration::from_secs(2), |n| {
        n.client.state(c) == State::Established
    });
    net.exchange();
    let tuple = net.client.tuple(c).expect("tuple");
    let server_tuple = reference_stack::FourTuple {
        local: tuple.remote,
        remote: tuple.local,
    };
    assert_eq!(net.server.state_of(server_tuple), State::Established);
    net.server.close(net.now, listener).expect("close listener");
    assert_eq!(net.server.state_of(server_tuple), State::Closed);
    assert_eq!(net.server.accept(listener), Err(StackError::NoSuchSocket));
    net.exchange();
    assert_eq!(net.client.state(c), State::Closed);
    assert!(events(&mut net.client).contains(&(c, Event::Conn(ConnEvent::Reset))));
}

#[test]
fn an_icmp_hard_error_aborts_only_with_a_sequence_number_in_flight() {
    use reference_stack::wire::{IcmpClass, IcmpError};
    let mut net = Net::new(config(), config());
    let (_, c, s) = connect_and_accept(
        &mut net,
        SocketAddr::new(SERVER4.into(), 80),
        SocketAddr::new(CLIENT4.into(), 0),
    );
    // 100 octets queued and sent, not yet delivered: SND.UNA < SND.NXT.
    net.client.send(net.now, c, &[7; 100]).expect("send");
    while net.client.poll_transmit(net.now).is_some() {}
    let info = net.client.info(c).expect("info");
    let tuple = net.client.tuple(c).expect("tuple");
    assert_eq!(info.snd_nxt - info.snd_una, 100);
    let about = |seq, class| IcmpError {
        class,
        icmp_type: 3,
        code: 3,
        reporter: SERVER4.into(),
        local: tuple.local,
        remote: tuple.remote,
        seq,
        mtu: None,
    };
    // RFC 5927 4.1: a quoted sequence number outside SND.UNA..SND.NXT is not believed, and a
    // soft error never aborts (MUST-56).
    for (seq, class) in [
        (info.snd_nxt, IcmpClass::Hard),
        (info.snd_una - 1u32, IcmpClass::Hard),
        (info.snd_una, IcmpClass::Soft),
        (info.snd_una, IcmpClass::SourceQuench),
    ] {
        net.client.handle_icmp(net.now, &about(seq, class));
        assert_eq!(
            net.client.state(c),
            State::Established,
            "{class:?} at {seq}"
        );
    }
    // A hard error about the segment in flight (SHLD-26): aborted, "connection refused", and
    // no reset is sent (the peer is unreachable).
    let h = net
        .client
        .handle_icmp(net.now, &about(info.snd_una + 50u32, IcmpClass::Hard));
    assert_eq!(
        (h.state_before, h.state_after),
        (State::Established, State::Closed)
    );
    assert!(events(&mut net.client).contains(&(c, Event::Conn(ConnEvent::Refused))));
    assert_eq!(net.client.poll_transmit(net.now), None);
    assert_eq!(net.server.state(s), State::Established);
}

#[test]
fn fastopen_client_caches_the_cookie_and_sends_data_on_the_next_syn() {
    // RFC 7413: the first Fast Open connect asks for a cookie (4.1.1), the client caches it per
    // client and server address (4.1.3), and the next connect sends it with data on the SYN,
    // which the server delivers before the handshake completes (4.2.1, 4.2.2).
    let server_cfg = Config {
        fastopen: Some(FastOpen {
            secret: Some([1; 16]),
        }),
        ..config()
    };
    let mut net = Net::new(config(), server_cfg);
    let server = SocketAddr::new(SERVER4.into(), 80);
    let listener = net.server.listen(server).expect("listen");
    let c1 = net
        .client
        .connect_fastopen(net.now, SocketAddr::new(CLIENT4.into(), 40001), server)
        .expect("connect");
    let mut s1 = None;
    net.run_until(Duration::from_secs(5), |n| {
        s1 = s1.or(n.server.accept(listener).expect("accept"));
        s1.is_some() && n.client.state(c1) == State::Established
    });
    let cookie = net
        .client
        .fastopen_cookie(CLIENT4.into(), SERVER4.into())
        .expect("cookie cached")
        .clone();
    assert_eq!(cookie.cookie.len(), 8);
    assert_eq!(cookie.mss, Some(1460));

    let c2 = net
        .client
        .connect_fastopen(net.now, SocketAddr::new(CLIENT4.into(), 40002), server)
        .expect("connect");
    assert!(
        net.client.poll_transmit(net.now).is_none(),
        "the SYN waits for data"
    );
    assert_eq!(net.client.send(net.now, c2, b"early").unwrap(), 5);
    let syn = net.client.poll_transmit(net.now).expect("SYN with data");
    net.server.handle_packet(net.now, &syn).unwrap();
    // Only the SYN crossed: the server has the connection and its data already.
    let s2 = net
        .server
        .accept(listener)
        .unwrap()
        .expect("accepted on the SYN");
    let mut got = Vec::new();
    drain(&mut net.server, s2, &mut got);
    assert_eq!(got, b"early");
    net.run_until(Duration::from_secs(5), |n| {
        n.client.state(c2) == State::Established && n.server.state(s2) == State::Established
    });
}
