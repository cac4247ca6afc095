namespace Aof.Core

open System

/// The sorted-set commands' decisions. Every write is logged as plain facts: ZADD of the final scores of
/// the members it changed (ZADD's options, ZINCRBY, the *STORE commands) or ZREM of the members it removed
/// (ZREM, pops, blocking pops, range removals); a *STORE also logs a DEL of the destination it replaced.
module SortedSetsDecide =
    open Outcome

    let private nanScore = Reply.Error "ERR resulting score is not a number (NaN)"

    let private find (db: Db) (key: byte[]) : Lookup<ZSet> =
        Lookup.find (fun v -> match v with Value.ZSet z -> ValueSome z | _ -> ValueNone) db key

    let private bulkScore (s: float) = Reply.Bulk(Score.format s)

    /// Members per logged ZADD / ZREM: a huge store or range removal becomes several commands (wrapped in
    /// MULTI/EXEC by the engine), each far below the multibulk cap an AOF loader enforces.
    [<Literal>]
    let private MembersPerEvent = 1024

    let private addEvents (dbi: int) (key: byte[]) (items: struct (byte[] * float)[]) : Event list =
        if items.Length <= MembersPerEvent then
            (if items.Length = 0 then [] else [ evt dbi (Op.SortedSets(ZSetOp.Add(key, items))) ])
        else [ for chunk in Array.chunkBySize MembersPerEvent items -> evt dbi (Op.SortedSets(ZSetOp.Add(key, chunk))) ]

    let private remEvents (dbi: int) (key: byte[]) (members: byte[][]) : Event list =
        if members.Length <= MembersPerEvent then
            (if members.Length = 0 then [] else [ evt dbi (Op.SortedSets(ZSetOp.Rem(key, members))) ])
        else [ for chunk in Array.chunkBySize MembersPerEvent members -> evt dbi (Op.SortedSets(ZSetOp.Rem(key, chunk))) ]

    let private elements (items: struct (byte[] * float)[]) (withScores: bool) : Reply =
        if withScores then
            let out = Array.zeroCreate (2 * items.Length)

            for i in 0 .. items.Length - 1 do
                let struct (m, s) = items[i]
                out[2 * i] <- Reply.Bulk m
                out[2 * i + 1] <- bulkScore s

            Reply.Array out
        else Reply.Array(items |> Array.map (fun (struct (m, _)) -> Reply.Bulk m))

    // ---- ZADD / ZINCRBY ----

    let private add (dbi: int) (db: Db) (key: byte[]) (f: ZAddFlags) (pairs: struct (byte[] * byte[])[]) : Outcome =
        let scores = pairs |> Array.map (fun (struct (_, s)) -> ZSetCommand.parseStrictFloat s)

        if scores |> Array.exists (fun s -> s.IsNone) then reply Reply.notFloat
        else
            match find db key with
            | WrongType -> reply Reply.wrongType
            | Missing when f.Xx -> reply (if f.Incr then Reply.Nil else Reply.zero)
            | found ->
                let original = match found with Found(z, _) -> z | _ -> ZSet.empty
                let mutable z = original
                let mutable added = 0
                let mutable updated = 0
                let mutable processed = false
                let mutable lastScore = 0.0
                let mutable nan = false
                let mutable i = 0

                while not nan && i < pairs.Length do
                    let struct (m, _) = pairs[i]
                    let score = scores[i].Value

                    match ZSet.tryScore m z with
                    | ValueSome cur ->
                        if not f.Nx then
                            let score = if f.Incr then cur + score else score

                            if Double.IsNaN score then nan <- true
                            elif (f.Lt && score >= cur) || (f.Gt && score <= cur) then ()
                            else
                                let score = ZSet.storedScore z.Count m.Length score
                                processed <- true
                                lastScore <- score

                                if score <> cur then
                                    z <- ZSet.add m score z
                                    updated <- updated + 1
                    | ValueNone ->
                        if not f.Xx then
                            z <- ZSet.add m (ZSet.storedScore (z.Count + 1) m.Length score) z
                            added <- added + 1
                            processed <- true
                            // The reply is the score as given (`-0`), though a zero is stored as 0.
                            lastScore <- score

                    i <- i + 1

                if nan then reply nanScore
                else
                    // The facts: every touched member whose score is not what it was, at its final score.
                    let changed = ResizeArray()
                    let seen = if pairs.Length > 1 then Collections.Generic.HashSet<byte[]>(BytesComparer.Instance) else null

                    for struct (m, _) in pairs do
                        if isNull seen || seen.Add m then
                            match ZSet.tryScore m z, ZSet.tryScore m original with
                            | ValueSome s, ValueSome o when s = o -> ()
                            | ValueSome s, _ -> changed.Add(struct (m, s))
                            | ValueNone, _ -> ()

                    let r =
                        if f.Incr then (if processed then bulkScore lastScore else Reply.Nil)
                        else Reply.Integer(int64 (if f.Ch then added + updated else added))

                    write r (addEvents dbi key (changed.ToArray()))

    // ---- removals ----

    let private removedEvents (dbi: int) (key: byte[]) (removed: struct (byte[] * float)[]) =
        remEvents dbi key (removed |> Array.map (fun (struct (m, _)) -> m))

    let private rem (dbi: int) (db: Db) (key: byte[]) (members: byte[][]) : Outcome =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(z, _) ->
            let mutable z = z
            let removed = ResizeArray()

            for m in members do
                if (ZSet.tryScore m z).IsSome then
                    z <- ZSet.remove m z
                    removed.Add m

            if removed.Count = 0 then reply Reply.zero
            else write (Reply.Integer(int64 removed.Count)) (remEvents dbi key (removed.ToArray()))

    /// Ranks lo .. hi-1 removed: the reply is how many.
    let private removeRanks (dbi: int) (key: byte[]) (z: ZSet) (lo: int) (hi: int) : Outcome =
        if lo >= hi then reply Reply.zero
        else
            let gone = ZSet.slice lo hi z
            write (Reply.Integer(int64 gone.Length)) (removedEvents dbi key gone)

    let private rankWindow (len: int) (start: int64) (stop: int64) = ZRanks.window len start stop

    let private remRangeByRank (dbi: int) (db: Db) key start stop =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(z, _) ->
            let struct (lo, hi) = rankWindow z.Count start stop
            removeRanks dbi key z lo hi

    let private remRangeByScore (dbi: int) (db: Db) key mn mx =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(z, _) -> removeRanks dbi key z (ZSet.scoreStart mn z) (ZSet.scoreStop mx z)

    let private remRangeByLex (dbi: int) (db: Db) key mn mx =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(z, _) -> removeRanks dbi key z (ZSet.lexStart mn z) (ZSet.lexStop mx z)

    // ---- reads ----

    let private score (db: Db) key m =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.Nil
        | Found(z, _) ->
            match ZSet.tryScore m z with
            | ValueSome s -> read true (bulkScore s)
            | ValueNone -> read true Reply.Nil

    let private mscore (db: Db) key (members: byte[][]) =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false (Reply.Array(Array.create members.Length Reply.Nil))
        | Found(z, _) ->
            let scoreOf m =
                match ZSet.tryScore m z with
                | ValueSome s -> bulkScore s
                | ValueNone -> Reply.Nil

            read true (Reply.Array(Array.map scoreOf members))

    let private card (db: Db) key =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.zero
        | Found(z, _) -> read true (Reply.Integer(int64 z.Count))

    let private countIn (db: Db) key (window: ZSet -> struct (int * int)) =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.zero
        | Found(z, _) ->
            let struct (lo, hi) = window z
            read true (Reply.Integer(int64 (max 0 (hi - lo))))

    let private rank (db: Db) key m rev =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.Nil
        | Found(z, _) ->
            match ZSet.rank m z with
            | ValueSome r -> read true (Reply.Integer(int64 (if rev then z.Count - 1 - r else r)))
            | ValueNone -> read true Reply.Nil

    let private range (db: Db) (q: ZRangeQuery) =
        match find db q.Key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.emptyArray
        | Found(z, _) -> read true (elements (ZAlgebra.select z q) q.WithScores)

    // ---- stores ----

    /// Replaces `dst` with the sorted set of `items` (deleting it when they are none).
    let private storeResult (dbi: int) (db: Db) (dst: byte[]) (items: struct (byte[] * float)[]) : Outcome =
        let items = ZAlgebra.stored items
        let existed = Champ.containsKey dst db.Keys
        let del = if existed then [ evt dbi (Op.Del [| dst |]) ] else []
        let add = addEvents dbi dst items
        write (Reply.Integer(int64 items.Length)) (del @ add)

    let private rangeStore (dbi: int) (db: Db) (dst: byte[]) (q: ZRangeQuery) =
        match find db q.Key with
        | WrongType -> reply Reply.wrongType
        | Missing -> storeResult dbi db dst [||]
        | Found(z, _) -> storeResult dbi db dst (ZAlgebra.select z q)

    let private store (dbi: int) (db: Db) algebra dst (keys: byte[][]) (weights: float[]) agg =
        match ZAlgebra.combine db algebra keys weights agg with
        | Ok items -> storeResult dbi db dst items
        | Error() -> reply Reply.wrongType

    let private combined (db: Db) algebra (keys: byte[][]) (weights: float[]) agg withScores =
        match ZAlgebra.combine db algebra keys weights agg with
        | Ok items -> reply (elements items withScores)
        | Error() -> reply Reply.wrongType

    // ---- pops ----

    /// The `count` lowest (or highest) elements, in pop order.
    let private popped (z: ZSet) (max: bool) (count: int) : struct (byte[] * float)[] =
        let count = min count z.Count

        if max then
            let items = ZSet.slice (z.Count - count) z.Count z
            Array.Reverse items
            items
        else ZSet.slice 0 count z

    let private pop (dbi: int) (db: Db) key max (count: int64 voption) =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.emptyArray
        | Found(z, _) ->
            let n = match count with ValueSome c -> int (min c (int64 Int32.MaxValue)) | ValueNone -> 1

            if n = 0 then reply Reply.emptyArray
            else
                let items = popped z max n
                write (elements items true) (removedEvents dbi key items)

    let private bpop (dbi: int) (db: Db) (keys: byte[][]) max =
        let rec go i =
            if i >= keys.Length then blocked
            else
                match find db keys[i] with
                | WrongType -> reply Reply.wrongType
                | Missing -> go (i + 1)
                | Found(z, _) ->
                    let struct (m, s) = (popped z max 1)[0]
                    write (Reply.Array [| Reply.Bulk keys[i]; Reply.Bulk m; bulkScore s |]) (removedEvents dbi keys[i] [| struct (m, s) |])

        go 0

    let private mpop (dbi: int) (db: Db) (keys: byte[][]) max (count: int64) (blocking: bool) =
        let rec go i =
            if i >= keys.Length then (if blocking then blocked else reply Reply.NilArray)
            else
                match find db keys[i] with
                | WrongType -> reply Reply.wrongType
                | Missing -> go (i + 1)
                | Found(z, _) ->
                    let items = popped z max (int (min count (int64 z.Count)))
                    let pairs = items |> Array.map (fun (struct (m, s)) -> Reply.Array [| Reply.Bulk m; bulkScore s |])
                    write (Reply.Array [| Reply.Bulk keys[i]; Reply.Array pairs |]) (removedEvents dbi keys[i] items)

        go 0

    let private interCard (db: Db) (keys: byte[][]) (limit: int64) =
        match ZAlgebra.sources db keys with
        | Error() -> reply Reply.wrongType
        | Ok sources ->
            let sources = sources |> Array.sortBy ZAlgebra.sourceCount

            if ZAlgebra.sourceCount sources[0] = 0 then reply Reply.zero
            else
                let mutable n = 0L

                // Stops early once the limit is reached, as Redis does; the walk itself cannot be cut short.
                sources[0]
                |> ZAlgebra.sourceIter (fun m _ ->
                    if limit = 0L || n < limit then
                        let mutable j = 1

                        while j < sources.Length && (ZAlgebra.sourceScore m sources[j]).IsSome do
                            j <- j + 1

                        if j = sources.Length then n <- n + 1L)

                reply (Reply.Integer n)

    // ---- ZRANDMEMBER ----

    let private randMember (ctx: Ctx) (db: Db) key (count: int64 voption) withScores =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false (if count.IsSome then Reply.emptyArray else Reply.Nil)
        | Found(z, _) ->
            let n = z.Count
            let pick (r: uint64) = ZSet.item (int (r % uint64 n)) z

            match count with
            | ValueNone ->
                let struct (m, _) = pick (SplitMix.next ctx.Random)
                read true (Reply.Bulk m)
            | ValueSome 0L -> read true Reply.emptyArray
            | ValueSome c when c < 0L ->
                // Repeats allowed: each of the |count| draws on its own.
                let k = int (min (-c) (int64 Int32.MaxValue))
                let out = Array.zeroCreate k
                let mutable r = ctx.Random

                for i in 0 .. k - 1 do
                    r <- SplitMix.next r
                    out[i] <- pick r

                read true (elements out withScores)
            | ValueSome c when c >= int64 n ->
                // The whole set, highest first, as Redis 7.0 answers.
                let all = ZSet.slice 0 n z
                Array.Reverse all
                read true (elements all withScores)
            | ValueSome c ->
                // Distinct members: a partial Fisher-Yates shuffle over the ranks, only as far as `c`.
                let k = int c
                let swapped = Collections.Generic.Dictionary<int, int>()
                let at i = match swapped.TryGetValue i with | true, v -> v | _ -> i
                let out = Array.zeroCreate k
                let mutable r = ctx.Random

                for i in 0 .. k - 1 do
                    r <- SplitMix.next r
                    let j = i + int (r % uint64 (n - i))
                    let chosen = at j
                    swapped[j] <- at i
                    out[i] <- ZSet.item chosen z

                read true (elements out withScores)

    // ---- ZSCAN ----

    let private scan (db: Db) key (cursor: uint64) (options: byte[][]) =
        match find db key with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false (Reply.Array [| Reply.Bulk "0"B; Reply.emptyArray |])
        | Found(z, _) ->
            match Scan.options options 0 with
            | Error e -> reply e
            | Ok o ->
                let matches = Scan.matches o

                // Small sets (Redis's listpacks) come back whole, in order, with cursor 0.
                let small =
                    z.Count <= 128 && ZSet.toSeq z |> Seq.forall (fun (struct (m, _)) -> m.Length <= 64)

                let struct (nextCursor, items) =
                    if small then struct (0UL, ZSet.toSeq z |> Seq.toList |> List.map (fun (struct (m, s)) -> m, s))
                    else Champ.scan cursor o.Count z.Scores

                let out = ResizeArray()

                for (m, s) in items do
                    if matches m then
                        out.Add(Reply.Bulk m)
                        out.Add(bulkScore s)

                read true (Reply.Array [| Reply.Bulk(Num.formatInt64 (int64 nextCursor)); Reply.Array(out.ToArray()) |])

    let run (ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: ZSetCommand) : struct (Outcome * int) =
        let db = Keyspace.db dbi ks

        match cmd with
        | ZSetCommand.Add(k, f, pairs) -> plain (add dbi db k f pairs)
        | ZSetCommand.Rem(k, ms) -> plain (rem dbi db k ms)
        | ZSetCommand.Score(k, m) -> plain (score db k m)
        | ZSetCommand.MScore(k, ms) -> plain (mscore db k ms)
        | ZSetCommand.Card k -> plain (card db k)
        | ZSetCommand.Count(k, mn, mx) -> plain (countIn db k (fun z -> struct (ZSet.scoreStart mn z, ZSet.scoreStop mx z)))
        | ZSetCommand.LexCount(k, mn, mx) -> plain (countIn db k (fun z -> struct (ZSet.lexStart mn z, ZSet.lexStop mx z)))
        | ZSetCommand.Rank(k, m, rev) -> plain (rank db k m rev)
        | ZSetCommand.Range q -> plain (range db q)
        | ZSetCommand.RangeStore(dst, q) -> plain (rangeStore dbi db dst q)
        | ZSetCommand.Pop(k, mx, count) -> plain (pop dbi db k mx count)
        | ZSetCommand.BPop(keys, mx, _) -> plain (bpop dbi db keys mx)
        | ZSetCommand.MPop(keys, mx, count, timeout) -> plain (mpop dbi db keys mx count timeout.IsSome)
        | ZSetCommand.InterCard(keys, limit) -> plain (interCard db keys limit)
        | ZSetCommand.RemRangeByRank(k, s, e) -> plain (remRangeByRank dbi db k s e)
        | ZSetCommand.RemRangeByScore(k, mn, mx) -> plain (remRangeByScore dbi db k mn mx)
        | ZSetCommand.RemRangeByLex(k, mn, mx) -> plain (remRangeByLex dbi db k mn mx)
        | ZSetCommand.RandMember(k, count, ws) -> plain (randMember ctx db k count ws)
        | ZSetCommand.Store(algebra, dst, keys, weights, agg) -> plain (store dbi db algebra dst keys weights agg)
        | ZSetCommand.Combine(algebra, keys, weights, agg, ws) -> plain (combined db algebra keys weights agg ws)
        | ZSetCommand.Scan(k, cursor, options) -> plain (scan db k cursor options)
        | ZSetCommand.BadOptions(keys, e) ->
            match ZAlgebra.sources db keys with
            | Error() -> plain (reply Reply.wrongType)
            | Ok _ -> plain (reply e)
