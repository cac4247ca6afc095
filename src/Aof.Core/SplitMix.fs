namespace Aof.Core

/// SplitMix64: every further random draw of one decision (or one sampling walk) is derived from the one
/// before, so the single random number the engine hands in determines them all, and a poor seed (a
/// counter, say) still gives well-spread bits.
module SplitMix =
    /// The step between successive states (2^64 / golden ratio).
    [<Literal>]
    let Golden = 0x9E3779B97F4A7C15UL

    /// The draw that follows `x`: the finaliser applied to `x + Golden`.
    let next (x: uint64) : uint64 =
        let mutable z = x + Golden
        z <- (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
        z <- (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
        z ^^^ (z >>> 31)
