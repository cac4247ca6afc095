namespace Aof.Core

open System
open System.Collections.Generic

/// The hash commands' decisions. Every write is logged as HSET or HDEL of its effect: HINCRBY and
/// HINCRBYFLOAT as the field's new text, HSETNX (when it sets) as HSET, HMSET as HSET.
module HashesDecide =
    open Outcome

    let private find (db: Db) (key: byte[]) : Lookup<ChampMap<byte[]>> =
        Lookup.find (fun v -> match v with Value.Hash h -> ValueSome h | _ -> ValueNone) db key

    /// A read that found a key of another type still counts as a keyspace hit in Redis.
    let private wrongTypeRead = read true Reply.wrongType

    let private notIntegerHash = Reply.Error "ERR hash value is not an integer"
    let private notFloatHash = Reply.Error "ERR hash value is not a float"
    let private overflow = Reply.Error "ERR increment or decrement would overflow"
    let private emptyScan = Reply.Array [| Reply.Bulk "0"B; Reply.emptyArray |]

    let private hset (dbi: int) (db: Db) (k: byte[]) (pairs: (byte[] * byte[])[]) (replyOk: bool) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | found ->
            let added =
                match found with
                | Found(h, _) when pairs.Length = 1 -> if Champ.containsKey (fst pairs[0]) h then 0 else 1
                | Found(h, _) ->
                    // A field named twice in one command is new at most once.
                    let seen = HashSet<byte[]>(BytesComparer.Instance)
                    pairs |> Array.sumBy (fun (f, _) -> if not (Champ.containsKey f h) && seen.Add f then 1 else 0)
                | _ when pairs.Length = 1 -> 1
                | _ -> (HashSet<byte[]>(Seq.map fst pairs, BytesComparer.Instance)).Count

            // Setting a field to the value it has is still a write in Redis (logged, and WATCH sees it).
            write (if replyOk then Reply.ok else Reply.Integer(int64 added)) [ evt dbi (Op.Hashes(HashOp.HSet(k, pairs))) ]

    let private hsetnx (dbi: int) (db: Db) (k: byte[]) (f: byte[]) (v: byte[]) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Found(h, _) when Champ.containsKey f h -> reply Reply.zero
        | _ -> write Reply.one [ evt dbi (Op.Hashes(HashOp.HSet(k, [| f, v |]))) ]

    let private hget (db: Db) (k: byte[]) (f: byte[]) =
        match find db k with
        | Missing -> read false Reply.Nil
        | WrongType -> wrongTypeRead
        | Found(h, _) ->
            match Champ.tryFind f h with
            | ValueSome v -> read true (Reply.Bulk v)
            | ValueNone -> read true Reply.Nil

    let private hmget (db: Db) (k: byte[]) (fields: byte[][]) =
        match find db k with
        | Missing -> read false (Reply.Array(Array.create fields.Length Reply.Nil))
        | WrongType -> wrongTypeRead
        | Found(h, _) ->
            let values =
                fields
                |> Array.map (fun f ->
                    match Champ.tryFind f h with
                    | ValueSome v -> Reply.Bulk v
                    | ValueNone -> Reply.Nil)

            read true (Reply.Array values)

    let private hdel (dbi: int) (db: Db) (k: byte[]) (fields: byte[][]) =
        match find db k with
        | Missing -> reply Reply.zero
        | WrongType -> reply Reply.wrongType
        | Found(h, _) ->
            // Only the fields that were there, each once: the event records the effect.
            let present =
                if fields.Length = 1 then
                    (if Champ.containsKey fields[0] h then fields else [||])
                else
                    let seen = HashSet<byte[]>(BytesComparer.Instance)
                    fields |> Array.filter (fun f -> Champ.containsKey f h && seen.Add f)

            if present.Length = 0 then reply Reply.zero
            else write (Reply.Integer(int64 present.Length)) [ evt dbi (Op.Hashes(HashOp.HDel(k, present))) ]

    let private hlen (db: Db) (k: byte[]) =
        match find db k with
        | Missing -> read false Reply.zero
        | WrongType -> wrongTypeRead
        | Found(h, _) -> read true (Reply.Integer(int64 (Champ.count h)))

    let private hstrlen (db: Db) (k: byte[]) (f: byte[]) =
        match find db k with
        | Missing -> read false Reply.zero
        | WrongType -> wrongTypeRead
        | Found(h, _) ->
            match Champ.tryFind f h with
            | ValueSome v -> read true (Reply.Integer(int64 v.Length))
            | ValueNone -> read true Reply.zero

    let private hexists (db: Db) (k: byte[]) (f: byte[]) =
        match find db k with
        | Missing -> read false Reply.zero
        | WrongType -> wrongTypeRead
        | Found(h, _) -> read true (if Champ.containsKey f h then Reply.one else Reply.zero)

    /// HGETALL (fields and values), HKEYS, HVALS: one array sized up front, filled in hash order.
    let private dump (db: Db) (k: byte[]) (fields: bool) (values: bool) =
        match find db k with
        | Missing -> read false Reply.emptyArray
        | WrongType -> wrongTypeRead
        | Found(h, _) ->
            let per = (if fields then 1 else 0) + (if values then 1 else 0)
            let out = Array.zeroCreate<Reply> (per * Champ.count h)

            h
            |> Champ.fold
                (fun i f v ->
                    if fields then out[i] <- Reply.Bulk f
                    if values then out[i + per - 1] <- Reply.Bulk v
                    i + per)
                0
            |> ignore

            read true (Reply.Array out)

    let private hincrby (dbi: int) (db: Db) (k: byte[]) (f: byte[]) (by: int64) =
        let current =
            match find db k with
            | WrongType -> Error Reply.wrongType
            | Missing -> Ok 0L
            | Found(h, _) ->
                match Champ.tryFind f h with
                | ValueNone -> Ok 0L
                | ValueSome v ->
                    match Num.tryParseInt64 v with
                    | ValueSome n -> Ok n
                    | ValueNone -> Error notIntegerHash

        match current with
        | Error e -> reply e
        | Ok n when (by > 0L && n > Int64.MaxValue - by) || (by < 0L && n < Int64.MinValue - by) -> reply overflow
        | Ok n ->
            let r = n + by
            write (Reply.Integer r) [ evt dbi (Op.Hashes(HashOp.HSet(k, [| f, Num.formatInt64 r |]))) ]

    let private hincrbyfloat (dbi: int) (db: Db) (k: byte[]) (f: byte[]) (by: byte[]) =
        let current =
            match find db k with
            | WrongType -> Error Reply.wrongType
            | Missing -> Ok "0"B
            | Found(h, _) ->
                match Champ.tryFind f h with
                | ValueNone -> Ok "0"B
                | ValueSome v when LongDouble.isNumber v -> Ok v
                | ValueSome _ -> Error notFloatHash

        match current with
        | Error e -> reply e
        | Ok text ->
            // The logged value is the reply's text, which reads back as exactly the stored bytes.
            match LongDouble.addTexts text by with
            | Error e -> reply (Reply.Error e)
            | Ok v -> write (Reply.Bulk v) [ evt dbi (Op.Hashes(HashOp.HSet(k, [| f, v |]))) ]

    /// A reply this large would not fit in memory: Redis itself would fail trying to build it.
    [<Literal>]
    let private MaxRandomReplies = 100_000_000L

    let private pairsReply (picked: ResizeArray<struct (byte[] * byte[])>) (withValues: bool) : Reply =
        let out = Array.zeroCreate<Reply> (picked.Count * (if withValues then 2 else 1))
        let mutable i = 0

        for struct (f, v) in picked do
            out[i] <- Reply.Bulk f
            i <- i + 1

            if withValues then
                out[i] <- Reply.Bulk v
                i <- i + 1

        Reply.Array out

    /// Distinct fields, `count` < size. Like Redis, two strategies: when most of the hash is wanted, a
    /// partial shuffle of all of it; when few are, random draws until enough distinct ones turned up
    /// (O(count), not O(size)).
    let private distinct (h: ChampMap<byte[]>) (count: int) (rnd: uint64) : ResizeArray<struct (byte[] * byte[])> =
        let size = Champ.count h
        let picked = ResizeArray<struct (byte[] * byte[])>(count)
        let mutable r = rnd

        if int64 count * 3L > int64 size then
            let all = Array.zeroCreate<struct (byte[] * byte[])> size

            h
            |> Champ.fold
                (fun i f v ->
                    all[i] <- struct (f, v)
                    i + 1)
                0
            |> ignore

            for i in 0 .. count - 1 do
                let j = i + int (r % uint64 (size - i))
                let t = all[j]
                all[j] <- all[i]
                all[i] <- t
                picked.Add t
                r <- SplitMix.next r
        else
            let seen = HashSet<byte[]>(BytesComparer.Instance)

            while picked.Count < count do
                match Champ.randomEntry r h with
                | ValueSome(f, v) when seen.Add f -> picked.Add(struct (f, v))
                | _ -> ()

                r <- SplitMix.next r

        picked

    let private hrandfield (ctx: Ctx) (db: Db) (k: byte[]) (count: int64 voption) (withValues: bool) =
        match find db k, count with
        | Missing, ValueNone -> read false Reply.Nil
        | Missing, ValueSome _ -> read false Reply.emptyArray
        | WrongType, _ -> wrongTypeRead
        | Found(h, _), ValueNone ->
            match Champ.randomEntry ctx.Random h with
            | ValueSome(f, _) -> read true (Reply.Bulk f)
            | ValueNone -> read true Reply.Nil
        | Found(_, _), ValueSome 0L -> read true Reply.emptyArray
        | Found(h, _), ValueSome n when n < 0L ->
            // Repeats allowed: each pick is an independent draw.
            if -n > MaxRandomReplies then
                reply (Reply.Error "ERR value is out of range")
            else
                let picked = ResizeArray<struct (byte[] * byte[])>(int -n)
                let mutable r = ctx.Random

                for _ in 1 .. int -n do
                    match Champ.randomEntry r h with
                    | ValueSome(f, v) -> picked.Add(struct (f, v))
                    | ValueNone -> ()

                    r <- SplitMix.next r

                read true (pairsReply picked withValues)
        | Found(h, _), ValueSome n when n >= int64 (Champ.count h) ->
            let all = ResizeArray<struct (byte[] * byte[])>(Champ.count h)
            h |> Champ.iter (fun f v -> all.Add(struct (f, v)))
            read true (pairsReply all withValues)
        | Found(h, _), ValueSome n -> read true (pairsReply (distinct h (int n) ctx.Random) withValues)

    /// Redis 7.0 keeps a hash of at most 512 fields (hash-max-listpack-entries) whose fields and values
    /// are at most 64 bytes (hash-max-listpack-value) as one listpack, and HSCAN answers such a hash whole
    /// with cursor 0. (Redis never converts back once a hash outgrew that form; here a hash is judged by its
    /// present size.) The check walks at most 512 entries.
    let private isSmall (h: ChampMap<byte[]>) : bool =
        Champ.count h <= 512
        && Champ.fold (fun ok (f: byte[]) (v: byte[]) -> ok && f.Length <= 64 && v.Length <= 64) true h

    let private hscan (db: Db) (k: byte[]) (cursor: uint64) (options: Result<ScanOptions, Reply>) =
        match find db k with
        | Missing -> read false emptyScan
        | WrongType -> wrongTypeRead
        | Found(h, _) ->
            match options with
            | Error e -> reply e
            | Ok opts ->
                let keep = Scan.matches opts

                let struct (nextCursor, items) =
                    if isSmall h then struct (0UL, Champ.toSeq h |> List.ofSeq)
                    else Champ.scan cursor opts.Count h

                let out = ResizeArray<Reply>()

                for f, v in items do
                    if keep f then
                        out.Add(Reply.Bulk f)
                        out.Add(Reply.Bulk v)

                read true (Reply.Array [| Reply.Bulk(Num.formatInt64 (int64 nextCursor)); Reply.Array(out.ToArray()) |])

    let run (ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: HashCommand) : struct (Outcome * int) =
        let db = Keyspace.db dbi ks

        match cmd with
        | HashCommand.HSet(k, pairs, replyOk) -> plain (hset dbi db k pairs replyOk)
        | HashCommand.HSetNx(k, f, v) -> plain (hsetnx dbi db k f v)
        | HashCommand.HGet(k, f) -> plain (hget db k f)
        | HashCommand.HMGet(k, fields) -> plain (hmget db k fields)
        | HashCommand.HDel(k, fields) -> plain (hdel dbi db k fields)
        | HashCommand.HLen k -> plain (hlen db k)
        | HashCommand.HStrLen(k, f) -> plain (hstrlen db k f)
        | HashCommand.HExists(k, f) -> plain (hexists db k f)
        | HashCommand.HGetAll k -> plain (dump db k true true)
        | HashCommand.HKeys k -> plain (dump db k true false)
        | HashCommand.HVals k -> plain (dump db k false true)
        | HashCommand.HIncrBy(k, f, by) -> plain (hincrby dbi db k f by)
        | HashCommand.HIncrByFloat(k, f, by) -> plain (hincrbyfloat dbi db k f by)
        | HashCommand.HRandField(k, count, withValues) -> plain (hrandfield ctx db k count withValues)
        | HashCommand.HScan(k, cursor, options) -> plain (hscan db k cursor options)
