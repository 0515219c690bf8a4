//! One-line, tcpdump/packetdrill-like text for a packet:
//! `SA seq 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 1 ecr 100,nop,wscale 7>`.
//!
//! Flags use the case language's letters in the order S F R P A U E C N (N = AE), `.` for
//! none, so `SA` is SYN+ACK and `PA` is PSH+ACK. `seq a:b(n)` gives the first sequence number,
//! the one after the payload and the payload length (SYN and FIN are not counted, as in
//! tcpdump). `ack` appears when the ACK bit is set or the field is not zero, `urg` when URG is
//! set or the field is not zero. Header oddities are appended: `res 0x2` (reserved bits),
//! `doff 3` (a data offset below 5), `bad cksum`.

use super::build::build;
use super::observe::observe;
use super::spec::{Observed, ObservedOption, PacketSpec};

const ACK: u16 = 0x010;
const URG: u16 = 0x020;

/// Bases for relative numbers: `seq` is shown as `seq - seq_base` and `ack` (and SACK edges)
/// as `ack - ack_base`. For a packet from the target, `seq_base` is the target's ISN and
/// `ack_base` the tester's ISN; for a packet the tester sent, the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relative {
    pub seq_base: u32,
    pub ack_base: u32,
}

/// The flag letters, e.g. `SA`, `.` for none.
pub fn flags(flags: u16) -> String {
    const LETTERS: [(u16, char); 9] = [
        (0x002, 'S'),
        (0x001, 'F'),
        (0x004, 'R'),
        (0x008, 'P'),
        (0x010, 'A'),
        (0x020, 'U'),
        (0x040, 'E'),
        (0x080, 'C'),
        (0x100, 'N'),
    ];
    let s: String = LETTERS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    if s.is_empty() {
        ".".to_string()
    } else {
        s
    }
}

/// One option, e.g. `mss 1460`, `TS val 1 ecr 100`, `sack 1:101`.
pub fn option(o: &ObservedOption, rel: Option<Relative>) -> String {
    let ack_base = rel.map_or(0, |r| r.ack_base);
    match o {
        ObservedOption::Eol => "eol".to_string(),
        ObservedOption::Nop => "nop".to_string(),
        ObservedOption::Mss(mss) => format!("mss {mss}"),
        ObservedOption::WindowScale(shift) => format!("wscale {shift}"),
        ObservedOption::SackPermitted => "sackOK".to_string(),
        ObservedOption::Sack(blocks) => {
            let edges: Vec<String> = blocks
                .iter()
                .map(|(l, r)| format!("{}:{}", l.wrapping_sub(ack_base), r.wrapping_sub(ack_base)))
                .collect();
            format!("sack {}", edges.join(" "))
        }
        ObservedOption::Timestamps { tsval, tsecr } => format!("TS val {tsval} ecr {tsecr}"),
        ObservedOption::Unknown { kind, data } => format!("opt{kind} {}", hex(data)),
        ObservedOption::Malformed { kind, bytes } => {
            format!("malformed{kind} {}", hex(bytes))
        }
    }
}

/// The options as `mss 1460,sackOK`, empty for none.
pub fn options(opts: &[ObservedOption], rel: Option<Relative>) -> String {
    let parts: Vec<String> = opts.iter().map(|o| option(o, rel)).collect();
    parts.join(",")
}

/// One line for an observed packet.
pub fn render(o: &Observed, rel: Option<Relative>) -> String {
    let (seq, ack) = match rel {
        Some(r) => (
            o.seq.wrapping_sub(r.seq_base),
            o.ack.wrapping_sub(r.ack_base),
        ),
        None => (o.seq, o.ack),
    };
    let len = u32::try_from(o.payload.len()).unwrap_or(u32::MAX);
    let mut line = format!(
        "{} seq {seq}:{}({len})",
        flags(o.flags),
        seq.wrapping_add(len)
    );
    if o.flags & ACK != 0 || o.ack != 0 {
        line.push_str(&format!(" ack {ack}"));
    }
    line.push_str(&format!(" win {}", o.window));
    if o.flags & URG != 0 || o.urgent != 0 {
        line.push_str(&format!(" urg {}", o.urgent));
    }
    if !o.options.is_empty() {
        line.push_str(&format!(" <{}>", options(&o.options, rel)));
    }
    if o.reserved != 0 {
        line.push_str(&format!(" res {:#x}", o.reserved));
    }
    if o.data_offset < 5 {
        line.push_str(&format!(" doff {}", o.data_offset));
    }
    if !o.checksum_ok {
        line.push_str(" bad cksum");
    }
    line
}

/// One line for a packet the tester is about to send: built, then observed, so it reads
/// exactly like a received packet. A `raw` packet that does not decode as TCP is shown as
/// `raw <n> bytes: <error>`.
pub fn render_spec(spec: &PacketSpec, rel: Option<Relative>) -> String {
    let bytes = build(spec);
    match observe(&bytes) {
        Ok(o) => render(&o, rel),
        Err(e) => format!("raw {} bytes: {e}", bytes.len()),
    }
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_string();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
