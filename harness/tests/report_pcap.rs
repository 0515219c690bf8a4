//! The pcap reporter: which cases get a capture, file names, the records (link type RAW,
//! trace order and timestamps), and tshark reading the flags back (a tool the machine must
//! have under CI, see `needs`).

mod needs;
mod report_fixtures;

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use report_fixtures::{feed, run_events};
use tcpconform::report::pcap::{pcap_file_name, PcapReporter};
use tcpconform::run::event::IpVersion;

fn names(reporter: &PcapReporter) -> Vec<String> {
    reporter
        .written()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// (timestamp, bytes) of every record.
fn records(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    let mut reader = PcapReader::new(File::open(path).unwrap()).expect("a pcap file");
    assert_eq!(reader.header().datalink, DataLink::RAW);
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("a record");
        out.push((packet.timestamp, packet.data.into_owned()));
    }
    out
}

#[test]
fn file_names_are_sanitized() {
    assert_eq!(
        pcap_file_name("rst/syn-x", IpVersion::V4),
        "rst__syn-x.ipv4.pcap"
    );
    assert_eq!(
        pcap_file_name("rst/syn x{state=SYN-RECEIVED}", IpVersion::V6),
        "rst__syn_x_state_SYN-RECEIVED_.ipv6.pcap"
    );
    assert_eq!(pcap_file_name("../etc", IpVersion::V4), "_.__etc.ipv4.pcap");
}

#[test]
fn failed_cases_only_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut reporter = PcapReporter::new(dir.path().join("pcap"));
    feed(&mut reporter, &run_events());
    assert_eq!(
        names(&reporter),
        ["rst__syn-x.ipv6.pcap", "rst__in-window.ipv4.pcap"]
    );

    // Packets in trace order with trace timestamps; the note carries no packet.
    let failed = report_fixtures::failed();
    let got = records(&reporter.written()[0]);
    let want: Vec<(Duration, Vec<u8>)> = failed
        .trace
        .iter()
        .filter_map(|e| e.packet.clone().map(|p| (e.at, p)))
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got, want);
}

#[test]
fn all_cases_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut reporter = PcapReporter::new(dir.path()).all(true);
    feed(&mut reporter, &run_events());
    assert_eq!(
        names(&reporter),
        [
            "handshake__passive-open.ipv4.pcap",
            "rst__syn-x.ipv6.pcap",
            "rst__in-window.ipv4.pcap",
            "app__needs-agent.ipv6.pcap",
        ]
    );
    assert!(
        records(&reporter.written()[3]).is_empty(),
        "a skipped case has no packets"
    );
}

#[test]
fn tshark_reads_the_flags() {
    require!(needs::tool(
        "tshark",
        "--version",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y tshark"
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut reporter = PcapReporter::new(dir.path()).all(true);
    feed(&mut reporter, &run_events());
    for (file, want) in [
        (
            "handshake__passive-open.ipv4.pcap",
            "192.0.2.1 0x0002\n192.0.2.2 0x0012\n",
        ),
        (
            "rst__syn-x.ipv6.pcap",
            "2001:db8::1 0x0002\n2001:db8::2 0x0004\n",
        ),
    ] {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(dir.path().join(file))
            .args([
                "-T",
                "fields",
                "-e",
                "ip.src",
                "-e",
                "ipv6.src",
                "-e",
                "tcp.flags",
            ])
            .args(["-E", "occurrence=f", "-E", "aggregator=,"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tshark failed on {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // ip.src and ipv6.src: one of them is empty.
        let got: String = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split('\t').filter(|f| !f.is_empty()).collect();
                format!("{}\n", fields.join(" "))
            })
            .collect();
        assert_eq!(got, want, "{file}");
    }
}
