namespace Aof.Core

open System

module Decide =
    open Outcome

    let private tooBig = Reply.Error "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    let private overflow = Reply.Error "ERR increment or decrement would overflow"
    let private invalidExpire (name: string) = Reply.Error(sprintf "ERR invalid expire time in '%s' command" name)

    let private asString (e: Entry) : byte[] voption = Value.bytes e.Value

    let private typeName (e: Entry) = Value.typeName e.Value

    /// Absolute expiry in ms for a SET-style option, or None when it overflows.
    let private absoluteMs (now: int64) (spec: ExpireSpec) : int64 voption =
        let maxSec = Int64.MaxValue / 1000L

        match spec with
        | ExpireSpec.Seconds s -> if s > maxSec || s * 1000L > Int64.MaxValue - now then ValueNone else ValueSome(now + s * 1000L)
        | ExpireSpec.Millis ms -> if ms > Int64.MaxValue - now then ValueNone else ValueSome(now + ms)
        | ExpireSpec.AtSeconds s -> if s > maxSec then ValueNone else ValueSome(s * 1000L)
        | ExpireSpec.AtMillis ms -> ValueSome ms
        | ExpireSpec.NoChange
        | ExpireSpec.Persist
        | ExpireSpec.KeepTtl -> ValueSome Expiry.none

    /// Lazy expiry: keys this command touches that are past their time are deleted first, each recorded
    /// as a DEL, so the command itself sees them as absent.
    let purge (now: int64) (dbi: int) (keys: byte[][]) (ks: Keyspace) : struct (Keyspace * Event list * int) =
        let db = Keyspace.db dbi ks

        if Champ.isEmpty db.Expires || keys.Length = 0 then
            struct (ks, [], 0)
        else
            // A draft: step applies these deletions to the real keyspace with the command's own events.
            let mutable db = Db.draft db
            let mutable evs = []
            let mutable n = 0

            for k in keys do
                match Db.tryFind k db with
                | ValueSome e when Expiry.isExpired now e ->
                    db <- Db.remove k db
                    evs <- { Db = dbi; Op = Op.Del [| k |] } :: evs
                    n <- n + 1
                | _ -> ()

            if n = 0 then struct (ks, [], 0) else struct (Keyspace.withDb dbi db ks, List.rev evs, n)

    /// What a string command finds at its key, without a closure per command.
    [<Struct>]
    type private Found =
        | Absent
        | Text of text: byte[]
        | OtherType

    /// A string command that reads the text of a counter formats it, as Redis does.
    let private findText (db: Db) (key: byte[]) : Found =
        match Db.tryFind key db with
        | ValueNone -> Absent
        | ValueSome e ->
            match asString e with
            | ValueSome s -> Text s
            | ValueNone -> OtherType


    let private getRange (s: byte[]) (start: int64) (stop: int64) : byte[] =
        let len = int64 s.Length

        if start < 0L && stop < 0L && start > stop then
            [||]
        else
            let start = if start < 0L then max 0L (len + start) else start
            let stop = if stop < 0L then max 0L (len + stop) else stop
            let stop = if stop >= len then len - 1L else stop

            if len = 0L || start > stop then [||] else s[int start .. int stop]

    let private expireCmd (ctx: Ctx) (dbi: int) (db: Db) name key amount unit absolute cond : Outcome =
        let maxSec = Int64.MaxValue / 1000L
        let minSec = Int64.MinValue / 1000L

        let at =
            match unit with
            | TimeUnit.Seconds when amount > maxSec || amount < minSec -> ValueNone
            | TimeUnit.Seconds -> ValueSome(amount * 1000L)
            | TimeUnit.Millis -> ValueSome amount
            |> ValueOption.bind (fun ms ->
                if absolute then ValueSome ms
                elif ms > Int64.MaxValue - ctx.Now then ValueNone
                else ValueSome(ms + ctx.Now))

        match at with
        | ValueNone -> reply (invalidExpire name)
        | ValueSome at ->
            match Db.tryFind key db with
            | ValueNone -> reply Reply.zero
            | ValueSome e ->
                let has = Expiry.has e

                let allowed =
                    match cond with
                    | ExpireCondition.Always -> true
                    | ExpireCondition.NoTtl -> not has
                    | ExpireCondition.HasTtl -> has
                    | ExpireCondition.Greater -> has && at > e.ExpireAt
                    | ExpireCondition.Less -> not has || at < e.ExpireAt

                if not allowed then reply Reply.zero
                elif at <= ctx.Now then write Reply.one [ { Db = dbi; Op = Op.Del [| key |] } ]
                else write Reply.one [ { Db = dbi; Op = Op.PExpireAt(key, at) } ]

    let private scan (ctx: Ctx) (dbi: int) (db: Db) cursor (pattern: byte[] voption) count (typ: string voption) =
        let struct (next, items) = Champ.scan cursor count db.Keys
        let mutable expired = []
        let mutable keys = []

        for (k, e: Entry) in items do
            if Expiry.isExpired ctx.Now e then
                expired <- k :: expired
            elif
                (match pattern with
                 | ValueSome p -> Glob.matchesEverything p || Glob.isMatch p k false
                 | ValueNone -> true)
                && (match typ with
                    | ValueSome t -> t = typeName e
                    | ValueNone -> true)
            then
                keys <- Reply.Bulk k :: keys

        let evs = expired |> List.rev |> List.map (fun k -> { Db = dbi; Op = Op.Del [| k |] })
        struct (write (Reply.Array [| Reply.Bulk(Num.formatInt64 (int64 next)); Reply.Array(List.rev keys |> List.toArray) |]) evs, expired.Length)

    let private randomKey (ctx: Ctx) (dbi: int) (db: Db) : struct (Outcome * int) =
        // Drawing again after an expired key removes it from a draft only; the facts go in `evs`.
        let rec draw (db: Db) (rnd: uint64) tries evs =
            match Champ.randomEntry rnd db.Keys with
            | ValueNone -> struct (write Reply.Nil (List.rev evs), evs.Length)
            | ValueSome(k, e) when Expiry.isExpired ctx.Now e && tries < 100 ->
                draw (Db.remove k db) (SplitMix.next rnd) (tries + 1) ({ Db = dbi; Op = Op.Del [| k |] } :: evs)
            | ValueSome(k, e) when Expiry.isExpired ctx.Now e ->
                ignore k
                ignore e
                struct (write Reply.Nil (List.rev evs), evs.Length)
            | ValueSome(k, _) -> struct (write (Reply.Bulk k) (List.rev evs), evs.Length)

        draw (Db.draft db) ctx.Random 0 []

    // One small function per command: each gets a small stack frame, where one big match would make
    // every call zero the locals of every case.

    let private dbSize (db: Db) = reply (Reply.Integer(int64 (Db.size db)))

    let private time (ctx: Ctx) =
        let secs = ctx.NowMicros / 1_000_000L
        let micros = ctx.NowMicros % 1_000_000L
        reply (Reply.Array [| Reply.Bulk(Num.formatInt64 secs); Reply.Bulk(Num.formatInt64 micros) |])

    let private flushDb (dbi: int) (db: Db) =
        write Reply.ok (if Db.size db = 0 then [] else [ evt dbi Op.FlushDb ])

    let private flushAll (dbi: int) (ks: Keyspace) =
        write Reply.ok (if ks.Dbs |> Array.forall (fun d -> Db.size d = 0) then [] else [ evt dbi Op.FlushAll ])

    let private swapDb (dbi: int) (ks: Keyspace) (a: int) (b: int) =
        let n = Keyspace.databases ks

        if a >= n || b >= n then reply Reply.dbIndexOutOfRange
        elif a = b || (Db.size (Keyspace.db a ks) = 0 && Db.size (Keyspace.db b ks) = 0) then reply Reply.ok
        else write Reply.ok [ evt dbi (Op.SwapDb(a, b)) ]

    let private get (db: Db) (k: byte[]) =
        match findText db k with
        | Text s -> read true (Reply.Bulk s)
        | Absent -> read false Reply.Nil
        | OtherType -> reply Reply.wrongType

    let private set (ctx: Ctx) (dbi: int) (db: Db) k v (cond: Condition) (spec: ExpireSpec) (get: bool) =
        match absoluteMs ctx.Now spec with
        | ValueNone -> reply (invalidExpire "set")
        | ValueSome at ->
            // A plain SET needs nothing from the key it overwrites: no lookup (and no hashing) for it.
            let current =
                match cond with
                | Condition.Always when not get -> ValueNone
                | _ -> Db.tryFind k db

            let old =
                match current with
                | ValueSome e when get ->
                    match asString e with
                    | ValueSome s -> Ok(Reply.Bulk s)
                    | ValueNone -> Error Reply.wrongType
                | _ -> Ok Reply.Nil

            match old with
            | Error e -> reply e
            | Ok old ->
                let go =
                    match cond with
                    | Condition.Always -> true
                    | Condition.IfAbsent -> current.IsNone
                    | Condition.IfPresent -> current.IsSome

                let ttl =
                    match spec with
                    | ExpireSpec.KeepTtl -> TtlChange.Keep
                    | ExpireSpec.NoChange
                    | ExpireSpec.Persist -> TtlChange.Clear
                    | _ -> TtlChange.At at

                let r = if get then old elif go then Reply.ok else Reply.Nil
                let evs = if go then [ evt dbi (Op.Set(k, v, ttl)) ] else []

                { R = r
                  Evs = evs
                  H = (if get && current.IsSome then 1 else 0)
                  M = (if get && current.IsNone then 1 else 0)
                  Block = false }

    let private setNx (dbi: int) (db: Db) k v =
        if Champ.containsKey k db.Keys then reply Reply.zero
        else write Reply.one [ evt dbi (Op.Set(k, v, TtlChange.Clear)) ]

    let private setEx (ctx: Ctx) (dbi: int) (name: string) k (ttl: int64) (unit: TimeUnit) v =
        match absoluteMs ctx.Now (if unit = TimeUnit.Seconds then ExpireSpec.Seconds ttl else ExpireSpec.Millis ttl) with
        | ValueNone -> reply (invalidExpire name)
        | ValueSome at -> write Reply.ok [ evt dbi (Op.Set(k, v, TtlChange.At at)) ]

    let private mget (db: Db) (keys: byte[][]) =
        let values = Array.zeroCreate<Reply> keys.Length
        let mutable h = 0

        for i in 0 .. keys.Length - 1 do
            values[i] <-
                match findText db keys[i] with
                | Text s ->
                    h <- h + 1
                    Reply.Bulk s
                | _ -> Reply.Nil

        { R = Reply.Array values; Evs = []; H = h; M = keys.Length - h; Block = false }

    let private msetNx (dbi: int) (db: Db) (ps: (byte[] * byte[])[]) =
        if ps |> Array.exists (fun (k, _) -> Champ.containsKey k db.Keys) then reply Reply.zero
        else write Reply.one [ evt dbi (Op.MSet ps) ]

    let private getSet (dbi: int) (db: Db) k v =
        let set = [ evt dbi (Op.Set(k, v, TtlChange.Clear)) ]

        match findText db k with
        | Text s -> { R = Reply.Bulk s; Evs = set; H = 1; M = 0; Block = false }
        | Absent -> { R = Reply.Nil; Evs = set; H = 0; M = 1; Block = false }
        | OtherType -> reply Reply.wrongType

    let private getDel (dbi: int) (db: Db) k =
        match findText db k with
        | Text s -> { R = Reply.Bulk s; Evs = [ evt dbi (Op.Del [| k |]) ]; H = 1; M = 0; Block = false }
        | Absent -> read false Reply.Nil
        | OtherType -> reply Reply.wrongType

    let private getEx (ctx: Ctx) (dbi: int) (db: Db) k (expire: Result<ExpireSpec, Reply>) =
        // As Redis: the key first, then its expiry's number.
        match findText db k with
        | Absent -> read false Reply.Nil
        | OtherType -> reply Reply.wrongType
        | Text s ->
            let timed =
                expire
                |> Result.bind (fun spec ->
                    match absoluteMs ctx.Now spec with
                    | ValueSome at -> Ok(struct (spec, at))
                    | ValueNone -> Error(invalidExpire "getex"))

            match timed with
            | Error e -> reply e
            | Ok(struct (spec, at)) ->
                let e = (Db.tryFind k db).Value

                let evs =
                    match spec with
                    | ExpireSpec.NoChange
                    | ExpireSpec.KeepTtl -> []
                    | ExpireSpec.Persist -> if Expiry.has e then [ evt dbi (Op.Persist k) ] else []
                    | _ when at <= ctx.Now -> [ evt dbi (Op.Del [| k |]) ]
                    | _ -> [ evt dbi (Op.PExpireAt(k, at)) ]

                { R = Reply.Bulk s; Evs = evs; H = 1; M = 0; Block = false }

    let private append (ctx: Ctx) (dbi: int) (db: Db) k (v: byte[]) =
        match findText db k with
        | OtherType -> reply Reply.wrongType
        | found ->
            let present, current = match found with Text s -> true, int64 s.Length | _ -> false, 0L
            let len = current + int64 v.Length

            if len > ctx.MaxBulkLen then reply tooBig
            elif present && v.Length = 0 then reply (Reply.Integer len)
            else write (Reply.Integer len) [ evt dbi (Op.Append(k, v)) ]

    let private strLen (db: Db) k =
        match findText db k with
        | Text s -> read true (Reply.Integer(int64 s.Length))
        | Absent -> read false Reply.zero
        | OtherType -> reply Reply.wrongType

    let private incrBy (dbi: int) (db: Db) k (by: int64) =
        // A counter is read as a number directly: no formatting and parsing on every INCR.
        let current =
            match Db.tryFind k db with
            | ValueNone -> Ok 0L
            | ValueSome e ->
                match e.Value with
                | Value.Int n -> Ok n
                | Value.Str s ->
                    match Num.tryParseInt64 s with
                    | ValueSome n -> Ok n
                    | ValueNone -> Error Reply.notInteger
                | _ -> Error Reply.wrongType

        match current with
        | Error e -> reply e
        | Ok c when (by > 0L && c > Int64.MaxValue - by) || (by < 0L && c < Int64.MinValue - by) -> reply overflow
        | Ok c -> write (Reply.Integer(c + by)) [ evt dbi (Op.IncrBy(k, by)) ]

    let private incrByFloat (dbi: int) (db: Db) k (by: byte[]) =
        match findText db k with
        | OtherType -> reply Reply.wrongType
        | found ->
            // Redis adds in long double (80-bit) and prints the exact result: so does LongDouble.
            match LongDouble.addTexts (match found with Text s -> s | _ -> "0"B) by with
            | Error e -> reply (Reply.Error e)
            | Ok v -> write (Reply.Bulk v) [ evt dbi (Op.Set(k, v, TtlChange.Keep)) ]

    let private getRangeCmd (db: Db) k (start: int64) (stop: int64) =
        match findText db k with
        | Text s -> read true (Reply.Bulk(getRange s start stop))
        | Absent -> read false (Reply.Bulk [||])
        | OtherType -> reply Reply.wrongType

    let private setRange (ctx: Ctx) (dbi: int) (db: Db) k (off: int64) (v: byte[]) =
        match findText db k with
        | OtherType -> reply Reply.wrongType
        | found ->
            let len = match found with Text s -> int64 s.Length | _ -> 0L

            if v.Length = 0 then reply (Reply.Integer len)
            elif off + int64 v.Length > ctx.MaxBulkLen then reply tooBig
            else write (Reply.Integer(max len (off + int64 v.Length))) [ evt dbi (Op.SetRange(k, off, v)) ]

    let private del (dbi: int) (db: Db) (keys: byte[][]) =
        let present = keys |> Array.filter (fun k -> Champ.containsKey k db.Keys) |> Array.distinctBy Bytes.toString
        write (Reply.Integer(int64 present.Length)) (if present.Length = 0 then [] else [ evt dbi (Op.Del present) ])

    let private exists (db: Db) (keys: byte[][]) =
        let mutable n = 0

        for k in keys do
            if Champ.containsKey k db.Keys then n <- n + 1

        { R = Reply.Integer(int64 n); Evs = []; H = n; M = keys.Length - n; Block = false }

    let private typeOf (db: Db) k =
        match Db.tryFind k db with
        | ValueSome e -> reply (Reply.Simple(typeName e))
        | ValueNone -> reply (Reply.Simple "none")

    let private keysCmd (ctx: Ctx) (db: Db) (pattern: byte[]) =
        let all = Glob.matchesEverything pattern

        let keys =
            Champ.fold
                (fun acc k (e: Entry) ->
                    if not (Expiry.isExpired ctx.Now e) && (all || Glob.isMatch pattern k false) then Reply.Bulk k :: acc
                    else acc)
                []
                db.Keys

        reply (Reply.Array(List.toArray keys))

    let private rename (dbi: int) (db: Db) s d (nx: bool) =
        match Db.tryFind s db with
        | ValueNone -> reply Reply.noSuchKey
        | ValueSome _ when Bytes.equal s d -> reply (if nx then Reply.zero else Reply.ok)
        | ValueSome _ when nx && Champ.containsKey d db.Keys -> reply Reply.zero
        | ValueSome _ -> write (if nx then Reply.one else Reply.ok) [ evt dbi (Op.Rename(s, d)) ]

    let private move (ctx: Ctx) (ks: Keyspace) (dbi: int) (db: Db) k (toDb: int) : struct (Outcome * int) =
        if toDb < 0 || toDb >= Keyspace.databases ks then
            plain (reply Reply.dbIndexOutOfRange)
        elif toDb = dbi then
            plain (reply (Reply.Error "ERR source and destination objects are the same"))
        elif not (Champ.containsKey k db.Keys) then
            plain (reply Reply.zero)
        else
            let struct (ks2, dstEvs, n) = purge ctx.Now toDb [| k |] ks

            if Champ.containsKey k (Keyspace.db toDb ks2).Keys then struct (write Reply.zero dstEvs, n)
            else struct (write Reply.one (dstEvs @ [ evt dbi (Op.Move(k, toDb)) ]), n)

    let private copy (ctx: Ctx) (ks: Keyspace) (dbi: int) (db: Db) s d (toDb: int voption) (replace: bool) : struct (Outcome * int) =
        let toDb = ValueOption.defaultValue dbi toDb

        if toDb < 0 || toDb >= Keyspace.databases ks then
            plain (reply Reply.dbIndexOutOfRange)
        elif toDb = dbi && Bytes.equal s d then
            plain (reply (Reply.Error "ERR source and destination objects are the same"))
        elif not (Champ.containsKey s db.Keys) then
            plain (reply Reply.zero)
        else
            let struct (ks2, dstEvs, n) = if toDb = dbi then struct (ks, [], 0) else purge ctx.Now toDb [| d |] ks

            if not replace && Champ.containsKey d (Keyspace.db toDb ks2).Keys then struct (write Reply.zero dstEvs, n)
            else struct (write Reply.one (dstEvs @ [ evt dbi (Op.Copy(s, d, toDb, replace)) ]), n)

    let private ttl (ctx: Ctx) (db: Db) k (unit: TimeUnit) (absolute: bool) =
        match Db.tryFind k db with
        | ValueNone -> read false (Reply.Integer -2L)
        | ValueSome e when not (Expiry.has e) -> read true (Reply.Integer -1L)
        | ValueSome e ->
            let t = max 0L (if absolute then e.ExpireAt else e.ExpireAt - ctx.Now)
            read true (Reply.Integer(if unit = TimeUnit.Millis then t else (t + 500L) / 1000L))

    let private persist (dbi: int) (db: Db) k =
        match Db.tryFind k db with
        | ValueSome e when Expiry.has e -> write Reply.one [ evt dbi (Op.Persist k) ]
        | _ -> reply Reply.zero

    /// OBJECT ENCODING's answer: what Redis 7.0 would use for a value of this size under its default
    /// thresholds (listpacks: 512 hash entries, 128 sorted-set members, elements of at most 64 bytes; an
    /// intset: at most 512 integers).
    let private encoding (v: Value) : string =
        let small (limit: int) (n: int) (elements: seq<byte[]>) = n <= limit && elements |> Seq.forall (fun b -> b.Length <= 64)

        match v with
        | Value.Int _ -> "int"
        | Value.Str s when s.Length <= 20 && (match Num.tryParseInt64 s with ValueSome n -> Bytes.equal (Num.formatInt64 n) s | ValueNone -> false) -> "int"
        | Value.Str s -> if s.Length <= 44 then "embstr" else "raw"
        | Value.List _ -> "quicklist"
        | Value.Hash h -> if small 512 (Champ.count h) (Champ.toSeq h |> Seq.collect (fun (f, v) -> [ f; v ])) then "listpack" else "hashtable"
        | Value.Set s ->
            let ints = Champ.count s <= 512 && Champ.toSeq s |> Seq.forall (fun (m, ()) -> (Num.tryParseInt64 m).IsSome)
            if ints then "intset" else "hashtable"
        | Value.ZSet z -> if small 128 (ZSet.count z) (ZSet.toSeq z |> Seq.map (fun struct (m, _) -> m)) then "listpack" else "skiplist"

    let private objectCmd (db: Db) (sub: ObjectSub) (k: byte[]) =
        match Db.tryFind k db with
        | ValueNone -> reply Reply.Nil
        | ValueSome e ->
            match sub with
            | ObjectSub.Encoding -> reply (Reply.bulkString (encoding e.Value))
            // Redis shares the objects of small integers, and reports them with INT_MAX references.
            | ObjectSub.RefCount ->
                match e.Value with
                | Value.Int n when n >= 0L && n < 10000L -> reply (Reply.Integer 2147483647L)
                | _ -> reply Reply.one
            // No LRU clock is kept per key: every key reads as just used.
            | ObjectSub.IdleTime -> reply Reply.zero
            | ObjectSub.Freq ->
                reply (Reply.Error "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")

    /// The body of each command, on a keyspace where the keys it touches are already purged.
    let private run (ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: Command) : struct (Outcome * int) =
        let db = Keyspace.db dbi ks

        match cmd with
        | Command.Get k -> plain (get db k)
        | Command.Set(k, v, cond, spec, g) -> plain (set ctx dbi db k v cond spec g)
        | Command.IncrBy(k, by) -> plain (incrBy dbi db k by)
        | Command.MGet keys -> plain (mget db keys)
        | Command.MSet ps -> plain (write Reply.ok [ evt dbi (Op.MSet ps) ])
        | Command.Ping ValueNone -> plain (reply Reply.pong)
        | Command.Ping(ValueSome m)
        | Command.Echo m -> plain (reply (Reply.Bulk m))
        | Command.Time -> plain (time ctx)
        | Command.DbSize -> plain (dbSize db)
        | Command.FlushDb -> plain (flushDb dbi db)
        | Command.FlushAll -> plain (flushAll dbi ks)
        | Command.SwapDb(a, b) -> plain (swapDb dbi ks a b)
        | Command.SetNx(k, v) -> plain (setNx dbi db k v)
        | Command.SetEx(name, k, t, unit, v) -> plain (setEx ctx dbi name k t unit v)
        | Command.MSetNx ps -> plain (msetNx dbi db ps)
        | Command.GetSet(k, v) -> plain (getSet dbi db k v)
        | Command.GetDel k -> plain (getDel dbi db k)
        | Command.GetEx(k, spec) -> plain (getEx ctx dbi db k spec)
        | Command.Append(k, v) -> plain (append ctx dbi db k v)
        | Command.StrLen k -> plain (strLen db k)
        | Command.IncrByFloat(k, by) -> plain (incrByFloat dbi db k by)
        | Command.GetRange(k, start, stop) -> plain (getRangeCmd db k start stop)
        | Command.SetRange(k, off, v) -> plain (setRange ctx dbi db k off v)
        | Command.Del keys -> plain (del dbi db keys)
        | Command.Exists keys -> plain (exists db keys)
        | Command.Type k -> plain (typeOf db k)
        | Command.Keys pattern -> plain (keysCmd ctx db pattern)
        | Command.Scan(cursor, pattern, count, typ) -> scan ctx dbi db cursor pattern count typ
        | Command.RandomKey -> randomKey ctx dbi db
        | Command.Rename(s, d, nx) -> plain (rename dbi db s d nx)
        | Command.Move(k, toDb) -> move ctx ks dbi db k toDb
        | Command.Copy(s, d, toDb, replace) -> copy ctx ks dbi db s d toDb replace
        | Command.Expire(name, k, amount, unit, absolute, cond) -> plain (expireCmd ctx dbi db name k amount unit absolute cond)
        | Command.Ttl(k, unit, absolute) -> plain (ttl ctx db k unit absolute)
        | Command.Persist k -> plain (persist dbi db k)
        | Command.Object(sub, k) -> plain (objectCmd db sub k)
        | Command.Lists c -> ListsDecide.run ctx ks dbi c
        | Command.Hashes c -> HashesDecide.run ctx ks dbi c
        | Command.Sets c -> SetsDecide.run ctx ks dbi c
        | Command.SortedSets c -> SortedSetsDecide.run ctx ks dbi c

    /// Decides one command against the state: the reply and the facts to log. Keys it touches that have
    /// expired are deleted first (lazy expiry), and those deletions are among the facts.
    let decide (ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: Command) : Decision =
        let struct (purged, expiredEvs, expiredN) =
            // Most datasets have no TTLs at all: then there is nothing to look for, or to allocate.
            if Champ.isEmpty (Keyspace.db dbi ks).Expires then struct (ks, [], 0)
            else purge ctx.Now dbi (Command.keys cmd) ks
        let struct (o, moreExpired) = run ctx purged dbi cmd

        { Reply = o.R
          Events = (if expiredN = 0 then o.Evs else expiredEvs @ o.Evs)
          Hits = o.H
          Misses = o.M
          Expired = expiredN + moreExpired
          Blocked = o.Block }

    /// Decides and applies: the new state with the decision. What the executor and the tests run.
    let step (ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: Command) : struct (Keyspace * Decision) =
        let d = decide ctx ks dbi cmd

        match d.Events with
        | [] -> struct (ks, d)
        | [ e ] -> struct (Evolve.apply ks e, d)
        | evs -> struct (List.fold Evolve.apply ks evs, d)
