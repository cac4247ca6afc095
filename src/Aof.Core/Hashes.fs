namespace Aof.Core

/// A hash command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type HashCommand =
    /// HSET (replies the number of new fields) and HMSET (replies OK).
    | HSet of key: byte[] * pairs: (byte[] * byte[])[] * replyOk: bool
    | HSetNx of key: byte[] * field: byte[] * value: byte[]
    | HGet of key: byte[] * field: byte[]
    | HMGet of key: byte[] * fields: byte[][]
    | HDel of key: byte[] * fields: byte[][]
    | HLen of key: byte[]
    | HStrLen of key: byte[] * field: byte[]
    | HExists of key: byte[] * field: byte[]
    | HGetAll of key: byte[]
    | HKeys of key: byte[]
    | HVals of key: byte[]
    | HIncrBy of key: byte[] * field: byte[] * by: int64
    /// The increment as the client wrote it: the sum is computed from both texts (see `LongDouble`).
    | HIncrByFloat of key: byte[] * field: byte[] * by: byte[]
    /// No count: one field or nil. With a count: an array (negative = repeats allowed).
    | HRandField of key: byte[] * count: int64 voption * withValues: bool
    | HScan of key: byte[] * cursor: uint64 * options: Result<ScanOptions, Reply>

/// A deterministic hash fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
/// Our decisions only ever log HSET and HDEL; HSETNX and HINCRBY are read back because Redis's own AOF
/// records them as the client sent them.
[<RequireQualifiedAccess>]
type HashOp =
    /// Fields set in order (a repeated field: the last value wins); creates the hash if absent.
    | HSet of key: byte[] * pairs: (byte[] * byte[])[]
    /// Fields removed; a hash left empty disappears.
    | HDel of key: byte[] * fields: byte[][]
    | HSetNx of key: byte[] * field: byte[] * value: byte[]
    | HIncrBy of key: byte[] * field: byte[] * by: int64

module HashCommand =
    let private pairsOf (a: byte[][]) (from: int) : (byte[] * byte[])[] =
        Array.init ((a.Length - from) / 2) (fun i -> a[from + 2 * i], a[from + 2 * i + 1])

    let private hset (name: string) (replyOk: bool) (a: byte[][]) : Result<HashCommand, Reply> =
        // key plus whole field-value pairs, at least one: the table's arity (-4) cannot say "even".
        if a.Length % 2 = 1 then Error(Reply.wrongArity name)
        else Ok(HashCommand.HSet(a[1], pairsOf a 2, replyOk))

    let private hincrby (a: byte[][]) : Result<HashCommand, Reply> =
        match Num.tryParseInt64 a[3] with
        | ValueSome by -> Ok(HashCommand.HIncrBy(a[1], a[2], by))
        | ValueNone -> Error Reply.notInteger

    let private hincrbyfloat (a: byte[][]) : Result<HashCommand, Reply> =
        match LongDouble.checkIncrement a[3] with
        | LongDouble.Increment.NotANumber -> Error Reply.notFloat
        | LongDouble.Increment.Infinite -> Error(Reply.Error "ERR value is NaN or Infinity")
        | LongDouble.Increment.Valid -> Ok(HashCommand.HIncrByFloat(a[1], a[2], a[3]))

    /// HRANDFIELD's count is within ±LONG_MAX, and with WITHVALUES within ±LONG_MAX/2 (twice as many
    /// replies must still be countable). Count and syntax are checked before the key is looked at.
    let private hrandfield (a: byte[][]) : Result<HashCommand, Reply> =
        if a.Length = 2 then
            Ok(HashCommand.HRandField(a[1], ValueNone, false))
        else
            match Num.tryParseInt64 a[2] with
            | ValueNone -> Error Reply.notInteger
            | ValueSome n when n = System.Int64.MinValue ->
                Error(Reply.Error "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            | ValueSome n ->
                if a.Length > 4 || (a.Length = 4 && not (Bytes.eqLower "withvalues" a[3])) then
                    Error Reply.syntaxError
                elif a.Length = 4 && (n < -(System.Int64.MaxValue / 2L) || n > System.Int64.MaxValue / 2L) then
                    Error(Reply.Error "ERR value is out of range")
                else
                    Ok(HashCommand.HRandField(a[1], ValueSome n, (a.Length = 4)))

    let private hscan (a: byte[][]) : Result<HashCommand, Reply> =
        match Scan.parseCursor a[2] with
        | ValueNone -> Error(Reply.Error "ERR invalid cursor")
        | ValueSome cursor -> Ok(HashCommand.HScan(a[1], cursor, Scan.options a 3))

    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<HashCommand, Reply>)) list =
        [ "hset", -4, true, hset "hset" false
          "hmset", -4, true, hset "hmset" true
          "hsetnx", 4, true, (fun a -> Ok(HashCommand.HSetNx(a[1], a[2], a[3])))
          "hget", 3, false, (fun a -> Ok(HashCommand.HGet(a[1], a[2])))
          "hmget", -3, false, (fun a -> Ok(HashCommand.HMGet(a[1], a[2..])))
          "hdel", -3, true, (fun a -> Ok(HashCommand.HDel(a[1], a[2..])))
          "hlen", 2, false, (fun a -> Ok(HashCommand.HLen a[1]))
          "hstrlen", 3, false, (fun a -> Ok(HashCommand.HStrLen(a[1], a[2])))
          "hexists", 3, false, (fun a -> Ok(HashCommand.HExists(a[1], a[2])))
          "hgetall", 2, false, (fun a -> Ok(HashCommand.HGetAll a[1]))
          "hkeys", 2, false, (fun a -> Ok(HashCommand.HKeys a[1]))
          "hvals", 2, false, (fun a -> Ok(HashCommand.HVals a[1]))
          "hincrby", 4, true, hincrby
          "hincrbyfloat", 4, true, hincrbyfloat
          "hrandfield", -2, false, hrandfield
          "hscan", -3, false, hscan ]

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first.
    let keys (cmd: HashCommand) : byte[][] =
        match cmd with
        | HashCommand.HSet(k, _, _)
        | HashCommand.HSetNx(k, _, _)
        | HashCommand.HGet(k, _)
        | HashCommand.HMGet(k, _)
        | HashCommand.HDel(k, _)
        | HashCommand.HLen k
        | HashCommand.HStrLen(k, _)
        | HashCommand.HExists(k, _)
        | HashCommand.HGetAll k
        | HashCommand.HKeys k
        | HashCommand.HVals k
        | HashCommand.HIncrBy(k, _, _)
        | HashCommand.HIncrByFloat(k, _, _)
        | HashCommand.HRandField(k, _, _)
        | HashCommand.HScan(k, _, _) -> [| k |]

module HashOp =
    // Command names are encoded once.
    let private hset = "HSET"B
    let private hdel = "HDEL"B
    let private hsetnx = "HSETNX"B
    let private hincrby = "HINCRBY"B

    /// Redis writes at most this many field-value pairs per command when it rewrites a hash
    /// (AOF_REWRITE_ITEMS_PER_CMD, which counts a pair as one item).
    [<Literal>]
    let PairsPerCommand = 64

    /// The RESP command that records the op.
    let toArgs (op: HashOp) : byte[][] =
        match op with
        | HashOp.HSet(k, pairs) -> Args.withPairs hset k pairs fst snd
        | HashOp.HDel(k, fields) -> Args.withKey hdel k fields
        | HashOp.HSetNx(k, f, v) -> [| hsetnx; k; f; v |]
        | HashOp.HIncrBy(k, f, by) -> [| hincrby; k; f; Num.formatInt64 by |]

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a hash command.
    /// HMSET is HSET's older spelling, which Redis's own AOF (and its rewrite) uses.
    let ofArgs (name: string) (a: byte[][]) : Result<HashOp, unit> voption =
        match name with
        | "hset"
        | "hmset" ->
            ValueSome(
                if a.Length >= 4 && a.Length % 2 = 0 then
                    Ok(HashOp.HSet(a[1], Array.init ((a.Length - 2) / 2) (fun i -> a[2 + 2 * i], a[3 + 2 * i])))
                else
                    Error()
            )
        | "hdel" -> ValueSome(if a.Length >= 3 then Ok(HashOp.HDel(a[1], a[2..])) else Error())
        | "hsetnx" -> ValueSome(if a.Length = 4 then Ok(HashOp.HSetNx(a[1], a[2], a[3])) else Error())
        | "hincrby" ->
            ValueSome(
                match (if a.Length = 4 then Num.tryParseInt64 a[3] else ValueNone) with
                | ValueSome by -> Ok(HashOp.HIncrBy(a[1], a[2], by))
                | ValueNone -> Error()
            )
        | _ -> ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (op: HashOp) : byte[][] =
        match op with
        | HashOp.HSet(k, _)
        | HashOp.HDel(k, _)
        | HashOp.HSetNx(k, _, _)
        | HashOp.HIncrBy(k, _, _) -> [| k |]

    /// What the key holds, for an op: a hash (or nothing yet, with no TTL), or another type, which Redis
    /// would refuse with WRONGTYPE, so the op changes nothing.
    let private current (k: byte[]) (db: Db) : struct (ChampMap<byte[]> * int64) voption =
        match Db.tryFind k db with
        | ValueNone -> ValueSome(struct (Champ.empty, Expiry.none))
        | ValueSome e ->
            match e.Value with
            | Value.Hash h -> ValueSome(struct (h, e.ExpireAt))
            | _ -> ValueNone

    let private store (k: byte[]) (h: ChampMap<byte[]>) (expireAt: int64) (db: Db) : Db =
        if Champ.isEmpty h then Db.remove k db else Db.set k (Entry(Value.Hash h, expireAt)) db

    /// The hash with `pairs` set, in order.
    let setAll (h: ChampMap<byte[]>) (pairs: (byte[] * byte[])[]) : ChampMap<byte[]> =
        if pairs.Length <= 4 then
            let mutable h = h

            for f, v in pairs do
                h <- Champ.add f v h

            h
        else
            // A batch (a rewrite's 64 pairs): one transient edits its own nodes in place.
            let t = Champ.toTransient h

            for f, v in pairs do
                t.Set(f, v)

            t.Persist()

    /// evolve, within the op's database. An emptied collection disappears; a write keeps the key's TTL.
    let apply (op: HashOp) (db: Db) : Db =
        match op with
        | HashOp.HSet(k, pairs) ->
            match current k db with
            | ValueSome(struct (h, at)) -> store k (setAll h pairs) at db
            | ValueNone -> db
        | HashOp.HDel(k, fields) ->
            match current k db with
            | ValueSome(struct (h, at)) when not (Champ.isEmpty h) ->
                store k (Array.fold (fun h f -> Champ.remove f h) h fields) at db
            | _ -> db
        | HashOp.HSetNx(k, f, v) ->
            match current k db with
            | ValueSome(struct (h, at)) when not (Champ.containsKey f h) -> store k (Champ.add f v h) at db
            | _ -> db
        | HashOp.HIncrBy(k, f, by) ->
            match current k db with
            | ValueSome(struct (h, at)) ->
                let now =
                    match Champ.tryFind f h with
                    | ValueNone -> ValueSome 0L
                    | ValueSome v -> Num.tryParseInt64 v

                match now with
                // Where Redis would answer an error (not an integer, overflow) it changes nothing.
                | ValueSome n when not ((by > 0L && n > System.Int64.MaxValue - by) || (by < 0L && n < System.Int64.MinValue - by)) ->
                    store k (Champ.add f (Num.formatInt64 (n + by)) h) at db
                | _ -> db
            | ValueNone -> db

    /// The rewrite of one key: HSETs of at most 64 field-value pairs each.
    let project (key: byte[]) (h: ChampMap<byte[]>) : HashOp list =
        Champ.chunks PairsPerCommand (fun f v -> f, v) h |> List.map (fun pairs -> HashOp.HSet(key, pairs))
