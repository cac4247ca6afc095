namespace Aof.Core

// PLACEHOLDER implementation over ImmutableDictionary: the real CHAMP replaces it with the same API.

open System.Collections.Immutable

/// A persistent hash map keyed by byte strings (a CHAMP trie): every update returns a new map that shares
/// all untouched structure with the old one, so a snapshot is just a reference.
[<Sealed>]
type ChampMap<'V> internal (d: ImmutableDictionary<byte[], 'V>) =
    member internal _.Dict = d
    member _.Count = d.Count

/// A short-lived mutable builder for bulk updates (AOF loading, big batches); `Persist` freezes it.
[<Sealed>]
type ChampTransient<'V> internal (b: ImmutableDictionary<byte[], 'V>.Builder) =
    member _.Count = b.Count
    member _.Set(key: byte[], value: 'V) = b[key] <- value
    member _.Remove(key: byte[]) = b.Remove key |> ignore

    member _.TryFind(key: byte[]) : 'V voption =
        match b.TryGetValue key with
        | true, v -> ValueSome v
        | _ -> ValueNone

    /// Ends the transient: later use of this builder is a bug.
    member _.Persist() : ChampMap<'V> = ChampMap(b.ToImmutable())

module Champ =
    let empty<'V> : ChampMap<'V> =
        ChampMap(ImmutableDictionary.Create<byte[], 'V>(BytesComparer.Instance))

    let count (m: ChampMap<'V>) : int = m.Count
    let isEmpty (m: ChampMap<'V>) : bool = m.Count = 0

    let tryFind (key: byte[]) (m: ChampMap<'V>) : 'V voption =
        match m.Dict.TryGetValue key with
        | true, v -> ValueSome v
        | _ -> ValueNone

    let containsKey (key: byte[]) (m: ChampMap<'V>) : bool = m.Dict.ContainsKey key
    let add (key: byte[]) (value: 'V) (m: ChampMap<'V>) : ChampMap<'V> = ChampMap(m.Dict.SetItem(key, value))
    let remove (key: byte[]) (m: ChampMap<'V>) : ChampMap<'V> = ChampMap(m.Dict.Remove key)

    let fold (f: 'S -> byte[] -> 'V -> 'S) (state: 'S) (m: ChampMap<'V>) : 'S =
        let mutable s = state

        for kv in m.Dict do
            s <- f s kv.Key kv.Value

        s

    let toSeq (m: ChampMap<'V>) : seq<byte[] * 'V> =
        m.Dict |> Seq.map (fun kv -> kv.Key, kv.Value)

    let ofSeq (items: seq<byte[] * 'V>) : ChampMap<'V> =
        Seq.fold (fun m (k, v) -> add k v m) empty items

    let toTransient (m: ChampMap<'V>) : ChampTransient<'V> = ChampTransient(m.Dict.ToBuilder())

    /// One step of a SCAN: cursor 0 starts; the next cursor is 0 when the walk is done. Every key present
    /// for the whole walk is returned at least once, however the map changes between steps.
    let scan (cursor: uint64) (count: int) (m: ChampMap<'V>) : struct (uint64 * (byte[] * 'V) list) =
        let all = m.Dict |> Seq.sortBy (fun kv -> Bytes.hash kv.Key) |> Seq.toArray
        let start = int cursor
        let stop = min all.Length (start + max 1 count)
        let items = [ for i in start .. stop - 1 -> all[i].Key, all[i].Value ]
        struct ((if stop >= all.Length then 0UL else uint64 stop), items)

    /// Some entry chosen by `rnd` (a random 64-bit number from the caller), or none when empty.
    let randomEntry (rnd: uint64) (m: ChampMap<'V>) : (byte[] * 'V) voption =
        if m.Count = 0 then
            ValueNone
        else
            let i = int (rnd % uint64 m.Count)
            let kv = Seq.item i m.Dict
            ValueSome(kv.Key, kv.Value)
