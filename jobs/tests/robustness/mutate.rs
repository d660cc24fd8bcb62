//! Mutations that turn seed inputs into fuzz inputs: bit flips, byte
//! overwrites, truncation, deletion, insertion of random bytes or of a
//! token of the format, splicing in a piece of another seed, repetition.
//! Shared by the jobs crate's and the import parsers' robustness tests.

use proptest::{prelude::*, sample::Index};

/// Mutated inputs are cut to this size (repetition can grow them fast).
const MAX_INPUT: usize = 1 << 20;

/// One edit of a seed.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit of a byte.
    Flip(Index, u8),
    /// Overwrite a byte.
    Set(Index, u8),
    /// Cut the input at a point.
    Truncate(Index),
    /// Remove a run of bytes.
    Delete(Index, usize),
    /// Insert random bytes.
    Insert(Index, Vec<u8>),
    /// Insert a token of the format (a tag, a quote, a separator…).
    Token(Index, Index),
    /// Insert a piece of another seed.
    Splice(Index, Index, Index, usize),
    /// Repeat a run of bytes.
    Repeat(Index, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Mutation::Token(at, t)),
        (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..512)
            .prop_map(|(at, seed, from, n)| Mutation::Splice(at, seed, from, n)),
        (any::<Index>(), 1usize..64, 2usize..200).prop_map(|(at, n, times)| Mutation::Repeat(at, n, times)),
    ]
}

fn point(index: &Index, len: usize) -> usize {
    index.index(len + 1)
}

/// Apply `mutations` to `seed`, drawing tokens and splices from `tokens`
/// and `seeds`.
pub fn apply(seed: &[u8], seeds: &[Vec<u8>], tokens: &[&str], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for m in mutations {
        let len = out.len();
        match m {
            Mutation::Flip(at, bit) if len > 0 => out[at.index(len)] ^= 1 << bit,
            Mutation::Set(at, byte) if len > 0 => out[at.index(len)] = *byte,
            Mutation::Flip(..) | Mutation::Set(..) => {}
            Mutation::Truncate(at) => out.truncate(point(at, len)),
            Mutation::Delete(at, n) => {
                let start = point(at, len);
                out.drain(start..(start + n).min(len));
            }
            Mutation::Insert(at, bytes) => {
                let at = point(at, len);
                out.splice(at..at, bytes.iter().copied());
            }
            Mutation::Token(at, token) if !tokens.is_empty() => {
                let at = point(at, len);
                let token = tokens[token.index(tokens.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            Mutation::Token(..) => {}
            Mutation::Splice(at, seed, from, n) => {
                let other = &seeds[seed.index(seeds.len())];
                let start = point(from, other.len());
                let piece = &other[start..(start + n).min(other.len())];
                let at = point(at, len);
                out.splice(at..at, piece.iter().copied());
            }
            Mutation::Repeat(at, n, times) => {
                let start = point(at, len);
                let piece = out[start..(start + n).min(len)].to_vec();
                let extra = piece.repeat(*times);
                out.splice(start..start, extra);
            }
        }
        out.truncate(MAX_INPUT);
    }
    out
}

/// A seed of `seeds` with up to `max` mutations applied.
pub fn mutated(
    seeds: Vec<Vec<u8>>,
    tokens: &'static [&'static str],
    max: usize,
) -> impl Strategy<Value = Vec<u8>> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..=max)).prop_map(move |(seed, mutations)| {
        let seed = &seeds[seed.index(seeds.len())];
        apply(seed, &seeds, tokens, &mutations)
    })
}

/// A seed of `seeds`, mutated and decoded lossily (invalid UTF-8 becomes
/// U+FFFD, as a fetched page does).
pub fn mutated_text(
    seeds: Vec<Vec<u8>>,
    tokens: &'static [&'static str],
    max: usize,
) -> impl Strategy<Value = String> {
    mutated(seeds, tokens, max).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Arbitrary bytes decoded lossily.
pub fn lossy_bytes(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}
