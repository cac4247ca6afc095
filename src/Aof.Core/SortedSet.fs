namespace Aof.Core

// PLACEHOLDER (skeleton): the sorted-set helper replaces this file with a persistent balanced tree ordered
// by (score, member) with subtree sizes, plus a member -> score CHAMP, keeping these names; only `count`,
// `toSeq`, `ofSeq`, `empty` and `Score.format` are used outside the sorted-set family.

module Score =
    /// A score as Redis 7.0 replies with it (`%.17g`; `inf` / `-inf`).
    let format (d: float) : byte[] =
        if System.Double.IsPositiveInfinity d then "inf"B
        elif System.Double.IsNegativeInfinity d then "-inf"B
        else Bytes.ofString (d.ToString("G17", System.Globalization.CultureInfo.InvariantCulture))

/// A persistent sorted set: members ordered by (score, member).
[<Sealed>]
type ZSet internal (items: struct (byte[] * float)[]) =
    member internal _.Items = items
    member _.Count = items.Length

module ZSet =
    let empty = ZSet [||]
    let count (z: ZSet) = z.Count
    /// Ascending by (score, member): member and score.
    let toSeq (z: ZSet) : seq<struct (byte[] * float)> = Seq.ofArray z.Items

    let ofSeq (items: seq<struct (byte[] * float)>) =
        ZSet(items |> Seq.toArray |> Array.sortWith (fun struct (m1, s1) struct (m2, s2) -> if s1 <> s2 then compare s1 s2 else Bytes.compare m1 m2))
