namespace Aof.Core

/// A rewrite is a projection of a snapshot: the fewest events whose replay is the same dataset. The
/// keyspace is immutable, so the snapshot is the value itself, read while the executor moves on.
module Rewrite =
    /// The events of one key, handed to `emit` as they are made: the value, then its expiry if it has one.
    /// A long list streams out chunk by chunk instead of as one list of commands.
    let keyEventsTo (db: int) (key: byte[]) (e: Entry) (emit: Event -> unit) : unit =
        match e.Value with
        | Value.Str s -> emit { Db = db; Op = Op.Set(key, s, TtlChange.Clear) }
        | Value.Int n -> emit { Db = db; Op = Op.Set(key, Num.formatInt64 n, TtlChange.Clear) }
        | Value.List l -> ListOp.projectTo key l (fun op -> emit { Db = db; Op = Op.Lists op })
        | Value.Hash h ->
            for op in HashOp.project key h do
                emit { Db = db; Op = Op.Hashes op }
        | Value.Set m ->
            for op in SetOp.project key m do
                emit { Db = db; Op = Op.Sets op }
        | Value.ZSet z ->
            for op in ZSetOp.project key z do
                emit { Db = db; Op = Op.SortedSets op }

        if Expiry.has e then
            emit { Db = db; Op = Op.PExpireAt(key, e.ExpireAt) }

    /// Every key of every database that is still alive at `now` (keys already expired are left out), as
    /// events handed to `emit` one at a time, straight from the tries: how a rewrite writes its base, so
    /// nothing lazy or materialised stands between a snapshot and the file.
    let iter (now: int64) (ks: Keyspace) (emit: Event -> unit) : unit =
        for dbi in 0 .. Keyspace.databases ks - 1 do
            let db = Keyspace.db dbi ks

            if Db.size db > 0 then
                db.Keys
                |> Champ.iter (fun k e -> if not (Expiry.isExpired now e) then keyEventsTo dbi k e emit)

    /// The same events as `iter`, collected: replaying them on an empty keyspace rebuilds `ks`.
    let project (now: int64) (ks: Keyspace) : Event seq =
        let events = ResizeArray()
        iter now ks events.Add
        events :> Event seq
