//! The pcap reporter: one capture per case instance, for Wireshark/tshark.
//!
//! Link type RAW (101): each record is the bare IP packet, IPv4 or IPv6. Packets appear in
//! trace order (sent and received interleaved as they happened) with the trace time since
//! the case started as timestamp (so captures start at the epoch). By default only failed
//! case instances are written, known deviations (baseline hits) included; [`PcapReporter::all`]
//! writes every case. The file name comes from the case id, see [`pcap_file_name`].

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

use crate::run::event::{CaseResult, IpVersion, Outcome, Reporter, RunEvent};

pub struct PcapReporter {
    dir: PathBuf,
    all: bool,
    parents: bool,
    written: Vec<PathBuf>,
}

impl PcapReporter {
    /// Write captures of failed case instances into `dir`, which is made when the first
    /// capture is written if it is missing (its parent folder is not).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PcapReporter {
            dir: dir.into(),
            all: false,
            parents: false,
            written: Vec::new(),
        }
    }

    /// Also make the missing folders above `dir` (for the default `reports/pcap`, which no
    /// user named).
    pub fn create_parents(mut self, parents: bool) -> Self {
        self.parents = parents;
        self
    }

    /// Write a capture for every case instance, passed and skipped too.
    pub fn all(mut self, all: bool) -> Self {
        self.all = all;
        self
    }

    /// The files written so far, in order.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    fn case(&mut self, c: &CaseResult) -> io::Result<()> {
        if !self.all && !matches!(c.outcome, Outcome::Failed(_)) {
            return Ok(());
        }
        if !self.dir.is_dir() {
            if self.parents {
                fs::create_dir_all(&self.dir)?;
            } else {
                match fs::create_dir(&self.dir) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
            }
        }
        let path = self.dir.join(pcap_file_name(&c.id, c.ip));
        write_pcap(&path, c)?;
        self.written.push(path);
        Ok(())
    }
}

/// `rst/syn-x [ipv4]` -> `rst__syn-x.ipv4.pcap`: `/` becomes `__`, anything but ASCII
/// letters, digits, `-`, `_` and `.` becomes `_`, and a leading `.` becomes `_` (no hidden
/// files, no `..`).
pub fn pcap_file_name(id: &str, ip: IpVersion) -> String {
    let mut name = String::with_capacity(id.len() + 10);
    for ch in id.chars() {
        match ch {
            '/' => name.push_str("__"),
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => name.push(ch),
            _ => name.push('_'),
        }
    }
    if name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    format!("{name}.{}.pcap", ip.label())
}

/// Write the packets of `c`'s trace to `path`.
pub fn write_pcap(path: &Path, c: &CaseResult) -> io::Result<()> {
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..PcapHeader::default()
    };
    let file = BufWriter::new(File::create(path)?);
    let mut writer = PcapWriter::with_header(file, header).map_err(io::Error::other)?;
    for entry in &c.trace {
        let Some(packet) = &entry.packet else {
            continue;
        };
        // Records hold at most snaplen octets; the original length is kept.
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let kept = usize::try_from(header.snaplen).map_or(packet.len(), |s| s.min(packet.len()));
        let data = packet.get(..kept).unwrap_or(packet);
        writer
            .write_packet(&PcapPacket::new(entry.at, len, data))
            .map_err(io::Error::other)?;
    }
    let mut file = writer.into_writer();
    io::Write::flush(&mut file)
}

impl Reporter for PcapReporter {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::CaseFinished(c) => self.case(c),
            RunEvent::Started { .. }
            | RunEvent::CaseStarted { .. }
            | RunEvent::TargetUnusable { .. }
            | RunEvent::Inconsistent(_)
            | RunEvent::Finished(_) => Ok(()),
        }
    }
}
