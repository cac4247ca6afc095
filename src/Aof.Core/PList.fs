namespace Aof.Core

// PLACEHOLDER (skeleton): the list helper replaces this file with a persistent sequence (RRB vector or finger
// tree) keeping these names; only `count`, `toSeq`, `ofSeq` and `empty` are used outside the list family.

/// A persistent list of byte strings.
[<Sealed>]
type PList internal (items: byte[][]) =
    member internal _.Items = items
    member _.Count = items.Length

module PList =
    let empty = PList [||]
    let count (l: PList) = l.Count
    /// Front to back.
    let toSeq (l: PList) : seq<byte[]> = Seq.ofArray l.Items
    let ofSeq (items: seq<byte[]>) = PList(Seq.toArray items)
