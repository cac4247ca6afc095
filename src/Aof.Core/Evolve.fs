namespace Aof.Core

/// Applies facts. No clock, no chance, no decisions: the same events over the same state always give the
/// same state, which is what makes replaying an AOF trustworthy.
module Evolve =
    let private strOf (e: Entry) =
        match Value.bytes e.Value with
        | ValueSome s -> s
        | ValueNone -> [||]

    let private rewrap = Value.rewrap

    let private setRange (current: byte[]) (offset: int) (value: byte[]) =
        let len = max current.Length (offset + value.Length)
        let out = Array.zeroCreate<byte> len
        Array.blit current 0 out 0 current.Length
        Array.blit value 0 out offset value.Length
        out

    let private applyInDb (op: Op) (db: Db) : Db =
        match op with
        | Op.Set(k, v, ttl) ->
            let expireAt =
                match ttl with
                | TtlChange.Clear -> Expiry.none
                | TtlChange.At at -> at
                | TtlChange.Keep ->
                    match Db.tryFind k db with
                    | ValueSome e -> e.ExpireAt
                    | ValueNone -> Expiry.none

            Db.set k (Entry(Value.Str v, expireAt)) db
        | Op.MSet ps -> Db.setStrings ps db
        | Op.Del ks -> Db.removeMany ks db
        | Op.Append(k, v) ->
            match Db.tryFind k db with
            | ValueSome e -> Db.set k (Entry(Value.Str(Array.append (strOf e) v), e.ExpireAt)) db
            | ValueNone -> Db.set k (Entry(Value.Str v, Expiry.none)) db
        | Op.SetRange(k, off, v) ->
            match Db.tryFind k db with
            | ValueSome e -> Db.set k (Entry(Value.Str(setRange (strOf e) (int off) v), e.ExpireAt)) db
            | ValueNone -> Db.set k (Entry(Value.Str(setRange [||] (int off) v), Expiry.none)) db
        | Op.IncrBy(k, by) ->
            match Db.tryFind k db with
            | ValueSome e ->
                let current =
                    match e.Value with
                    | Value.Int n -> n
                    | _ ->
                        match Num.tryParseInt64 (strOf e) with
                        | ValueSome n -> n
                        | ValueNone -> 0L

                Db.set k (Entry(Value.Int(current + by), e.ExpireAt)) db
            | ValueNone -> Db.set k (Entry(Value.Int by, Expiry.none)) db
        | Op.PExpireAt(k, at) ->
            match Db.tryFind k db with
            | ValueSome e -> Db.set k (Entry(e.Value, at)) db
            | ValueNone -> db
        | Op.Persist k ->
            match Db.tryFind k db with
            | ValueSome e when Expiry.has e -> Db.set k (Entry(e.Value, Expiry.none)) db
            | _ -> db
        | Op.Rename(s, d) ->
            match Db.tryFind s db with
            | ValueSome e when Bytes.equal s d -> ignore e; db
            | ValueSome e -> db |> Db.remove s |> Db.set d (Entry(rewrap e.Value, e.ExpireAt))
            | ValueNone -> db
        | Op.FlushDb -> Db.empty
        | Op.Lists op -> ListOp.apply op db
        | Op.Hashes op -> HashOp.apply op db
        | Op.Sets op -> SetOp.apply op db
        | Op.SortedSets op -> ZSetOp.apply op db
        | Op.Move _
        | Op.Copy _
        | Op.FlushAll
        | Op.SwapDb _ -> db

    /// The state after one more fact.
    let apply (ks: Keyspace) (ev: Event) : Keyspace =
        match ev.Op with
        | Op.FlushAll -> Keyspace.create (Keyspace.databases ks)
        | Op.SwapDb(a, b) ->
            let dbs = ks.Dbs
            dbs[a] <- Keyspace.db b ks
            dbs[b] <- Keyspace.db a ks
            Keyspace.ofArray dbs
        | Op.Move(k, toDb) ->
            match Db.tryFind k (Keyspace.db ev.Db ks) with
            | ValueSome e when toDb <> ev.Db ->
                let dbs = ks.Dbs
                dbs[ev.Db] <- Db.remove k dbs[ev.Db]
                dbs[toDb] <- Db.set k (Entry(rewrap e.Value, e.ExpireAt)) dbs[toDb]
                Keyspace.ofArray dbs
            | _ -> ks
        | Op.Copy(s, d, toDb, _) ->
            match Db.tryFind s (Keyspace.db ev.Db ks) with
            | ValueSome e -> Keyspace.withDb toDb (Db.set d (Entry(rewrap e.Value, e.ExpireAt)) (Keyspace.db toDb ks)) ks
            | ValueNone -> ks
        | op -> Keyspace.withDb ev.Db (applyInDb op (Keyspace.db ev.Db ks)) ks

    /// Replay: the state is the fold of its facts.
    let replay (state: Keyspace) (events: Event seq) : Keyspace = Seq.fold apply state events

    /// The fold for bulk loading, fed one fact at a time: runs of plain SET / PEXPIREAT / DEL go through the
    /// map's transients (edited in place, kept open across additions, frozen when the state is read) instead of
    /// one persistent copy per key; every other fact goes through `Evolve.apply`. Equal to `Evolve.replay` (a
    /// property test holds it so).
    [<Sealed>]
    type BulkFold(initial: Keyspace) =
        let mutable ks = initial
        let keys: ChampTransient<Entry>[] = Array.zeroCreate (Keyspace.databases initial)
        let expires: ChampTransient<int64>[] = Array.zeroCreate (Keyspace.databases initial)
        let mutable open' = false

        let ensure (dbi: int) =
            if isNull (box keys[dbi]) then
                keys[dbi] <- Champ.toTransient (Keyspace.db dbi ks).Keys
                expires[dbi] <- Champ.toTransient (Keyspace.db dbi ks).Expires
                open' <- true

        let freeze () =
            if open' then
                let dbs = ks.Dbs

                for i in 0 .. dbs.Length - 1 do
                    if not (isNull (box keys[i])) then
                        dbs[i] <- { Keys = keys[i].Persist(); Expires = expires[i].Persist(); Owner = null }
                        keys[i] <- Unchecked.defaultof<_>
                        expires[i] <- Unchecked.defaultof<_>

                ks <- Keyspace.ofArray dbs
                open' <- false

        member _.Add(ev: Event) : unit =
            match ev.Op with
            | Op.Set(k, v, TtlChange.Clear) ->
                ensure ev.Db
                keys[ev.Db].Set(k, Entry(Value.Str v, Expiry.none))
                if expires[ev.Db].Count > 0 then expires[ev.Db].Remove k
            | Op.Set(k, v, TtlChange.At at) ->
                ensure ev.Db
                keys[ev.Db].Set(k, Entry(Value.Str v, at))
                expires[ev.Db].Set(k, at)
            | Op.PExpireAt(k, at) ->
                ensure ev.Db

                match keys[ev.Db].TryFind k with
                | ValueSome e ->
                    keys[ev.Db].Set(k, Entry(e.Value, at))
                    expires[ev.Db].Set(k, at)
                | ValueNone -> ()
            | Op.Del ds ->
                ensure ev.Db

                for k in ds do
                    keys[ev.Db].Remove k
                    if expires[ev.Db].Count > 0 then expires[ev.Db].Remove k
            | _ ->
                freeze ()
                ks <- apply ks ev

        /// The state so far (freezes the transients; later additions open new ones).
        member _.State: Keyspace =
            freeze ()
            ks

    /// `replay` for bulk loading, through a BulkFold.
    let replayBulk (state: Keyspace) (events: Event seq) : Keyspace =
        let fold = BulkFold state

        for e in events do
            fold.Add e

        fold.State
