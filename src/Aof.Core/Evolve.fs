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

    /// A single-key SET, PEXPIREAT or collection addition (RPUSH/LPUSH, HSET, SADD) held back in a
    /// BulkFold's batch.
    [<Struct; NoEquality; NoComparison>]
    type private Held =
        { Key: byte[]
          Hash: uint32
          /// The string a SET stores; null otherwise.
          Value: byte[]
          /// What an addition adds, built as if the key were absent (a list, hash or set); null otherwise.
          /// Consecutive additions of one kind to one key extend it.
          mutable Adds: Value
          /// For a push: whether to the front.
          Left: bool
          /// Whether it sets an expiry (a SET without one clears it).
          Ttl: bool
          /// The expiry it sets (`Expiry.none` for a SET that clears it).
          At: int64 }

    /// An addition's effect on a key that holds `current`: what a push, HSET or SADD does to a value of
    /// its own type, written as one step (the key keeps its TTL); a key of another type is left alone.
    let private addTo (h: inref<Held>) (current: Entry) : Entry =
        match current.Value, h.Adds with
        | Value.List l, Value.List added -> Entry(Value.List(if h.Left then PList.append added l else PList.append l added), current.ExpireAt)
        | Value.Hash m, Value.Hash added -> Entry(Value.Hash(Champ.fold (fun m f v -> Champ.add f v m) m added), current.ExpireAt)
        | Value.Set m, Value.Set added -> Entry(Value.Set(Champ.fold (fun m f () -> Champ.add f () m) m added), current.ExpireAt)
        | _ -> current

    /// A held fact that is not an addition.
    let private noAdds = Unchecked.defaultof<Value>

    /// A held fact's effect on its key's entry (ValueNone: the key stays absent), as `apply` has it.
    let private heldEntry (h: inref<Held>) (current: Entry voption) : Entry voption =
        if not (isNull h.Value) then
            ValueSome(Entry(Value.Str h.Value, h.At))
        elif not (obj.ReferenceEquals(h.Adds, null)) then
            match current with
            | ValueSome e -> ValueSome(addTo &h e)
            | ValueNone -> ValueSome(Entry(h.Adds, Expiry.none))
        else
            match current with
            | ValueSome e -> ValueSome(Entry(e.Value, h.At))
            | ValueNone -> ValueNone

    /// A held fact's effect on the TTL index, given whether its key is present after it: a PEXPIREAT or a
    /// SET with an expiry sets it, a plain SET clears it, an addition keeps it.
    let private indexTtl (expires: ChampTransient<int64>) (h: inref<Held>) (present: bool) : unit =
        if h.Ttl then
            if present then expires.Set(h.Key, h.At)
        elif not (isNull h.Value) && expires.Count > 0 then
            expires.Remove h.Key

    /// The fold for bulk loading, fed one fact at a time: runs of plain SET / PEXPIREAT / DEL and of additions
    /// to collections (RPUSH/LPUSH, HSET, SADD) go through the map's transients (edited in place, kept open
    /// across facts, frozen when the state is read) instead of one persistent copy per key; every other fact
    /// goes through `Evolve.apply`. Equal to `Evolve.replay` (a property test holds it so).
    ///
    /// Single-key SETs, PEXPIREATs and additions of one database are held back in a batch, sorted by their keys' paths
    /// through the trie and merged in one walk (`ChampTransient.MergeRun`). Facts on different keys commute
    /// and each key's own facts keep their order, so the state is the same. But each node is then built once
    /// with exact arrays, where one insert at a time in log order would send every key down a random path of
    /// a large map, missing the cache at each level, and grow the nodes' arrays step by step.
    [<Sealed>]
    type BulkFold(initial: Keyspace) =
        let mutable ks = initial
        let keys: ChampTransient<Entry>[] = Array.zeroCreate (Keyspace.databases initial)
        let expires: ChampTransient<int64>[] = Array.zeroCreate (Keyspace.databases initial)
        let mutable open' = false

        // The batch (in log order until a merge sorts it), and per fact its trie order (high half) and its
        // index (low half).
        let batchLimit = 1 <<< 20
        let mutable batch: Held[] = Array.zeroCreate 1024
        let mutable order: uint64[] = Array.zeroCreate 1024
        let mutable batched = 0
        let mutable batchDb = 0
        // Whether a fact of the batch sets an expiry.
        let mutable batchTtl = false
        // A merge's run: the batch's hashes and keys, in trie order.
        let mutable hashes: uint32[] = [||]
        let mutable runKeys: byte[][] = [||]

        let ensure (dbi: int) =
            if isNull (box keys[dbi]) then
                keys[dbi] <- Champ.toTransient (Keyspace.db dbi ks).Keys
                expires[dbi] <- Champ.toTransient (Keyspace.db dbi ks).Expires
                open' <- true

        // Below this many facts a batch is applied one by one, in place: merging would copy its paths.
        let mergeFrom = 64

        let applyOne (db: int) (h: inref<Held>) =
            // Only a PEXPIREAT reads the entry it changes; a SET replaces it unseen.
            let current = if isNull h.Value then keys[db].TryFind h.Key else ValueNone
            let after = heldEntry &h current

            match after with
            | ValueSome e -> keys[db].Set(h.Key, e)
            | ValueNone -> ()

            indexTtl expires[db] &h after.IsSome

        let merge (db: int) (n: int) =
            // The facts move with their keys (the index in the low half makes the order stable: a key's facts
            // stay in log order), so every pass below reads the batch front to back.
            System.Array.Sort(order, batch, 0, n)

            if hashes.Length < n then
                hashes <- Array.zeroCreate batch.Length
                runKeys <- Array.zeroCreate batch.Length

            for i in 0 .. n - 1 do
                hashes[i] <- batch[i].Hash
                runKeys[i] <- batch[i].Key

            // Whether each fact's key is present after it (a PEXPIREAT of a missing key leaves it missing).
            let present = Array.zeroCreate<bool> n

            keys[db].MergeRun(
                hashes,
                runKeys,
                n,
                fun current i ->
                    let after = heldEntry &batch[i] current
                    present[i] <- after.IsSome
                    after
            )

            System.Array.Clear(runKeys, 0, n)
            let ex = expires[db]

            // The TTL index changes only for a fact that sets an expiry, or one that clears it in a database
            // where some key has one.
            if batchTtl || ex.Count > 0 then
                for i in 0 .. n - 1 do
                    indexTtl ex &batch[i] present[i]

        let flush () =
            if batched > 0 then
                let n = batched
                batched <- 0
                ensure batchDb

                if n < mergeFrom then
                    for i in 0 .. n - 1 do
                        applyOne batchDb &batch[i]
                else
                    merge batchDb n

                System.Array.Clear(batch, 0, n)
                batchTtl <- false

        let hold (db: int) (key: byte[]) (value: byte[]) (adds: Value) (left: bool) (ttl: bool) (at: int64) =
            if batched > 0 && db <> batchDb then flush ()

            if batched = batch.Length then
                if batched >= batchLimit then
                    flush ()
                else
                    System.Array.Resize(&batch, batch.Length * 2)
                    System.Array.Resize(&order, order.Length * 2)

            let hash = uint32 (Bytes.hash key)
            batchDb <- db
            batchTtl <- batchTtl || ttl
            batch[batched] <- { Key = key; Hash = hash; Value = value; Adds = adds; Left = left; Ttl = ttl; At = at }
            order[batched] <- (uint64 (Champ.trieOrder hash) <<< 32) ||| uint64 batched
            batched <- batched + 1

        /// The last held fact when it is an addition to `key` in `db`, which the next addition may extend;
        /// -1 otherwise. A rewritten base writes a key's additions one after the other.
        let lastAdditionTo (db: int) (key: byte[]) =
            let i = batched - 1

            if i >= 0 && batchDb = db && not (obj.ReferenceEquals(batch[i].Adds, null)) && Bytes.equal batch[i].Key key then
                i
            else
                -1

        let push (db: int) (key: byte[]) (vs: byte[][]) (left: bool) =
            let i = lastAdditionTo db key

            match (if i >= 0 then ValueSome batch[i].Adds else ValueNone) with
            | ValueSome(Value.List l) when batch[i].Left = left -> batch[i].Adds <- Value.List(ListOp.push left vs l)
            | _ -> hold db key null (Value.List(ListOp.push left vs PList.empty)) left false Expiry.none

        let hset (db: int) (key: byte[]) (pairs: (byte[] * byte[])[]) =
            let i = lastAdditionTo db key

            match (if i >= 0 then ValueSome batch[i].Adds else ValueNone) with
            | ValueSome(Value.Hash h) -> batch[i].Adds <- Value.Hash(HashOp.setAll h pairs)
            | _ -> hold db key null (Value.Hash(HashOp.setAll Champ.empty pairs)) false false Expiry.none

        let sadd (db: int) (key: byte[]) (members: byte[][]) =
            let i = lastAdditionTo db key

            match (if i >= 0 then ValueSome batch[i].Adds else ValueNone) with
            | ValueSome(Value.Set m) -> batch[i].Adds <- Value.Set(SetOp.addAll m members)
            | _ -> hold db key null (Value.Set(SetOp.addAll Champ.empty members)) false false Expiry.none

        let freeze () =
            flush ()

            if open' then
                let dbs = ks.Dbs

                for i in 0 .. dbs.Length - 1 do
                    if not (isNull (box keys[i])) then
                        dbs[i] <- { Keys = keys[i].Persist(); Expires = expires[i].Persist(); Owner = null }
                        keys[i] <- Unchecked.defaultof<_>
                        expires[i] <- Unchecked.defaultof<_>

                ks <- Keyspace.ofArray dbs
                open' <- false

        /// The same as adding a plain SET's fact (`Op.Set(key, value, TtlChange.Clear)` in `db`), without
        /// making one: the loader reads most of a base file this way.
        member _.Set(db: int, key: byte[], value: byte[]) : unit = hold db key value noAdds false false Expiry.none

        member _.Add(ev: Event) : unit =
            match ev.Op with
            | Op.Set(k, v, TtlChange.Clear) -> hold ev.Db k v noAdds false false Expiry.none
            | Op.Set(k, v, TtlChange.At at) -> hold ev.Db k v noAdds false true at
            | Op.PExpireAt(k, at) -> hold ev.Db k null noAdds false true at
            // Additions that cannot empty a key and need no other key: held like SETs, so that a base made of
            // collections is merged in trie order too.
            | Op.Lists(ListOp.Push(k, vs, left, false)) when vs.Length > 0 -> push ev.Db k vs left
            | Op.Hashes(HashOp.HSet(k, pairs)) when pairs.Length > 0 -> hset ev.Db k pairs
            | Op.Sets(SetOp.Add(k, ms)) when ms.Length > 0 -> sadd ev.Db k ms
            | Op.Del ds ->
                flush ()
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
