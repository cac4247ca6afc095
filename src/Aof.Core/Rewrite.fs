namespace Aof.Core

/// A rewrite is a projection of a snapshot: the fewest events whose replay is the same dataset. The
/// keyspace is immutable, so the snapshot is the value itself, read while the executor moves on.
module Rewrite =
    /// The events of one key: the value, then its expiry if it has one.
    let keyEvents (db: int) (key: byte[]) (e: Entry) : Event list =
        let ev op = { Db = db; Op = op }

        let value =
            match e.Value with
            | Value.Str s -> [ ev (Op.Set(key, s, TtlChange.Clear)) ]
            | Value.Int n -> [ ev (Op.Set(key, Num.formatInt64 n, TtlChange.Clear)) ]
            | Value.List l -> ListOp.project key l |> List.map (Op.Lists >> ev)
            | Value.Hash h -> HashOp.project key h |> List.map (Op.Hashes >> ev)
            | Value.Set s -> SetOp.project key s |> List.map (Op.Sets >> ev)
            | Value.ZSet z -> ZSetOp.project key z |> List.map (Op.SortedSets >> ev)

        if Expiry.has e then value @ [ ev (Op.PExpireAt(key, e.ExpireAt)) ] else value

    /// Every key of every database that is still alive at `now` (keys already expired are left out), as
    /// events handed to `emit` one at a time, straight from the tries: how a rewrite writes its base, so
    /// nothing lazy or materialised stands between a snapshot and the file.
    let iter (now: int64) (ks: Keyspace) (emit: Event -> unit) : unit =
        for dbi in 0 .. Keyspace.databases ks - 1 do
            let db = Keyspace.db dbi ks

            if Db.size db > 0 then
                db.Keys
                |> Champ.iter (fun k e ->
                    if not (Expiry.isExpired now e) then
                        match e.Value with
                        // Nearly every key of a large dataset: one SET, no list in between.
                        | Value.Str s when not (Expiry.has e) -> emit { Db = dbi; Op = Op.Set(k, s, TtlChange.Clear) }
                        // A long list streams out chunk by chunk instead of as one list of commands.
                        | Value.List l ->
                            ListOp.projectTo k l (fun op -> emit { Db = dbi; Op = Op.Lists op })
                            if Expiry.has e then emit { Db = dbi; Op = Op.PExpireAt(k, e.ExpireAt) }
                        | _ ->
                            for ev in keyEvents dbi k e do
                                emit ev)

    /// The same events as `iter`, collected: replaying them on an empty keyspace rebuilds `ks`.
    let project (now: int64) (ks: Keyspace) : Event seq =
        let events = ResizeArray()
        iter now ks events.Add
        events :> Event seq
