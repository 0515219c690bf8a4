//! Whether a target can give a case instance what it needs. When it cannot, the instance is
//! skipped with a reason that says what is missing and how to provide it — a harness limit is
//! never reported as the stack's deviation.

use crate::case::model::Case;
use crate::case::needs::{Need, Needs};
use crate::ip::IpVersion;
use crate::target::{AppBehaviour, Application, Capabilities};

/// `None` if `caps` meets every need of `case` on `ip`, else why not.
pub fn unmet(case: &Case, ip: IpVersion, caps: &Capabilities) -> Option<String> {
    if !caps.has_ip(ip) {
        let v = match ip {
            IpVersion::V4 => 4,
            IpVersion::V6 => 6,
        };
        return Some(format!("the target has no IPv{v} address (--target-addr)"));
    }
    let needs = Needs::of(case, ip);
    if needs.largest_packet > caps.mtu {
        return Some(format!(
            "sends a {}-octet packet, over the link MTU of {} (--mtu)",
            needs.largest_packet, caps.mtu
        ));
    }
    let Application::Fixed(app) = caps.application else {
        return None;
    };
    const AGENT: &str = "run `tcpconform agent` beside the target (--agent)";
    if needs.active_open {
        return Some(format!(
            "needs an active OPEN from the target (setup: connect): {AGENT}"
        ));
    }
    if !needs.calls.is_empty() {
        return Some(format!(
            "needs application calls on the target ({}): {AGENT}",
            needs.calls.join(", ")
        ));
    }
    if needs.listening_port && app.open_port.is_none() {
        return Some("needs a port where an application listens (--open-port)".into());
    }
    if needs.closed_port && app.closed_port.is_none() {
        return Some("needs a port where nothing listens (--closed-port)".into());
    }
    if !needs.listening_port {
        // A closed port has no application to disturb the exchange.
        return None;
    }
    let port = app.open_port.unwrap_or_default();
    let behaviour = app.behaviour.name();
    if needs.sends_data && matches!(app.behaviour, AppBehaviour::Echo | AppBehaviour::Unknown) {
        return Some(format!(
            "sends data, which the application on port {port} may answer (--app {behaviour}): \
             needs one that sends nothing (--app discard, or the agent)"
        ));
    }
    if needs.sends_fin {
        return Some(format!(
            "sends a FIN, after which the application on port {port} may close its side \
             (--app {behaviour}): needs one that does not ({AGENT})"
        ));
    }
    if needs.declared.contains(&Need::Unread) {
        return Some(format!(
            "needs an application that leaves received data unread (the window must fill); \
             the one on port {port} reads it (--app {behaviour}): {AGENT}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load::load_str;
    use crate::target::FixedApp;

    fn case(text: &str) -> Case {
        load_str(std::path::Path::new("t.yaml"), text)
            .expect("case loads")
            .remove(0)
    }

    fn fixed(open: Option<u16>, closed: Option<u16>, behaviour: AppBehaviour) -> Capabilities {
        Capabilities {
            application: Application::Fixed(FixedApp {
                open_port: open,
                closed_port: closed,
                behaviour,
            }),
            observes_state: false,
            mtu: 1500,
            ipv4: true,
            ipv6: false,
            persistent: true,
        }
    }

    const HANDSHAKE: &str = "id: t\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n\
        \x20 - send:   { flags: S, seq: 0 }\n\
        \x20 - expect: { flags: SA, ack: 1 }\n\
        \x20 - send:   { flags: A, seq: 1, ack: 1 }\n\
        \x20 - call:   accept\n";

    #[test]
    fn a_handshake_runs_on_any_listening_application() {
        let c = case(HANDSHAKE);
        for b in [
            AppBehaviour::Echo,
            AppBehaviour::Discard,
            AppBehaviour::Unknown,
        ] {
            assert_eq!(unmet(&c, IpVersion::V4, &fixed(Some(7), None, b)), None);
        }
        let why = unmet(&c, IpVersion::V4, &fixed(None, Some(1), AppBehaviour::Echo));
        assert!(why.is_some_and(|w| w.contains("--open-port")));
        let why = unmet(&c, IpVersion::V6, &fixed(Some(7), None, AppBehaviour::Echo));
        assert!(why.is_some_and(|w| w.contains("IPv6")));
        assert_eq!(unmet(&c, IpVersion::V6, &Capabilities::default()), None);
    }

    #[test]
    fn what_an_application_would_disturb_is_skipped() {
        let data = case(&format!(
            "{HANDSHAKE}  - send: {{ flags: PA, seq: 1, ack: 1, data: 10 }}\n"
        ));
        let echo = fixed(Some(7), None, AppBehaviour::Echo);
        let discard = fixed(Some(7), None, AppBehaviour::Discard);
        assert!(unmet(&data, IpVersion::V4, &echo).is_some_and(|w| w.contains("--app echo")));
        assert_eq!(unmet(&data, IpVersion::V4, &discard), None);
        let fin = case(&format!(
            "{HANDSHAKE}  - send: {{ flags: FA, seq: 1, ack: 1 }}\n"
        ));
        assert!(unmet(&fin, IpVersion::V4, &discard).is_some_and(|w| w.contains("FIN")));
        let unread = case(&format!("needs: [unread]\n{HANDSHAKE}"));
        assert!(unmet(&unread, IpVersion::V4, &discard).is_some_and(|w| w.contains("unread")));
        let write = case(&format!("{HANDSHAKE}  - call: {{ write: 10 }}\n"));
        let why = unmet(&write, IpVersion::V4, &discard).expect("needs the agent");
        assert!(why.contains("(write)") && why.contains("agent"), "{why}");
        // An application that is not the case's own never gives the connection up on cue.
        let release = case(&format!("{HANDSHAKE}  - call: release\n"));
        let why = unmet(&release, IpVersion::V4, &discard).expect("needs the agent");
        assert!(why.contains("(release)") && why.contains("agent"), "{why}");
        assert_eq!(
            unmet(&release, IpVersion::V4, &Capabilities::default()),
            None
        );
    }

    #[test]
    fn the_mtu_bounds_what_is_sent() {
        let big = case(&format!(
            "{HANDSHAKE}  - send: {{ flags: PA, seq: 1, ack: 1, data: 1461 }}\n"
        ));
        let mut caps = Capabilities {
            mtu: 1500,
            ..Capabilities::default()
        };
        let why = unmet(&big, IpVersion::V4, &caps).expect("over the MTU");
        assert!(why.contains("1501-octet"), "{why}");
        caps.mtu = 1501;
        assert_eq!(unmet(&big, IpVersion::V4, &caps), None);
        assert!(unmet(&big, IpVersion::V6, &caps).is_some());
    }

    #[test]
    fn closed_ports_need_no_application() {
        let c = case(
            "id: t\ntitle: t\nsetup: { closed: 8080 }\nsteps:\n\
            \x20 - send:   { flags: FA, seq: 0, data: 5 }\n\
            \x20 - expect: { flags: R }\n",
        );
        assert_eq!(
            unmet(
                &c,
                IpVersion::V4,
                &fixed(None, Some(1), AppBehaviour::Unknown)
            ),
            None
        );
        let why = unmet(&c, IpVersion::V4, &fixed(Some(7), None, AppBehaviour::Echo));
        assert!(why.is_some_and(|w| w.contains("--closed-port")));
    }
}
