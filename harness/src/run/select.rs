//! Which case instances a run executes: `--filter`, `--partition k/n`.

use std::fmt;

/// `--partition k/n`: shard k (1-based) of n. Instances are assigned round-robin by their
/// position in the sorted list, so shards are balanced and stable across machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: usize,
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionError(pub String);

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Partition {
    pub fn parse(s: &str) -> Result<Partition, PartitionError> {
        let err = || {
            PartitionError(format!(
                "bad --partition `{s}`: expected k/n with 1 <= k <= n, e.g. 2/4"
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let k: usize = k.trim().parse().map_err(|_| err())?;
        let n: usize = n.trim().parse().map_err(|_| err())?;
        if n == 0 || k == 0 || k > n {
            return Err(err());
        }
        Ok(Partition { k, n })
    }

    pub fn contains(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }
}

/// `--filter`: a substring of the id, or a glob with `*` matching any run of characters.
pub fn filter_matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id.contains(pattern);
    }
    glob(pattern.as_bytes(), id.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_every_index_once() {
        let parts: Vec<Partition> = (1..=3).map(|k| Partition { k, n: 3 }).collect();
        for i in 0..10 {
            assert_eq!(parts.iter().filter(|p| p.contains(i)).count(), 1);
        }
        assert_eq!(Partition::parse("2/4"), Ok(Partition { k: 2, n: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters() {
        assert!(filter_matches("rst/", "rst/syn-sent-x"));
        assert!(!filter_matches("close/", "rst/syn-sent-x"));
        assert!(filter_matches("rst/*sent*", "rst/syn-sent-x"));
        assert!(filter_matches("*x", "rst/syn-sent-x"));
        assert!(!filter_matches("*y", "rst/syn-sent-x"));
        assert!(filter_matches("r*t/*", "rst/a"));
    }
}
