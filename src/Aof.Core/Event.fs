namespace Aof.Core

/// What a SET does to the key's TTL.
[<RequireQualifiedAccess>]
type TtlChange =
    /// Plain SET: any TTL is dropped.
    | Clear
    /// SET ... KEEPTTL
    | Keep
    /// SET ... PXAT ms
    | At of int64

/// One fact about the dataset, in the past tense: a deterministic write exactly as it lands in the AOF.
/// Times are absolute; nothing here needs the clock or chance to apply.
[<RequireQualifiedAccess>]
type Op =
    | Set of key: byte[] * value: byte[] * ttl: TtlChange
    | MSet of pairs: (byte[] * byte[])[]
    | Del of keys: byte[][]
    | Append of key: byte[] * value: byte[]
    | SetRange of key: byte[] * offset: int64 * value: byte[]
    | IncrBy of key: byte[] * by: int64
    | PExpireAt of key: byte[] * at: int64
    | Persist of key: byte[]
    | Rename of source: byte[] * destination: byte[]
    | Move of key: byte[] * toDb: int
    | Copy of source: byte[] * destination: byte[] * toDb: int * replace: bool
    | FlushDb
    | FlushAll
    | SwapDb of a: int * b: int
    | Lists of ListOp
    | Hashes of HashOp
    | Sets of SetOp
    | SortedSets of ZSetOp

/// An op and the database it happened in (the AOF writes a SELECT when that changes).
[<Struct>]
type Event = { Db: int; Op: Op }

module Event =
    // Command names are encoded once: a rewrite writes one per key, the log one per write.
    let private append' = "APPEND"B
    let private copy' = "COPY"B
    let private db' = "DB"B
    let private del' = "DEL"B
    let private flushall' = "FLUSHALL"B
    let private flushdb' = "FLUSHDB"B
    let private incrby' = "INCRBY"B
    let private keepttl' = "KEEPTTL"B
    let private move' = "MOVE"B
    let private mset' = "MSET"B
    let private persist' = "PERSIST"B
    let private pexpireat' = "PEXPIREAT"B
    let private pxat' = "PXAT"B
    let private rename' = "RENAME"B
    let private replace' = "REPLACE"B
    let private set' = "SET"B
    let private setrange' = "SETRANGE"B
    let private swapdb' = "SWAPDB"B
    let private n (x: int64) = Num.formatInt64 x

    /// The RESP command that records this op in an AOF.
    let toArgs (op: Op) : byte[][] =
        match op with
        | Op.Set(k, v, TtlChange.Clear) -> [| set'; k; v |]
        | Op.Set(k, v, TtlChange.Keep) -> [| set'; k; v; keepttl' |]
        | Op.Set(k, v, TtlChange.At at) -> [| set'; k; v; pxat'; n at |]
        | Op.MSet ps ->
            let args = Array.zeroCreate (1 + 2 * ps.Length)
            args[0] <- mset'

            for i in 0 .. ps.Length - 1 do
                let k, v = ps[i]
                args[1 + 2 * i] <- k
                args[2 + 2 * i] <- v

            args
        | Op.Del ks ->
            let args = Array.zeroCreate (1 + ks.Length)
            args[0] <- del'
            Array.blit ks 0 args 1 ks.Length
            args
        | Op.Append(k, v) -> [| append'; k; v |]
        | Op.SetRange(k, off, v) -> [| setrange'; k; n off; v |]
        | Op.IncrBy(k, by) -> [| incrby'; k; n by |]
        | Op.PExpireAt(k, at) -> [| pexpireat'; k; n at |]
        | Op.Persist k -> [| persist'; k |]
        | Op.Rename(s, d) -> [| rename'; s; d |]
        | Op.Move(k, db) -> [| move'; k; n (int64 db) |]
        | Op.Copy(s, d, db, false) -> [| copy'; s; d; db'; n (int64 db) |]
        | Op.Copy(s, d, db, true) -> [| copy'; s; d; db'; n (int64 db); replace' |]
        | Op.FlushDb -> [| flushdb' |]
        | Op.FlushAll -> [| flushall' |]
        | Op.SwapDb(x, y) -> [| swapdb'; n (int64 x); n (int64 y) |]
        | Op.Lists op -> ListOp.toArgs op
        | Op.Hashes op -> HashOp.toArgs op
        | Op.Sets op -> SetOp.toArgs op
        | Op.SortedSets op -> ZSetOp.toArgs op

    /// The keys an op writes in its database (ValueNone: it may touch any key, as FLUSHALL or SWAPDB do).
    let keys (op: Op) : byte[][] voption =
        match op with
        | Op.Set(k, _, _)
        | Op.Append(k, _)
        | Op.SetRange(k, _, _)
        | Op.IncrBy(k, _)
        | Op.PExpireAt(k, _)
        | Op.Persist k -> ValueSome [| k |]
        | Op.MSet ps -> ValueSome(Array.map fst ps)
        | Op.Del ks -> ValueSome ks
        | Op.Rename(s, d) -> ValueSome [| s; d |]
        | Op.Lists op -> ValueSome(ListOp.keys op)
        | Op.Hashes op -> ValueSome(HashOp.keys op)
        | Op.Sets op -> ValueSome(SetOp.keys op)
        | Op.SortedSets op -> ValueSome(ZSetOp.keys op)
        | Op.Move _
        | Op.Copy _
        | Op.FlushDb
        | Op.FlushAll
        | Op.SwapDb _ -> ValueNone

    let private int64At (args: byte[][]) i =
        if i < args.Length then Num.tryParseInt64 args[i] else ValueNone

    /// Reads back a logged command. Accepts exactly the deterministic forms `toArgs` writes, plus the
    /// aliases Redis itself writes for the same facts (INCR, DECR, UNLINK, PEXPIREAT via EXPIREAT ...).
    let ofArgs (currentDb: int) (args: byte[][]) : Result<Event, string> =
        let ev op = Ok { Db = currentDb; Op = op }
        let bad () = Error(sprintf "unsupported or malformed command '%s' in the log" (if args.Length > 0 then Bytes.toString args[0] else ""))

        if args.Length = 0 then
            bad ()
        // Plain SET is nearly every command of a base file: recognised without lower-casing the name.
        elif args.Length = 3 && Bytes.eqLower "set" args[0] then
            ev (Op.Set(args[1], args[2], TtlChange.Clear))
        else
            let a = args

            match Bytes.toLower a[0] with
            | "set" when a.Length = 3 -> ev (Op.Set(a[1], a[2], TtlChange.Clear))
            | "set" when a.Length = 4 && Bytes.eqLower "keepttl" a[3] -> ev (Op.Set(a[1], a[2], TtlChange.Keep))
            | "set" when a.Length = 5 && Bytes.eqLower "pxat" a[3] ->
                match int64At a 4 with
                | ValueSome at -> ev (Op.Set(a[1], a[2], TtlChange.At at))
                | ValueNone -> bad ()
            | "mset" when a.Length >= 3 && a.Length % 2 = 1 ->
                ev (Op.MSet(Array.init ((a.Length - 1) / 2) (fun i -> a[1 + 2 * i], a[2 + 2 * i])))
            | "del"
            | "unlink" when a.Length >= 2 -> ev (Op.Del a[1..])
            | "append" when a.Length = 3 -> ev (Op.Append(a[1], a[2]))
            | "setrange" when a.Length = 4 ->
                match int64At a 2 with
                | ValueSome off when off >= 0L -> ev (Op.SetRange(a[1], off, a[3]))
                | _ -> bad ()
            | "incr" when a.Length = 2 -> ev (Op.IncrBy(a[1], 1L))
            | "decr" when a.Length = 2 -> ev (Op.IncrBy(a[1], -1L))
            | "incrby" when a.Length = 3 ->
                match int64At a 2 with
                | ValueSome x -> ev (Op.IncrBy(a[1], x))
                | ValueNone -> bad ()
            | "decrby" when a.Length = 3 ->
                match int64At a 2 with
                | ValueSome x when x <> System.Int64.MinValue -> ev (Op.IncrBy(a[1], -x))
                | _ -> bad ()
            | "pexpireat" when a.Length = 3 ->
                match int64At a 2 with
                | ValueSome at -> ev (Op.PExpireAt(a[1], at))
                | ValueNone -> bad ()
            | "persist" when a.Length = 2 -> ev (Op.Persist a[1])
            | "rename" when a.Length = 3 -> ev (Op.Rename(a[1], a[2]))
            | "move" when a.Length = 3 ->
                match int64At a 2 with
                | ValueSome db when db >= 0L && db < 1_000_000L -> ev (Op.Move(a[1], int db))
                | _ -> bad ()
            | "copy" when a.Length >= 3 ->
                let rec go i db replace =
                    if i >= a.Length then ev (Op.Copy(a[1], a[2], db, replace))
                    elif Bytes.eqLower "replace" a[i] then go (i + 1) db true
                    elif Bytes.eqLower "db" a[i] then
                        match int64At a (i + 1) with
                        | ValueSome d when d >= 0L && d < 1_000_000L -> go (i + 2) (int d) replace
                        | _ -> bad ()
                    else bad ()

                go 3 currentDb false
            | "flushdb" when a.Length <= 2 -> ev Op.FlushDb
            | "flushall" when a.Length <= 2 -> ev Op.FlushAll
            | "swapdb" when a.Length = 3 ->
                match int64At a 1, int64At a 2 with
                | ValueSome x, ValueSome y when x >= 0L && y >= 0L && x < 1_000_000L && y < 1_000_000L ->
                    ev (Op.SwapDb(int x, int y))
                | _ -> bad ()
            // The families in turn, without a closure per command: a base file is mostly these.
            | name ->
                match ListOp.ofArgs name a with
                | ValueSome(Ok op) -> ev (Op.Lists op)
                | ValueSome(Error()) -> bad ()
                | ValueNone ->
                match HashOp.ofArgs name a with
                | ValueSome(Ok op) -> ev (Op.Hashes op)
                | ValueSome(Error()) -> bad ()
                | ValueNone ->
                match SetOp.ofArgs name a with
                | ValueSome(Ok op) -> ev (Op.Sets op)
                | ValueSome(Error()) -> bad ()
                | ValueNone ->
                match ZSetOp.ofArgs name a with
                | ValueSome(Ok op) -> ev (Op.SortedSets op)
                | _ -> bad ()
