//! # The record file format
//!
//! Every stateful workload in this crate — the local database on a
//! persistent volume (`executor/database.rs`), its replicas and the
//! replicated store's servers (`crate::store`) — keeps its data as an
//! append-only file of lines `record <n>`. A crash can tear the last append,
//! so readers need one rule for where the records end; these two functions
//! are that rule, shared so that every reader agrees with every writer.
//! (Mesos itself leaves a task's data format to the task; this is the
//! format of this crate's example workloads.)

/// How many leading bytes of a database volume hold complete, readable
/// records (what [`parse_records`] counts); the rest is a torn tail.
///
/// Reading stops at the first line that is not a whole `record <n>\n`: a
/// record appended after garbage would be unreachable anyway, so recovery
/// cuts the file here (`WriteFileAtomic` of this prefix) before appending.
pub fn valid_prefix_len(bytes: &[u8]) -> usize {
    let mut valid = 0;
    // `split_inclusive` keeps each line's newline, so a last line without
    // one is seen — and is torn, since every append ends with a newline.
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let readable = line.ends_with(b"\n")
            && std::str::from_utf8(&line[..line.len() - 1])
                .ok()
                .and_then(|l| l.strip_prefix("record "))
                .is_some_and(|n| n.parse::<u64>().is_ok());
        if !readable {
            break;
        }
        valid += line.len();
    }
    valid
}

/// The database's records: complete lines `record <n>`. Returns how many were
/// found and the last number (a torn final line is not a record).
///
/// Stops at the first unreadable line, so it agrees with
/// [`valid_prefix_len`] on where the records end (but see the note on
/// empty lines below). `last` is the number on the last readable line,
/// which is the highest because records are appended in increasing order. Shared by the local
/// database, the replicas and the storage servers (`crate::store`).
pub fn parse_records(bytes: &[u8]) -> (u64, u64) {
    let mut count = 0;
    let mut last = 0;
    // Only bytes up to the last newline can hold whole lines.
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    // Empty lines are skipped here, while `valid_prefix_len` stops at one;
    // appends never write an empty line, so the two agree on every file
    // this crate produces.
    for line in complete.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Some(n) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix("record "))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            break;
        };
        count += 1;
        last = n;
    }
    (count, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefix rule: a clean file is valid to its end; in a file where a
    /// record was glued to torn bytes (what the `append-after-torn-tail` bug
    /// leaves), everything from the glued line on is lost.
    #[test]
    fn a_torn_tail_ends_the_records() {
        assert_eq!(valid_prefix_len(b"record 1\nrecord 2\n"), 18);
        assert_eq!(valid_prefix_len(b"record 1\nrecorecord 2\n"), 9);
        assert_eq!(parse_records(b"record 1\nrecord 2\nrec"), (2, 2));
    }
}
