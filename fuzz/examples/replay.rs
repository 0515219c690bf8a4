//! Replays fuzz inputs outside libFuzzer, printing the decoded input first: for the structured
//! targets this is the readable form of a crash (what `cargo fuzz fmt` shows).
//!
//! Usage: `cargo run --example replay -- <state_machine|state_machine_pair|parse_segment|agent_protocol> <file>...`
//! (`agent_protocol` is only decoded without the `harness` feature, and replayed with it).

use arbitrary::{Arbitrary, Unstructured};

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("target name");
    for path in args {
        let data = std::fs::read(&path).expect("read input");
        println!("== {path}");
        match target.as_str() {
            "state_machine" => {
                let input = tcpconform_fuzz::state_machine::Input::arbitrary_take_rest(
                    Unstructured::new(&data),
                )
                .expect("decode");
                println!("{input:#?}");
                tcpconform_fuzz::state_machine::Harness::run(&input);
            }
            "state_machine_pair" => {
                let input =
                    tcpconform_fuzz::pair::Input::arbitrary_take_rest(Unstructured::new(&data))
                        .expect("decode");
                println!("{input:#?}");
                tcpconform_fuzz::pair::Pair::run(&input);
            }
            "parse_segment" => tcpconform_fuzz::parse_segment(&data),
            "agent_protocol" => {
                println!("{:#?}", tcpconform_fuzz::agent_input::decode(&data));
                #[cfg(feature = "harness")]
                tcpconform_fuzz::agent::agent_protocol(&data);
            }
            other => panic!("unknown target {other}"),
        }
        println!("== {path}: no failure");
    }
}
