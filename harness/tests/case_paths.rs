//! What `tcpconform check` does with hostile case folders: symlink loops, FIFOs and devices
//! named `*.yaml`, oversized files. Each gives one `path: reason` diagnostic and exit 2,
//! promptly, in bounded memory. Each command runs as a child process under a memory limit and
//! is killed after a deadline, so that a loader that hangs or reads without end fails the test
//! instead of taking the machine with it.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CASE: &str = "id: paths/a\ntitle: a\nrfc: [\"RFC9293 3.10.7.2\"]\n\
    setup: { listen: 8080 }\nsteps:\n  - send: { flags: S, seq: 0, win: 65535 }\n\
    \x20 - expect: { flags: SA, seq: 0, ack: 1 }\n";

/// `tcpconform check PATHS` with at most 1 GiB of address space, killed after 20 s: its exit
/// code (`None` when killed or signalled) and stderr.
fn check(paths: &[&Path]) -> (Option<i32>, String, Duration) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tcpconform"));
    cmd.arg("check")
        .args(paths)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn tcpconform check");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    (code, reader.join().expect("stderr reader"), took)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(r, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

fn errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("error: "))
        .collect()
}

#[test]
fn two_folder_links_pointing_up_are_walked_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(cases.join("sub")).expect("mkdir");
    std::fs::write(cases.join("a.yaml"), CASE).expect("write");
    std::os::unix::fs::symlink("..", cases.join("sub/up")).expect("symlink");
    std::os::unix::fs::symlink("../..", cases.join("sub/top")).expect("symlink");
    let (code, stderr, took) = check(&[&cases]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(!stderr.contains("duplicate case id"), "{stderr}");
    // `sub/top` is walked first (name order) and leads back to `cases`; `sub/up` is `cases`.
    let again = |link: &str| {
        format!(
            "{}: folder already visited as {} (a symlink loop, or a second link to one folder): \
             each folder is read once",
            cases.join(link).display(),
            cases.display()
        )
    };
    assert_eq!(
        errors(&stderr),
        vec![again("sub/top/cases"), again("sub/up")],
        "{stderr}"
    );
}

#[test]
fn a_link_to_its_own_folder_gives_one_diagnostic() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), CASE).expect("write");
    std::os::unix::fs::symlink(".", dir.path().join("again")).expect("symlink");
    let (code, stderr, _) = check(&[dir.path()]);
    assert_eq!(code, Some(2), "{stderr}");
    let diags = errors(&stderr);
    assert_eq!(diags.len(), 1, "{stderr}");
    assert_eq!(
        diags[0],
        format!(
            "{}: folder already visited as {} (a symlink loop, or a second link to one folder): \
             each folder is read once",
            dir.path().join("again").display(),
            dir.path().display()
        )
    );
}

#[test]
fn a_fifo_named_yaml_is_refused_without_being_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), CASE).expect("write");
    let fifo = dir.path().join("b.yaml");
    mkfifo(&fifo);
    for paths in [vec![dir.path()], vec![fifo.as_path()]] {
        let (code, stderr, took) = check(&paths);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert_eq!(
            errors(&stderr),
            vec![format!(
                "{}: not a regular file (a FIFO); case files must be regular files",
                fifo.display()
            )],
            "{stderr}"
        );
    }
}

#[test]
fn a_yaml_link_to_a_device_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zero = dir.path().join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let (code, stderr, _) = check(&[dir.path()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        errors(&stderr),
        vec![format!(
            "{}: not a regular file (a character device); case files must be regular files",
            zero.display()
        )],
        "{stderr}"
    );
}

#[test]
fn a_case_file_over_the_size_limit_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.yaml");
    // A valid case, then comments up to one octet over the limit.
    let limit = 1 << 20;
    assert_eq!(
        tcpconform::case::load::MAX_CASE_FILE,
        limit,
        "the documented 1 MiB"
    );
    let mut text = CASE.to_string();
    while text.len() < limit {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    text.truncate(limit);
    text.push('\n');
    std::fs::write(&big, &text).expect("write");
    let (code, stderr, _) = check(&[dir.path()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        errors(&stderr),
        vec![format!(
            "{}: larger than 1 MiB ({} octets); case files are limited to {limit} octets",
            big.display(),
            limit + 1
        )],
        "{stderr}"
    );
    // At the limit it loads.
    text.truncate(limit);
    std::fs::write(&big, &text).expect("write");
    let (code, stderr, _) = check(&[dir.path()]);
    assert_eq!(code, Some(0), "{stderr}");
}
