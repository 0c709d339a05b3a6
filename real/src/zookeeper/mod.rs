//! # ZooKeeper: the real coordinator
//!
//! (Being written.)
