namespace Aof.Core

/// Where a projection goes. A string key, the bulk of most datasets, comes as its parts, so that writing a
/// base makes no object per key: at ~120 B a key, a rewrite of a million keys kept the collector pausing
/// the event loop for milliseconds at a time.
type IProjection =
    /// `SET key value` in database `db`.
    abstract String: db: int * key: byte[] * value: byte[] -> unit
    /// Any other event.
    abstract Event: Event -> unit

/// A rewrite is a projection of a snapshot: the fewest events whose replay is the same dataset. The
/// keyspace is immutable, so the snapshot is the value itself, read while the executor moves on.
module Rewrite =
    /// One key's projection: the value, then its expiry if it has one. A long list streams out chunk by
    /// chunk instead of as one list of commands.
    let keyTo (db: int) (key: byte[]) (e: Entry) (out: IProjection) : unit =
        match e.Value with
        | Value.Str s -> out.String(db, key, s)
        | Value.Int n -> out.String(db, key, Num.formatInt64 n)
        | Value.List l -> ListOp.projectTo key l (fun op -> out.Event { Db = db; Op = Op.Lists op })
        | Value.Hash h ->
            for op in HashOp.project key h do
                out.Event { Db = db; Op = Op.Hashes op }
        | Value.Set m ->
            for op in SetOp.project key m do
                out.Event { Db = db; Op = Op.Sets op }
        | Value.ZSet z ->
            for op in ZSetOp.project key z do
                out.Event { Db = db; Op = Op.SortedSets op }

        if Expiry.has e then
            out.Event { Db = db; Op = Op.PExpireAt(key, e.ExpireAt) }

    /// Every key of every database that is still alive at `now` (keys already expired are left out), handed
    /// to `out` one at a time, straight from the tries: how a rewrite writes its base, so nothing lazy or
    /// materialised stands between a snapshot and the file.
    let iterTo (now: int64) (ks: Keyspace) (out: IProjection) : unit =
        for dbi in 0 .. Keyspace.databases ks - 1 do
            let db = Keyspace.db dbi ks

            if Db.size db > 0 then
                db.Keys |> Champ.iter (fun k e -> if not (Expiry.isExpired now e) then keyTo dbi k e out)

    /// A projection made of events only: a string key as its SET event.
    let asEvents (emit: Event -> unit) : IProjection =
        { new IProjection with
            member _.String(db, key, value) =
                emit { Db = db; Op = Op.Set(key, value, TtlChange.Clear) }

            member _.Event e = emit e }

    /// The same projection as iterTo, as events.
    let iter (now: int64) (ks: Keyspace) (emit: Event -> unit) : unit = iterTo now ks (asEvents emit)

    /// The same events as `iter`, collected: replaying them on an empty keyspace rebuilds `ks`.
    let project (now: int64) (ks: Keyspace) : Event seq =
        let events = ResizeArray()
        iter now ks events.Add
        events :> Event seq
